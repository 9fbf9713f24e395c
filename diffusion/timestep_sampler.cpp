#include "diffusion/timestep_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace diffusion {

TimestepSampling parse_timestep_sampling(const std::string& name) {
  if (name == "uniform") return TimestepSampling::Uniform;
  if (name == "importance") return TimestepSampling::Importance;
  throw std::runtime_error("unknown timestep sampler '" + name + "' (choose uniform or importance)");
}

ImportanceSampler::ImportanceSampler(int64_t T) : T_(T), history_(static_cast<size_t>(T)) {
  if (T < 1) throw std::runtime_error("importance sampler: T must be at least 1");
}

bool ImportanceSampler::warmed_up() const {
  return std::all_of(history_.begin(), history_.end(),
                     [](const std::vector<double>& h) { return h.size() == kHistory; });
}

std::vector<double> ImportanceSampler::probabilities() const {
  std::vector<double> p(static_cast<size_t>(T_), 1.0 / static_cast<double>(T_));
  if (!warmed_up()) return p;
  double sum = 0;
  for (size_t t = 0; t < p.size(); ++t) {
    double second_moment = 0;
    for (double l : history_[t]) second_moment += l * l;
    p[t] = std::sqrt(second_moment / kHistory);  // Eq. 18
    sum += p[t];
  }
  for (double& w : p) w = (1 - kUniformProb) * w / sum + kUniformProb / static_cast<double>(T_);
  return p;
}

ImportanceSampler::Draw ImportanceSampler::sample(int64_t n, ag::Generator& gen) const {
  const std::vector<double> p = probabilities();
  std::vector<double> cdf(p.size());
  double total = 0;
  for (size_t i = 0; i < p.size(); ++i) cdf[i] = total += p[i];
  Draw d;
  std::vector<int32_t> t;
  for (double u : ag::rand({n}, &gen, ag::DType::F64).to_vector<double>()) {
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u * total);
    const int64_t i = std::min<int64_t>(it - cdf.begin(), T_ - 1);
    t.push_back(static_cast<int32_t>(i));
    d.weights.push_back(1.0 / (static_cast<double>(T_) * p[static_cast<size_t>(i)]));
  }
  d.t = ag::from_vector(t, {n});
  return d;
}

void ImportanceSampler::update(const std::vector<int32_t>& t, const std::vector<double>& losses) {
  if (t.size() != losses.size())
    throw std::runtime_error("importance sampler: timesteps and losses differ in number");
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 0 || t[i] >= T_) throw std::runtime_error("importance sampler: timestep outside [0, T)");
    if (!std::isfinite(losses[i])) throw std::runtime_error("importance sampler: a loss is not finite");
    std::vector<double>& h = history_[static_cast<size_t>(t[i])];
    if (static_cast<int64_t>(h.size()) == kHistory) h.erase(h.begin());
    h.push_back(losses[i]);
  }
}

std::string ImportanceSampler::to_text() const {
  std::string text;
  char buf[32];
  for (const std::vector<double>& h : history_) {
    text += std::to_string(h.size());
    for (double l : h) {
      std::snprintf(buf, sizeof buf, " %.17g", l);
      text += buf;
    }
    text += '\n';
  }
  return text;
}

void ImportanceSampler::from_text(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::vector<double>> history(static_cast<size_t>(T_));
  for (std::vector<double>& h : history) {
    int64_t count = -1;
    if (!(in >> count) || count < 0 || count > kHistory)
      throw std::runtime_error("importance sampler history: a term's count is not in [0, 10]");
    for (int64_t k = 0; k < count; ++k) {
      double l = NAN;
      if (!(in >> l) || !std::isfinite(l))
        throw std::runtime_error("importance sampler history: a value is missing or not finite");
      h.push_back(l);
    }
  }
  std::string rest;
  if (in >> rest)
    throw std::runtime_error("importance sampler history: more terms than T = " +
                             std::to_string(T_));
  history_ = std::move(history);
}

}  // namespace diffusion
