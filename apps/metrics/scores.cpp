#include "apps/metrics/scores.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace metrics {

namespace {

int64_t argmax(const double* row, int64_t k) { return std::max_element(row, row + k) - row; }

// c = a b for d x d row-major matrices.
std::vector<double> matmul(const std::vector<double>& a, const std::vector<double>& b, int64_t d) {
  std::vector<double> c(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < d; ++j) c[i * d + j] += a[i * d + k] * b[k * d + j];
  return c;
}

// The symmetric square root V sqrt(max(L, 0)) V^T of a PSD matrix.
std::vector<double> sqrt_psd(const std::vector<double>& a, int64_t d) {
  std::vector<double> v;
  const std::vector<double> l = symmetric_eigen(a, d, &v);
  std::vector<double> r(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k)
        r[i * d + j] += v[i * d + k] * std::sqrt(std::max(l[k], 0.0)) * v[j * d + k];
  return r;
}

// One Jacobi rotation zeroing a[p][q]; the same rotation applied to v's columns.
void rotate(std::vector<double>& a, std::vector<double>& v, int64_t d, int64_t p, int64_t q) {
  const double theta = (a[q * d + q] - a[p * d + p]) / (2 * a[p * d + q]);
  const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
  const double c = 1 / std::sqrt(t * t + 1), s = t * c;
  for (int64_t k = 0; k < d; ++k) {  // columns p and q
    const double akp = a[k * d + p], akq = a[k * d + q];
    a[k * d + p] = c * akp - s * akq;
    a[k * d + q] = s * akp + c * akq;
  }
  for (int64_t k = 0; k < d; ++k) {  // rows p and q
    const double apk = a[p * d + k], aqk = a[q * d + k];
    a[p * d + k] = c * apk - s * aqk;
    a[q * d + k] = s * apk + c * aqk;
  }
  for (int64_t k = 0; k < d; ++k) {
    const double vkp = v[k * d + p], vkq = v[k * d + q];
    v[k * d + p] = c * vkp - s * vkq;
    v[k * d + q] = s * vkp + c * vkq;
  }
}

double off_diagonal_norm2(const std::vector<double>& a, int64_t d) {
  double s = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      if (i != j) s += a[i * d + j] * a[i * d + j];
  return s;
}

}  // namespace

double mean_confidence(const std::vector<double>& probs, int64_t n, int64_t k) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += probs[i * k + argmax(&probs[i * k], k)];
  return s / static_cast<double>(n);
}

std::vector<int64_t> class_histogram(const std::vector<double>& probs, int64_t n, int64_t k) {
  std::vector<int64_t> h(k, 0);
  for (int64_t i = 0; i < n; ++i) ++h[argmax(&probs[i * k], k)];
  return h;
}

Agreement label_agreement(const std::vector<double>& probs, const std::vector<int32_t>& labels,
                          int64_t k) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n == 0 || static_cast<int64_t>(probs.size()) != n * k)
    throw std::runtime_error("label_agreement: " + std::to_string(labels.size()) + " labels for " +
                             std::to_string(probs.size()) + " probabilities of " +
                             std::to_string(k) + " classes");
  Agreement a{0.0, std::vector<double>(k, 0.0), std::vector<int64_t>(k, 0)};
  int64_t agreed = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t y = labels[i];
    if (y < 0 || y >= k) throw std::runtime_error("label_agreement: label " + std::to_string(y));
    const bool same = argmax(&probs[i * k], k) == y;
    agreed += same;
    a.per_class[y] += same;
    ++a.asked[y];
  }
  a.overall = static_cast<double>(agreed) / static_cast<double>(n);
  for (int64_t c = 0; c < k; ++c)
    a.per_class[c] = a.asked[c] > 0 ? a.per_class[c] / static_cast<double>(a.asked[c]) : NAN;
  return a;
}

double inception_score(const std::vector<double>& probs, int64_t n, int64_t k) {
  std::vector<double> marginal(k, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) marginal[j] += probs[i * k + j] / static_cast<double>(n);
  double kl = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const double p = probs[i * k + j];
      if (p > 0) kl += p * (std::log(p) - std::log(marginal[j]));
    }
  return std::exp(kl / static_cast<double>(n));
}

Gaussian fit_gaussian(const std::vector<double>& rows, int64_t n, int64_t d) {
  if (n < 2) throw std::runtime_error("fit_gaussian: need at least 2 vectors");
  Gaussian g{d, std::vector<double>(d, 0.0), std::vector<double>(d * d, 0.0)};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) g.mean[j] += rows[i * d + j] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t a = 0; a < d; ++a) {
      const double da = rows[i * d + a] - g.mean[a];
      for (int64_t b = 0; b < d; ++b) g.cov[a * d + b] += da * (rows[i * d + b] - g.mean[b]);
    }
  for (double& c : g.cov) c /= static_cast<double>(n - 1);
  return g;
}

double frechet_distance(const Gaussian& a, const Gaussian& b) {
  const int64_t d = a.d;
  double dist = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double diff = a.mean[i] - b.mean[i];
    dist += diff * diff + a.cov[i * d + i] + b.cov[i * d + i];
  }
  const std::vector<double> ra = sqrt_psd(a.cov, d);
  for (double l : symmetric_eigen(matmul(matmul(ra, b.cov, d), ra, d), d))
    dist -= 2 * std::sqrt(std::max(l, 0.0));
  return dist;
}

std::vector<double> symmetric_eigen(std::vector<double> a, int64_t d,
                                    std::vector<double>* vectors) {
  std::vector<double> v(d * d, 0.0);
  for (int64_t i = 0; i < d; ++i) v[i * d + i] = 1;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < 100 && off_diagonal_norm2(a, d) > 1e-26 * total; ++sweep)
    for (int64_t p = 0; p < d; ++p)
      for (int64_t q = p + 1; q < d; ++q)
        if (a[p * d + q] != 0) rotate(a, v, d, p, q);
  std::vector<double> l(d);
  for (int64_t i = 0; i < d; ++i) l[i] = a[i * d + i];
  if (vectors) *vectors = std::move(v);
  return l;
}

}  // namespace metrics
