// Sample-quality scores from classifier outputs (see docs/evaluation.md):
// mean confidence, class histogram, the Inception-Score analogue and the
// Frechet distance between Gaussians fitted to classifier features.
#pragma once
#include <cstdint>
#include <vector>

namespace metrics {

// Mean of each row's largest probability; probs is (n, k) row-major.
double mean_confidence(const std::vector<double>& probs, int64_t n, int64_t k);

// How many rows have each class as their most probable one.
std::vector<int64_t> class_histogram(const std::vector<double>& probs, int64_t n, int64_t k);

// For class-conditional samples: how often the classifier's most probable
// class is the label the sample was drawn for, over all images and per class
// (NaN for a class no image asked for). labels holds one label in [0, k) per
// row of probs (n, k).
struct Agreement {
  double overall = 0;
  std::vector<double> per_class;  // k
  std::vector<int64_t> asked;     // images asked for each class
};
Agreement label_agreement(const std::vector<double>& probs, const std::vector<int32_t>& labels,
                          int64_t k);

// exp(E_x KL(p(y|x) || p(y))), p(y) the mean of the rows: 1 when every image
// gets the same distribution, k when each is confidently one class and the
// classes are equally frequent (Salimans et al. 2016, with our classifier in
// place of Inception).
double inception_score(const std::vector<double>& probs, int64_t n, int64_t k);

// Mean (d) and covariance (d x d, unbiased) of n row-major d-vectors.
struct Gaussian {
  int64_t d = 0;
  std::vector<double> mean, cov;
};
Gaussian fit_gaussian(const std::vector<double>& rows, int64_t n, int64_t d);

// |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) (Heusel et al. 2017),
// the trace of the square root computed as the sum of the square roots of
// the eigenvalues of S_a^(1/2) S_b S_a^(1/2).
double frechet_distance(const Gaussian& a, const Gaussian& b);

// Eigen-decomposition of a symmetric d x d matrix a (row-major) by cyclic
// Jacobi rotations: returns the eigenvalues; the eigenvectors go to the
// columns of *vectors when it is not null.
std::vector<double> symmetric_eigen(std::vector<double> a, int64_t d,
                                    std::vector<double>* vectors = nullptr);

}  // namespace metrics
