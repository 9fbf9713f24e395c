// The DDPM math against formulas written out here in double (Ho et al. 2020;
// Nichol & Dhariwal 2021 for the cosine schedule): schedule constants, the
// forward process q and its posterior, p_theta's mean and variance, and
// float64 gradient checks of both training losses through a tiny U-Net (the
// Gaussian KL and the discretized decoder: test_gaussian.cpp). Expected values never come from
// the code under test; schedule betas are taken as given inputs only where a
// test is about what is derived from them.
#include <algorithm>
#include <cmath>

#include "diffusion/diffusion.h"
#include "nn/unet.h"
#include "tests/diffusion_math_helpers.h"
#include "tests/gradcheck.h"
#include "tests/nn_helpers.h"

namespace diffusion {
namespace {

using ag::test::gradcheck;
using ag::test::gradcheck_directional;
using ag::test::values_near;
using namespace diffusion::test;

// The paper's schedule (Sec. 4): beta linear from 1e-4 to 0.02, i = 0 .. T-1.
double linear_beta(int64_t i, int64_t T) { return 1e-4 + i * (0.02 - 1e-4) / (T - 1); }
std::vector<double> linear_betas(int64_t T) {
  std::vector<double> b;
  for (int64_t i = 0; i < T; ++i) b.push_back(linear_beta(i, T));
  return b;
}

// abar_i = prod_{j <= i} (1 - beta_j), the product of Eq. 4.
std::vector<double> cumprod_alphas(const std::vector<double>& betas) {
  std::vector<double> abar;
  double p = 1.0;
  for (double b : betas) abar.push_back(p *= 1 - b);
  return abar;
}

// Nichol & Dhariwal 2021, Eq. 17: f(u) = cos^2(((u / T + s) / (1 + s)) pi / 2).
double cosine_f(double u, int64_t T) {
  const double s = 0.008, c = std::cos((u / T + s) / (1 + s) * kPi / 2);
  return c * c;
}

struct Normal {
  double mean, var;
};

// q(x_{t-1} | x_t, x_0) by Bayes' rule for one coordinate, completing the
// square: the prior q(x_{t-1} | x_0) = N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1})
// (Eq. 4) times the likelihood q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1},
// beta_t) (Eq. 2). At index 0 the prior is a point mass at x0.
Normal bayes_posterior(double abar_prev, double beta, double x0, double xt) {
  if (abar_prev == 1.0) return {x0, 0.0};
  const double prior_var = 1 - abar_prev, alpha = 1 - beta;
  const double var = 1 / (1 / prior_var + alpha / beta);
  return {var * (std::sqrt(abar_prev) * x0 / prior_var + std::sqrt(alpha) * xt / beta), var};
}

// The posterior means for samples shaped (N, 1, 1, D) at timestep indices t.
std::vector<double> bayes_means(const Schedule& s, const std::vector<int32_t>& t,
                                const std::vector<double>& x0, const std::vector<double>& xt) {
  const std::vector<double> abar = cumprod_alphas(s.betas);
  const size_t d = x0.size() / t.size();
  std::vector<double> means;
  for (size_t k = 0; k < x0.size(); ++k) {
    const int32_t i = t[k / d];
    means.push_back(bayes_posterior(i == 0 ? 1.0 : abar[i - 1], s.betas[i], x0[k], xt[k]).mean);
  }
  return means;
}

// ---------------------------------------------------------------- schedules

TEST(ScheduleLinear, BetasRunFrom1e4To002) {
  const Schedule& s = linear1000();
  ASSERT_EQ(s.T, 1000);
  ASSERT_EQ(s.betas.size(), 1000u);
  EXPECT_DOUBLE_EQ(s.betas[0], 1e-4);
  EXPECT_DOUBLE_EQ(s.betas[999], 0.02);
  for (int64_t i : {1, 250, 777}) {
    EXPECT_NEAR(s.betas[i], linear_beta(i, 1000), 1e-16);
    EXPECT_NEAR(s.alphas[i], 1 - linear_beta(i, 1000), 1e-16);
  }
}

TEST(ScheduleLinear, AlphasCumprodIsTheProductOfEq4) {
  const Schedule& s = linear1000();
  double product = 1.0;
  for (int64_t i = 0; i < 1000; ++i) {
    EXPECT_NEAR(s.alphas_cumprod_prev[i], product, 1e-13 * product) << i;  // abar_{t-1}
    product *= 1 - linear_beta(i, 1000);
    EXPECT_NEAR(s.alphas_cumprod[i], product, 1e-13 * product) << i;
  }
  EXPECT_EQ(s.alphas_cumprod_prev[0], 1.0);
  EXPECT_NEAR(s.alphas_cumprod[999], 4.036e-5, 0.001e-5);
}

TEST(ScheduleLinear, PosteriorVarianceAndCoefficientsFollowEq7) {
  const Schedule& s = linear1000();
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  EXPECT_EQ(s.posterior_variance[0], 0.0);             // beta~_1 = 0: x_0 is known
  EXPECT_NEAR(s.posterior_mean_coef1[0], 1.0, 1e-12);  // beta / (1 - (1 - beta)), rounded
  EXPECT_EQ(s.posterior_mean_coef2[0], 0.0);
  for (int64_t i : {1, 2, 10, 500, 998, 999}) {
    const double beta = linear_beta(i, 1000), prev = abar[i - 1], cur = abar[i];
    const double var = beta * (1 - prev) / (1 - cur);
    EXPECT_NEAR(s.posterior_variance[i], var, 1e-12 * var) << i;
    EXPECT_NEAR(s.posterior_log_variance_clipped[i], std::log(var), 1e-12) << i;
    EXPECT_NEAR(s.posterior_mean_coef1[i], std::sqrt(prev) * beta / (1 - cur), 1e-12) << i;
    EXPECT_NEAR(s.posterior_mean_coef2[i], std::sqrt(1 - beta) * (1 - prev) / (1 - cur), 1e-12)
        << i;
  }
  EXPECT_EQ(s.posterior_log_variance_clipped[0], std::log(s.posterior_variance[1]));
}

TEST(ScheduleLinear, SqrtAndReciprocalFormsAgree) {
  const Schedule& s = linear1000();
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  for (int64_t i : {0, 1, 100, 999}) {
    const double a = abar[i];
    EXPECT_NEAR(s.sqrt_alphas_cumprod[i], std::sqrt(a), 1e-13) << i;
    EXPECT_NEAR(s.sqrt_one_minus_alphas_cumprod[i], std::sqrt(1 - a), 1e-12) << i;
    EXPECT_NEAR(s.log_one_minus_alphas_cumprod[i], std::log(1 - a), 1e-10) << i;
    EXPECT_NEAR(s.sqrt_recip_alphas_cumprod[i], 1 / std::sqrt(a), 1e-12 / std::sqrt(a)) << i;
    EXPECT_NEAR(s.sqrt_recipm1_alphas_cumprod[i], std::sqrt((1 - a) / a), 1e-10) << i;
  }
}

TEST(ScheduleCosine, AlphasCumprodIsARatioOfF) {
  for (int64_t T : {10, 1000}) {
    const Schedule s = make_schedule(ScheduleKind::Cosine, T);
    ASSERT_EQ(s.T, T);
    for (int64_t i = 0; i + 1 < T; i += std::max<int64_t>(1, T / 20))  // beta unclipped here
      EXPECT_NEAR(s.alphas_cumprod[i], cosine_f(i + 1.0, T) / cosine_f(0, T), 1e-12)
          << "T " << T << ", i " << i;
  }
}

TEST(ScheduleCosine, BetaNeverExceeds0999) {
  for (int64_t T : {1, 2, 10, 1000}) {
    const Schedule s = make_schedule(ScheduleKind::Cosine, T);
    for (double b : s.betas) {
      EXPECT_GT(b, 0.0) << T;
      EXPECT_LE(b, 0.999) << T;
    }
    EXPECT_EQ(s.betas.back(), 0.999) << T;  // f(T) = 0 would give beta_T = 1
    for (double v : s.posterior_log_variance_clipped) EXPECT_TRUE(std::isfinite(v)) << T;
    for (double v : s.sqrt_recipm1_alphas_cumprod) EXPECT_TRUE(std::isfinite(v)) << T;
  }
}

TEST(ScheduleErrors, RejectsTBelowOne) {
  EXPECT_THROW(make_schedule(ScheduleKind::Linear, 0), std::runtime_error);
  EXPECT_THROW(make_schedule(ScheduleKind::Cosine, -3), std::runtime_error);
  EXPECT_EQ(make_schedule(ScheduleKind::Linear, 1, false).betas, std::vector<double>{1e-4});
  EXPECT_EQ(make_schedule(ScheduleKind::Linear, 1).betas, std::vector<double>{0.1});  // x 1000
}

TEST(ScheduleErrors, RejectsBetasOutsideTheOpenUnitInterval) {
  EXPECT_THROW(schedule_from_betas({}), std::runtime_error);
  for (double bad : {0.0, 1.0, -0.1, 1.5, std::nan("")})
    EXPECT_THROW(schedule_from_betas({0.1, bad, 0.2}), std::runtime_error) << bad;
  EXPECT_EQ(schedule_from_betas({0.1, 0.2}).alphas_cumprod.size(), 2u);
}

TEST(Parse, KnownNames) {
  EXPECT_EQ(parse_schedule("linear"), ScheduleKind::Linear);
  EXPECT_EQ(parse_schedule("cosine"), ScheduleKind::Cosine);
  EXPECT_EQ(parse_mean_type("eps"), ModelMeanType::Eps);
  EXPECT_EQ(parse_mean_type("x0"), ModelMeanType::X0);
  EXPECT_EQ(parse_mean_type("xprev"), ModelMeanType::Xprev);
  EXPECT_EQ(parse_var_type("large"), ModelVarType::FixedLarge);
  EXPECT_EQ(parse_var_type("small"), ModelVarType::FixedSmall);
  EXPECT_EQ(parse_var_type("learned"), ModelVarType::Learned);
  EXPECT_EQ(parse_loss_type("simple"), LossType::Simple);
  EXPECT_EQ(parse_loss_type("vlb"), LossType::Vlb);
  EXPECT_EQ(parse_loss_type("hybrid"), LossType::Hybrid);
}

TEST(Parse, BadNamesThrow) {
  for (const char* bad : {"", "Linear", "cosine ", "quadratic"})
    EXPECT_THROW(parse_schedule(bad), std::runtime_error) << bad;
  for (const char* bad : {"", "EPS", "x_0", "v"})
    EXPECT_THROW(parse_mean_type(bad), std::runtime_error) << bad;
  for (const char* bad : {"", "fixedlarge", "learned_range", "Learned"})
    EXPECT_THROW(parse_var_type(bad), std::runtime_error) << bad;
  for (const char* bad : {"", "kl", "Hybrid", "mse"})
    EXPECT_THROW(parse_loss_type(bad), std::runtime_error) << bad;
}

// ---------------------------------------------------------------- forward process

GaussianDiffusion linear_diffusion(ModelMeanType mean = ModelMeanType::Eps,
                                   ModelVarType var = ModelVarType::FixedSmall) {
  return GaussianDiffusion(linear1000(), mean, var, ag::DType::F64);
}

// Eq. 4 by its moments: 200000 draws of x_t from one x_0 = 0.7.
TEST(QSample, MomentsMatchEq4) {
  const GaussianDiffusion d = linear_diffusion();
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  const int64_t n = 200000;
  Tensor x0 = ag::full({1, 1, 1, n}, 0.7, ag::DType::F64);
  ag::Generator gen(5);
  for (int32_t i : {0, 300, 999}) {
    std::vector<double> xt =
        vals(d.q_sample(x0, steps({i}), ag::randn(x0.shape(), &gen, ag::DType::F64)));
    double m = 0, v = 0;
    for (double x : xt) m += x / n;
    for (double x : xt) v += (x - m) * (x - m) / (n - 1);
    const double var = 1 - abar[i];
    EXPECT_NEAR(m, std::sqrt(abar[i]) * 0.7, 5 * std::sqrt(var / n)) << i;
    EXPECT_NEAR(v, var, 5 * var * std::sqrt(2.0 / (n - 1))) << i;
  }
}

TEST(QSample, MeanVarianceMatchesEq4) {
  const GaussianDiffusion d = linear_diffusion();
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  const std::vector<int32_t> t = {0, 499, 999};
  const std::vector<double> x0 = {0.5, -1.0, 0.25, 0.9, -0.3, 1.0};
  MeanVariance q = d.q_mean_variance(f64(x0, {3, 1, 1, 2}), steps(t));
  std::vector<double> mean, var, log_var;
  for (size_t n = 0; n < t.size(); ++n) {
    for (size_t k = 0; k < 2; ++k) mean.push_back(std::sqrt(abar[t[n]]) * x0[2 * n + k]);
    var.push_back(1 - abar[t[n]]);
    log_var.push_back(std::log(1 - abar[t[n]]));
  }
  EXPECT_EQ(q.variance.shape(), (ag::Shape{3, 1, 1, 1}));
  EXPECT_TRUE(values_near(q.mean, mean, 1e-13));
  EXPECT_TRUE(values_near(q.variance, var, 1e-13));
  EXPECT_TRUE(values_near(q.log_variance, log_var, 1e-10));
}

TEST(QSample, PredictX0FromEpsInvertsIt) {
  const GaussianDiffusion d = linear_diffusion();
  Tensor x0 = ag::test::rand_leaf({4, 1, 3, 3}, 6).detach();
  Tensor eps = ag::test::rand_leaf({4, 1, 3, 3}, 7).detach();
  Tensor t = steps({0, 1, 500, 999});
  Tensor xt = d.q_sample(x0, t, eps);
  EXPECT_TRUE(values_near(d.predict_x0_from_eps(xt, t, eps), vals(x0), 1e-11));
  EXPECT_TRUE(values_near(d.predict_eps_from_x0(xt, t, x0), vals(eps), 1e-9));
}

// ---------------------------------------------------------------- posterior

// Eqs. 6-7 against Bayes' rule, for a linear and a short cosine schedule.
TEST(Posterior, MatchesBayesRule) {
  for (const Schedule& s : {linear1000(), make_schedule(ScheduleKind::Cosine, 50)}) {
    GaussianDiffusion d(s, ModelMeanType::Eps, ModelVarType::FixedSmall, ag::DType::F64);
    const int32_t last = static_cast<int32_t>(s.T - 1);
    const std::vector<int32_t> t = {0, 1, 2, 17, last - 1, last};
    const std::vector<double> abar = cumprod_alphas(s.betas);
    std::vector<double> x0, xt, var, log_var;
    for (size_t n = 0; n < t.size(); ++n) {
      const int32_t i = t[n];
      for (double a : {-0.8, 0.1, 0.95}) {
        x0.push_back(a);
        xt.push_back(1.3 * a - 0.4 + 0.1 * n);
      }
      const double abar_prev = i == 0 ? 1.0 : abar[i - 1];
      var.push_back(bayes_posterior(abar_prev, s.betas[i], 0, 0).var);
      // Clipped: beta~ at index 0 is 0, and its log takes index 1's value.
      log_var.push_back(std::log(
          bayes_posterior(i == 0 ? abar[0] : abar_prev, s.betas[i == 0 ? 1 : i], 0, 0).var));
    }
    MeanVariance q =
        d.q_posterior_mean_variance(f64(x0, {6, 1, 1, 3}), f64(xt, {6, 1, 1, 3}), steps(t));
    EXPECT_TRUE(values_near(q.mean, bayes_means(s, t, x0, xt), 1e-12)) << s.T;
    EXPECT_TRUE(values_near(q.variance, var, 1e-14)) << s.T;
    EXPECT_TRUE(values_near(q.log_variance, log_var, 1e-10)) << s.T;
  }
}

// ---------------------------------------------------------------- p_theta

// A model that returns exactly the target of its parameterization gives the
// true posterior mean (Eq. 11 for eps, Eq. 7 for x0, directly for xprev);
// with clipping, pred_x0 is clamped to [-1, 1] and the mean follows it
// (except for xprev, whose mean is the model's output).
void check_exact_model(ModelMeanType type, bool clip) {
  SCOPED_TRACE(testing::Message() << "mean type " << static_cast<int>(type) << ", clip " << clip);
  const GaussianDiffusion d = linear_diffusion(type);
  const Schedule& s = d.schedule();
  const std::vector<int32_t> t = {0, 1, 300, 999};
  const std::vector<double> x0 = {-1.7, -0.4, 0.3, 1.2, 0.9, -1.0, 2.0, 0.05, -0.6, 1.4, 0.0, -3.0};
  const ag::Shape shape = {4, 1, 1, 3};
  Tensor noise = ag::test::rand_leaf(shape, 8).detach();
  Tensor xt = d.q_sample(f64(x0, shape), steps(t), noise);
  const std::vector<double> true_mean = bayes_means(s, t, x0, vals(xt));
  std::vector<double> clipped = x0;
  for (double& x : clipped) x = std::clamp(x, -1.0, 1.0);

  Tensor out = type == ModelMeanType::Eps  ? noise
               : type == ModelMeanType::X0 ? f64(x0, shape)
                                           : f64(true_mean, shape);
  PMeanVariance p =
      d.p_mean_variance([&](const Tensor&, const Tensor&) { return out; }, xt, steps(t), clip);
  EXPECT_TRUE(values_near(p.pred_x0, clip ? clipped : x0, 1e-9));
  const bool mean_follows_clip = clip && type != ModelMeanType::Xprev;
  EXPECT_TRUE(values_near(
      p.mean, mean_follows_clip ? bayes_means(s, t, clipped, vals(xt)) : true_mean, 1e-11));
}

TEST(PMeanVariance, ExactModelGivesThePosteriorMean) {
  for (ModelMeanType type : {ModelMeanType::Eps, ModelMeanType::X0, ModelMeanType::Xprev})
    check_exact_model(type, false);
}

TEST(PMeanVariance, ClippingClampsPredictedX0) {
  for (ModelMeanType type : {ModelMeanType::Eps, ModelMeanType::X0, ModelMeanType::Xprev})
    check_exact_model(type, true);
}

// Sec. 3.2: sigma_t^2 = beta_t ("large", beta~_2 at t = 1) or beta~_t ("small").
TEST(PMeanVariance, FixedVariances) {
  const std::vector<int32_t> t = {0, 1, 400, 999};
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  auto beta = [&](int32_t i) { return linear_beta(i, 1000); };
  auto beta_tilde = [&](int32_t i) {
    return i == 0 ? 0.0 : beta(i) * (1 - abar[i - 1]) / (1 - abar[i]);
  };
  std::vector<double> large, small, small_log;
  for (int32_t i : t) {
    large.push_back(i == 0 ? beta_tilde(1) : beta(i));
    small.push_back(beta_tilde(i));
    small_log.push_back(std::log(beta_tilde(i == 0 ? 1 : i)));
  }
  Tensor xt = ag::zeros({4, 1, 2, 2}, ag::DType::F64);
  auto model = [&](const Tensor& x, const Tensor&) { return x; };
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    PMeanVariance p =
        linear_diffusion(ModelMeanType::Eps, var).p_mean_variance(model, xt, steps(t), false);
    const bool is_large = var == ModelVarType::FixedLarge;
    EXPECT_EQ(p.variance.shape(), (ag::Shape{4, 1, 1, 1}));
    EXPECT_TRUE(values_near(p.variance, is_large ? large : small, 1e-15));
    std::vector<double> log_large;
    for (double v : large) log_large.push_back(std::log(v));
    EXPECT_TRUE(values_near(p.log_variance, is_large ? log_large : small_log, 1e-10));
  }
}

// One term of Eq. 5 for a model that predicts the noise exactly: at t > 1 the
// KL between two Gaussians with equal means, at t = 1 the decoder's mass in
// the bin of x_0 around the exact mean x_0 (Eq. 13), in bits per dimension.
TEST(PMeanVariance, VlbTermsOfAnExactModel) {
  const std::vector<int32_t> t = {0, 5, 999};
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  const std::vector<double> x0 = {level(0), level(77), level(255), level(128)};
  const ag::Shape shape = {3, 1, 2, 2};
  std::vector<double> x0_all;
  for (size_t n = 0; n < t.size(); ++n) x0_all.insert(x0_all.end(), x0.begin(), x0.end());
  Tensor noise = ag::test::rand_leaf(shape, 9).detach();
  auto model = [&](const Tensor&, const Tensor&) { return noise; };
  const double tilde1 = linear_beta(1, 1000) * (1 - abar[0]) / (1 - abar[1]);
  // Decoder at index 0: N(x0, beta~_2) for either variance type.
  const double s = std::sqrt(tilde1), h = 1 / 255.0;
  const double p_edge = tanh_cdf(h / s), p_inner = tanh_cdf(h / s) - tanh_cdf(-h / s);
  const double decoder = -(2 * std::log(p_edge) + 2 * std::log(p_inner)) / 4 / std::log(2.0);
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    GaussianDiffusion d = linear_diffusion(ModelMeanType::Eps, var);
    Tensor loss = d.training_losses(model, f64(x0_all, shape), steps(t), noise, LossType::Vlb);
    std::vector<double> expected = {decoder};
    for (int32_t i : {5, 999}) {  // KL(N(m, beta~) || N(m, sigma^2)) in bits
      const double q_var = linear_beta(i, 1000) * (1 - abar[i - 1]) / (1 - abar[i]);
      const double p_var = var == ModelVarType::FixedLarge ? linear_beta(i, 1000) : q_var;
      expected.push_back(0.5 * (std::log(p_var / q_var) + q_var / p_var - 1) / std::log(2.0));
    }
    EXPECT_TRUE(values_near(loss, expected, 1e-9)) << static_cast<int>(var);
  }
}

// ---------------------------------------------------------------- loss values

// L_simple (Eq. 14, Algorithm 1) by value, for each parameterization, with a
// stub model whose output is known: x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps
// (Eq. 4) must reach the model, and the loss per sample is the mean over
// pixels of (target - output)^2, the target being eps, x_0 or the posterior
// mean mu~ (Eqs. 6-7, by Bayes' rule here), all in double from the betas.
TEST(LossValue, SimpleLossMatchesEq14ForEachTarget) {
  const std::vector<int32_t> t = {0, 1, 250, 999};
  const std::vector<double> abar = cumprod_alphas(linear_betas(1000));
  const ag::Shape shape = {4, 1, 1, 3};
  const std::vector<double> x0 = {-1.0, 0.2, 0.9, 0.5, -0.7, 1.0, 0.0, 0.33, -0.4, 0.8, -0.9, 0.1};
  const std::vector<double> eps = {0.3, -1.2, 0.8, 2.0, 0.1, -0.5, -1.7, 0.6, 1.1, -0.2, 0.4, 1.5};
  const std::vector<double> out = {0.5, 0.5, -0.5, 1.0, -1.0, 0.25, 0.0, 2.0, -2.0, 0.7, 0.3, -0.1};
  std::vector<double> xt;
  for (size_t k = 0; k < x0.size(); ++k) {
    const double a = abar[t[k / 3]];
    xt.push_back(std::sqrt(a) * x0[k] + std::sqrt(1 - a) * eps[k]);
  }
  const std::vector<double> mu_tilde = bayes_means(linear1000(), t, x0, xt);
  for (ModelMeanType type : {ModelMeanType::Eps, ModelMeanType::X0, ModelMeanType::Xprev}) {
    SCOPED_TRACE(static_cast<int>(type));
    const std::vector<double>& target = type == ModelMeanType::Eps  ? eps
                                        : type == ModelMeanType::X0 ? x0
                                                                    : mu_tilde;
    std::vector<double> expected(t.size(), 0.0);
    for (size_t k = 0; k < x0.size(); ++k)
      expected[k / 3] += (target[k] - out[k]) * (target[k] - out[k]) / 3;
    int calls = 0;
    Denoiser stub = [&](const Tensor& x, const Tensor& ts) {
      ++calls;
      EXPECT_TRUE(values_near(x, xt, 1e-13));
      EXPECT_EQ(ts.to_vector<int32_t>(), t);
      return f64(out, shape);
    };
    Tensor loss = linear_diffusion(type).training_losses(stub, f64(x0, shape), steps(t),
                                                         f64(eps, shape), LossType::Simple);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(loss.shape(), (ag::Shape{4}));
    EXPECT_TRUE(values_near(loss, expected, 1e-12));
  }
}

// L_T = KL(q(x_T | x_0) || N(0, I)) / (D ln 2) with q(x_T | x_0) =
// N(sqrt(abar_T) x_0, (1 - abar_T) I) (Eq. 4): per dimension
// 0.5 (-1 - log(1 - abar_T) + (1 - abar_T) + abar_T x_0^2). With T = 20 and
// the unscaled betas of the paper's schedule the prior is far from 0 (abar_T
// is about 0.82), with T = 1000 about 2e-5 bits/dim.
TEST(LossValue, PriorBpdIsTheKlOfEq4ToTheStandardNormal) {
  const std::vector<double> x0 = {-1.0, 1.0, 0.0, 0.4, -0.25, level(3), level(200), 0.9};
  for (int64_t T : {20, 1000}) {
    SCOPED_TRACE(T);
    const double abar_T = cumprod_alphas(linear_betas(T)).back();
    std::vector<double> expected(2, 0.0);
    for (size_t k = 0; k < x0.size(); ++k)
      expected[k / 4] += 0.5 * (-1 - std::log(1 - abar_T) + (1 - abar_T) + abar_T * x0[k] * x0[k]) /
                         4 / std::log(2.0);
    const GaussianDiffusion d(make_schedule(ScheduleKind::Linear, T, false), ModelMeanType::Eps,
                              ModelVarType::FixedLarge, ag::DType::F64);
    Tensor prior = d.prior_bpd(f64(x0, {2, 1, 2, 2}));
    EXPECT_EQ(prior.shape(), (ag::Shape{2}));
    EXPECT_TRUE(values_near(prior, expected, 1e-13));
    EXPECT_GT(expected[0], T == 20 ? 0.5 : 1e-5);
  }
}

// ---------------------------------------------------------------- loss gradients

// Both training losses through a tiny float64 U-Net with random parameters
// (DDPM's zero-initialized output layers would hide wrong gradients behind
// them) and a T = 20 linear schedule.
class LossGrad : public ::testing::Test {
 protected:
  LossGrad() : model(ag::test::small_test_unet(), 1) {
    ag::test::randomize_f64(model, 13);
    ag::Generator gen(14);
    ag::NoGradGuard no_grad;
    // x_0 on the 256 levels, as the Vlb decoder requires.
    std::vector<double> levels;
    for (int64_t i = 0; i < 2 * 64; ++i) levels.push_back(level(static_cast<int>(i * 37 % 256)));
    x0 = f64(levels, {2, 1, 8, 8});
    noise = ag::randn({2, 1, 8, 8}, &gen, ag::DType::F64);
  }

  // The per-sample losses at timesteps t as a function for gradcheck (which
  // perturbs the model's parameters in place).
  ag::test::Fn loss_fn(ModelMeanType mean, ModelVarType var, LossType loss,
                       std::vector<int32_t> t) const {
    auto d = std::make_shared<GaussianDiffusion>(make_schedule(ScheduleKind::Linear, 20), mean, var,
                                                 ag::DType::F64);
    return [this, d, loss, t](const std::vector<Tensor>&) {
      Denoiser net = [this](const Tensor& x, const Tensor& ts) { return model.forward(x, ts); };
      return d->training_losses(net, x0, steps(t), noise, loss);
    };
  }

  // The final layer's parameters, few enough for the full Jacobian.
  std::vector<Tensor> output_layer() const {
    std::vector<Tensor> out;
    for (auto& [name, p] : model.named_parameters())
      if (name.rfind("norm_out.", 0) == 0 || name == "conv_out.bias") out.push_back(p);
    return out;
  }

  nn::UNet model;
  Tensor x0, noise;
};

constexpr ModelMeanType kMeanTypes[] = {ModelMeanType::Eps, ModelMeanType::X0,
                                        ModelMeanType::Xprev};

// Eq. 14 with each target: eps, x_0, mu~.
TEST_F(LossGrad, SimpleLossForEachParameterization) {
  for (ModelMeanType mean : kMeanTypes) {
    SCOPED_TRACE(static_cast<int>(mean));
    auto f = loss_fn(mean, ModelVarType::FixedLarge, LossType::Simple, {3, 17});
    EXPECT_TRUE(gradcheck_directional(f, model.parameters()));
    EXPECT_TRUE(gradcheck(f, output_layer()));
  }
}

// Eq. 5's terms: index 0 is the decoder (Eq. 13), index 12 a KL; both in one batch.
TEST_F(LossGrad, VlbDecoderAndKlTerms) {
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    for (ModelMeanType mean : kMeanTypes) {
      SCOPED_TRACE(testing::Message()
                   << "mean " << static_cast<int>(mean) << ", var " << static_cast<int>(var));
      auto f = loss_fn(mean, var, LossType::Vlb, {0, 12});
      EXPECT_TRUE(gradcheck_directional(f, model.parameters()));
      EXPECT_TRUE(gradcheck(f, output_layer()));
    }
  }
}

}  // namespace
}  // namespace diffusion
