// Gaussian diffusion (Ho et al. 2020): the forward process q, its posterior,
// the reverse process p_theta built from a model's output, and both training
// losses. Names follow the paper and the official diffusion_utils_2.py.
// Timesteps are int32 tensors of indices i = t - 1 in [0, T).
#pragma once
#include <functional>

#include "diffusion/gaussian.h"
#include "diffusion/schedule.h"

namespace diffusion {

// What the network outputs (Table 2): the noise eps (the paper's choice), x_0,
// or the posterior mean mu~ directly ("xprev").
enum class ModelMeanType { Eps, X0, Xprev };
// The reverse-process variance Sigma_theta = sigma_t^2 I (Sec. 3.2): beta_t
// ("large", with the t = 1 value taken from beta~ as the official code) or the
// posterior variance beta~_t ("small").
enum class ModelVarType { FixedLarge, FixedSmall };
// L_simple (Eq. 14) or the true variational bound (Eq. 5), in bits/dim.
enum class LossType { Simple, Vlb };

ModelMeanType parse_mean_type(const std::string& name);  // eps, x0, xprev
ModelVarType parse_var_type(const std::string& name);    // large, small
LossType parse_loss_type(const std::string& name);       // simple, vlb

// The network: x_t (N, C, H, W) and timestep indices t (N) -> (N, C, H, W).
using Denoiser = std::function<Tensor(const Tensor& x, const Tensor& t)>;

struct MeanVariance {
  Tensor mean, variance, log_variance;  // variance and log_variance broadcast as (N, 1, 1, 1)
};

struct PMeanVariance {
  Tensor mean, variance, log_variance, pred_x0;
};

class GaussianDiffusion {
 public:
  GaussianDiffusion(Schedule schedule, ModelMeanType mean_type, ModelVarType var_type,
                    ag::DType dtype = ag::DType::F32, ag::Device device = ag::Device::CPU);

  int64_t num_timesteps() const { return schedule_.T; }
  const Schedule& schedule() const { return schedule_; }
  ModelMeanType mean_type() const { return mean_type_; }
  ModelVarType var_type() const { return var_type_; }

  // Row t of a schedule constant per sample, shaped (N, 1, 1, 1) to broadcast
  // over images (the per-sample gather of schedule constants).
  Tensor extract(const std::vector<double>& table, const Tensor& t) const;

  // q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), Eq. 4.
  MeanVariance q_mean_variance(const Tensor& x0, const Tensor& t) const;
  // A draw from q(x_t | x_0) by reparameterization: sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
  Tensor q_sample(const Tensor& x0, const Tensor& t, const Tensor& noise) const;
  // q(x_{t-1} | x_t, x_0) = N(mu~_t, beta~_t I), Eqs. 6-7.
  MeanVariance q_posterior_mean_variance(const Tensor& x0, const Tensor& xt, const Tensor& t) const;

  // x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), from Eq. 4.
  Tensor predict_x0_from_eps(const Tensor& xt, const Tensor& t, const Tensor& eps) const;
  // x_0 from mu~ by inverting Eq. 7: (mu~ - coef2 x_t) / coef1.
  Tensor predict_x0_from_xprev(const Tensor& xt, const Tensor& t, const Tensor& xprev) const;
  // eps from x_0, inverting Eq. 4 (DDIM uses it after clipping x_0).
  Tensor predict_eps_from_x0(const Tensor& xt, const Tensor& t, const Tensor& x0) const;

  // p_theta(x_{t-1} | x_t) = N(mu_theta, sigma_t^2 I) from the model's output
  // (Eq. 1 and Sec. 3.2); pred_x0 is clipped to [-1, 1] when clip_x0.
  PMeanVariance p_mean_variance(const Denoiser& model, const Tensor& xt, const Tensor& t,
                                bool clip_x0) const;

  // The bound's term at t, per sample, in bits/dim: KL(q(x_{t-1}|x_t,x_0) ||
  // p_theta(x_{t-1}|x_t)) for t > 1 (index > 0) and the decoder's
  // -log p_theta(x_0 | x_1) (Eq. 13; continuous Gaussian if !discretized) at t = 1.
  struct VbTerm {
    Tensor bits_per_dim;  // (N)
    Tensor pred_x0;
  };
  VbTerm vb_terms_bpd(const Denoiser& model, const Tensor& x0, const Tensor& xt, const Tensor& t,
                      bool clip_x0, bool discretized = true) const;
  // L_T = KL(q(x_T | x_0) || N(0, I)) per sample, in bits/dim.
  Tensor prior_bpd(const Tensor& x0) const;

  // The training loss per sample (N) at timesteps t with noise eps:
  // Simple: mean over pixels of (target - model output)^2, the target being
  // eps, x_0 or mu~ as the mean type says (Eq. 14, Algorithm 1);
  // Vlb: vb_terms_bpd at t (one stochastic term of Eq. 5).
  Tensor training_losses(const Denoiser& model, const Tensor& x0, const Tensor& t,
                         const Tensor& noise, LossType loss) const;

 private:
  Schedule schedule_;
  ModelMeanType mean_type_;
  ModelVarType var_type_;
  ag::DType dtype_;
  ag::Device device_;
  std::vector<double> large_variance_, large_log_variance_;  // beta_t, with beta~_2 at t = 1
};

// The mean over all but the first dimension: (N, ...) -> (N).
Tensor mean_flat(const Tensor& x);
// t ~ Uniform({1, ..., T}) for each of n images (Algorithm 1, line 3), as
// int32 indices in [0, T) on the CPU; from uniforms of `gen` in float64.
Tensor sample_timesteps(int64_t n, int64_t T, ag::Generator& gen);
// n copies of the timestep index t, as an int32 (N) tensor on the CPU.
Tensor full_timesteps(int64_t n, int64_t t);
// (N) 1 where t is index 0 (the paper's t = 1, the last reverse step), else
// 0; in x's dtype on x's device, reshaped to x's rank for broadcasting.
Tensor is_last_step(const Tensor& t, const Tensor& x);
// Standard normals of x's shape, dtype and device.
Tensor noise_like(const Tensor& x, ag::Generator& gen);

}  // namespace diffusion
