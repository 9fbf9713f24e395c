// The samplers and the bound, checked on data that is itself Gaussian,
// x_0 ~ N(mu, s^2) in every dimension: there the optimal eps predictor is
// known in closed form, the reverse chain is linear-Gaussian, and the moments
// of its samples and the expected terms of the bound (Eq. 5) follow exactly.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "autograd/math_constants.h"
#include "diffusion/likelihood.h"
#include "diffusion/samplers.h"
#include "tests/diffusion_math_helpers.h"
#include "tests/gradcheck.h"

namespace diffusion {
namespace {

using ag::DType;
using ag::Generator;
using ag::Shape;

constexpr double kMu = 0.3, kVar = 0.25;  // the data: N(kMu, kVar) per dimension
const Shape kBig = {4, 1, 1, 25000};      // 1e5 elements: moments to ~0.5%
constexpr int64_t kBigNumel = 4 * 25000;

using test::linear1000;

GaussianDiffusion gaussian_diffusion(const Schedule& s, ModelVarType var) {
  return GaussianDiffusion(s, ModelMeanType::Eps, var, DType::F64);
}

// Under Eq. 4, x_t and eps are jointly Gaussian, x_t ~ N(sqrt(abar) mu,
// abar s^2 + 1 - abar), so the optimal eps_theta (the minimizer of Eq. 14) is
// E[eps | x_t] = sqrt(1 - abar) (x_t - sqrt(abar) mu) / (abar s^2 + 1 - abar).
Denoiser optimal_eps(const Schedule& s) {
  return [abar = s.alphas_cumprod](const Tensor& x, const Tensor& t) {
    std::vector<double> scale, centre;
    for (int32_t i : t.to_vector<int32_t>()) {
      const double ab = abar[i];
      scale.push_back(std::sqrt(1 - ab) / (ab * kVar + 1 - ab));
      centre.push_back(std::sqrt(ab) * kMu);
    }
    const int64_t n = t.numel();
    return ag::from_vector(scale, {n, 1, 1, 1}) * (x - ag::from_vector(centre, {n, 1, 1, 1}));
  };
}

// Var[x_0 | x_t], the error of the optimal x_0 prediction (the x0_mse of Fig. 5).
double x0_posterior_variance(double abar) { return kVar * (1 - abar) / (abar * kVar + 1 - abar); }

// sigma_t^2 of p_theta (Sec. 3.2) by index: beta_t ("large") or beta~_t
// ("small"), both with beta~_2 at t = 1 as the official code.
double model_variance(const Schedule& s, ModelVarType var, int64_t i) {
  if (i == 0) return s.posterior_variance[1];
  return var == ModelVarType::FixedLarge ? s.betas[i] : s.posterior_variance[i];
}

struct Moments {
  double mean, var;
};

Moments moments(const Tensor& x) {
  const std::vector<double> v = x.to_vector<double>();
  double mean = 0, ss = 0;
  for (double a : v) mean += a;
  mean /= static_cast<double>(v.size());
  for (double a : v) ss += (a - mean) * (a - mean);
  return {mean, ss / static_cast<double>(v.size() - 1)};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = x.size() == y.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

Tensor gaussian_data(Generator& gen) {
  return ag::randn(kBig, &gen, DType::F64) * std::sqrt(kVar) + kMu;
}

Tensor timesteps(int64_t n, int32_t t) {
  return ag::from_vector(std::vector<int32_t>(static_cast<size_t>(n), t), {n});
}

// With the optimal model every step of Algorithm 2 is linear-Gaussian:
// E[x_0 | x_t] = mu + k (x_t - sqrt(abar) mu), k = sqrt(abar) s^2 / (abar s^2 + 1 - abar),
// so x_{t-1} = (coef1 k + coef2) x_t + coef1 (1 - k sqrt(abar)) mu + sigma_t z (Eqs. 7, 11).
// The exact moments of the samples follow from those of x_T ~ N(0, 1).
Moments ancestral_chain_moments(const Schedule& s, ModelVarType var) {
  Moments m{0, 1};
  for (int64_t i = s.T - 1; i >= 0; --i) {
    const double ab = s.alphas_cumprod[i], k = std::sqrt(ab) * kVar / (ab * kVar + 1 - ab);
    const double c1 = s.posterior_mean_coef1[i], a = c1 * k + s.posterior_mean_coef2[i];
    m.mean = a * m.mean + c1 * (1 - k * std::sqrt(ab)) * kMu;
    m.var = a * a * m.var + (i == 0 ? 0.0 : model_variance(s, var, i));
  }
  return m;
}

// The expected term of Eq. 5 at index i, in bits/dim, with the optimal model:
// mu_theta - mu~ = coef1 (E[x_0 | x_t] - x_0), so for t > 1
//   E KL = 0.5 (-1 + log(sigma^2 / beta~) + (beta~ + coef1^2 Var[x_0 | x_t]) / sigma^2),
// and the continuous decoder at t = 1 (coef1 = 1, coef2 = 0) gives
//   E[-log N(x_0; E[x_0 | x_1], sigma^2)] = 0.5 log(2 pi sigma^2) + 0.5 Var[x_0 | x_1] / sigma^2.
double expected_term_bpd(const Schedule& s, ModelVarType var, int64_t i) {
  const double sigma2 = model_variance(s, var, i);
  const double err = x0_posterior_variance(s.alphas_cumprod[i]);
  if (i == 0) return (0.5 * std::log(2 * ag::kPi * sigma2) + 0.5 * err / sigma2) / std::log(2.0);
  const double post = s.posterior_variance[i], c1 = s.posterior_mean_coef1[i];
  return 0.5 * (-1 + std::log(sigma2 / post) + (post + c1 * c1 * err) / sigma2) / std::log(2.0);
}

// -log N(x_0; mu, s^2) / ln 2 averaged over every element: the exact NLL in bits/dim.
double exact_nll_bpd(const Tensor& x0) {
  double sum = 0;
  for (double a : x0.to_vector<double>())
    sum += 0.5 * std::log(2 * ag::kPi * kVar) + 0.5 * (a - kMu) * (a - kMu) / kVar;
  return sum / static_cast<double>(x0.numel()) / std::log(2.0);
}

// Algorithm 2 from x_T ~ N(0, I), T = 1000, without clipping (the data is not
// confined to [-1, 1]): the samples have the moments of the linear chain to
// within Monte-Carlo error (4 standard errors), and those moments are the
// data's up to `var_bias`. With fixed variances the reverse process is only
// approximately the true one: its mean is exact with the optimal model, but
// the true Var[x_{t-1} | x_t] = beta~_t + coef1^2 Var[x_0 | x_t] lies between
// beta~_t and beta_t (the two are exact for s = 0 and s = 1, Sec. 3.2). For
// s = 0.5 the chain's output variance is 0.25075 with beta_t ("large") and
// 0.24613 with beta~_t ("small"), 3.5 standard errors below the data's.
void check_ancestral(ModelVarType var, double var_bias) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, var);
  Generator gen(11);
  const Tensor x_T = ag::randn(kBig, &gen, DType::F64);
  SampleOptions opt;
  opt.clip_x0 = false;
  const Moments got = moments(p_sample_loop(d, optimal_eps(s), x_T, gen, opt).x0);
  const Moments chain = ancestral_chain_moments(s, var);
  const double se_mean = std::sqrt(kVar / kBigNumel), se_var = kVar * std::sqrt(2.0 / kBigNumel);
  EXPECT_NEAR(got.mean, chain.mean, 4 * se_mean);
  EXPECT_NEAR(got.var, chain.var, 4 * se_var);
  EXPECT_NEAR(chain.mean, kMu, 1e-5);  // x_T's mean is forgotten
  EXPECT_NEAR(chain.var, kVar, var_bias);
  EXPECT_NEAR(got.mean, kMu, 4 * se_mean + 1e-5);
  EXPECT_NEAR(got.var, kVar, 4 * se_var + var_bias);
}

TEST(AncestralSampler, FixedLargeReproducesGaussianData) {
  check_ancestral(ModelVarType::FixedLarge, 0.0015);
}

TEST(AncestralSampler, FixedSmallIsSlightlyTooNarrow) {
  check_ancestral(ModelVarType::FixedSmall, 0.006);
}

// The continuous bound (Eq. 5 with a Gaussian decoder) on samples of the
// data, T = 1000, against its expectation summed term by term (to within its
// Monte-Carlo error, about 0.008 bits/dim). It is an upper bound on the exact
// NLL (1.047 bits/dim for s = 0.5) and, with the optimal mean, exceeds it
// only through the variance mismatch of p_theta: in expectation by 0.165
// bits/dim with "large", almost all of it at t = 1 where sigma_1^2 = beta~_2
// is about half of Var[x_0 | x_1] ~ beta_1, and by 0.822 with "small", whose
// beta~_t is too narrow at every small t.
void check_bound(ModelVarType var, double max_gap) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, var);
  Generator gen(21);
  const Tensor x0 = gaussian_data(gen);
  BoundOptions opt;
  opt.clip_x0 = false;
  opt.discretized = false;
  std::vector<std::pair<int64_t, int64_t>> calls;
  opt.progress = [&](int64_t done, int64_t all) { calls.emplace_back(done, all); };
  const BoundResult r = calc_bpd_loop(d, optimal_eps(s), x0, gen, opt);

  ASSERT_EQ(r.terms_bpd.size(), 1000u);
  ASSERT_EQ(r.x0_mse.size(), 1000u);
  ASSERT_EQ(calls.size(), 1000u);
  EXPECT_EQ(calls.back(), std::make_pair(int64_t{1000}, int64_t{1000}));
  EXPECT_EQ(r.total_bpd.shape(), Shape{4});

  Tensor sum = r.prior_bpd;
  double expected = ag::mean(r.prior_bpd).item();
  for (int64_t i = 0; i < 1000; ++i) {
    sum = sum + r.terms_bpd[i];
    expected += expected_term_bpd(s, var, i);
  }
  EXPECT_LT(max_abs_diff(r.total_bpd, sum), 1e-9);

  const double total = ag::mean(r.total_bpd).item(), nll = exact_nll_bpd(x0);
  EXPECT_NEAR(total, expected, 0.035);
  EXPECT_GT(total, nll);  // an upper bound, here by many times the noise
  EXPECT_LT(total - nll, max_gap);
  EXPECT_NEAR(ag::mean(r.terms_bpd[0]).item(), expected_term_bpd(s, var, 0), 0.04);  // decoder
  EXPECT_NEAR(ag::mean(r.terms_bpd[1]).item(), expected_term_bpd(s, var, 1), 0.02);
  EXPECT_NEAR(ag::mean(r.terms_bpd[999]).item(), 0.0, 1e-5);  // x_T is nearly independent of x_0

  // x0_mse[t] is Var[x_0 | x_t] (to 3%), growing with t from ~beta_1 to ~s^2.
  for (int64_t i : {0, 10, 100, 500, 999}) {
    const double want = x0_posterior_variance(s.alphas_cumprod[i]);
    EXPECT_NEAR(ag::mean(r.x0_mse[i]).item(), want, 0.03 * want) << "t index " << i;
  }
  EXPECT_GT(ag::mean(r.x0_mse[999]).item(), ag::mean(r.x0_mse[500]).item());
  EXPECT_GT(ag::mean(r.x0_mse[500]).item(), ag::mean(r.x0_mse[0]).item());
}

TEST(BoundOnGaussianData, FixedLargeIsWithinAFifthOfABitOfTheExactNll) {
  check_bound(ModelVarType::FixedLarge, 0.2);
}

TEST(BoundOnGaussianData, FixedSmallIsLooser) { check_bound(ModelVarType::FixedSmall, 0.9); }

// A density's mass on [a, b] by composite Simpson's rule, in steps of at
// most sigma / 20: an integral of the density itself, not a difference of CDFs.
template <typename Density>
double mass(const Density& density, double a, double b, double sigma) {
  const int64_t n = 2 * static_cast<int64_t>(std::ceil(std::max(16.0, 10 * (b - a) / sigma)));
  const double h = (b - a) / static_cast<double>(n);
  double sum = density(a) + density(b);
  for (int64_t k = 1; k < n; ++k) sum += (k % 2 == 1 ? 4 : 2) * density(a + k * h);
  return sum * h / 3;
}

// The decoder's density at x for N(mean, sigma^2): the normal density, or
// (tanh) the derivative of the official code's tanh approximation of the
// normal CDF, 0.5 (1 + tanh(c (u + 0.044715 u^3))) with c = sqrt(2 / pi).
double decoder_density(double x, double mean, double sigma, bool tanh) {
  const double u = (x - mean) / sigma;
  if (!tanh) return std::exp(-0.5 * u * u) / (sigma * std::sqrt(2 * ag::kPi));
  const double c = std::sqrt(2 / ag::kPi), sech = 1 / std::cosh(c * (u + 0.044715 * u * u * u));
  return 0.5 * c * (1 + 3 * 0.044715 * u * u) * sech * sech / sigma;
}

// -log2 of the decoder's probability of x_0's bin (Eq. 13): bins of width
// 2/255 around the 256 levels, the first reaching to -inf and the last to
// +inf (integrated out to 12 sigma past the bin's edge or the mean, beyond
// which the mass is below 1e-32), floored at 1e-12 as the code.
double decoder_bits(double x0, double mean, double sigma, bool tanh) {
  const double h = 1 / 255.0;
  const double lo = x0 <= -1 ? std::min(x0 + h, mean) - 12 * sigma : x0 - h;
  const double hi = x0 >= 1 ? std::max(x0 - h, mean) + 12 * sigma : x0 + h;
  auto density = [&](double x) { return decoder_density(x, mean, sigma, tanh); };
  return -std::log2(std::max(mass(density, lo, hi, sigma), 1e-12));
}

// The discretized decoder L_0 (Eq. 13) on Gaussian data quantized to the 256
// levels, with the optimal model and clipping as in evaluation: for x_1 =
// sqrt(abar_1) x_0 + sqrt(1 - abar_1) eps the model's mean at t = 1 is
// E[x_0 | x_1] = mu + k (x_1 - sqrt(abar_1) mu) (coef1 = 1, coef2 = 0),
// clipped to [-1, 1], and its variance beta~_2 for either variance type. The
// expected bits/dim integrate that Gaussian's density over each pixel's bin.
// The code takes the official tanh approximation of the normal CDF, which
// costs 0.001 to 0.005 bits/dim here over the exact Gaussian (0.0037 on
// average over many pixels): against the exact density the tolerance is
// 0.01, against the density of the tanh CDF 1e-6. A bin of the wrong width
// moves the result by about 1 bit/dim, a variance of beta_1 or beta_2 instead
// of beta~_2 by 0.1 or more.
TEST(BoundOnGaussianData, DiscretizedDecoderMatchesQuadratureOfItsBins) {
  const Schedule s = linear1000();
  const double abar1 = 1 - s.betas[0];
  const double beta_tilde2 = s.betas[1] * (1 - abar1) / (1 - abar1 * (1 - s.betas[1]));
  const double sigma = std::sqrt(beta_tilde2);
  const double k = std::sqrt(abar1) * kVar / (abar1 * kVar + 1 - abar1);
  const Shape shape = {4, 1, 1, 500};
  Generator gen(41);
  std::vector<double> x0, x1;
  const std::vector<double> data =
      (ag::randn(shape, &gen, DType::F64) * std::sqrt(kVar) + kMu).to_vector<double>();
  const std::vector<double> eps = ag::randn(shape, &gen, DType::F64).to_vector<double>();
  std::vector<double> exact(4, 0.0), tanh_cdf(4, 0.0);
  for (size_t j = 0; j < data.size(); ++j) {
    const double level = std::clamp(std::round((data[j] + 1) * 127.5), 0.0, 255.0) / 127.5 - 1;
    x0.push_back(level);
    x1.push_back(std::sqrt(abar1) * level + std::sqrt(1 - abar1) * eps[j]);
    const double mean = std::clamp(kMu + k * (x1.back() - std::sqrt(abar1) * kMu), -1.0, 1.0);
    exact[j / 500] += decoder_bits(level, mean, sigma, false) / 500;
    tanh_cdf[j / 500] += decoder_bits(level, mean, sigma, true) / 500;
  }
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    SCOPED_TRACE(static_cast<int>(var));
    const GaussianDiffusion d = gaussian_diffusion(s, var);
    const std::vector<double> got =
        d.vb_terms_bpd(optimal_eps(s), ag::from_vector(x0, shape), ag::from_vector(x1, shape),
                       timesteps(4, 0), true, true)
            .bits_per_dim.to_vector<double>();
    ASSERT_EQ(got.size(), 4u);
    for (size_t n = 0; n < 4; ++n) {
      EXPECT_NEAR(got[n], exact[n], 0.01) << "sample " << n;
      EXPECT_NEAR(got[n], tanh_cdf[n], 1e-6) << "sample " << n;
    }
  }
}

TEST(DdimSampler, TimestepsDescendEvenly) {
  EXPECT_EQ(ddim_timesteps(1000, 10),
            (std::vector<int64_t>{999, 888, 777, 666, 555, 444, 333, 222, 111, 0}));
  EXPECT_EQ(ddim_timesteps(1000, 1), std::vector<int64_t>{999});
  const std::vector<int64_t> all = ddim_timesteps(1000, 1000);
  ASSERT_EQ(all.size(), 1000u);
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(all[i], 999 - i);
  EXPECT_THROW(ddim_timesteps(1000, 0), std::runtime_error);
  EXPECT_THROW(ddim_timesteps(1000, 1001), std::runtime_error);
}

TEST(DdimSampler, RejectsStepsAndEtaOutOfRange) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 20);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedSmall);
  Generator gen(1);
  const Tensor x_T = ag::randn({1, 1, 2, 2}, &gen, DType::F64);
  const Denoiser model = optimal_eps(s);
  EXPECT_THROW(ddim_sample_loop(d, model, x_T, 0, 0.0, gen), std::runtime_error);
  EXPECT_THROW(ddim_sample_loop(d, model, x_T, 21, 0.0, gen), std::runtime_error);
  EXPECT_THROW(ddim_sample_loop(d, model, x_T, 5, -0.1, gen), std::runtime_error);
  EXPECT_THROW(ddim_sample_loop(d, model, x_T, 5, 1.5, gen), std::runtime_error);
  EXPECT_THROW(ddim_sample_loop(d, model, x_T, 5, NAN, gen), std::runtime_error);
}

// eta = 0 (Song et al. Eq. 12 with sigma = 0) draws no noise: the output is a
// function of x_T alone. eta = 1 does draw, so the generator matters.
TEST(DdimSampler, EtaZeroIsDeterministicGivenXT) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  Generator g0(3);
  const Tensor x_T = ag::randn({2, 1, 4, 4}, &g0, DType::F64);
  Generator g1(1), g2(2), g3(1), g4(2);
  const Tensor a = ddim_sample_loop(d, optimal_eps(s), x_T, 20, 0.0, g1).x0;
  EXPECT_EQ(a.shape(), x_T.shape());
  EXPECT_EQ(max_abs_diff(a, ddim_sample_loop(d, optimal_eps(s), x_T, 20, 0.0, g2).x0), 0.0);
  EXPECT_GT(max_abs_diff(ddim_sample_loop(d, optimal_eps(s), x_T, 20, 1.0, g3).x0,
                         ddim_sample_loop(d, optimal_eps(s), x_T, 20, 1.0, g4).x0),
            1e-3);
}

// With steps = T and eta = 1, sigma^2 = beta~_t and Eq. 12's mean is exactly
// mu~(x_t, x_0) of Eq. 7, so DDIM is Algorithm 2 with "small" variances; the
// two draw their noise alike (at every step but the last), so the samples
// agree up to rounding.
TEST(DdimSampler, EtaOneWithAllStepsIsAncestralWithSmallVariance) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 50);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedSmall);
  Generator g0(14);
  const Tensor x_T = ag::randn({2, 1, 4, 4}, &g0, DType::F64);
  Generator g1(15), g2(15);
  EXPECT_LT(max_abs_diff(ddim_sample_loop(d, optimal_eps(s), x_T, 50, 1.0, g1).x0,
                         p_sample_loop(d, optimal_eps(s), x_T, g2).x0),
            1e-9);
}

// DDIM eta = 0 with the optimal model is a deterministic linear map of x_T,
// whose discretization shrinks the spread with few steps: the exact output
// std is 0.362, 0.472 and 0.486 for 10, 50 and 100 steps (s = 0.5), and the
// mean 0.2991 (x_T's mean, unlike in ancestral sampling, is not forgotten).
TEST(DdimSampler, EtaZeroApproachesGaussianDataWithMoreSteps) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  Generator gen(31);
  const Tensor x_T = ag::randn(kBig, &gen, DType::F64);
  SampleOptions opt;
  opt.clip_x0 = false;
  std::vector<double> stds;
  for (int64_t steps : {10, 50, 100}) {
    const Moments m = moments(ddim_sample_loop(d, optimal_eps(s), x_T, steps, 0.0, gen, opt).x0);
    EXPECT_NEAR(m.mean, kMu, 0.008) << steps << " steps";
    stds.push_back(std::sqrt(m.var));
  }
  EXPECT_LT(stds[0], stds[1]);
  EXPECT_LT(stds[1], stds[2]);
  EXPECT_NEAR(stds[1], std::sqrt(kVar), 0.04);
  EXPECT_NEAR(stds[2], std::sqrt(kVar), 0.025);
}

TEST(SnapshotsAndProgress, AncestralRecordsRequestedStepsInSamplingOrder) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 50);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  const Denoiser model = optimal_eps(s);
  Generator gen(4);
  const Tensor x_T = ag::randn({2, 1, 3, 3}, &gen, DType::F64);
  SampleOptions opt;
  opt.record_steps = {0, 25, -1, 49};
  std::vector<std::pair<int64_t, int64_t>> calls;
  opt.progress = [&](int64_t done, int64_t all) { calls.emplace_back(done, all); };
  const SampleResult r = p_sample_loop(d, model, x_T, gen, opt);

  ASSERT_EQ(r.snapshots.size(), 4u);
  const std::vector<int64_t> order = {49, 25, 0, -1};
  for (size_t k = 0; k < 4; ++k) {
    const Snapshot& snap = r.snapshots[k];
    EXPECT_EQ(snap.t, order[k]);
    EXPECT_EQ(snap.xt.shape(), x_T.shape());
    EXPECT_EQ(snap.pred_x0.shape(), x_T.shape());
    if (snap.t < 0) continue;
    // pred_x0 is the model's guess at that x_t (clipped, as opt.clip_x0).
    const Tensor want = d.p_mean_variance(model, snap.xt, timesteps(2, snap.t), true).pred_x0;
    EXPECT_EQ(max_abs_diff(snap.pred_x0, want), 0.0) << "t index " << snap.t;
  }
  EXPECT_EQ(max_abs_diff(r.snapshots[0].xt, x_T), 0.0);
  EXPECT_EQ(max_abs_diff(r.snapshots[3].xt, r.x0), 0.0);  // t = -1: the final sample
  EXPECT_EQ(max_abs_diff(r.snapshots[3].pred_x0, r.x0), 0.0);

  ASSERT_EQ(calls.size(), 50u);
  for (size_t k = 0; k < calls.size(); ++k)
    EXPECT_EQ(calls[k], std::make_pair(static_cast<int64_t>(k) + 1, int64_t{50}));
}

TEST(SnapshotsAndProgress, DdimRecordsOnlyItsOwnSteps) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 100);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  Generator gen(5);
  const Tensor x_T = ag::randn({1, 1, 2, 2}, &gen, DType::F64);
  SampleOptions opt;
  opt.record_steps = {0, 50, 99, 33};  // ddim_timesteps(100, 4) = {99, 66, 33, 0}
  std::vector<std::pair<int64_t, int64_t>> calls;
  opt.progress = [&](int64_t done, int64_t all) { calls.emplace_back(done, all); };
  const SampleResult r = ddim_sample_loop(d, optimal_eps(s), x_T, 4, 0.0, gen, opt);

  ASSERT_EQ(r.snapshots.size(), 3u);
  EXPECT_EQ(r.snapshots[0].t, 99);
  EXPECT_EQ(r.snapshots[1].t, 33);
  EXPECT_EQ(r.snapshots[2].t, 0);
  for (const Snapshot& snap : r.snapshots) {
    EXPECT_EQ(snap.xt.shape(), x_T.shape());
    EXPECT_EQ(snap.pred_x0.shape(), x_T.shape());
  }
  // The last DDIM step goes to abar = 1, i.e. x_0 = pred_x0 at index 0.
  EXPECT_EQ(max_abs_diff(r.snapshots[2].pred_x0, r.x0), 0.0);
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls.back(), std::make_pair(int64_t{4}, int64_t{4}));
}

// Algorithm 2, line 4: z = 0 at t = 1 (index 0), per sample.
TEST(PSampleStep, IndexZeroAddsNoNoise) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  const Denoiser model = optimal_eps(s);
  Generator g0(6);
  const Tensor xt = ag::randn({4, 1, 3, 3}, &g0, DType::F64);
  const Tensor t = ag::from_vector(std::vector<int32_t>{0, 500, 0, 3}, {4});
  const Tensor mean = d.p_mean_variance(model, xt, t, true).mean;
  Generator g1(1), g2(2);
  Tensor pred_x0;
  const Tensor a = p_sample(d, model, xt, t, g1, true, &pred_x0);
  const Tensor b = p_sample(d, model, xt, t, g2, true);
  EXPECT_EQ(pred_x0.shape(), xt.shape());
  for (int64_t n : {0, 2}) {
    EXPECT_EQ(max_abs_diff(ag::slice(a, 0, n, n + 1), ag::slice(mean, 0, n, n + 1)), 0.0);
    EXPECT_EQ(max_abs_diff(ag::slice(b, 0, n, n + 1), ag::slice(mean, 0, n, n + 1)), 0.0);
  }
  for (int64_t n : {1, 3})
    EXPECT_GT(max_abs_diff(ag::slice(a, 0, n, n + 1), ag::slice(b, 0, n, n + 1)), 0.0);
}

// Algorithm 2, line 4: x_{t-1} - mu_theta = sigma_t z with sigma_t^2 the model variance.
TEST(PSampleStep, NoiseHasTheModelVariance) {
  const Schedule s = linear1000();
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    const GaussianDiffusion d = gaussian_diffusion(s, var);
    Generator gen(7);
    const Tensor xt = ag::randn(kBig, &gen, DType::F64);
    const Tensor t = timesteps(4, 300);
    const Tensor step = p_sample(d, optimal_eps(s), xt, t, gen, false) -
                        d.p_mean_variance(optimal_eps(s), xt, t, false).mean;
    const Moments m = moments(step);
    const double sigma2 = model_variance(s, var, 300);
    EXPECT_NEAR(m.mean, 0.0, 4 * std::sqrt(sigma2 / kBigNumel));
    EXPECT_NEAR(m.var / sigma2, 1.0, 4 * std::sqrt(2.0 / kBigNumel));
  }
}

// One row per (lambda, pair); that the rows are lambda-major is checked by
// FromIndexZeroEndpointsComeBack below.
TEST(InterpolateLatents, OutputHasARowPerLambdaAndPair) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 100);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  Generator gen(8);
  const Tensor x_a = ag::randn({2, 1, 3, 3}, &gen, DType::F64);
  const Tensor x_b = ag::randn({2, 1, 3, 3}, &gen, DType::F64);
  const Tensor out = interpolate(d, optimal_eps(s), x_a, x_b, 10, {0.0, 0.5, 1.0}, gen);
  EXPECT_EQ(out.shape(), (Shape{6, 1, 3, 3}));
}

// lambda = 0 (1) is ancestral denoising, from t, of q_sample(x_a) (q_sample(x_b)),
// with the noise of Eq. 4 drawn once for both endpoints (Fig. 8).
TEST(InterpolateLatents, EndpointsDenoiseTheirOwnDiffusedImage) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 100);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  const Denoiser model = optimal_eps(s);
  Generator g0(9);
  const Tensor x_a = ag::randn({2, 1, 3, 3}, &g0, DType::F64);
  const Tensor x_b = ag::randn({2, 1, 3, 3}, &g0, DType::F64);
  const int32_t from = 20;
  for (double lambda : {0.0, 1.0}) {
    Generator g1(10), g2(10);
    const Tensor noise = ag::randn(x_a.shape(), &g1, DType::F64);
    Tensor x = d.q_sample(lambda == 0 ? x_a : x_b, timesteps(2, from), noise);
    for (int32_t t = from; t >= 0; --t) x = p_sample(d, model, x, timesteps(2, t), g1, true);
    EXPECT_EQ(max_abs_diff(interpolate(d, model, x_a, x_b, from, {lambda}, g2), x), 0.0)
        << "lambda " << lambda;
  }
}

// From index 0 there is one noiseless step (Algorithm 2 at t = 1): with the
// optimal model the ends come back within ~sqrt(beta_1) = 0.01 of x_a and x_b,
// and identical endpoints give (up to rounding) identical rows for every lambda.
TEST(InterpolateLatents, FromIndexZeroEndpointsComeBack) {
  const Schedule s = linear1000();
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  const Denoiser model = optimal_eps(s);
  Generator gen(12);
  const Tensor x_a = gaussian_data(gen), x_b = gaussian_data(gen);
  const Tensor out = interpolate(d, model, x_a, x_b, 0, {0.0, 1.0}, gen, false);
  const Moments err_a = moments(ag::slice(out, 0, 0, 4) - x_a);
  const Moments err_b = moments(ag::slice(out, 0, 4, 8) - x_b);
  EXPECT_LT(std::sqrt(err_a.var), 0.015);
  EXPECT_LT(std::sqrt(err_b.var), 0.015);

  const Tensor same = interpolate(d, model, x_a, x_a, 0, {0.0, 0.3, 0.7, 1.0}, gen, false);
  for (int64_t k = 1; k < 4; ++k)
    EXPECT_LT(max_abs_diff(ag::slice(same, 0, 4 * k, 4 * k + 4), ag::slice(same, 0, 0, 4)), 1e-12);
}

TEST(InterpolateLatents, RejectsBadTimestepAndShapes) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 10);
  const GaussianDiffusion d = gaussian_diffusion(s, ModelVarType::FixedLarge);
  const Denoiser model = optimal_eps(s);
  Generator gen(13);
  const Tensor x = ag::randn({1, 1, 2, 2}, &gen, DType::F64);
  EXPECT_THROW(interpolate(d, model, x, x, -1, {0.5}, gen), std::runtime_error);
  EXPECT_THROW(interpolate(d, model, x, x, 10, {0.5}, gen), std::runtime_error);
  EXPECT_NO_THROW(interpolate(d, model, x, x, 9, {0.5}, gen));
  EXPECT_THROW(interpolate(d, model, x, ag::randn({2, 1, 2, 2}, &gen, DType::F64), 5, {0.5}, gen),
               std::runtime_error);
}

}  // namespace
}  // namespace diffusion
