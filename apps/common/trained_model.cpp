#include "apps/common/trained_model.h"

#include <charconv>
#include <stdexcept>
#include <string>

#include "nn/checkpoint.h"

namespace apps {

namespace {

constexpr int64_t kMaxTimesteps = 100000;

// The checkpoint's T, all of the text an integer in [1, kMaxTimesteps].
int64_t timestep_count(const std::string& text, const std::string& ckpt) {
  int64_t T = 0;
  const char* end = text.data() + text.size();
  const auto [stop, err] = std::from_chars(text.data(), end, T);
  if (err != std::errc() || stop != end || T < 1 || T > kMaxTimesteps)
    throw std::runtime_error(ckpt + ": metadata 'T' is not a number of timesteps in [1, " +
                             std::to_string(kMaxTimesteps) + "]: '" + text + "'");
  return T;
}

diffusion::GaussianDiffusion diffusion_of(const io::Metadata& md, const std::string& var,
                                          const std::string& ckpt, ag::Device device) {
  auto get = [&](const char* key, const char* fallback) {
    auto it = md.find(key);
    return it == md.end() ? std::string(fallback) : it->second;
  };
  return diffusion::GaussianDiffusion(
      diffusion::make_schedule(diffusion::parse_schedule(get("schedule", "linear")),
                               timestep_count(get("T", "1000"), ckpt),
                               linear_betas_scaled(md, ckpt)),
      diffusion::parse_mean_type(get("param", "eps")),
      diffusion::parse_var_type(var.empty() ? get("var", "large") : var), ag::DType::F32, device);
}

}  // namespace

bool linear_betas_scaled(const io::Metadata& md, const std::string& ckpt) {
  auto it = md.find(kLinearBetasKey);
  if (it == md.end()) return false;
  if (it->second != "scaled" && it->second != "unscaled")
    throw std::runtime_error(ckpt + ": metadata '" + kLinearBetasKey +
                             "' is not scaled or unscaled: '" + it->second + "'");
  return it->second == "scaled";
}

TrainedModel load_trained_model(const std::string& ckpt, const std::string& weights,
                                const std::string& var, ag::Device device) {
  const io::SafetensorsFile file = io::load_safetensors(ckpt);
  TrainedModel t;
  t.model = std::make_unique<nn::UNet>(nn::checkpoint_config(ckpt));
  if (t.model->config.learn_sigma && !var.empty())
    throw std::runtime_error("--var " + var + ": " + ckpt +
                             " learned its variances (--learn-sigma) and samples with them");
  const bool training_ckpt = file.metadata.count("step") > 0;
  // A training checkpoint is checked whole, its optimizer and generator
  // states too, though only one weights group is used: a file with anything
  // unexpected in it is not one train_mnist wrote.
  if (training_ckpt) nn::check_training_checkpoint(file, ckpt, *t.model);
  io::load_into(t.model->named_parameters(), file, ckpt, training_ckpt ? weights + "." : "");
  t.model->to(device);
  t.model->eval();
  t.diffusion = std::make_unique<diffusion::GaussianDiffusion>(
      diffusion_of(file.metadata, var, ckpt, device));
  t.step = training_ckpt ? file.metadata.at("step") : "?";
  t.weights = training_ckpt ? weights : "saved";
  const auto dataset = file.metadata.find("dataset");
  if (dataset != file.metadata.end()) t.dataset = dataset->second;
  return t;
}

void add_var_flag(CLI::App& app, std::string& var) {
  app.add_option("--var", var, "reverse variance for sampling: large (beta) or small (beta~)")
      ->check(CLI::IsMember({"large", "small"}))
      ->default_str("the checkpoint's");
}

}  // namespace apps
