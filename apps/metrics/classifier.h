// The small convolutional classifier that scores samples (apps/evaluate):
// trained by this project's own engine on the MNIST or Fashion-MNIST
// training split, cached as a safetensors file with its test accuracy.
#pragma once
#include <functional>
#include <string>

#include "apps/dataset/dataset.h"
#include "nn/layers.h"

namespace metrics {

using ag::Tensor;

constexpr int64_t kNumClasses = 10;
constexpr int64_t kFeatureDim = 128;

// 28x28 -> conv 3x3 (32) -> conv 3x3 stride 2 (64, 14x14) -> conv 3x3
// stride 2 (64, 7x7) -> linear (128 features) -> linear (10 logits); SiLU
// between layers.
class Classifier : public nn::Module {
 public:
  explicit Classifier(ag::Generator& gen);
  Tensor features(const Tensor& x) const;       // (N, 1, 28, 28) in [-1, 1] -> (N, 128)
  Tensor logits(const Tensor& features) const;  // (N, 128) -> (N, 10)

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<nn::Linear> fc_, out_;
};

struct ClassifierTraining {
  int64_t epochs = 2, batch = 128;
  double lr = 1e-3;
  uint64_t seed = 0;
};

// What a classifier says about a set of images: class probabilities (N, 10)
// and penultimate features (N, 128), both float64 row-major on the host.
struct Predictions {
  int64_t n = 0;
  std::vector<double> probs, features;
};

// Runs the classifier (eval mode, no gradients) over images (N, 1, 28, 28)
// in batches.
Predictions predict(const Classifier& model, const Tensor& images);

// Fraction of the dataset's images whose most probable class is its label.
double accuracy(const Classifier& model, const data::Dataset& split);

// Trains a fresh classifier with Adam on `train` (progress on stderr).
void train_classifier(Classifier& model, const data::Dataset& train, const ClassifierTraining& t);

// The classifier cached at `path` for `dataset` (a name such as "mnist" or a
// directory); trained, tested and saved there (atomically) when the file is
// missing. A file made for another dataset, or damaged, is an error.
struct LoadedClassifier {
  std::unique_ptr<Classifier> model;
  double test_accuracy = 0;
};
LoadedClassifier load_or_train_classifier(const std::string& path, const std::string& dataset,
                                          const ClassifierTraining& t);

}  // namespace metrics
