// apps/common: the progress line's ETA (to the total, to a --minutes budget,
// the sooner of the two), the choices read as enums with the names the
// checkpoints keep, and renamed flags.
#include <gtest/gtest.h>

#include "apps/common/choices.h"
#include "apps/common/cli.h"
#include "apps/common/progress.h"

namespace {

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
    EXPECT_STREQ(e.what(), "--loss: l1 not in {simple,vlb}");
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
