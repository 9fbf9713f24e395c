#include "diffusion/diffusion.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace diffusion {

using namespace ag;

ModelMeanType parse_mean_type(const std::string& name) {
  if (name == "eps") return ModelMeanType::Eps;
  if (name == "x0") return ModelMeanType::X0;
  if (name == "xprev") return ModelMeanType::Xprev;
  throw std::runtime_error("unknown parameterization '" + name + "' (choose eps, x0 or xprev)");
}

ModelVarType parse_var_type(const std::string& name) {
  if (name == "large") return ModelVarType::FixedLarge;
  if (name == "small") return ModelVarType::FixedSmall;
  if (name == "learned") return ModelVarType::Learned;
  throw std::runtime_error("unknown variance '" + name + "' (choose large, small or learned)");
}

LossType parse_loss_type(const std::string& name) {
  if (name == "simple") return LossType::Simple;
  if (name == "vlb") return LossType::Vlb;
  if (name == "hybrid") return LossType::Hybrid;
  throw std::runtime_error("unknown loss '" + name + "' (choose simple, vlb or hybrid)");
}

Tensor mean_flat(const Tensor& x) {
  std::vector<int> axes;
  for (int d = 1; d < x.dim(); ++d) axes.push_back(d);
  return mean(x, axes);
}

Tensor sample_timesteps(int64_t n, int64_t T, Generator& gen) {
  std::vector<int32_t> t;
  for (double u : rand({n}, &gen, DType::F64).to_vector<double>())
    t.push_back(static_cast<int32_t>(std::min<double>(T - 1, std::floor(u * T))));
  return from_vector(t, {n});
}

Tensor full_timesteps(int64_t n, int64_t t) {
  return from_vector(std::vector<int32_t>(static_cast<size_t>(n), static_cast<int32_t>(t)), {n});
}

Tensor is_last_step(const Tensor& t, const Tensor& x) {
  std::vector<double> last;
  for (int32_t i : t.to_vector<int32_t>()) last.push_back(i == 0 ? 1.0 : 0.0);
  Shape shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = t.numel();
  return reshape(from_vector(last, {t.numel()}).to(x.dtype()).to(x.device()), shape);
}

Tensor noise_like(const Tensor& x, Generator& gen) {
  return randn(x.shape(), &gen, x.dtype(), x.device());
}

GaussianDiffusion::GaussianDiffusion(Schedule schedule, ModelMeanType mean_type,
                                     ModelVarType var_type, DType dtype, Device device)
    : schedule_(std::move(schedule)),
      mean_type_(mean_type),
      var_type_(var_type),
      dtype_(dtype),
      device_(device) {
  large_variance_ = schedule_.betas;
  if (schedule_.T > 1) large_variance_[0] = schedule_.posterior_variance[1];
  for (double v : large_variance_) large_log_variance_.push_back(std::log(v));
  for (double b : schedule_.betas) log_betas_.push_back(std::log(b));
}

GaussianDiffusion GaussianDiffusion::respaced(const std::vector<int64_t>& use_timesteps) const {
  GaussianDiffusion r(respace_schedule(schedule_, use_timesteps), mean_type_, var_type_, dtype_,
                      device_);
  for (int64_t t : use_timesteps) r.timestep_map_.push_back(original_timestep(t));
  return r;
}

int64_t GaussianDiffusion::original_timestep(int64_t i) const {
  return timestep_map_.empty() ? i : timestep_map_.at(static_cast<size_t>(i));
}

Tensor GaussianDiffusion::run_model(const Denoiser& model, const Tensor& xt,
                                    const Tensor& t) const {
  if (timestep_map_.empty()) return model(xt, t);
  std::vector<int32_t> original;
  for (int32_t i : t.to_vector<int32_t>())
    original.push_back(static_cast<int32_t>(original_timestep(i)));
  return model(xt, from_vector(original, {t.numel()}).to(t.device()));
}

Tensor GaussianDiffusion::extract(const std::vector<double>& table, const Tensor& t) const {
  const int64_t T = static_cast<int64_t>(table.size());
  Tensor values = gather(from_vector(table, {T}).to(dtype_).to(device_), t);
  return reshape(values, {t.numel(), 1, 1, 1});
}

MeanVariance GaussianDiffusion::q_mean_variance(const Tensor& x0, const Tensor& t) const {
  const Schedule& s = schedule_;
  return {extract(s.sqrt_alphas_cumprod, t) * x0, 1.0 - extract(s.alphas_cumprod, t),
          extract(s.log_one_minus_alphas_cumprod, t)};
}

Tensor GaussianDiffusion::q_sample(const Tensor& x0, const Tensor& t, const Tensor& noise) const {
  const Schedule& s = schedule_;
  return extract(s.sqrt_alphas_cumprod, t) * x0 +
         extract(s.sqrt_one_minus_alphas_cumprod, t) * noise;
}

MeanVariance GaussianDiffusion::q_posterior_mean_variance(const Tensor& x0, const Tensor& xt,
                                                          const Tensor& t) const {
  const Schedule& s = schedule_;
  Tensor mean = extract(s.posterior_mean_coef1, t) * x0 + extract(s.posterior_mean_coef2, t) * xt;
  return {mean, extract(s.posterior_variance, t), extract(s.posterior_log_variance_clipped, t)};
}

Tensor GaussianDiffusion::predict_x0_from_eps(const Tensor& xt, const Tensor& t,
                                              const Tensor& eps) const {
  const Schedule& s = schedule_;
  return extract(s.sqrt_recip_alphas_cumprod, t) * xt -
         extract(s.sqrt_recipm1_alphas_cumprod, t) * eps;
}

Tensor GaussianDiffusion::predict_x0_from_xprev(const Tensor& xt, const Tensor& t,
                                                const Tensor& xprev) const {
  const Schedule& s = schedule_;
  return (xprev - extract(s.posterior_mean_coef2, t) * xt) / extract(s.posterior_mean_coef1, t);
}

Tensor GaussianDiffusion::predict_eps_from_x0(const Tensor& xt, const Tensor& t,
                                              const Tensor& x0) const {
  const Schedule& s = schedule_;
  return (extract(s.sqrt_recip_alphas_cumprod, t) * xt - x0) /
         extract(s.sqrt_recipm1_alphas_cumprod, t);
}

namespace {

// The model's output must have C channels, or 2C for learned variances.
void check_output_channels(const Tensor& out, int64_t C, bool learned) {
  const int64_t want = learned ? 2 * C : C;
  if (out.dim() != 4 || out.size(1) != want)
    throw std::runtime_error(
        "the model gives " + std::to_string(out.dim() == 4 ? out.size(1) : 0) +
        " output channels for " + std::to_string(C) + "-channel images; " +
        (learned ? "learned variances need " : "fixed variances need ") + std::to_string(want) +
        (learned ? " (a U-Net with learn_sigma)" : " (a U-Net without learn_sigma)"));
}

}  // namespace

Tensor GaussianDiffusion::learned_log_variance(const Tensor& v, const Tensor& t) const {
  const Tensor min_log = extract(schedule_.posterior_log_variance_clipped, t);
  const Tensor max_log = extract(log_betas_, t);
  const Tensor frac = (v + 1.0) * 0.5;  // Nichol & Dhariwal, Eq. 15
  return frac * max_log + (1.0 - frac) * min_log;
}

PMeanVariance GaussianDiffusion::p_mean_variance(const Denoiser& model, const Tensor& xt,
                                                 const Tensor& t, bool clip_x0) const {
  return p_mean_variance_of(run_model(model, xt, t), xt, t, clip_x0);
}

PMeanVariance GaussianDiffusion::p_mean_variance_of(const Tensor& out, const Tensor& xt,
                                                    const Tensor& t, bool clip_x0) const {
  const int64_t C = xt.size(1);
  const bool learned = var_type_ == ModelVarType::Learned;
  check_output_channels(out, C, learned);
  Tensor mean_out = out, variance, log_variance;
  if (learned) {
    mean_out = slice(out, 1, 0, C);
    log_variance = learned_log_variance(slice(out, 1, C, 2 * C), t);
    variance = exp(log_variance);
  } else {
    const bool large = var_type_ == ModelVarType::FixedLarge;
    variance = extract(large ? large_variance_ : schedule_.posterior_variance, t);
    log_variance =
        extract(large ? large_log_variance_ : schedule_.posterior_log_variance_clipped, t);
  }
  auto clip = [&](const Tensor& x0) { return clip_x0 ? clamp(x0, -1.0, 1.0) : x0; };
  if (mean_type_ == ModelMeanType::Xprev)  // the model gives mu_theta itself
    return {mean_out, variance, log_variance, clip(predict_x0_from_xprev(xt, t, mean_out))};
  Tensor pred_x0 =
      clip(mean_type_ == ModelMeanType::Eps ? predict_x0_from_eps(xt, t, mean_out) : mean_out);
  // mu_theta = mu~(x_t, x0_theta): Eq. 11 for eps, directly Eq. 7 for x0.
  return {q_posterior_mean_variance(pred_x0, xt, t).mean, variance, log_variance, pred_x0};
}

GaussianDiffusion::VbTerm GaussianDiffusion::vb_terms_bpd(const Denoiser& model, const Tensor& x0,
                                                          const Tensor& xt, const Tensor& t,
                                                          bool clip_x0, bool discretized) const {
  return vb_terms_bpd_of(p_mean_variance(model, xt, t, clip_x0), x0, xt, t, discretized);
}

GaussianDiffusion::VbTerm GaussianDiffusion::vb_terms_bpd_of(const PMeanVariance& p,
                                                             const Tensor& x0, const Tensor& xt,
                                                             const Tensor& t,
                                                             bool discretized) const {
  const double ln2 = std::log(2.0);
  MeanVariance q = q_posterior_mean_variance(x0, xt, t);
  Tensor kl = mean_flat(normal_kl(q.mean, q.log_variance, p.mean, p.log_variance)) / ln2;
  Tensor log_scale = expand(p.log_variance * 0.5, x0.shape());
  Tensor decoder_ll = discretized ? discretized_gaussian_log_likelihood(x0, p.mean, log_scale)
                                  : gaussian_log_likelihood(x0, p.mean, log_scale);
  Tensor decoder_nll = neg(mean_flat(decoder_ll)) / ln2;
  // Per sample: the decoder at index 0 (t = 1), the KL elsewhere.
  return {where(is_last_step(t, kl), decoder_nll, kl), p.pred_x0};
}

Tensor GaussianDiffusion::prior_bpd(const Tensor& x0) const {
  MeanVariance q = q_mean_variance(x0, full_timesteps(x0.size(0), schedule_.T - 1));
  Tensor zero = zeros({1}, dtype_, device_);
  return mean_flat(normal_kl(q.mean, q.log_variance, zero, zero)) / std::log(2.0);
}

Tensor GaussianDiffusion::mean_target(const Tensor& x0, const Tensor& xt, const Tensor& t,
                                      const Tensor& noise) const {
  if (mean_type_ == ModelMeanType::Eps) return noise;
  return mean_type_ == ModelMeanType::X0 ? x0 : q_posterior_mean_variance(x0, xt, t).mean;
}

Tensor GaussianDiffusion::training_losses(const Denoiser& model, const Tensor& x0, const Tensor& t,
                                          const Tensor& noise, LossType loss,
                                          double hybrid_lambda) const {
  const bool learned = var_type_ == ModelVarType::Learned;
  if (loss == LossType::Simple && learned)
    throw std::runtime_error(
        "learned variances train through the bound: use the hybrid or vlb loss, not simple");
  if (loss == LossType::Hybrid && !learned)
    throw std::runtime_error("the hybrid loss trains learned variances: it needs var learned");
  Tensor xt = q_sample(x0, t, noise);
  if (loss == LossType::Vlb) return vb_terms_bpd(model, x0, xt, t, false).bits_per_dim;
  const int64_t C = x0.size(1);
  const Tensor out = run_model(model, xt, t);
  check_output_channels(out, C, learned);
  const Tensor mean_out = learned ? slice(out, 1, 0, C) : out;
  const Tensor mse = mean_flat(square(mean_target(x0, xt, t, noise) - mean_out));
  if (loss == LossType::Simple) return mse;
  // L_hybrid: the bound's term sees the mean as a constant (stop-gradient).
  const Tensor frozen = concat({mean_out.detach(), slice(out, 1, C, 2 * C)}, 1);
  const Tensor vb =
      vb_terms_bpd_of(p_mean_variance_of(frozen, xt, t, false), x0, xt, t).bits_per_dim;
  return mse + vb * (hybrid_lambda * static_cast<double>(schedule_.T));
}

}  // namespace diffusion
