// The evaluation pieces: cross-entropy (values and gradient), the quality
// scores against closed forms, the Jacobi eigen-solver, and the classifier
// learning a synthetic labelled set.
#include <gtest/gtest.h>

#include <cmath>

#include "app_helpers.h"
#include "apps/metrics/classifier.h"
#include "apps/metrics/scores.h"
#include "gradcheck.h"
#include "nn/loss.h"

using namespace ag;
using namespace metrics;

TEST(CrossEntropy, MatchesHandComputedValue) {
  // Row 0: logits (1, 2, 3), label 2; row 1: (0, 0, 0), label 0.
  const Tensor logits = from_vector(std::vector<double>{1, 2, 3, 0, 0, 0}, {2, 3});
  const Tensor labels = from_vector(std::vector<int32_t>{2, 0}, {2});
  const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0;
  const double row1 = std::log(3.0);
  EXPECT_NEAR(nn::cross_entropy(logits, labels).item(), (row0 + row1) / 2, 1e-12);
}

TEST(CrossEntropy, StableForHugeLogits) {
  const Tensor logits = from_vector(std::vector<double>{1000, 0, -1000, 2000}, {2, 2});
  const Tensor labels = from_vector(std::vector<int32_t>{0, 0}, {2});
  EXPECT_NEAR(nn::cross_entropy(logits, labels).item(), (0.0 + 3000.0) / 2, 1e-9);
}

TEST(CrossEntropy, Gradcheck) {
  const Tensor labels = from_vector(std::vector<int32_t>{4, 0, 2}, {3});
  EXPECT_TRUE(test::gradcheck(
      [&](const std::vector<Tensor>& in) { return nn::cross_entropy(in[0], labels); },
      {test::rand_leaf({3, 5}, 7, 3.0)}));
}

TEST(CrossEntropy, RejectsBadLabels) {
  const Tensor logits = zeros({2, 3}, DType::F64);
  EXPECT_THROW(nn::cross_entropy(logits, from_vector(std::vector<int32_t>{0, 3}, {2})),
               std::runtime_error);
  EXPECT_THROW(nn::cross_entropy(logits, from_vector(std::vector<int32_t>{0}, {1})),
               std::runtime_error);
}

TEST(Scores, ConfidenceHistogramAndInceptionScore) {
  // Four confident images, one per class of four: IS = 4 (the number of classes).
  std::vector<double> onehot(16, 0.0);
  for (int i = 0; i < 4; ++i) onehot[i * 4 + i] = 1.0;
  EXPECT_NEAR(inception_score(onehot, 4, 4), 4.0, 1e-12);
  EXPECT_NEAR(mean_confidence(onehot, 4, 4), 1.0, 1e-12);
  EXPECT_EQ(class_histogram(onehot, 4, 4), (std::vector<int64_t>{1, 1, 1, 1}));
  // Every image the same distribution: IS = 1 whatever it is.
  const std::vector<double> same = {0.7, 0.2, 0.1, 0.7, 0.2, 0.1};
  EXPECT_NEAR(inception_score(same, 2, 3), 1.0, 1e-12);
  EXPECT_NEAR(mean_confidence(same, 2, 3), 0.7, 1e-12);
  EXPECT_EQ(class_histogram(same, 2, 3), (std::vector<int64_t>{2, 0, 0}));
  // Two images (0.8, 0.2) and (0.2, 0.8): marginal (0.5, 0.5),
  // KL = 0.8 ln 1.6 + 0.2 ln 0.4 for each.
  const std::vector<double> two = {0.8, 0.2, 0.2, 0.8};
  EXPECT_NEAR(inception_score(two, 2, 2), std::exp(0.8 * std::log(1.6) + 0.2 * std::log(0.4)),
              1e-12);
}

TEST(Scores, SymmetricEigenReconstructs) {
  const std::vector<double> a2 = {2, 1, 1, 2};
  std::vector<double> l = symmetric_eigen(a2, 2);
  std::sort(l.begin(), l.end());
  EXPECT_NEAR(l[0], 1.0, 1e-12);
  EXPECT_NEAR(l[1], 3.0, 1e-12);
  const int64_t d = 12;
  const std::vector<double> r = test::rand_leaf({d, d}, 3).to_vector<double>();
  std::vector<double> a(d * d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) a[i * d + j] = r[i * d + j] + r[j * d + i];
  std::vector<double> v;
  l = symmetric_eigen(a, d, &v);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double back = 0, dot = 0;
      for (int64_t k = 0; k < d; ++k) {
        back += v[i * d + k] * l[k] * v[j * d + k];
        dot += v[k * d + i] * v[k * d + j];
      }
      EXPECT_NEAR(back, a[i * d + j], 1e-10);
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-10);
    }
}

TEST(Scores, GaussianFitAndFrechetClosedForms) {
  // Points (0,0), (2,0), (0,2), (2,2): mean (1, 1), unbiased covariance 4/3 I.
  const Gaussian g = fit_gaussian({0, 0, 2, 0, 0, 2, 2, 2}, 4, 2);
  EXPECT_NEAR(g.mean[0], 1.0, 1e-12);
  EXPECT_NEAR(g.cov[0], 4.0 / 3, 1e-12);
  EXPECT_NEAR(g.cov[1], 0.0, 1e-12);
  EXPECT_NEAR(frechet_distance(g, g), 0.0, 1e-10);
  // Diagonal covariances: |mu_a - mu_b|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  const Gaussian a{2, {0, 0}, {4, 0, 0, 1}}, b{2, {1, 2}, {1, 0, 0, 9}};
  EXPECT_NEAR(frechet_distance(a, b), 5.0 + 1.0 + 4.0, 1e-10);
  // 2x2 covariances that do not commute: tr (S_a S_b)^(1/2) =
  // sqrt(tr(S_a S_b) + 2 sqrt(det(S_a S_b))) (the sum of the square roots of
  // the two eigenvalues of S_a S_b).
  const Gaussian c{2, {0, 0}, {2, 1, 1, 2}}, e{2, {0, 0}, {3, 0, 0, 1}};
  const double tr_prod = 2 * 3 + 2 * 1, det_prod = (4 - 1) * 3;
  const double expected = (2 + 2) + (3 + 1) - 2 * std::sqrt(tr_prod + 2 * std::sqrt(det_prod));
  EXPECT_NEAR(frechet_distance(c, e), expected, 1e-10);
}

TEST(Classifier, LearnsSyntheticLabels) {
  const auto dir = apps_test::make_dataset("metrics_classifier_data", 200);
  const data::Dataset train = data::load_split(dir.string(), true);
  Generator gen(0);
  Classifier model(gen);
  EXPECT_EQ(model.features(zeros({3, 1, 28, 28})).shape(), (Shape{3, kFeatureDim}));
  ClassifierTraining t;
  t.epochs = 4, t.batch = 50;
  train_classifier(model, train, t);
  EXPECT_GE(accuracy(model, train), 0.95);
  const Predictions p = predict(model, data::to_tensor(train.images, {0, 1, 2}));
  EXPECT_EQ(p.n, 3);
  EXPECT_EQ(p.features.size(), 3u * kFeatureDim);
  for (int64_t i = 0; i < 3; ++i) {
    double s = 0;
    for (int64_t k = 0; k < kNumClasses; ++k) s += p.probs[i * kNumClasses + k];
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
}
