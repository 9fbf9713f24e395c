// apps/evaluate end to end on the synthetic labelled IDX set: --quality on a
// samples file (training and caching the classifier, then reusing it),
// --nll on a checkpoint, and one-line errors with non-zero exits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "app_helpers.h"
#include "apps/dataset/dataset.h"
#include "autograd/ops.h"
#include "io/safetensors.h"

namespace {

using namespace apps_test;

int evaluate(const std::string& args, const fs::path& log) {
  return run_exe(EVALUATE_EXE, args + " --threads 1", log);
}

// A checkpoint trained for 2 steps with T = 20 on `data`.
fs::path tiny_checkpoint(const fs::path& data, const fs::path& out) {
  const std::string args = "--data " + data.string() + " --out " + out.string() +
                           " --T 20 --batch 4 --sample-n 4 --sample-every 0 --final-sampler ddim"
                           " --sample-steps 2 --threads 1 --steps 2";
  EXPECT_EQ(run_exe(TRAIN_MNIST_EXE, args, out.string() + ".log"), 0)
      << read(out.string() + ".log");
  return out / "ckpt.safetensors";
}

// The bound's parts by value, so that a run reporting zeros (or NaN) fails.
// The test images' pixels are all -1 or 1, so the prior L_T = KL(N(sqrt(abar_T)
// x_0, 1 - abar_T) || N(0, 1)) / ln 2 per pixel is exactly -log2(1 - abar_T) / 2;
// for the linear schedule with T = 20, its betas scaled by 1000 / 20 (5e-3 up
// to 1, capped at 0.999), abar_T is below 1e-6 and so is the prior. Every KL
// term is finite and none negative, L_1..L_14 positive (the last few vanish
// in float32 where x_t is pure noise); the decoder's L_0 is positive and
// below the 1e-12 probability floor's 39.9 bits; the terms are not all alike;
// and the bound lies above prior plus decoder and below 20 bits/dim (raw
// 8-bit pixels cost 8; this barely trained model's is about 6).
void expect_plausible_terms(double prior, double decoder, double bound,
                            const std::vector<double>& terms) {
  double abar_T = 1;
  for (int i = 0; i < 20; ++i) abar_T *= 1 - std::min(0.999, 50 * (1e-4 + i * (0.02 - 1e-4) / 19));
  EXPECT_LT(abar_T, 1e-6);
  EXPECT_NEAR(prior, -std::log2(1 - abar_T) / 2, 1e-6);
  ASSERT_EQ(terms.size(), 20u);
  for (size_t k = 0; k < terms.size(); ++k) {
    EXPECT_TRUE(std::isfinite(terms[k])) << "L_" << 19 - k;
    EXPECT_GE(terms[k], 0.0) << "L_" << 19 - k;
    if (k >= 5) {
      EXPECT_GT(terms[k], 0.0) << "L_" << 19 - k;
    }
  }
  EXPECT_GT(decoder, 0.0);
  EXPECT_LT(decoder, -std::log2(1e-12));
  const auto [lo, hi] = std::minmax_element(terms.begin(), terms.end());
  EXPECT_GT(*hi - *lo, 0.01) << "every term " << *lo;
  EXPECT_GT(bound, prior + decoder);
  EXPECT_LT(bound, 20.0);
}

}  // namespace

TEST(EvaluateApp, QualityTrainsCachesAndScoresTheClassifier) {
  const fs::path data = make_dataset("eval_data", 200);
  const fs::path dir = fs::path(::testing::TempDir()) / "eval_quality";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path log = dir / "log.txt", classifier = dir / "clf.safetensors";
  // The "samples": 20 test images, so they must score like the test row.
  const data::Dataset test = data::load_split(data.string(), false);
  std::vector<int64_t> idx(20);
  for (int i = 0; i < 20; ++i) idx[i] = i;
  io::save_safetensors((dir / "s.safetensors").string(),
                       {{"samples", data::to_tensor(test.images, idx)}});
  const std::string args = "--quality --samples " + (dir / "s.safetensors").string() + " --data " +
                           data.string() + " --classifier " + classifier.string() +
                           " --classifier-epochs 6";
  ASSERT_EQ(evaluate(args, log), 0) << read(log);
  std::string out = read(log);
  EXPECT_NE(out.find("training one"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(classifier));
  EXPECT_NE(out.find("test accuracy 1.0000"), std::string::npos) << out;
  // 20 samples, 2 of each label: all ten classes present, two each.
  EXPECT_NE(out.find("10  [ 2 2 2 2 2 2 2 2 2 2 ]"), std::string::npos) << out;
  ASSERT_EQ(evaluate(args, log), 0) << read(log);
  out = read(log);
  EXPECT_EQ(out.find("training one"), std::string::npos) << out;  // reused, same scores
  EXPECT_NE(out.find("  samples            20"), std::string::npos) << out;
  EXPECT_NE(out.find("10  [ 2 2 2 2 2 2 2 2 2 2 ]"), std::string::npos) << out;
}

TEST(EvaluateApp, NllReportsTheBoundAndItsTerms) {
  const fs::path data = make_dataset("eval_nll_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "eval_nll_run";
  fs::remove_all(out);
  const fs::path ckpt = tiny_checkpoint(data, out), log = out / "nll.txt";
  const fs::path rd = out / "rd.csv";
  ASSERT_EQ(evaluate("--nll --ckpt " + ckpt.string() + " -n 6 --batch 4 --data " + data.string() +
                         " --rd --out " + out.string(),
                     log),
            0)
      << read(log);
  const std::string s = read(log);
  for (const char* part : {"6 test images, T = 20", "NLL bound", "prior L_T", "decoder L_0",
                           "rate-distortion (Fig. 5)", "t =    20", "t =     1"})
    EXPECT_NE(s.find(part), std::string::npos) << s;
  auto printed = [&](const std::string& label) {
    return std::stod(s.substr(s.find(label) + label.size()));
  };
  // One row per timestep, t = T..1: the rate starts at the prior, grows as t
  // falls, and at t = 1 plus the decoder's L_0 is the whole bound.
  EXPECT_EQ(png_size(out / "rd.png"), std::make_pair(1500, 450));  // the plot of the CSV
  std::ifstream csv(rd);
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "t,rate_bpd,distortion_rmse,next_term_bpd");
  int64_t t_expected = 20;
  double last_rate = 0, last_term = 0, first_distortion = 0, last_distortion = 0;
  std::vector<double> terms;  // L_{t-1} for t = T..1
  while (std::getline(csv, line)) {
    long t = 0;
    double rate = 0, distortion = 0, term = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf", &t, &rate, &distortion, &term), 4);
    EXPECT_EQ(t, t_expected--);
    terms.push_back(term);
    if (t == 20) {
      EXPECT_NEAR(rate, printed("prior L_T"), 1e-4);
      first_distortion = distortion;
    }
    EXPECT_GE(rate, last_rate);
    EXPECT_GT(distortion, 0);
    last_rate = rate, last_term = term, last_distortion = distortion;
  }
  EXPECT_EQ(t_expected, 0);
  EXPECT_NEAR(last_term, printed("decoder L_0"), 1e-4);
  EXPECT_NEAR(last_rate + last_term, printed("NLL bound"), 2e-4);
  // x_0 from x_1 is x_1 up to sqrt(beta_1 / alpha_1) = 0.07 of the noise
  // error, while x_T holds almost nothing of x_0 (abar_T below 1e-6): the
  // distortion falls by far more than 10x over the chain, whatever the model.
  EXPECT_GT(first_distortion, 10 * last_distortion);
  expect_plausible_terms(printed("prior L_T"), printed("decoder L_0"), printed("NLL bound"), terms);
  EXPECT_NE(s.find("standard error"), std::string::npos) << s;
  // The bound of the process respaced to 5 of the 20 steps: 5 terms.
  ASSERT_EQ(evaluate("--nll --ckpt " + ckpt.string() + " -n 6 --batch 6 --sample-steps 5 --data " +
                         data.string(),
                     log),
            0)
      << read(log);
  const std::string r = read(log);
  EXPECT_NE(r.find("6 test images, T = 5 (respaced from T = 20)"), std::string::npos) << r;
  EXPECT_NE(r.find("KL L_1..L_4"), std::string::npos) << r;
  EXPECT_NE(evaluate("--nll --ckpt " + ckpt.string() + " --steps 21 --data " + data.string(), log),
            0);
  EXPECT_EQ(read(log), "evaluate: error: --sample-steps 21 exceeds the model's T = 20\n");
}

TEST(EvaluateApp, BadInputGivesOneLineErrorsAndNonZeroExit) {
  const fs::path data = make_dataset("eval_bad_data", 16);
  const fs::path dir = fs::path(::testing::TempDir()) / "eval_bad";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path log = dir / "log.txt";
  EXPECT_NE(evaluate("--no-such-flag", log), 0);
  EXPECT_NE(evaluate("", log), 0);
  EXPECT_NE(read(log).find("evaluate: error: choose one of --nll or --quality"), std::string::npos)
      << read(log);
  EXPECT_NE(evaluate("--nll", log), 0);
  EXPECT_NE(read(log).find("--nll needs --ckpt"), std::string::npos) << read(log);
  EXPECT_NE(evaluate("--quality --rd", log), 0);
  EXPECT_EQ(read(log), "evaluate: error: --rd needs --nll\n");
  // Flags renamed by the one convention of the programs name the new one.
  EXPECT_NE(evaluate("--nll --rd rd.csv", log), 0);
  EXPECT_EQ(read(log),
            "evaluate: error: --rd takes no file now: it writes rd.csv in --out (see --help)\n");
  EXPECT_NE(evaluate("--nll --seed -1", log), 0);
  EXPECT_EQ(read(log),
            "evaluate: error: --seed: a seed is a whole number in [0, 2^64 - 1], got -1 (see "
            "--help)\n");
  EXPECT_NE(evaluate("--quality -n 10001", log), 0);
  EXPECT_EQ(read(log), "evaluate: error: -n: Value 10001 not in range 2 to 10000 (see --help)\n");
  EXPECT_NE(evaluate("--quality --data " + data.string(), log), 0);
  EXPECT_NE(read(log).find("exactly one of --samples"), std::string::npos) << read(log);
  // Samples of the wrong shape: refused before any classifier is read.
  io::save_safetensors((dir / "wrong.safetensors").string(),
                       {{"samples", ag::zeros({4, 1, 8, 8})}});
  io::save_safetensors((dir / "right.safetensors").string(),
                       {{"samples", ag::zeros({4, 1, 28, 28})}});
  { std::ofstream(dir / "garbage.safetensors") << "not a classifier"; }
  const std::string quality = "--quality --data " + data.string() + " --classifier ";
  EXPECT_NE(evaluate(quality + (dir / "garbage.safetensors").string() + " --samples " +
                         (dir / "wrong.safetensors").string(),
                     log),
            0);
  EXPECT_NE(read(log).find("evaluate --quality scores 28x28 grey images only"), std::string::npos)
      << read(log);
  EXPECT_NE(read(log).find("wrong.safetensors is 1x8x8"), std::string::npos) << read(log);
  // Samples of a diverged model (NaN) would score as NaN: refused, also first.
  std::vector<float> diverged(4 * 28 * 28, 0.0f);
  diverged[2 * 28 * 28 + 5] = std::numeric_limits<float>::quiet_NaN();  // in sample 2
  io::save_safetensors((dir / "nan.safetensors").string(),
                       {{"samples", ag::from_vector(diverged, {4, 1, 28, 28})}});
  EXPECT_NE(evaluate(quality + (dir / "garbage.safetensors").string() + " --samples " +
                         (dir / "nan.safetensors").string(),
                     log),
            0);
  EXPECT_EQ(read(log), "evaluate: error: " + (dir / "nan.safetensors").string() +
                           ": 1 of the 4 samples hold NaN or inf (a diverged model?); nothing "
                           "to score\n");
  // A corrupt classifier file: a one-line error naming it, the file untouched.
  EXPECT_NE(evaluate(quality + (dir / "garbage.safetensors").string() + " --samples " +
                         (dir / "right.safetensors").string(),
                     log),
            0);
  EXPECT_NE(read(log).find("garbage.safetensors"), std::string::npos) << read(log);
  EXPECT_EQ(read(log), read(log).substr(0, read(log).find('\n') + 1));  // one line
  EXPECT_EQ(read(dir / "garbage.safetensors"), "not a classifier");     // untouched
  // A classifier file made for another dataset.
  io::save_safetensors((dir / "other.safetensors").string(), {{"w", ag::zeros({1})}},
                       {{"kind", "ddpm-cpp evaluation classifier"}, {"dataset", "fashion"}});
  EXPECT_NE(evaluate(quality + (dir / "other.safetensors").string() + " --samples " +
                         (dir / "right.safetensors").string(),
                     log),
            0);
  EXPECT_NE(read(log).find("trained on 'fashion'"), std::string::npos) << read(log);
  // One whose recorded accuracy is not a number.
  const std::string bad_accuracy = (dir / "accuracy.safetensors").string();
  io::save_safetensors(bad_accuracy, {{"w", ag::zeros({1})}},
                       {{"kind", "ddpm-cpp evaluation classifier"},
                        {"dataset", data.string()},
                        {"test_accuracy", "abc"}});
  EXPECT_NE(
      evaluate(quality + bad_accuracy + " --samples " + (dir / "right.safetensors").string(), log),
      0);
  EXPECT_EQ(read(log), "evaluate: error: " + bad_accuracy +
                           ": metadata 'test_accuracy' is not a number in [0, 1]: 'abc'\n");
}
