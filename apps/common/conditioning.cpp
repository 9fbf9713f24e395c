#include "apps/common/conditioning.h"

#include <array>
#include <sstream>
#include <stdexcept>

namespace apps {

namespace {

// One label of --label's list, in [0, num_classes).
int32_t parse_label(const std::string& item, int64_t num_classes) {
  size_t used = 0;
  long v = -1;
  try {
    v = std::stol(item, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (item.empty() || used != item.size() || item[0] == '+' || item[0] == '-')
    throw std::runtime_error("--label: '" + item + "' is not a class label (give 7, 0,3,7 or all)");
  if (v >= num_classes)
    throw std::runtime_error("--label " + item + " is not a class of this checkpoint, which has " +
                             std::to_string(num_classes) + " (0 to " +
                             std::to_string(num_classes - 1) + ")");
  return static_cast<int32_t>(v);
}

}  // namespace

void require_conditional(const std::string& flag, int64_t num_classes) {
  if (num_classes <= 0)
    throw std::runtime_error(flag + ": this checkpoint is unconditional (trained without --cond)");
}

std::vector<int32_t> parse_labels(const std::string& text, int64_t num_classes) {
  require_conditional("--label", num_classes);
  std::vector<int32_t> labels;
  if (text == "all") {
    for (int64_t k = 0; k < num_classes; ++k) labels.push_back(static_cast<int32_t>(k));
    return labels;
  }
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) labels.push_back(parse_label(item, num_classes));
  if (labels.empty() || text.back() == ',')
    throw std::runtime_error("--label: '" + text +
                             "' is not a list of labels (give 7, 0,3,7 or all)");
  return labels;
}

std::string class_name(const std::string& dataset, int64_t k) {
  static const std::array<const char*, 10> fashion = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  if (dataset == "fashion" && k >= 0 && k < 10) return fashion[static_cast<size_t>(k)];
  return std::to_string(k);
}

int64_t per_label(int64_t n, const std::vector<int32_t>& labels, const std::string& text) {
  const int64_t k = static_cast<int64_t>(labels.size());
  if (n % k != 0)
    throw std::runtime_error("-n " + std::to_string(n) + " does not split evenly between the " +
                             std::to_string(k) + " labels of --label " + text);
  return n / k;
}

std::vector<int32_t> repeat_each(const std::vector<int32_t>& labels, int64_t per) {
  std::vector<int32_t> out;
  for (int32_t y : labels) out.insert(out.end(), static_cast<size_t>(per), y);
  return out;
}

diffusion::Denoiser denoiser_of(const nn::UNet& model, const std::vector<int32_t>& labels,
                                double w) {
  if (labels.empty())
    return [&model](const ag::Tensor& x, const ag::Tensor& t) { return model.forward(x, t); };
  auto conditional = [&model](const ag::Tensor& x, const ag::Tensor& t, const ag::Tensor& y) {
    return model.forward(x, t, y);
  };
  const ag::Tensor y = ag::from_vector(labels, {static_cast<int64_t>(labels.size())});
  return diffusion::classifier_free_guidance(conditional, y, model.config.null_label(), w);
}

void add_label_flags(CLI::App& app, std::string& label, double& guidance) {
  app.add_option("--label", label,
                 "class-conditional checkpoints: the classes to draw, e.g. 7, 0,3,7 or all (-n "
                 "split evenly between them)");
  app.add_option("--guidance", guidance,
                 "classifier-free guidance weight w with --label: (1 + w) eps(x, y) - w eps(x)")
      ->check(CLI::Range(0.0, 100.0))
      ->capture_default_str();
}

}  // namespace apps
