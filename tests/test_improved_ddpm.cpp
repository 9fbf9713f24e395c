// Improved DDPM (Nichol & Dhariwal 2021) on top of the paper's process:
// learned variances (Eq. 15), L_hybrid's stop-gradient (Sec. 3.1), the
// importance sampler of Eq. 18, respacing (Sec. 4) and the linear schedule
// scaled with T. Expected values are written out here, never taken from the
// code under test; the Gaussian-data oracle of test_samplers.cpp shows the
// learned variance reaching the true reverse variance.
#include <algorithm>
#include <cmath>
#include <vector>

#include "diffusion/likelihood.h"
#include "diffusion/samplers.h"
#include "diffusion/timestep_sampler.h"
#include "nn/optim.h"
#include "tests/diffusion_math_helpers.h"
#include "tests/gradcheck.h"

namespace diffusion::improved_test {

using ag::DType;
using ag::Generator;
using ag::Shape;
using ag::test::gradcheck;
using namespace diffusion::test;

GaussianDiffusion learned(const Schedule& s, ModelMeanType mean = ModelMeanType::Eps) {
  return GaussianDiffusion(s, mean, ModelVarType::Learned, DType::F64);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = vals(a), y = vals(b);
  double m = x.size() == y.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// A "model" whose output is a fixed tensor (a leaf the tests differentiate).
Denoiser constant(const Tensor& out) {
  return [out](const Tensor&, const Tensor&) { return out; };
}

// --- Learned variances: Eq. 15 ----------------------------------------------

// log sigma^2 = frac log beta_t + (1 - frac) log beta~_t, frac = (v + 1) / 2:
// v = -1 gives beta~ (clipped at t = 1), v = 1 gives beta, and any v in
// between a log variance between the two.
TEST(LearnedRange, InterpolatesBetweenTheTwoLogVariances) {
  const Schedule& s = linear1000();
  const GaussianDiffusion d = learned(s);
  const std::vector<int32_t> t = {0, 1, 10, 500, 999};
  std::vector<double> v;
  for (int k = 0; k <= 20; ++k) v.push_back(-1 + k / 10.0);
  for (size_t i = 0; i < t.size(); ++i) {
    const Tensor lv = d.learned_log_variance(f64(v, {1, 1, 1, 21}), steps({t[i]}));
    const std::vector<double> got = vals(lv);
    const double lo = s.posterior_log_variance_clipped[t[i]], hi = std::log(s.betas[t[i]]);
    EXPECT_NEAR(got.front(), lo, 1e-12) << t[i];
    EXPECT_NEAR(got.back(), hi, 1e-12) << t[i];
    for (size_t k = 0; k < v.size(); ++k) {
      const double frac = (v[k] + 1) / 2;
      EXPECT_NEAR(got[k], frac * hi + (1 - frac) * lo, 1e-12);
      EXPECT_GE(got[k], std::min(lo, hi) - 1e-12);
      EXPECT_LE(got[k], std::max(lo, hi) + 1e-12);
    }
  }
}

// p_mean_variance splits the 2C channels: the mean from the first C exactly as
// a fixed-variance model with those channels, the variance from the rest.
TEST(LearnedRange, PMeanVarianceSplitsMeanAndVarianceChannels) {
  const Schedule& s = linear1000();
  Generator gen(3);
  const Tensor xt = ag::randn({2, 3, 2, 2}, &gen, DType::F64);
  const Tensor eps = ag::randn({2, 3, 2, 2}, &gen, DType::F64);
  const Tensor v = ag::rand({2, 3, 2, 2}, &gen, DType::F64) * 2.0 - 1.0;
  const Tensor t = steps({7, 300});
  const PMeanVariance p =
      learned(s).p_mean_variance(constant(ag::concat({eps, v}, 1)), xt, t, false);
  const PMeanVariance fixed =
      GaussianDiffusion(s, ModelMeanType::Eps, ModelVarType::FixedSmall, DType::F64)
          .p_mean_variance(constant(eps), xt, t, false);
  EXPECT_LT(max_abs_diff(p.mean, fixed.mean), 1e-14);
  EXPECT_EQ(p.log_variance.shape(), xt.shape());
  const std::vector<double> lv = vals(p.log_variance), vv = vals(v), var = vals(p.variance);
  for (size_t i = 0; i < lv.size(); ++i) {
    const int32_t ti = i < 12 ? 7 : 300;
    const double frac = (vv[i] + 1) / 2;
    const double want =
        frac * std::log(s.betas[ti]) + (1 - frac) * s.posterior_log_variance_clipped[ti];
    EXPECT_NEAR(lv[i], want, 1e-12);
    EXPECT_NEAR(var[i], std::exp(want), 1e-15);
  }
}

TEST(LearnedRange, RefusesAModelWithoutTheVarianceChannels) {
  const Tensor x = ag::zeros({1, 2, 2, 2}, DType::F64);
  EXPECT_THROW(learned(linear1000()).p_mean_variance(constant(x), x, steps({5}), false),
               std::runtime_error);
  const GaussianDiffusion fixed(linear1000(), ModelMeanType::Eps, ModelVarType::FixedLarge,
                                DType::F64);
  EXPECT_THROW(fixed.p_mean_variance(constant(ag::concat({x, x}, 1)), x, steps({5}), false),
               std::runtime_error);
}

// --- L_hybrid -----------------------------------------------------------------

// For one sample: L_hybrid = mean (eps - out_mean)^2 + lambda T L_t, where
// L_t's mean is held fixed: its gradient w.r.t. the mean channels is exactly
// that of the squared error, 2 (out - eps) / (C H W), and it reaches the v
// channels only through L_t.
TEST(HybridLoss, TheBoundTermTrainsOnlyTheVariance) {
  const Schedule& s = linear1000();
  const GaussianDiffusion d = learned(s);
  Generator gen(5);
  const Tensor x0 = ag::rand({1, 1, 2, 3}, &gen, DType::F64) * 2.0 - 1.0;
  const Tensor noise = ag::randn({1, 1, 2, 3}, &gen, DType::F64);
  for (int32_t t : {0, 40}) {
    Tensor out = ag::test::rand_leaf({1, 2, 2, 3}, 9 + t, 0.5);
    ag::sum(d.training_losses(constant(out), x0, steps({t}), noise, LossType::Hybrid)).backward();
    const std::vector<double> g = vals(out.grad()), o = vals(out), n = vals(noise);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(g[i], 2 * (o[i] - n[i]) / 6, 1e-12) << t;
    double v_grad = 0;
    for (int i = 6; i < 12; ++i) v_grad += std::abs(g[i]);
    EXPECT_GT(v_grad, 1e-5) << t;
    // The plain bound (no stop-gradient) does reach the mean channels.
    Tensor out2 = out.detach().clone();
    out2.set_requires_grad();
    ag::sum(d.training_losses(constant(out2), x0, steps({t}), noise, LossType::Vlb)).backward();
    double mean_grad = 0;
    for (int i = 0; i < 6; ++i) mean_grad += std::abs(vals(out2.grad())[i]);
    EXPECT_GT(mean_grad, 1e-6) << t;
  }
}

// The hybrid loss's value: the squared error plus lambda T times the bound's
// term of the same output (vb_terms_bpd, with the mean as given).
TEST(HybridLoss, ValueIsSimplePlusLambdaTTimesTheTerm) {
  const Schedule& s = linear1000();
  const GaussianDiffusion d = learned(s);
  Generator gen(6);
  const Tensor x0 = ag::rand({2, 1, 2, 2}, &gen, DType::F64) * 2.0 - 1.0;
  const Tensor noise = ag::randn({2, 1, 2, 2}, &gen, DType::F64);
  const Tensor out = ag::randn({2, 2, 2, 2}, &gen, DType::F64) * 0.5;
  const Tensor t = steps({0, 123});
  const std::vector<double> got =
      vals(d.training_losses(constant(out), x0, t, noise, LossType::Hybrid, 0.002));
  const Tensor xt = d.q_sample(x0, t, noise);
  const std::vector<double> vb = vals(d.vb_terms_bpd(constant(out), x0, xt, t, false).bits_per_dim);
  const std::vector<double> o = vals(out), n = vals(noise);
  for (int b = 0; b < 2; ++b) {
    double mse = 0;
    for (int i = 0; i < 4; ++i) mse += std::pow(n[4 * b + i] - o[8 * b + i], 2) / 4;
    EXPECT_NEAR(got[b], mse + 0.002 * 1000 * vb[b], 1e-10) << b;
  }
}

TEST(HybridLoss, RefusesFixedVariancesAndSimpleRefusesLearned) {
  const Tensor x = ag::zeros({1, 1, 2, 2}, DType::F64);
  const GaussianDiffusion fixed(linear1000(), ModelMeanType::Eps, ModelVarType::FixedLarge,
                                DType::F64);
  EXPECT_THROW(fixed.training_losses(constant(x), x, steps({3}), x, LossType::Hybrid),
               std::runtime_error);
  EXPECT_THROW(
      learned(linear1000())
          .training_losses(constant(ag::concat({x, x}, 1)), x, steps({3}), x, LossType::Simple),
      std::runtime_error);
}

// Gradchecks in float64 of the new losses: L_vlb with learned variances
// w.r.t. the model's whole output, and L_hybrid w.r.t. the variance channels
// (its value depends on the mean channels through L_vlb too, which its
// gradient leaves out by design: the test above), at the decoder (t = 1) and
// a KL term, for eps and x0 outputs.
TEST(HybridLoss, Gradcheck) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 50);
  Generator gen(8);
  std::vector<double> levels;
  for (int k = 0; k < 8; ++k) levels.push_back(level(37 * k % 256));
  const Tensor x0 = f64(levels, {2, 1, 2, 2});
  const Tensor noise = ag::randn({2, 1, 2, 2}, &gen, DType::F64);
  const Tensor t = steps({0, 20});
  for (ModelMeanType mean : {ModelMeanType::Eps, ModelMeanType::X0}) {
    const GaussianDiffusion d = learned(s, mean);
    auto vlb = [&](const std::vector<Tensor>& in) {
      return d.training_losses(constant(in[0]), x0, t, noise, LossType::Vlb);
    };
    EXPECT_TRUE(gradcheck(vlb, {ag::test::rand_leaf({2, 2, 2, 2}, 30, 0.3)}));
    const Tensor mean_out = ag::test::rand_leaf({2, 1, 2, 2}, 31, 0.3).detach();
    auto hybrid = [&](const std::vector<Tensor>& in) {
      return d.training_losses(constant(ag::concat({mean_out, in[0]}, 1)), x0, t, noise,
                               LossType::Hybrid);
    };
    EXPECT_TRUE(gradcheck(hybrid, {ag::test::rand_leaf({2, 1, 2, 2}, 32, 0.3)}));
  }
}

// --- The Gaussian-data oracle --------------------------------------------------

// x_0 ~ N(kMu, kVar) per dimension (as test_samplers.cpp): E[x_0 | x_t] is
// linear, the optimal eps known, and the true reverse variance is
// Var[x_{t-1} | x_t] = beta~_t + coef1^2 Var[x_0 | x_t] (Var[x_0 | x_1] for
// the decoder), which lies between beta~_t and beta_t.
constexpr double kMu = 0.3, kVar = 0.25;

double x0_variance(double abar) { return kVar * (1 - abar) / (abar * kVar + 1 - abar); }

double true_reverse_variance(const Schedule& s, int64_t i) {
  const double err = x0_variance(s.alphas_cumprod[i]);
  if (i == 0) return err;
  return s.posterior_variance[i] + s.posterior_mean_coef1[i] * s.posterior_mean_coef1[i] * err;
}

Tensor optimal_eps(const Schedule& s, const Tensor& x, const Tensor& t) {
  std::vector<double> scale, centre;
  for (int32_t i : t.to_vector<int32_t>()) {
    const double ab = s.alphas_cumprod[i];
    scale.push_back(std::sqrt(1 - ab) / (ab * kVar + 1 - ab));
    centre.push_back(std::sqrt(ab) * kMu);
  }
  const int64_t n = t.numel();
  return ag::from_vector(scale, {n, 1, 1, 1}) * (x - ag::from_vector(centre, {n, 1, 1, 1}));
}

// The optimal mean with a learned v per timestep (a table of T values).
Denoiser with_learned_v(const Schedule& s, const Tensor& v_table) {
  return [&s, v_table](const Tensor& x, const Tensor& t) {
    const Tensor v =
        ag::expand(ag::reshape(ag::gather(v_table, t), {t.numel(), 1, 1, 1}), x.shape());
    return ag::concat({optimal_eps(s, x, t), v}, 1);
  };
}

// Training v alone on the bound (the continuous decoder: the data is not on
// 256 levels), each step with every timestep once, brings sigma_t^2 to the
// true reverse variance; the bound of the process with those variances is
// then the exact NLL (1.047 bits/dim) within 0.02 bits/dim, where the fixed
// beta_t leave a gap of 0.048 bits/dim at this T = 100 in expectation (0.165
// at T = 1000), asserted here as more than 0.03.
TEST(LearnedVarianceOracle, ReachesTheTrueReverseVarianceAndTightensTheBound) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 100);
  const GaussianDiffusion d = learned(s);
  Tensor v = ag::zeros({100}, DType::F64);
  v.set_requires_grad();
  nn::Adam adam({v}, nn::AdamConfig{0.05});
  Generator gen(31);
  std::vector<int32_t> all;
  for (int32_t i = 0; i < 100; ++i) all.push_back(i);
  const Tensor t = steps(all);
  for (int step = 0; step < 400; ++step) {
    const Tensor x0 = ag::randn({100, 1, 1, 64}, &gen, DType::F64) * std::sqrt(kVar) + kMu;
    const Tensor xt = d.q_sample(x0, t, ag::randn(x0.shape(), &gen, DType::F64));
    const PMeanVariance p = d.p_mean_variance(with_learned_v(s, v), xt, t, false);
    ag::sum(d.vb_terms_bpd_of(p, x0, xt, t, false).bits_per_dim).backward();
    adam.step(step < 300 ? 0.05 : 0.01);
    adam.zero_grad();
  }
  const Tensor log_var = d.learned_log_variance(ag::reshape(v.detach(), {100, 1, 1, 1}), t);
  const std::vector<double> got = vals(log_var);
  for (int64_t i : {0, 1, 2, 5, 10, 30, 60}) {
    const double want = true_reverse_variance(s, i);
    EXPECT_NEAR(std::exp(got[i]), want, 0.03 * want) << "t index " << i;
  }
  Generator eval_gen(32);
  const Tensor x0 = ag::randn({4, 1, 1, 25000}, &eval_gen, DType::F64) * std::sqrt(kVar) + kMu;
  BoundOptions bo;
  bo.clip_x0 = false;
  bo.discretized = false;
  const double bound =
      ag::mean(calc_bpd_loop(d, with_learned_v(s, v.detach()), x0, eval_gen, bo).total_bpd).item();
  double nll = 0;
  for (double a : x0.to_vector<double>())
    nll += 0.5 * std::log(2 * kPi * kVar) + 0.5 * (a - kMu) * (a - kMu) / kVar;
  nll /= static_cast<double>(x0.numel()) * std::log(2.0);
  EXPECT_NEAR(bound, nll, 0.02);
  const GaussianDiffusion large(s, ModelMeanType::Eps, ModelVarType::FixedLarge, DType::F64);
  auto eps_only = [&s](const Tensor& x, const Tensor& tt) { return optimal_eps(s, x, tt); };
  const double fixed = ag::mean(calc_bpd_loop(large, eps_only, x0, eval_gen, bo).total_bpd).item();
  EXPECT_GT(fixed - bound, 0.03);
}

// --- Importance sampling of t: Eq. 18 ----------------------------------------

// Until every term has 10 values p is uniform; then p_t = 0.999 w_t / sum w +
// 0.001 / T with w_t the root mean square of the term's last 10 values.
TEST(ImportanceSampler, ProbabilitiesFollowTheSecondMoments) {
  ImportanceSampler sampler(4);
  for (int round = 0; round < 10; ++round) {
    EXPECT_FALSE(sampler.warmed_up());
    for (double p : sampler.probabilities()) EXPECT_EQ(p, 0.25);
    sampler.update({0, 1, 2}, {1.0 + round, 2.0, 0.5});
    if (round < 9) sampler.update({3}, {3.0});
  }
  EXPECT_FALSE(sampler.warmed_up());     // term 3 holds 9 values
  sampler.update({3, 3}, {4.0, 100.0});  // 11 values: the first 3.0 drops out
  ASSERT_TRUE(sampler.warmed_up());
  double sq0 = 0;
  for (int r = 0; r < 10; ++r) sq0 += (1.0 + r) * (1.0 + r);
  double sq3 = 8 * 9.0 + 16 + 10000;
  const std::vector<double> w = {std::sqrt(sq0 / 10), 2.0, 0.5, std::sqrt(sq3 / 10)};
  const double sum = w[0] + w[1] + w[2] + w[3];
  const std::vector<double> p = sampler.probabilities();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], 0.999 * w[i] / sum + 0.001 / 4, 1e-15) << i;
}

// Draws follow p (within 4 standard errors over 200000 draws) and carry the
// weights 1 / (T p_t).
TEST(ImportanceSampler, DrawsFollowPWithInverseWeights) {
  ImportanceSampler sampler(3);
  for (int r = 0; r < 10; ++r) sampler.update({0, 1, 2}, {1.0, 3.0, 6.0});
  const std::vector<double> p = sampler.probabilities();
  Generator gen(4);
  const int64_t n = 200000;
  const ImportanceSampler::Draw d = sampler.sample(n, gen);
  std::vector<double> count(3, 0.0);
  const std::vector<int32_t> t = d.t.to_vector<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    count[t[i]] += 1;
    EXPECT_DOUBLE_EQ(d.weights[i], 1 / (3 * p[t[i]]));
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_NEAR(count[i] / n, p[i], 4 * std::sqrt(p[i] * (1 - p[i]) / n)) << i;
}

// On a fixed model, the importance-weighted estimate of the bound's mean term
// (1 / T) sum_t L_t agrees with the uniform estimate and with the exact
// average over every t, while its spread is smaller: the point of Eq. 18.
TEST(ImportanceSampler, WeightedEstimateIsUnbiasedWithLessVariance) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 40);
  const GaussianDiffusion d(s, ModelMeanType::Eps, ModelVarType::FixedLarge, DType::F64);
  const Denoiser zero = [](const Tensor& x, const Tensor&) { return x * 0.0; };
  Generator gen(41);
  const Tensor x0 = ag::rand({1, 1, 4, 4}, &gen, DType::F64) * 2.0 - 1.0;
  auto term = [&](int32_t t) {  // the term at t, averaged over 50 noise draws
    const Tensor xs = ag::expand(x0, {50, 1, 4, 4}).contiguous();
    const Tensor tt = steps(std::vector<int32_t>(50, t));
    const Tensor xt = d.q_sample(xs, tt, ag::randn(xs.shape(), &gen, DType::F64));
    return ag::mean(d.vb_terms_bpd(zero, xs, xt, tt, false).bits_per_dim).item();
  };
  std::vector<double> L;
  double exact = 0;
  for (int32_t t = 0; t < 40; ++t) L.push_back(term(t)), exact += L.back() / 40;
  ImportanceSampler sampler(40);
  for (int r = 0; r < 10; ++r)
    for (int32_t t = 0; t < 40; ++t) sampler.update({t}, {L[t]});
  const int64_t n = 20000;
  const ImportanceSampler::Draw draw = sampler.sample(n, gen);
  const std::vector<int32_t> ti = draw.t.to_vector<int32_t>();
  const std::vector<double> u = ag::rand({n}, &gen, DType::F64).to_vector<double>();
  double is_mean = 0, is_sq = 0, un_mean = 0, un_sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = draw.weights[i] * L[ti[i]], b = L[std::min<int64_t>(39, u[i] * 40)];
    is_mean += a / n, is_sq += a * a / n, un_mean += b / n, un_sq += b * b / n;
  }
  const double is_var = is_sq - is_mean * is_mean, un_var = un_sq - un_mean * un_mean;
  EXPECT_NEAR(is_mean, exact, 4 * std::sqrt(is_var / n));
  EXPECT_NEAR(un_mean, exact, 4 * std::sqrt(un_var / n));
  EXPECT_LT(is_var, 0.5 * un_var);
}

TEST(ImportanceSampler, HistoryRoundTripsAsTextAndRefusesBadText) {
  ImportanceSampler a(3), b(3);
  a.update({0, 2, 2}, {0.1, 1e-300, 3.0 / 7.0});
  b.from_text(a.to_text());
  EXPECT_EQ(b.to_text(), a.to_text());
  EXPECT_EQ(b.probabilities(), a.probabilities());
  EXPECT_THROW(b.from_text("1 0.5\n0\n"), std::runtime_error);    // too few terms
  EXPECT_THROW(b.from_text("0\n0\n0\n0\n"), std::runtime_error);  // too many
  EXPECT_THROW(b.from_text("11 1 1 1 1 1 1 1 1 1 1 1\n0\n0\n"), std::runtime_error);
  EXPECT_THROW(b.from_text("1 nan\n0\n0\n"), std::runtime_error);
  EXPECT_THROW(a.update({3}, {1.0}), std::runtime_error);
  EXPECT_THROW(a.update({0}, {NAN}), std::runtime_error);
  EXPECT_EQ(b.to_text(), a.to_text());  // a refused text leaves the history
}

// --- Respacing: Sec. 4 --------------------------------------------------------

TEST(Respacing, KeepsAlphaBarAtTheKeptSteps) {
  const Schedule& s = linear1000();
  const std::vector<int64_t> kept = spaced_timesteps(1000, 50);
  ASSERT_EQ(kept.size(), 50u);
  EXPECT_EQ(kept.front(), 0);
  EXPECT_EQ(kept.back(), 999);
  EXPECT_EQ(kept[1], 20);  // round(999 / 49) = round(20.39)
  const Schedule r = respace_schedule(s, kept);
  for (size_t k = 0; k < kept.size(); ++k) {
    EXPECT_NEAR(r.alphas_cumprod[k] / s.alphas_cumprod[kept[k]], 1.0, 1e-12) << k;
    const double prev = k == 0 ? 1.0 : s.alphas_cumprod[kept[k - 1]];
    EXPECT_NEAR(r.betas[k], 1 - s.alphas_cumprod[kept[k]] / prev, 1e-15);
  }
  EXPECT_THROW(respace_schedule(s, {5, 5}), std::runtime_error);
  EXPECT_THROW(respace_schedule(s, {1000}), std::runtime_error);
  EXPECT_THROW(spaced_timesteps(1000, 1001), std::runtime_error);
}

// K = T keeps every step: the same constants to rounding and the same samples.
TEST(Respacing, AllStepsReproduceTheOriginalProcess) {
  const Schedule s = make_schedule(ScheduleKind::Linear, 30);
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::FixedSmall}) {
    const GaussianDiffusion d(s, ModelMeanType::Eps, var, DType::F64);
    const GaussianDiffusion r = d.respaced(spaced_timesteps(30, 30));
    for (int64_t i = 0; i < 30; ++i) {
      EXPECT_EQ(r.original_timestep(i), i);
      EXPECT_NEAR(r.schedule().betas[i], s.betas[i], 1e-15);
      EXPECT_NEAR(r.schedule().posterior_variance[i], s.posterior_variance[i], 1e-15);
    }
    const Denoiser model = [](const Tensor& x, const Tensor& t) {
      return x * 0.3 + ag::reshape(t.to(DType::F64), {t.numel(), 1, 1, 1}) * 0.01;
    };
    Generator g(9), ga(10), gb(10);
    const Tensor x_T = ag::randn({2, 1, 3, 3}, &g, DType::F64);
    const Tensor a = p_sample_loop(d, model, x_T, ga).x0;
    const Tensor b = p_sample_loop(r, model, x_T, gb).x0;
    EXPECT_LT(max_abs_diff(a, b), 1e-12);
  }
}

// The respaced process calls the model with the original timestep indices,
// and records snapshots under them.
TEST(Respacing, ModelSeesOriginalTimesteps) {
  const GaussianDiffusion d(linear1000(), ModelMeanType::Eps, ModelVarType::Learned, DType::F64);
  const GaussianDiffusion r = d.respaced(spaced_timesteps(1000, 4));  // 0, 333, 666, 999
  std::vector<int32_t> seen;
  const Denoiser model = [&](const Tensor& x, const Tensor& t) {
    for (int32_t i : t.to_vector<int32_t>()) seen.push_back(i);
    return ag::concat({x * 0.0, x * 0.0}, 1);
  };
  Generator gen(2);
  SampleOptions opt;
  opt.record_steps = {666, 0};
  const SampleResult res =
      p_sample_loop(r, model, ag::randn({1, 1, 2, 2}, &gen, DType::F64), gen, opt);
  EXPECT_EQ(seen, (std::vector<int32_t>{999, 666, 333, 0}));
  ASSERT_EQ(res.snapshots.size(), 2u);
  EXPECT_EQ(res.snapshots[0].t, 666);
  EXPECT_EQ(res.snapshots[1].t, 0);
  // Learned variances use the respaced betas: v = 1 at respaced step 1 gives
  // log beta'_1 = log(1 - abar_333 / abar_0).
  const std::vector<double> lv = vals(r.learned_log_variance(f64({1.0}, {1, 1, 1, 1}), steps({1})));
  EXPECT_NEAR(lv[0],
              std::log(1 - linear1000().alphas_cumprod[333] / linear1000().alphas_cumprod[0]),
              1e-12);
}

// Sample moments of the optimal model's respaced chain from x_T ~ N(0, 1):
// each step is linear-Gaussian, x' = (c1 k + c2) x + c1 (1 - k sqrt(abar)) mu
// + sigma z with k = sqrt(abar) s^2 / (abar s^2 + 1 - abar), all constants
// those of the respaced schedule r; sigma2(k) gives the step's variance.
template <typename Variance>
std::pair<double, double> chain_moments(const Schedule& r, const Variance& sigma2) {
  double mean = 0, var = 1;
  for (int64_t i = r.T - 1; i >= 0; --i) {
    const double ab = r.alphas_cumprod[i], k = std::sqrt(ab) * kVar / (ab * kVar + 1 - ab);
    const double c1 = r.posterior_mean_coef1[i], a = c1 * k + r.posterior_mean_coef2[i];
    mean = a * mean + c1 * (1 - k * std::sqrt(ab)) * kMu;
    var = a * a * var + (i == 0 ? 0.0 : sigma2(i));
  }
  return {mean, var};
}

// 50 respaced ancestral steps with the optimal model on Gaussian data: with
// beta'_t ("large") the samples have the moments the respaced chain predicts
// (4 standard errors), 0.266 in variance where the data has 0.25; with the
// learned v that gives the true reverse variance of the respaced process,
// the data's own moments (but for the t = 1 step's missing noise):
// learned variances fit the shorter process.
TEST(Respacing, FiftyStepsSampleWhatTheRespacedChainPredicts) {
  const Schedule& s = linear1000();
  const std::vector<int64_t> kept = spaced_timesteps(1000, 50);
  const Schedule r = respace_schedule(s, kept);
  const Denoiser eps = [&s](const Tensor& x, const Tensor& t) { return optimal_eps(s, x, t); };
  // v per original timestep for sigma^2 = the respaced process's true variance.
  std::vector<double> v_table(1000, 0.0);
  for (size_t k = 0; k < kept.size(); ++k) {
    const double lo = r.posterior_log_variance_clipped[k], hi = std::log(r.betas[k]);
    v_table[kept[k]] = 2 * (std::log(true_reverse_variance(r, k)) - lo) / (hi - lo) - 1;
  }
  const Tensor v = ag::from_vector(v_table, {1000});
  const double se_mean = std::sqrt(kVar / 1e5), se_var = kVar * std::sqrt(2.0 / 1e5);
  for (ModelVarType var : {ModelVarType::FixedLarge, ModelVarType::Learned}) {
    const bool learn = var == ModelVarType::Learned;
    const GaussianDiffusion d =
        GaussianDiffusion(s, ModelMeanType::Eps, var, DType::F64).respaced(kept);
    Generator gen(12);
    SampleOptions opt;
    opt.clip_x0 = false;
    const Tensor x_T = ag::randn({4, 1, 1, 25000}, &gen, DType::F64);
    const std::vector<double> x =
        vals(p_sample_loop(d, learn ? with_learned_v(s, v) : eps, x_T, gen, opt).x0);
    double mean = 0, sample_var = 0;
    for (double a : x) mean += a / x.size();
    for (double a : x) sample_var += (a - mean) * (a - mean) / (x.size() - 1);
    const auto [chain_mean, chain_var] = chain_moments(
        r, [&](int64_t i) { return learn ? true_reverse_variance(r, i) : r.betas[i]; });
    EXPECT_NEAR(mean, chain_mean, 4 * se_mean) << learn;
    EXPECT_NEAR(sample_var, chain_var, 4 * se_var) << learn;
    if (learn) {  // short by Var[x_0 | x_1] ~ 1e-4: Algorithm 2 adds no noise at t = 1
      EXPECT_NEAR(chain_var, kVar, 2e-4);
    } else {
      EXPECT_GT(chain_var, kVar + 0.01);
    }
  }
}

// --- The linear schedule scaled with T -------------------------------------------

TEST(ScheduleLinearScaled, EndsScaleBy1000OverT) {
  const Schedule a = make_schedule(ScheduleKind::Linear, 1000);
  EXPECT_DOUBLE_EQ(a.betas.front(), 1e-4);
  EXPECT_DOUBLE_EQ(a.betas.back(), 0.02);
  const Schedule b = make_schedule(ScheduleKind::Linear, 100);
  EXPECT_NEAR(b.betas.front(), 1e-3, 1e-15);
  EXPECT_NEAR(b.betas.back(), 0.2, 1e-15);
  // x_T is near N(0, I) for both: abar_T about 4e-5 (1000) and 2e-5 (100).
  EXPECT_LT(a.alphas_cumprod.back(), 1e-4);
  EXPECT_LT(b.alphas_cumprod.back(), 1e-4);
  const Schedule old = make_schedule(ScheduleKind::Linear, 100, false);
  EXPECT_NEAR(old.betas.back(), 0.02, 1e-15);
  EXPECT_GT(old.alphas_cumprod.back(), 0.3);  // the unscaled T = 100 stops far from noise
  const Schedule c = make_schedule(ScheduleKind::Linear, 10);  // 100 x 0.02 = 2: capped
  EXPECT_DOUBLE_EQ(c.betas.back(), 0.999);
  EXPECT_NEAR(c.betas.front(), 0.01, 1e-15);
}

}  // namespace diffusion::improved_test
