// Improved DDPM through the programs: train_mnist --learn-sigma (the hybrid
// loss by default) writes a checkpoint that records it, sample draws from it
// with the full and a respaced ancestral sampler, evaluate takes the bound of
// both processes, and the combinations that cannot train are one-line errors.
#include <gtest/gtest.h>

#include "app_helpers.h"
#include "io/safetensors.h"

namespace improved_apps_test {

using namespace apps_test;

fs::path empty_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  return dir;
}

TEST(LearnedVariances, TrainSampleAndEvaluate) {
  const fs::path data = make_dataset("learned_data", 16);
  const fs::path out = empty_dir("learned_run"), log = out.string() + ".log";
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--data " + data.string() + " --out " + out.string() + kSmall +
                        " --steps 3 --learn-sigma --final-sampler ddim",
                    log),
            0)
      << read(log);
  EXPECT_NE(read(log).find("loss hybrid (lambda 0.001), t uniform, param eps, var learned"),
            std::string::npos)
      << read(log);
  const std::string ckpt = (out / "ckpt.safetensors").string();
  const io::SafetensorsFile f = io::load_safetensors(ckpt);
  EXPECT_EQ(f.metadata.at("var"), "learned");
  EXPECT_EQ(f.metadata.at("loss"), "hybrid");
  EXPECT_NE(f.metadata.at("config").find("\"learn_sigma\":true"), std::string::npos);
  bool found = false;
  for (const auto& [name, t] : f.tensors) {
    if (name != "model.conv_out.weight") continue;
    EXPECT_EQ(t.size(0), 2);  // the mean's channel and v's
    found = true;
  }
  EXPECT_TRUE(found);

  const fs::path samples = out / "samples";
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 4 --steps 5 --progression --out " + samples.string() +
                        " --threads 1",
                    log),
            0)
      << read(log);
  EXPECT_NE(read(log).find("4 samples (ddpm, 5 steps)"), std::string::npos) << read(log);
  EXPECT_TRUE(fs::exists(samples / "progression.png"));
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 2 --out " + samples.string() + " --threads 1", log),
            0)
      << read(log);
  EXPECT_NE(read(log).find("2 samples (ddpm, 20 steps)"), std::string::npos) << read(log);
  EXPECT_EQ(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --var small --out " + samples.string(), log),
            1);
  EXPECT_EQ(read(log), "sample: error: --var small: " + ckpt +
                           " learned its variances (--learn-sigma) and samples with them\n");

  for (const char* steps : {"", " --sample-steps 4"}) {
    ASSERT_EQ(
        run_exe(EVALUATE_EXE,
                "--nll --ckpt " + ckpt + " -n 4 --data " + data.string() + steps + " --threads 1",
                log),
        0)
        << read(log);
    const std::string s = read(log);
    const size_t at = s.find("NLL bound");
    ASSERT_NE(at, std::string::npos) << s;
    const double bpd = std::stod(s.substr(at + 9));
    EXPECT_GT(bpd, 0.5) << s;  // a model of 3 steps: several bits/dim, finite
    EXPECT_LT(bpd, 20.0) << s;
  }
}

TEST(LearnedVariances, LossesThatCannotTrainAreOneLineErrors) {
  const fs::path data = make_dataset("learned_bad_data", 8);
  const fs::path out = empty_dir("learned_bad_run"), log = out.string() + ".log";
  const std::string base = "--data " + data.string() + " --out " + out.string() + kSmall +
                           " --steps 1 --final-sampler ddim ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--loss hybrid", "--loss hybrid trains learned variances: add --learn-sigma"},
      {"--learn-sigma --loss simple",
       "--loss simple does not train learned variances: use --loss hybrid (L_simple + lambda "
       "L_vlb) or --loss vlb with --learn-sigma"},
      {"--learn-sigma --var small", "--learn-sigma conflicts with --var small"},
      {"--var learned",
       "--loss simple does not train learned variances: use --loss hybrid "
       "(L_simple + lambda L_vlb) or --loss vlb with --learn-sigma"}};
  for (const auto& [flags, error] : cases) {
    EXPECT_EQ(run_exe(TRAIN_MNIST_EXE, base + flags, log), 1) << flags;
    EXPECT_EQ(read(log), "train_mnist: error: " + error + "\n") << flags;
  }
  EXPECT_FALSE(fs::exists(out / "ckpt.safetensors"));
  EXPECT_NE(run_exe(TRAIN_MNIST_EXE, base + "--learn-sigma --hybrid-lambda 0", log), 0);
  EXPECT_EQ(read(log).rfind("train_mnist: error: --hybrid-lambda", 0), 0u) << read(log);
}

}  // namespace improved_apps_test
