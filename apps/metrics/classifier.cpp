#include "apps/metrics/classifier.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <stdexcept>
#include <string>

#include "apps/common/progress.h"
#include "apps/common/streams.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/optim.h"

namespace metrics {

namespace {

constexpr const char* kKind = "ddpm-cpp evaluation classifier";

// The file's recorded test accuracy: all of the text a number in [0, 1].
double accuracy_field(const std::string& text, const std::string& path) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= 0 && v <= 1))
    throw std::runtime_error(path + ": metadata 'test_accuracy' is not a number in [0, 1]: '" +
                             text + "'");
  return v;
}

Tensor labels_tensor(const data::Dataset& d, const std::vector<int64_t>& idx) {
  std::vector<int32_t> y(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) y[i] = d.labels.labels[idx[i]];
  return ag::from_vector(y, {static_cast<int64_t>(y.size())});
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> v(end - begin);
  std::iota(v.begin(), v.end(), begin);
  return v;
}

}  // namespace

Classifier::Classifier(ag::Generator& gen) {
  conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(1, 32, 3, 1, 1, gen));
  conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(32, 64, 3, 2, 1, gen));
  conv3_ = register_module("conv3", std::make_shared<nn::Conv2d>(64, 64, 3, 2, 1, gen));
  fc_ = register_module("fc", std::make_shared<nn::Linear>(64 * 7 * 7, kFeatureDim, gen));
  out_ = register_module("out", std::make_shared<nn::Linear>(kFeatureDim, kNumClasses, gen));
}

Tensor Classifier::features(const Tensor& x) const {
  Tensor h = ag::silu(conv1_->forward(x));
  h = ag::silu(conv2_->forward(h));
  h = ag::silu(conv3_->forward(h));
  return ag::silu(fc_->forward(ag::reshape(h, {x.size(0), -1})));
}

Tensor Classifier::logits(const Tensor& features) const { return out_->forward(features); }

Predictions predict(const Classifier& model, const Tensor& images) {
  ag::NoGradGuard no_grad;
  Predictions p;
  p.n = images.size(0);
  for (int64_t b = 0; b < p.n; b += 256) {
    const Tensor f = model.features(ag::slice(images, 0, b, std::min(p.n, b + 256)));
    const std::vector<double> probs = ag::softmax(model.logits(f), 1).to_vector<double>();
    const std::vector<double> feats = f.to_vector<double>();
    p.probs.insert(p.probs.end(), probs.begin(), probs.end());
    p.features.insert(p.features.end(), feats.begin(), feats.end());
  }
  return p;
}

double accuracy(const Classifier& model, const data::Dataset& split) {
  const int64_t n = split.images.count;
  const Predictions p = predict(model, data::to_tensor(split.images, range(0, n)));
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double* row = &p.probs[i * kNumClasses];
    correct += std::max_element(row, row + kNumClasses) - row == split.labels.labels[i];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

void train_classifier(Classifier& model, const data::Dataset& train, const ClassifierTraining& t) {
  const int64_t n = train.images.count;
  const int64_t per_epoch = std::max<int64_t>(1, n / t.batch);
  nn::Adam adam(model.parameters(), {});
  ag::Generator order_gen(t.seed + apps::kClassifierOrderStream);
  model.train();
  apps::ProgressBar bar("[classifier] step", t.epochs * per_epoch, "step");
  double smoothed = 0;
  for (int64_t step = 0; step < t.epochs * per_epoch; ++step) {
    std::vector<int64_t> idx(t.batch);
    const std::vector<float> u = ag::rand({t.batch}, &order_gen).to_vector<float>();
    for (int64_t i = 0; i < t.batch; ++i)
      idx[i] = std::min<int64_t>(n - 1, static_cast<int64_t>(u[i] * n));
    const Tensor x = data::to_tensor(train.images, idx);
    Tensor loss = nn::cross_entropy(model.logits(model.features(x)), labels_tensor(train, idx));
    loss.backward();
    adam.step(t.lr);
    adam.zero_grad();
    const double l = loss.item();
    smoothed = step == 0 ? l : 0.98 * smoothed + 0.02 * l;
    char status[48];
    std::snprintf(status, sizeof status, "loss %.4f", smoothed);
    bar.update(step + 1, status);
  }
  bar.finish(t.epochs * per_epoch);
  model.eval();
}

LoadedClassifier load_or_train_classifier(const std::string& path, const std::string& dataset,
                                          const ClassifierTraining& t) {
  ag::Generator gen(t.seed);
  LoadedClassifier c{std::make_unique<Classifier>(gen)};
  if (std::filesystem::exists(path)) {
    const io::SafetensorsFile file = io::load_safetensors(path);
    auto get = [&](const char* key) {
      auto it = file.metadata.find(key);
      return it == file.metadata.end() ? std::string() : it->second;
    };
    if (get("kind") != kKind)
      throw std::runtime_error(path + ": not a classifier file written by evaluate");
    if (get("dataset") != dataset)
      throw std::runtime_error(path + ": classifier trained on '" + get("dataset") + "', not on '" +
                               dataset + "' (pass another --classifier path)");
    c.test_accuracy = accuracy_field(get("test_accuracy"), path);
    io::load_into(c.model->named_parameters(), file, path);
    c.model->eval();
    return c;
  }
  const std::string dir = data::resolve_dataset_dir(dataset);
  std::printf("[classifier] none at %s: training one on %s (%ld epochs)\n", path.c_str(),
              dir.c_str(), static_cast<long>(t.epochs));
  train_classifier(*c.model, data::load_split(dir, true), t);
  c.test_accuracy = accuracy(*c.model, data::load_split(dir, false));
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  nn::save_module(
      path, *c.model,
      {{"kind", kKind}, {"dataset", dataset}, {"test_accuracy", std::to_string(c.test_accuracy)}});
  std::printf("[classifier] test accuracy %.4f; saved to %s\n", c.test_accuracy, path.c_str());
  return c;
}

}  // namespace metrics
