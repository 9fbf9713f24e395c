// Training checkpoints: training N steps equals training k steps, saving,
// loading into fresh objects and training N - k more, bit for bit; bad or
// mismatched files give clear errors and change nothing.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "nn/checkpoint.h"
#include "tests/gradcheck.h"

namespace ag::test {

namespace {

constexpr int64_t kT = 1000;

// One run's objects, built the same way every time.
struct TrainRun {
  nn::UNet model{nn::unet_preset("tiny"), 5};
  nn::Adam optimizer{model.parameters()};
  nn::EMA ema{model.named_parameters(), 0.999};
  Generator data{11};
  int64_t step = 0;
  nn::TrainingState state() { return {model, optimizer, ema, {{"data", &data}}, step, {}}; }
};

// An L_simple-shaped step: images, timesteps and noise all drawn from the
// run's generator, dropout on, clipping, warm-up, Adam, EMA.
void train_step(TrainRun& r) {
  Tensor x0 = rand({2, 1, 28, 28}, &r.data) * 2.0 - 1.0;
  std::vector<int32_t> t;
  for (double u : rand({2}, &r.data, DType::F64).to_vector<double>())
    t.push_back(static_cast<int32_t>(std::floor(u * kT)));
  Tensor eps = randn({2, 1, 28, 28}, &r.data);
  Tensor loss = mse_loss(r.model.forward(x0 + eps * 0.5, from_vector(t, {2})), eps);
  loss.backward();
  nn::clip_grad_norm(r.model.parameters(), 1.0);
  r.optimizer.step(nn::warmup_lr(2e-4, r.optimizer.step_count() + 1, 3));
  r.optimizer.zero_grad();
  r.ema.update(r.model.named_parameters());
  ++r.step;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

void expect_identical(const nn::NamedTensors& a, const nn::NamedTensors& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    EXPECT_EQ(a[i].second.to_vector<float>(), b[i].second.to_vector<float>()) << a[i].first;
  }
}

// Rewrites the checkpoint at path with each tensor replaced by f(name, t);
// an undefined result drops the tensor.
template <class F>
void rewrite(const std::string& path, F f) {
  const io::SafetensorsFile full = io::load_safetensors(path);
  nn::NamedTensors tensors;
  for (const auto& [name, t] : full.tensors)
    if (Tensor u = f(name, t); u.defined()) tensors.emplace_back(name, u);
  io::save_safetensors(path, tensors, full.metadata);
}

// Loads path into a fresh run, which must fail; returns the error, having
// checked that the run's weights and optimizer are as they were.
std::string refused_load(const std::string& path) {
  TrainRun fresh;
  const std::vector<float> before = fresh.model.parameters()[0].to_vector<float>();
  nn::TrainingState state = fresh.state();
  std::string error;
  try {
    nn::load_training_checkpoint(path, state);
    ADD_FAILURE() << path << " was loaded";
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  EXPECT_EQ(fresh.model.parameters()[0].to_vector<float>(), before);
  EXPECT_EQ(fresh.optimizer.step_count(), 0);
  return error;
}

// Saves the checkpoint at path again with `edit` applied to the whole file.
template <class F>
void edit_file(const std::string& path, F edit) {
  io::SafetensorsFile file = io::load_safetensors(path);
  edit(file);
  io::save_safetensors(path, file.tensors, file.metadata);
}

// check_training_checkpoint's error for the file at path (empty if it passes).
std::string check_error(const std::string& path) {
  TrainRun r;
  try {
    nn::check_training_checkpoint(io::load_safetensors(path), path, r.model);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(TrainingCheckpoint, ResumeIsBitExact) {
  const std::string path = temp_path("resume.safetensors");
  TrainRun straight;
  for (int i = 0; i < 5; ++i) train_step(straight);

  {
    TrainRun first;
    for (int i = 0; i < 2; ++i) train_step(first);
    nn::save_training_checkpoint(path, first.state());
  }
  TrainRun resumed;
  resumed.data.manual_seed(999);  // wrong on purpose: the checkpoint must restore it
  nn::TrainingState state = resumed.state();
  nn::load_training_checkpoint(path, state);
  resumed.step = state.step;
  EXPECT_EQ(resumed.step, 2);
  EXPECT_EQ(resumed.optimizer.step_count(), 2);
  for (int i = 0; i < 3; ++i) train_step(resumed);

  expect_identical(straight.model.named_parameters(), resumed.model.named_parameters());
  expect_identical(straight.ema.shadow(), resumed.ema.shadow());
  EXPECT_EQ(straight.data.offset(), resumed.data.offset());
  EXPECT_EQ(straight.model.dropout_rng.offset(), resumed.model.dropout_rng.offset());
}

TEST(TrainingCheckpoint, ConfigTravelsWithTheFile) {
  const std::string path = temp_path("config.safetensors");
  TrainRun r;
  nn::save_training_checkpoint(path, r.state());
  const nn::UNetConfig c = nn::checkpoint_config(path);
  EXPECT_EQ(nn::unet_config_to_json(c), nn::unet_config_to_json(nn::unet_preset("tiny")));
  EXPECT_THROW(nn::unet_config_from_json("{\"ch\": 3}", "x"), std::runtime_error);
  // Integers must be integers: a ch of 32.5 is not read as 32.
  nlohmann::json j = nlohmann::json::parse(nn::unet_config_to_json(nn::unet_preset("tiny")));
  EXPECT_NO_THROW(nn::unet_config_from_json(j.dump(), "x"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"ch", 32.5}, {"ch_mult", 2}, {"ch_mult", {1, 2.5}}, {"num_groups", "8"}}) {
    nlohmann::json bad = j;
    bad[key] = value;
    try {
      nn::unet_config_from_json(bad.dump(), "x");
      ADD_FAILURE() << key << " = " << value.dump() << " accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("x: bad model config: '" + key + "'", 0), 0u)
          << e.what();
    }
  }
}

TEST(TrainingCheckpoint, MismatchedModelIsRejectedAndUntouched) {
  const std::string path = temp_path("mismatch.safetensors");
  TrainRun r;
  nn::save_training_checkpoint(path, r.state());
  nn::UNet other(nn::unet_preset("small"));
  nn::Adam opt(other.parameters());
  nn::EMA ema(other.named_parameters(), 0.999);
  nn::TrainingState state{other, opt, ema, {}, 0, {}};
  const std::vector<float> before = other.parameters()[0].to_vector<float>();
  try {
    nn::load_training_checkpoint(path, state);
    FAIL() << "loaded a tiny checkpoint into a small model";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("config"), std::string::npos) << e.what();
  }
  EXPECT_EQ(other.parameters()[0].to_vector<float>(), before);
}

TEST(TrainingCheckpoint, WeightsOnlyFileIsNotATrainingCheckpoint) {
  const std::string path = temp_path("weights.safetensors");
  TrainRun r;
  nn::save_module(path, r.model);
  nn::TrainingState state = r.state();
  EXPECT_THROW(nn::load_training_checkpoint(path, state), std::runtime_error);
}

// An EMA group saved in float64: refused, naming the tensor and both types,
// before anything is loaded.
TEST(TrainingCheckpoint, WrongDtypeIsNamedAndChangesNothing) {
  const std::string path = temp_path("f64_ema.safetensors");
  TrainRun r;
  nn::save_training_checkpoint(path, r.state());
  rewrite(path, [](const std::string& name, const Tensor& t) {
    return name.rfind("ema.", 0) == 0 ? t.to(DType::F64) : t;
  });
  const std::string error = refused_load(path);
  EXPECT_NE(error.find("' is float64 ["), std::string::npos) << error;
  EXPECT_NE(error.find("expected float32 ["), std::string::npos) << error;
}

TEST(TrainingCheckpoint, MissingOptimizerStateChangesNothing) {
  const std::string path = temp_path("partial.safetensors");
  TrainRun r;
  train_step(r);
  nn::save_training_checkpoint(path, r.state());
  rewrite(path, [](const std::string& name, const Tensor& t) {
    return name.rfind("adam.v.", 0) == 0 ? Tensor() : t;
  });
  const std::string error = refused_load(path);
  EXPECT_NE(error.find("adam.v."), std::string::npos) << error;
}

// A state holding NaN or inf (here in a weight; the EMA and Adam's moments
// are checked alike) is refused, and the checkpoint already on disk stays byte for byte.
TEST(TrainingCheckpoint, RefusesNonFiniteStateAndKeepsTheOldFile) {
  TrainRun r;
  train_step(r);
  const std::string path = temp_path("ckpt_nonfinite.safetensors");
  nn::save_training_checkpoint(path, r.state());
  auto bytes = [&] {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string good = bytes();
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    TrainRun broken;
    train_step(broken);
    {
      NoGradGuard no_grad;
      broken.model.parameters().back().fill_(bad);
    }
    try {
      nn::save_training_checkpoint(path, broken.state());
      FAIL() << "a non-finite weight was written";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path + ": not written: tensor 'model."),
                std::string::npos)
          << e.what();
    }
    EXPECT_EQ(bytes(), good);
  }
}

// A tensor no group holds, an Adam moment of the wrong shape: refused by
// both the resume and the sampling check, naming the tensor (the sampling
// check once looked at one weights group only).
TEST(TrainingCheckpoint, EveryTensorIsOneTheRunExpects) {
  const std::string path = temp_path("extra.safetensors");
  TrainRun r;
  const std::string first = r.model.named_parameters()[0].first;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"junk", "unexpected tensor 'junk'"},
      {"adam.m.junk", "unexpected tensor 'adam.m.junk'"},
      {"adam.m." + first, "tensor 'adam.m." + first + "' is float32 [7], expected float32 ["}};
  for (const auto& [name, error] : cases) {
    nn::save_training_checkpoint(path, r.state());
    edit_file(path, [&name = name](io::SafetensorsFile& f) {
      f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                     [&](const auto& t) { return t.first == name; }),
                      f.tensors.end());
      f.tensors.emplace_back(name, ones({7}));
    });
    for (const std::string& e : {refused_load(path), check_error(path)})
      EXPECT_EQ(e.rfind(path + ": " + error, 0), 0u) << e;
  }
}

// Generator states and counters are all of their text, as written: "-1 5"
// (once read as seed 2^64 - 1), " 1 2", "+3" and the like are refused by
// name, for any rng.<name> key; metadata keys of other names are free-form.
TEST(TrainingCheckpoint, MetadataCountersAndGeneratorStatesMustParse) {
  const std::string path = temp_path("metadata.safetensors");
  TrainRun r;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"rng.data", "-1 5"}, {"rng.data", " 1 2"},   {"rng.data", "1 2 3"},
      {"rng.data", "1"},    {"rng.data", "1  2"},   {"rng.dropout", "18446744073709551616 0"},
      {"rng.other", "x y"}, {"step", "+3"},         {"step", " 3"},
      {"adam_step", "-1"},  {"ema_updates", "1e3"}, {"step", "99999999999999999999"}};
  for (const auto& [key, value] : cases) {
    nn::save_training_checkpoint(path, r.state());
    edit_file(path,
              [&key = key, &value = value](io::SafetensorsFile& f) { f.metadata[key] = value; });
    const std::string kind =
        key.rfind("rng.", 0) == 0 ? "' is not '<seed> <offset>': '" : "' is not a count: '";
    const std::string want = path + ": metadata '" + key + kind + value + "'";
    EXPECT_EQ(refused_load(path), want);
    EXPECT_EQ(check_error(path), want);
  }
  nn::save_training_checkpoint(path, r.state());
  edit_file(path, [](io::SafetensorsFile& f) { f.metadata.erase("rng.dropout"); });
  EXPECT_EQ(check_error(path),
            path + ": not a training checkpoint (metadata 'rng.dropout' missing)");
  // Run settings another program writes (e.g. "lr") load as they are.
  r.model.dropout_rng.set_state(3, 18446744073709551615u);
  nn::TrainingState saved = r.state();
  saved.extra = {{"lr", "2e-4"}, {"preset", "tiny"}, {"note", " -1 "}};
  nn::save_training_checkpoint(path, saved);
  EXPECT_EQ(check_error(path), "");
  TrainRun loaded;
  nn::TrainingState state = loaded.state();
  nn::load_training_checkpoint(path, state);
  EXPECT_EQ(state.extra.at("lr"), "2e-4");
  EXPECT_EQ(loaded.model.dropout_rng.offset(), 18446744073709551615u);
}

}  // namespace ag::test
