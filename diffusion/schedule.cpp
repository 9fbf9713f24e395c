#include "diffusion/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "autograd/math_constants.h"

namespace diffusion {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "cosine") return ScheduleKind::Cosine;
  throw std::runtime_error("unknown schedule '" + name + "' (choose linear or cosine)");
}

namespace {

std::vector<double> linear_betas(int64_t T, bool scale) {
  const double k = scale ? 1000.0 / static_cast<double>(T) : 1.0, lo = k * 1e-4, hi = k * 0.02;
  std::vector<double> b(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i)
    b[i] = std::min(T == 1 ? lo : lo + (hi - lo) * static_cast<double>(i) / (T - 1), 0.999);
  return b;
}

std::vector<double> cosine_betas(int64_t T) {
  constexpr double s = 0.008;
  auto f = [&](double t) {
    const double c = std::cos((t / static_cast<double>(T) + s) / (1 + s) * ag::kPi / 2);
    return c * c;
  };
  std::vector<double> b(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i) b[i] = std::min(1 - f(i + 1.0) / f(i), 0.999);
  return b;
}

}  // namespace

Schedule schedule_from_betas(std::vector<double> betas) {
  if (betas.empty()) throw std::runtime_error("schedule: no timesteps");
  for (double b : betas)
    if (!(b > 0 && b < 1)) throw std::runtime_error("schedule: beta outside (0, 1)");
  Schedule s;
  s.T = static_cast<int64_t>(betas.size());
  s.betas = std::move(betas);
  double abar = 1.0;
  for (int64_t i = 0; i < s.T; ++i) {
    const double beta = s.betas[i], alpha = 1 - beta, prev = abar;
    abar *= alpha;
    s.alphas.push_back(alpha);
    s.alphas_cumprod.push_back(abar);
    s.alphas_cumprod_prev.push_back(prev);
    s.sqrt_alphas_cumprod.push_back(std::sqrt(abar));
    s.sqrt_one_minus_alphas_cumprod.push_back(std::sqrt(1 - abar));
    s.log_one_minus_alphas_cumprod.push_back(std::log(1 - abar));
    s.sqrt_recip_alphas_cumprod.push_back(std::sqrt(1 / abar));
    s.sqrt_recipm1_alphas_cumprod.push_back(std::sqrt(1 / abar - 1));
    s.posterior_variance.push_back(beta * (1 - prev) / (1 - abar));  // Eq. 7
    s.posterior_mean_coef1.push_back(beta * std::sqrt(prev) / (1 - abar));
    s.posterior_mean_coef2.push_back((1 - prev) * std::sqrt(alpha) / (1 - abar));
  }
  for (int64_t i = 0; i < s.T; ++i) {  // beta~_1 = 0: use beta~_2 there
    const double v = s.posterior_variance[i == 0 && s.T > 1 ? 1 : i];
    s.posterior_log_variance_clipped.push_back(std::log(v > 0 ? v : s.betas[0]));
  }
  return s;
}

Schedule make_schedule(ScheduleKind kind, int64_t T, bool scale_linear) {
  if (T < 1) throw std::runtime_error("schedule: T must be at least 1, got " + std::to_string(T));
  return schedule_from_betas(kind == ScheduleKind::Linear ? linear_betas(T, scale_linear)
                                                          : cosine_betas(T));
}

Schedule respace_schedule(const Schedule& s, const std::vector<int64_t>& use_timesteps) {
  if (use_timesteps.empty()) throw std::runtime_error("respace: no timesteps to keep");
  std::vector<double> betas;
  double last_abar = 1.0;
  int64_t last = -1;
  for (int64_t t : use_timesteps) {
    if (t <= last || t >= s.T)
      throw std::runtime_error("respace: timesteps must increase within [0, " +
                               std::to_string(s.T) + "), got " + std::to_string(t) + " after " +
                               std::to_string(last));
    betas.push_back(1 - s.alphas_cumprod[t] / last_abar);
    last_abar = s.alphas_cumprod[t];
    last = t;
  }
  return schedule_from_betas(std::move(betas));
}

std::vector<int64_t> spaced_timesteps(int64_t T, int64_t K) {
  if (K < 1 || K > T)
    throw std::runtime_error("steps must be in [1, " + std::to_string(T) + "], got " +
                             std::to_string(K));
  if (K == 1) return {T - 1};
  std::vector<int64_t> kept;
  for (int64_t k = 0; k < K; ++k) kept.push_back((k * (T - 1) + (K - 1) / 2) / (K - 1));
  return kept;
}

}  // namespace diffusion
