// apps/common: the progress line's ETA (to the total, to a --minutes budget,
// the sooner of the two), the choices read as enums with the names the
// checkpoints keep, renamed flags and --seed, the checks of a trained
// model's checkpoint, the run settings a checkpoint stores, and the trainer's
// skipping of steps that are not finite.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "apps/common/choices.h"
#include "apps/common/cli.h"
#include "apps/common/progress.h"
#include "apps/common/run_settings.h"
#include "apps/common/sampling.h"
#include "apps/common/trained_model.h"
#include "apps/common/training.h"
#include "autograd/ops.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"

namespace {

namespace fs = std::filesystem;

apps::ProgressState state(int64_t done, int64_t total, double elapsed_s, double limit_s) {
  return {"[train] step", "step", "loss 0.1000", done, total, 0, elapsed_s, limit_s};
}

}  // namespace

TEST(Progress, EtaToTheTotal) {
  EXPECT_EQ(apps::progress_text(state(5, 10, 2, 0)),
            "[train] step 5/10 [############............] 2.50 step/s, elapsed 0:02, ETA 0:02 | "
            "loss 0.1000");
  EXPECT_DOUBLE_EQ(apps::remaining_seconds(state(5, 10, 2, 0)), 2.0);
  EXPECT_DOUBLE_EQ(apps::remaining_seconds(state(10, 10, 4, 0)), 0.0);
}

TEST(Progress, EtaOfATimeBudget) {
  // --minutes 5 without --steps: open-ended, the time left is the budget's.
  EXPECT_EQ(apps::progress_text(state(30, 0, 60, 300)),
            "[train] step 30, 0.50 step/s, elapsed 1:00, ETA 4:00 | loss 0.1000");
  EXPECT_DOUBLE_EQ(apps::remaining_seconds(state(30, 0, 400, 300)), 0.0);  // overrun
  // Both: 900 s to the total at 1 step/s, but the budget ends in 200 s.
  EXPECT_DOUBLE_EQ(apps::remaining_seconds(state(100, 1000, 100, 300)), 200.0);
  EXPECT_DOUBLE_EQ(apps::remaining_seconds(state(900, 1000, 900, 3600)), 100.0);
}

TEST(Progress, NoEtaWithoutTotalOrBudget) {
  EXPECT_EQ(apps::progress_text(state(30, 0, 60, 0)),
            "[train] step 30, 0.50 step/s, elapsed 1:00 | loss 0.1000");
  EXPECT_LT(apps::remaining_seconds(state(0, 10, 0, 0)), 0);  // no rate yet
  EXPECT_EQ(apps::format_duration(3723), "1:02:03");
}

TEST(Choices, NamesAreTheCheckpointsAndParsingIsOnce) {
  EXPECT_EQ(apps::name_of(apps::loss_choices(), diffusion::LossType::Vlb), "vlb");
  EXPECT_EQ(apps::name_of(apps::param_choices(), diffusion::ModelMeanType::Xprev), "xprev");
  EXPECT_EQ(apps::name_of(apps::var_choices(), diffusion::ModelVarType::FixedSmall), "small");
  EXPECT_EQ(apps::name_of(apps::schedule_choices(), diffusion::ScheduleKind::Cosine), "cosine");
  EXPECT_EQ(apps::name_of(apps::sampler_choices(), apps::Sampler::Ancestral), "ddpm");
  CLI::App app;
  diffusion::LossType loss = diffusion::LossType::Simple;
  apps::add_choice(app, "--loss", loss, apps::loss_choices(), "loss");
  EXPECT_EQ(app.get_option("--loss")->get_default_str(), "simple");
  app.parse(std::vector<std::string>{"vlb", "--loss"});  // CLI11 takes them reversed
  EXPECT_EQ(loss, diffusion::LossType::Vlb);
  try {
    app.parse(std::vector<std::string>{"l1", "--loss"});
    FAIL() << "l1 accepted";
  } catch (const CLI::ParseError& e) {
    EXPECT_STREQ(e.what(), "--loss: l1 not in {simple,vlb,hybrid}");
  }
}

TEST(Cli, RenamedFlagNamesTheNewOne) {
  CLI::App app;
  apps::add_renamed_flag(app, "--dataset", "--data");
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"fashion", "--dataset"}, std::vector<std::string>{"--dataset"}}) {
    try {
      app.parse(std::vector<std::string>(args));
      FAIL() << "--dataset accepted";
    } catch (const CLI::ParseError& e) {
      EXPECT_STREQ(e.what(), "--dataset is now --data");
    }
  }
  EXPECT_EQ(apps::kMaxBatch, 4096);
  EXPECT_EQ(apps::kMaxImages, 10000);
}

// CLI11 reads "-1" into a uint64_t as 2^64 - 1; a seed is all digits.
TEST(Cli, SeedIsAWholeNumber) {
  for (const std::string bad : {"-1", "1e3", "", " 1", "18446744073709551616"}) {
    uint64_t seed = 0;
    CLI::App app;
    app.add_option("--seed", seed)->check(apps::kSeed);
    try {
      app.parse(std::vector<std::string>{bad, "--seed"});
      FAIL() << "'" << bad << "' accepted";
    } catch (const CLI::ParseError& e) {
      EXPECT_EQ(std::string(e.what()),
                "--seed: a seed is a whole number in [0, 2^64 - 1], got " + bad);
    }
  }
  uint64_t seed = 0;
  CLI::App app;
  app.add_option("--seed", seed)->check(apps::kSeed);
  app.parse(std::vector<std::string>{"18446744073709551615", "--seed"});
  EXPECT_EQ(seed, 18446744073709551615u);
}

// sample and evaluate check a training checkpoint whole, though they use one
// group of weights: a tensor no group holds, an optimizer moment of the wrong
// shape or a generator state that does not parse is refused, naming the file
// and the tensor or key; run settings of other names are free-form.
TEST(TrainedModel, ChecksTheWholeTrainingCheckpoint) {
  const std::string path = (fs::path(::testing::TempDir()) / "trained.safetensors").string();
  nn::UNetConfig config = nn::unet_preset("tiny");
  config.ch = 8;
  config.ch_mult = {1};
  config.attn_resolutions = {};
  config.num_groups = 2;
  nn::UNet model(config, 0);
  nn::Adam optimizer(model.parameters());
  nn::EMA ema(model.named_parameters(), 0.999);
  nn::save_training_checkpoint(
      path, {model, optimizer, ema, {}, 4, {{"T", "20"}, {"lr", "2e-4"}, {"batch", "x"}}});
  const apps::TrainedModel loaded = apps::load_trained_model(path, "ema");
  EXPECT_EQ(loaded.step, "4");
  EXPECT_EQ(loaded.diffusion->num_timesteps(), 20);

  const std::string first = model.named_parameters()[0].first;
  const std::string bad = (fs::path(::testing::TempDir()) / "trained_bad.safetensors").string();
  const std::vector<std::pair<std::function<void(io::SafetensorsFile&)>, std::string>> cases = {
      {[](io::SafetensorsFile& f) { f.tensors.emplace_back("junk", ag::zeros({1})); },
       "unexpected tensor 'junk'"},
      {[&](io::SafetensorsFile& f) {
         for (auto& [name, t] : f.tensors)
           if (name == "adam.v." + first) t = ag::zeros({1});
       },
       "tensor 'adam.v." + first + "' is float32 [1], expected float32 ["},
      {[](io::SafetensorsFile& f) { f.metadata["rng.dropout"] = "-1 0"; },
       "metadata 'rng.dropout' is not '<seed> <offset>': '-1 0'"}};
  for (const auto& [edit, error] : cases) {
    io::SafetensorsFile file = io::load_safetensors(path);
    edit(file);
    io::save_safetensors(bad, file.tensors, file.metadata);
    try {
      apps::load_trained_model(bad, "ema");
      ADD_FAILURE() << error << ": loaded";
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(std::string(e.what()).rfind(bad + ": " + error, 0), 0u) << e.what();
    }
  }
}

// A NaN injected into one weight makes the step's loss NaN: the step is
// skipped and counted, and Adam, its moments and the EMA stay as they were;
// with the weight mended, the next step updates again and the count of
// skips in a row restarts.
TEST(Trainer, NonFiniteStepChangesNoWeightMomentOrAverage) {
  apps::TrainOptions o;
  o.T = 20;
  o.batch = 2;
  apps::Trainer tr(o, ag::Device::CPU, apps::random_dataset(8, 0));
  const ag::Tensor w = tr.model.parameters().front();
  const std::vector<float> good = w.to_vector<float>();
  const std::vector<float> ema_before = tr.ema.shadow().front().second.to_vector<float>();
  {
    ag::NoGradGuard no_grad;
    w.fill_(std::nan(""));
  }
  const apps::StepResult r = tr.train_step();
  EXPECT_TRUE(r.skipped);
  EXPECT_TRUE(std::isnan(r.loss));
  EXPECT_EQ(tr.step, 1);
  EXPECT_EQ(tr.skipped_in_a_row, 1);
  EXPECT_EQ(tr.adam.step_count(), 0);
  EXPECT_EQ(tr.ema.num_updates(), 0);
  EXPECT_EQ(tr.ema.shadow().front().second.to_vector<float>(), ema_before);
  for (const auto& [name, m] : tr.adam.state(tr.model.named_parameters()))
    for (float v : m.to_vector<float>()) ASSERT_EQ(v, 0.0f) << name;
  EXPECT_TRUE(std::isnan(tr.smoothed_loss));
  {
    ag::NoGradGuard no_grad;
    w.copy_(ag::from_vector(good, w.shape()));
  }
  const apps::StepResult next = tr.train_step();
  EXPECT_FALSE(next.skipped);
  EXPECT_TRUE(std::isfinite(next.loss) && std::isfinite(next.grad_norm) && next.grad_norm > 0);
  EXPECT_EQ(tr.skipped_in_a_row, 0);
  EXPECT_EQ(tr.skipped, 1);
  EXPECT_EQ(tr.adam.step_count(), 1);
  EXPECT_EQ(tr.ema.num_updates(), 1);
  EXPECT_EQ(tr.smoothed_loss, next.loss);
  EXPECT_NE(w.to_vector<float>(), good);
}

// Settings are stored as text that reads back bit for bit.
TEST(RunSettings, ExactTextRoundTrips) {
  EXPECT_EQ(apps::exact_text(1e-3), "0.001");
  EXPECT_EQ(apps::exact_text(2e-4), "0.0002");
  EXPECT_EQ(apps::exact_text(0.1 + 0.2), "0.30000000000000004");  // needs 17 digits
  for (double v : {0.1 + 0.2, 1.0 / 3.0, 2e-4, 0.9999, 1e30})
    EXPECT_EQ(apps::parse_exact(apps::exact_text(v), "v"), v);
  EXPECT_TRUE(std::isnan(apps::parse_exact(apps::exact_text(std::nan("")), "v")));
  EXPECT_THROW(apps::parse_exact("0.1x", "v"), std::runtime_error);
}

TEST(RunSettings, RestoreTakesStoredValuesAndRefusesConflictsAndJunk) {
  apps::TrainOptions stored;
  stored.lr = 1e-3;
  stored.var = diffusion::ModelVarType::FixedSmall;
  stored.steps = 3000;
  stored.seed = 5;
  const io::Metadata md = apps::settings_metadata(stored);
  auto given_none = [](const std::string&) { return false; };
  apps::TrainOptions o;
  EXPECT_TRUE(apps::restore_settings(o, md, given_none, "c").empty());
  EXPECT_EQ(apps::settings_metadata(o), md);
  // A budget flag given again wins; a fixed one given with another value throws.
  apps::TrainOptions budget;
  budget.steps = 10;
  apps::restore_settings(
      budget, md, [](const std::string& f) { return f == "--steps"; }, "c");
  EXPECT_EQ(budget.steps, 10);
  EXPECT_EQ(budget.lr, 1e-3);
  apps::TrainOptions conflict;
  conflict.seed = 6;
  try {
    apps::restore_settings(
        conflict, md, [](const std::string& f) { return f == "--seed"; }, "c");
    FAIL() << "no conflict reported";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("--seed 6 conflicts with c, trained with --seed 5 (", 0),
              0u)
        << e.what();
  }
  for (const auto& [key, junk] : std::vector<std::pair<std::string, std::string>>{
           {"lr", "fast"}, {"seed", "-1"}, {"var", "medium"}, {"batch", "4.5"}}) {
    io::Metadata bad = md;
    bad[key] = junk;
    apps::TrainOptions b;
    EXPECT_THROW(apps::restore_settings(b, bad, given_none, "c"), std::runtime_error) << key;
  }
  io::Metadata old = md;
  old.erase("lr");
  apps::TrainOptions from_old;
  EXPECT_EQ(apps::restore_settings(from_old, old, given_none, "c"),
            std::vector<std::string>{"--lr"});
  EXPECT_EQ(from_old.lr, apps::TrainOptions{}.lr);
}

// --sample-steps: 0 takes the sampler's default (DDIM 50, or T if fewer; the
// ancestral sampler all T), K respaces the ancestral sampler to K steps, which
// visit round(k (T - 1) / (K - 1)) from the top; more than T is refused.
TEST(SamplerSteps, DefaultsAndRespacedVisits) {
  using apps::Sampler;
  EXPECT_EQ(apps::sampler_steps(Sampler::Ddim, 0, 1000), 50);
  EXPECT_EQ(apps::sampler_steps(Sampler::Ddim, 0, 20), 20);
  EXPECT_EQ(apps::sampler_steps(Sampler::Ancestral, 0, 1000), 1000);
  EXPECT_EQ(apps::sampler_steps(Sampler::Ancestral, 50, 1000), 50);
  EXPECT_EQ(apps::visited_steps(Sampler::Ancestral, 4, 1000),
            (std::vector<int64_t>{999, 666, 333, 0}));
  EXPECT_EQ(apps::visited_steps(Sampler::Ddim, 3, 21), (std::vector<int64_t>{20, 10, 0}));
  EXPECT_EQ(apps::visited_steps(Sampler::Ancestral, 0, 3), (std::vector<int64_t>{2, 1, 0}));
  try {
    apps::sampler_steps(Sampler::Ancestral, 1001, 1000);
    FAIL() << "1001 steps of 1000 accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "--sample-steps 1001 exceeds the model's T = 1000");
  }
}
