// Importance sampling of the timestep for training on the bound (Nichol &
// Dhariwal 2021, Sec. 3.3, Eq. 18; improved-diffusion's
// LossSecondMomentResampler): L_vlb = E_{t ~ p_t}[L_t / p_t] with
// p_t proportional to sqrt(E[L_t^2]), estimated from the last 10 values of
// each term. Terms near t = 0 are orders of magnitude larger than the rest,
// so drawing them more often cuts the loss's variance.
#pragma once
#include <string>
#include <vector>

#include "autograd/ops.h"

namespace diffusion {

// How training draws t: uniformly (Algorithm 1) or by importance.
enum class TimestepSampling { Uniform, Importance };
TimestepSampling parse_timestep_sampling(const std::string& name);  // uniform, importance

class ImportanceSampler {
 public:
  static constexpr int64_t kHistory = 10;        // values kept per term
  static constexpr double kUniformProb = 0.001;  // mixed in so that no p_t is 0

  explicit ImportanceSampler(int64_t T);

  int64_t num_timesteps() const { return T_; }
  // True once every term has kHistory values; until then p_t = 1 / T.
  bool warmed_up() const;
  // p_t (T values summing to 1): w_t = sqrt(mean of the history of L_t^2),
  // p_t = (1 - kUniformProb) w_t / sum w + kUniformProb / T.
  std::vector<double> probabilities() const;

  struct Draw {
    ag::Tensor t;                 // (n) int32 timestep indices, on the CPU
    std::vector<double> weights;  // 1 / (T p_t): E[weight L_t] = (1 / T) sum_t L_t
  };
  // n draws from p by inverting its CDF at uniforms of `gen` (float64).
  Draw sample(int64_t n, ag::Generator& gen) const;

  // Appends loss[i] to the history of term t[i], dropping the oldest of a
  // full one. Values that are not finite are refused (std::runtime_error).
  void update(const std::vector<int32_t>& t, const std::vector<double>& losses);

  // The history as text ("<count> <values>" per term, exact doubles), for
  // checkpoints, and back; from_text throws on text that is not such a
  // history for T terms.
  std::string to_text() const;
  void from_text(const std::string& text);

 private:
  int64_t T_;
  std::vector<std::vector<double>> history_;  // [t] -> up to kHistory losses, oldest first
};

}  // namespace diffusion
