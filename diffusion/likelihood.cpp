#include "diffusion/likelihood.h"

namespace diffusion {

using namespace ag;

BoundResult calc_bpd_loop(const GaussianDiffusion& d, const Denoiser& model, const Tensor& x0,
                          Generator& gen, const BoundOptions& opt) {
  NoGradGuard no_grad;
  const int64_t T = d.num_timesteps(), n = x0.size(0);
  BoundResult r;
  r.terms_bpd.resize(static_cast<size_t>(T));
  r.x0_mse.resize(static_cast<size_t>(T));
  for (int64_t t = T - 1; t >= 0; --t) {
    const Tensor tt = full_timesteps(n, t);
    const Tensor xt = d.q_sample(x0, tt, noise_like(x0, gen));
    GaussianDiffusion::VbTerm term =
        d.vb_terms_bpd(model, x0, xt, tt, opt.clip_x0, opt.discretized);
    r.terms_bpd[t] = term.bits_per_dim;
    r.x0_mse[t] = mean_flat(square(term.pred_x0 - x0));
    if (opt.progress) opt.progress(T - t, T);
  }
  r.prior_bpd = d.prior_bpd(x0);
  r.total_bpd = r.prior_bpd;
  for (const Tensor& term : r.terms_bpd) r.total_bpd = r.total_bpd + term;
  return r;
}

}  // namespace diffusion
