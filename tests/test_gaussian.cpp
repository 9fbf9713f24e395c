// The Gaussian pieces of the bound (Eq. 5) against closed forms written out
// here in double: the KL between two Gaussians, and the discretized decoder
// of Eq. 13 with the official code's tanh approximation of the normal CDF.
// Expected values never come from the code under test.
#include <cmath>

#include "diffusion/gaussian.h"
#include "tests/diffusion_math_helpers.h"
#include "tests/gradcheck.h"

namespace diffusion {
namespace {

using ag::test::gradcheck;
using ag::test::values_near;
using namespace diffusion::test;

// log N(x; m, sigma^2).
double normal_log_density(double x, double m, double sigma) {
  return -0.5 * std::log(2 * kPi * sigma * sigma) - (x - m) * (x - m) / (2 * sigma * sigma);
}

TEST(NormalKl, OfAGaussianWithItselfIsZero) {
  Tensor m = ag::test::rand_leaf({50}, 10).detach(), lv = ag::test::rand_leaf({50}, 11, 3.0);
  EXPECT_TRUE(
      values_near(normal_kl(m, lv.detach(), m, lv.detach()), std::vector<double>(50, 0.0), 1e-14));
}

// KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2 / s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2,
// the second distribution broadcast from shape (1).
TEST(NormalKl, MatchesTheClosedForm) {
  const std::vector<double> m1 = {0.0, 1.5, -2.0, 0.3}, s1 = {1.0, 0.2, 3.0, 1e-3};
  const double m2 = 0.4, s2 = 0.7;
  std::vector<double> expected, lv1;
  for (size_t i = 0; i < m1.size(); ++i) {
    lv1.push_back(2 * std::log(s1[i]));
    expected.push_back(std::log(s2 / s1[i]) +
                       (s1[i] * s1[i] + (m1[i] - m2) * (m1[i] - m2)) / (2 * s2 * s2) - 0.5);
  }
  Tensor kl = normal_kl(f64(m1, {4}), f64(lv1, {4}), f64({m2}, {1}), f64({2 * std::log(s2)}, {1}));
  EXPECT_TRUE(values_near(kl, expected, 1e-12));
}

// KL(p || q) = E_p[log p(x) - log q(x)], estimated from 200000 draws of p.
TEST(NormalKl, MatchesAMonteCarloEstimate) {
  const double mp = 0.3, sp = 0.8, mq = -0.2, sq = 1.3;
  const int64_t n = 200000;
  ag::Generator gen(12);
  Tensor x = ag::randn({n}, &gen, ag::DType::F64) * sp + mp;
  auto log_density = [&](double m, double s) {
    return gaussian_log_likelihood(x, ag::full({n}, m, ag::DType::F64),
                                   ag::full({n}, std::log(s), ag::DType::F64));
  };
  std::vector<double> ratio = vals(log_density(mp, sp) - log_density(mq, sq));
  double m = 0, v = 0;
  for (double r : ratio) m += r / n;
  for (double r : ratio) v += (r - m) * (r - m) / (n - 1);
  const double kl = normal_kl(f64({mp}, {1}), f64({2 * std::log(sp)}, {1}), f64({mq}, {1}),
                              f64({2 * std::log(sq)}, {1}))
                        .item();
  EXPECT_NEAR(m, kl, 5 * std::sqrt(v / n));
}

TEST(Decoder, GaussianLogLikelihoodMatchesTheClosedForm) {
  const std::vector<double> x = {0.0, 1.0, -2.5, 0.3}, m = {0.0, -0.5, 1.0, 0.3},
                            ls = {0.0, -1.0, 2.0, -6.0};
  std::vector<double> expected;
  for (size_t i = 0; i < x.size(); ++i)
    expected.push_back(normal_log_density(x[i], m[i], std::exp(ls[i])));
  EXPECT_TRUE(values_near(gaussian_log_likelihood(f64(x, {4}), f64(m, {4}), f64(ls, {4})), expected,
                          1e-10));
}

TEST(Decoder, ApproxCdfIsNearTheNormalCdf) {
  std::vector<double> u;
  for (int i = -600; i <= 600; ++i) u.push_back(i / 100.0);
  std::vector<double> cdf = vals(approx_standard_normal_cdf(f64(u, {1201})));
  for (size_t i = 0; i < u.size(); ++i) {
    EXPECT_NEAR(cdf[i], tanh_cdf(u[i]), 1e-15) << u[i];
    EXPECT_NEAR(cdf[i], 0.5 * std::erfc(-u[i] / std::sqrt(2.0)), 2e-4) << u[i];
  }
}

// log p(x) of Eq. 13 at one level for one mean and log-scale.
double decoder_ll(double x, double mean, double log_scale) {
  return discretized_gaussian_log_likelihood(f64({x}, {1}), f64({mean}, {1}), f64({log_scale}, {1}))
      .item();
}

// Bins of half-width 1/255 around the levels; the edge bins reach to -+inf.
TEST(Decoder, MatchesTheTanhCdfDifference) {
  const double h = 1 / 255.0;
  const double s = std::exp(-2.0), x = level(100), m = 0.1;
  EXPECT_NEAR(decoder_ll(x, m, -2.0),
              std::log(tanh_cdf((x - m + h) / s) - tanh_cdf((x - m - h) / s)), 1e-12);
  const double se = std::exp(-3.0);
  EXPECT_NEAR(decoder_ll(-1.0, -0.95, -3.0), std::log(tanh_cdf((-1 + 0.95 + h) / se)), 1e-12);
  EXPECT_NEAR(decoder_ll(1.0, 0.97, -3.0), std::log(1 - tanh_cdf((1 - 0.97 - h) / se)), 1e-12);
}

// The tanh CDF telescopes over the 256 bins, so the probabilities sum to 1
// for any mean (in [-1, 1] or not) and any scale; none falls below 1e-12.
TEST(Decoder, ProbabilitiesOverTheLevelsSumToOne) {
  std::vector<double> levels;
  for (int k = 0; k < 256; ++k) levels.push_back(level(k));
  Tensor x = f64(levels, {256});
  for (double mean : {-1.5, -1.0, -0.3, 0.0, 0.004, level(200), 0.9, 1.7}) {
    for (double log_scale : {-12.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0}) {
      std::vector<double> ll = vals(discretized_gaussian_log_likelihood(
          x, ag::full({256}, mean, ag::DType::F64), ag::full({256}, log_scale, ag::DType::F64)));
      double total = 0;
      for (double v : ll) {
        total += std::exp(v);
        EXPECT_GE(v, std::log(1e-12) - 1e-12);
      }
      EXPECT_NEAR(total, 1.0, 1e-6) << "mean " << mean << ", log scale " << log_scale;
    }
  }
}

// The tanh CDF in long double (about 1e-19 absolute): a reference for
// probabilities far out in the tails.
long double tanh_cdf_long(long double u) {
  const long double pi = 3.141592653589793238462643383279502884L;
  return 0.5L * (1 + std::tanh(std::sqrt(2 / pi) * (u + 0.044715L * u * u * u)));
}

// Bins about 6 standard deviations out, below and above the mean, keep their
// relative precision (a CDF difference taken near 1 would lose it).
TEST(Decoder, TailProbabilitiesKeepTheirPrecision) {
  const long double h = 1 / 255.0L, s = std::exp(-4.0L);
  for (double z : {-6.3, -5.5, 5.5, 6.3}) {
    const double x = level(90), m = x - z * static_cast<double>(s);
    const long double u = (x - static_cast<long double>(m)) / s;
    const double p = static_cast<double>(tanh_cdf_long(u + h / s) - tanh_cdf_long(u - h / s));
    EXPECT_NEAR(decoder_ll(x, m, -4.0), std::log(p), 1e-8) << z;
  }
  const double out = 6.3 * static_cast<double>(s);  // the edge bins, 6.3 sd from the mean
  EXPECT_NEAR(decoder_ll(-1.0, -1.0 + out, -4.0),
              std::log(static_cast<double>(tanh_cdf_long((h - out) / s))), 1e-8);
  EXPECT_NEAR(decoder_ll(1.0, 1.0 - out, -4.0),
              std::log(static_cast<double>(1 - tanh_cdf_long((out - h) / s))), 1e-8);
}

// The decoder's Jacobian w.r.t. means and log-scales, at the edges, in the
// centre, and in both tails out to 6 standard deviations.
TEST(Decoder, Gradcheck) {
  std::vector<double> x, m;
  for (int k : {0, 3, 100, 128, 200, 255}) {
    for (double offset : {-0.25, -0.12, -0.003, 0.05, 0.24}) {
      x.push_back(level(k));
      m.push_back(level(k) + offset);
    }
  }
  const ag::Shape shape = {static_cast<int64_t>(x.size())};
  Tensor means = f64(m, shape).set_requires_grad(true);
  Tensor log_scales = ag::full(shape, -3.2, ag::DType::F64).set_requires_grad(true);
  EXPECT_TRUE(gradcheck(
      [&](const std::vector<Tensor>& v) {
        return discretized_gaussian_log_likelihood(f64(x, shape), v[0], v[1]);
      },
      {means, log_scales}));
}

TEST(Decoder, ProbabilityIsClampedAt1e12) {
  const double floor = std::log(1e-12);
  EXPECT_NEAR(decoder_ll(level(200), -0.9, -5.0), floor, 1e-9);  // inner bin
  EXPECT_NEAR(decoder_ll(-1.0, 1.0, -5.0), floor, 1e-9);         // first bin
  EXPECT_NEAR(decoder_ll(1.0, -1.0, -5.0), floor, 1e-9);         // last bin
}

// Scales so small that 1 / scale overflows to inf (float and double): each
// pixel's mass is a point at its mean, so its own bin, the first and last
// included, holds probability 1 and every other bin the 1e-12 floor. The
// selects pick these from finite terms alone.
TEST(Decoder, PointMassesAtExtremeScales) {
  const double floor = std::log(1e-12);
  const std::vector<double> x = {-1.0, -1.0, 1.0, 1.0, level(100), level(100), level(100)};
  const std::vector<double> m = {-1.0, 0.5, 1.0, -0.5, level(100), level(101), level(99)};
  const std::vector<double> want = {0.0, floor, 0.0, floor, 0.0, floor, floor};
  const ag::Shape shape = {static_cast<int64_t>(x.size())};
  for (ag::DType dtype : {ag::DType::F32, ag::DType::F64}) {
    SCOPED_TRACE(ag::dtype_name(dtype));
    const double log_scale = dtype == ag::DType::F32 ? -100.0 : -800.0;
    std::vector<double> ll = vals(discretized_gaussian_log_likelihood(
        f64(x, shape).to(dtype), f64(m, shape).to(dtype), ag::full(shape, log_scale, dtype)));
    for (size_t i = 0; i < ll.size(); ++i) EXPECT_NEAR(ll[i], want[i], 1e-5) << i;
  }
}

}  // namespace
}  // namespace diffusion
