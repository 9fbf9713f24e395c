// Noise schedules and every constant derived from them, in double precision
// (Ho et al. 2020, Sec. 2 and 4; official diffusion_utils_2.py). Index
// convention: entry i belongs to the paper's timestep t = i + 1, so arrays
// run over i = 0 .. T-1 as in the official code.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffusion {

enum class ScheduleKind { Linear, Cosine };

// Throws on anything but "linear" or "cosine".
ScheduleKind parse_schedule(const std::string& name);

struct Schedule {
  int64_t T = 0;
  std::vector<double> betas;                // beta_t
  std::vector<double> alphas;               // alpha_t = 1 - beta_t
  std::vector<double> alphas_cumprod;       // abar_t = prod_{s<=t} alpha_s
  std::vector<double> alphas_cumprod_prev;  // abar_{t-1}, with abar_0 = 1
  std::vector<double> sqrt_alphas_cumprod;
  std::vector<double> sqrt_one_minus_alphas_cumprod;
  std::vector<double> log_one_minus_alphas_cumprod;
  std::vector<double> sqrt_recip_alphas_cumprod;    // 1 / sqrt(abar_t)
  std::vector<double> sqrt_recipm1_alphas_cumprod;  // sqrt(1 / abar_t - 1)
  // q(x_{t-1} | x_t, x_0), Eq. 7
  std::vector<double> posterior_variance;  // beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t)
  // log beta~_t with the t = 1 value (which is 0) replaced by the t = 2 one
  std::vector<double> posterior_log_variance_clipped;
  std::vector<double> posterior_mean_coef1;  // of x_0: beta_t sqrt(abar_{t-1}) / (1 - abar_t)
  std::vector<double>
      posterior_mean_coef2;  // of x_t: (1 - abar_{t-1}) sqrt(alpha_t) / (1 - abar_t)
};

// Derives every constant from betas (each in (0, 1)).
Schedule schedule_from_betas(std::vector<double> betas);
// Linear: beta from 1e-4 to 0.02 over T steps (the paper's T = 1000); for
// another T both ends scale by 1000 / T (improved-diffusion's
// get_named_beta_schedule), so that abar_T stays near 4e-5 and x_T near
// N(0, I), with beta capped at 0.999 (T < 21 would reach 1). scale_linear =
// false gives the unscaled betas of checkpoints from before that rule.
// Cosine (Nichol & Dhariwal 2021): abar(t) = f(t) / f(0),
// f(t) = cos^2(((t / T + s) / (1 + s)) pi / 2), s = 0.008, beta clipped at 0.999.
Schedule make_schedule(ScheduleKind kind, int64_t T, bool scale_linear = true);

// The process that visits only the timestep indices `use_timesteps` (strictly
// increasing, in [0, T)) of `s`, keeping their abar: beta'_k = 1 - abar_{t_k}
// / abar_{t_{k-1}} with abar_{t_{-1}} = 1 (Nichol & Dhariwal 2021, Sec. 4;
// improved-diffusion's respace.py). Every derived constant, the posterior
// variance beta~ included, follows from these betas, so fixed and learned
// variances fit the shorter process.
Schedule respace_schedule(const Schedule& s, const std::vector<int64_t>& use_timesteps);

// K timestep indices spread evenly over [0, T), increasing, the first 0 and
// the last T - 1: round(k (T - 1) / (K - 1)); for K = 1 just T - 1.
std::vector<int64_t> spaced_timesteps(int64_t T, int64_t K);

}  // namespace diffusion
