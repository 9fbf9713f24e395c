// train_mnist end to end on a tiny synthetic IDX dataset: a few steps, a
// checkpoint, a sample grid of the right size, exact --resume, and clear
// errors with non-zero exits for bad flags and paths. Also the PNG helpers.
#include <gif_lib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "app_helpers.h"
#include "apps/imaging/image.h"
#include "autograd/device.h"
#include "autograd/ops.h"
#include "io/safetensors.h"
#include "tests/cuda_skip.h"

namespace {

using namespace apps_test;

int run(const std::string& args, const fs::path& log) {
  return run_exe(TRAIN_MNIST_EXE, args, log);
}

// Column k of every row of a CSV file after its header.
std::vector<std::string> csv_column(const fs::path& p, int k) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);
  std::vector<std::string> column;
  while (std::getline(f, line)) {
    std::stringstream row(line);
    std::string cell;
    for (int i = 0; i <= k; ++i) std::getline(row, cell, ',');
    column.push_back(cell);
  }
  return column;
}

}  // namespace

TEST(TrainApp, TrainsSavesSamplesAndResumes) {
  const fs::path data = make_dataset("e2e_data", 40);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_run";
  fs::remove_all(out);
  ASSERT_EQ(run("--data " + data.string() + " --out " + out.string() + kSmall + " --steps 3",
                out.string() + ".log"),
            0)
      << read(out.string() + ".log");
  EXPECT_TRUE(fs::exists(out / "ckpt.safetensors"));
  EXPECT_TRUE(fs::exists(out / "loss.png"));
  EXPECT_EQ(png_size(out / "samples.png"), std::make_pair(62, 62));  // 2 x 2 cells of 28 + 2 pad
  EXPECT_EQ(lines(out / "loss.csv"), 1 + 3);
  const std::string resume = " --resume " + (out / "ckpt.safetensors").string();
  ASSERT_EQ(
      run("--data " + data.string() + " --out " + out.string() + kSmall + " --steps 5" + resume,
          out.string() + ".log"),
      0)
      << read(out.string() + ".log");
  EXPECT_EQ(lines(out / "loss.csv"), 1 + 5);
  EXPECT_NE(read(out.string() + ".log").find("resumed"), std::string::npos);
  // Exactly: 5 steps in one go log the same losses as 3, a stop, and 2 more
  // (the loss column; the smoothed one restarts from the CSV's 6 digits).
  const fs::path straight = out.string() + "_straight";
  fs::remove_all(straight);
  ASSERT_EQ(run("--data " + data.string() + " --out " + straight.string() + kSmall + " --steps 5",
                straight.string() + ".log"),
            0)
      << read(straight.string() + ".log");
  EXPECT_EQ(csv_column(straight / "loss.csv", 1), csv_column(out / "loss.csv", 1));
}

// Ctrl-C (SIGINT) ends the step in progress, then saves the checkpoint and
// the loss curve and exits with 130, without sampling.
TEST(TrainApp, InterruptSavesCheckpointAndCurve) {
  const fs::path data = make_dataset("e2e_int_data", 40);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_int_run";
  fs::remove_all(out);
  const std::string exe = "timeout --preserve-status -s INT 4 " + std::string(TRAIN_MNIST_EXE);
  ASSERT_EQ(
      run_exe(exe.c_str(),
              "--data " + data.string() + " --out " + out.string() + kSmall + " --steps 100000000",
              out.string() + ".log"),
      130)
      << read(out.string() + ".log");
  EXPECT_NE(read(out.string() + ".log")
                .find("interrupted; to go on: " + std::string(TRAIN_MNIST_EXE) + " --resume " +
                      (out / "ckpt.safetensors").string() + "\n"),
            std::string::npos)
      << read(out.string() + ".log");
  EXPECT_TRUE(fs::exists(out / "ckpt.safetensors"));
  EXPECT_TRUE(fs::exists(out / "loss.png"));
  EXPECT_GT(lines(out / "loss.csv"), 1);
  EXPECT_FALSE(fs::exists(out / "samples.png"));
}

TEST(TrainApp, BadInputGivesOneLineErrorsAndNonZeroExit) {
  const fs::path log = fs::path(::testing::TempDir()) / "e2e_bad.log";
  EXPECT_NE(run("--no-such-flag", log), 0);
  EXPECT_EQ(read(log),
            "train_mnist: error: The following argument was not expected: --no-such-flag "
            "(see --help)\n");
  EXPECT_NE(run("--lr -1", log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: --lr: must be > 0, got -1 (see --help)\n");
  EXPECT_NE(run("--lr inf", log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: --lr: not a finite number: inf (see --help)\n");
  EXPECT_NE(run("--ema nan", log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: --ema: not a finite number: nan (see --help)\n");
  EXPECT_NE(run("--ema 1.5", log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: --ema: must be in [0, 1], got 1.5 (see --help)\n");
  EXPECT_NE(run("--seed -1", log), 0);  // CLI11 alone reads it as 2^64 - 1
  EXPECT_EQ(read(log),
            "train_mnist: error: --seed: a seed is a whole number in [0, 2^64 - 1], got -1 "
            "(see --help)\n");
  EXPECT_NE(run("--preset huge", log), 0);
  EXPECT_NE(run("--data /nonexistent/dir --steps 1", log), 0);
  EXPECT_NE(read(log).find("train_mnist: error: load_split"), std::string::npos) << read(log);
  const fs::path data = make_dataset("e2e_data_bad", 8);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_bad_run";
  fs::create_directories(out);
  { std::ofstream(out / "garbage.safetensors") << "not a checkpoint"; }
  EXPECT_NE(run("--data " + data.string() + " --out " + out.string() + kSmall +
                    " --steps 1 --resume " + (out / "garbage.safetensors").string(),
                log),
            0);
  EXPECT_NE(read(log).find("garbage.safetensors"), std::string::npos) << read(log);
  // A missing checkpoint or an --out that cannot be a folder fail before any data loads.
  EXPECT_NE(run("--resume " + (out / "missing.safetensors").string(), log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: --resume: File does not exist: " +
                           (out / "missing.safetensors").string() + " (see --help)\n");
  EXPECT_NE(run("--out " + (out / "garbage.safetensors" / "run").string(), log), 0);
  EXPECT_EQ(read(log).rfind("train_mnist: error: --out " +
                                (out / "garbage.safetensors" / "run").string() +
                                ": not a folder that can be created",
                            0),
            0u)
      << read(log);
  if (ag::cuda_device_count() == 0) {  // otherwise TrainApp.RunsOnCuda
    EXPECT_NE(run("--data " + data.string() + " --device cuda --steps 1", log), 0);
    EXPECT_NE(read(log).find("--device cuda: device 'cuda' requested, but"), std::string::npos)
        << read(log);
  }
}

// One convention across the programs: the flags it renamed fail with one
// line naming the new flag, and the choices are checked as they are read.
TEST(TrainApp, OldFlagNamesAndBadChoicesGiveOneLineErrors) {
  const fs::path log = fs::path(::testing::TempDir()) / "e2e_renamed.log";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--dataset fashion", "--dataset is now --data"},
      {"--loss l2", "--loss: l2 not in {simple,vlb,hybrid}"},
      {"--param v", "--param: v not in {eps,x0,xprev}"},
      {"--var learned_range", "--var: learned_range not in {large,small,learned}"},
      {"--t-sampler second_moment", "--t-sampler: second_moment not in {uniform,importance}"},
      {"--schedule quad", "--schedule: quad not in {linear,cosine}"},
      {"--final-sampler ddim2", "--final-sampler: ddim2 not in {ddpm,ddim}"},
      {"--batch 4097", "--batch: Value 4097 not in range 1 to 4096"},
      {"--sample-n 10001", "--sample-n: Value 10001 not in range 1 to 10000"}};
  for (const auto& [args, error] : cases) {
    EXPECT_NE(run(args, log), 0) << args;
    EXPECT_EQ(read(log), "train_mnist: error: " + error + " (see --help)\n");
  }
  const fs::path ckpt = fs::path(::testing::TempDir()) / "e2e_renamed.safetensors";
  { std::ofstream(ckpt) << "never read"; }
  const std::vector<std::pair<std::string, std::string>> sample_cases = {
      {"--sampler ancestral", "--sampler: ancestral not in {ddpm,ddim} (see --help)"},
      {"--save-tensor s.safetensors",
       "--save-tensor takes no file now: it writes samples.safetensors in --out (see --help)"},
      {"--progression p.png",
       "--progression takes no file now: it writes progression.png in --out (see --help)"},
      {"--out grid.png",
       "--out grid.png: --out is a folder now (the grid is "
       "<folder>/samples.png)"},
      {"--seed -1", "--seed: a seed is a whole number in [0, 2^64 - 1], got -1 (see --help)"}};
  for (const auto& [args, error] : sample_cases) {
    EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt.string() + " " + args, log), 0) << args;
    EXPECT_EQ(read(log), "sample: error: " + error + "\n");
  }
}

// configs/main.toml, the main job's recipe: it loads, and what the run does
// is what it says (flags beside --config override it, here to keep the run
// small; its 3,000 steps stay, and the time limit ends the run).
TEST(TrainApp, MainRecipeIsWhatTheRunUses) {
  const fs::path data = make_dataset("e2e_recipe_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_recipe_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run("--config " + std::string(CONFIGS_DIR) + "/main.toml --data " + data.string() +
                    " --out " + out.string() + kSmall + " --final-sampler ddim --minutes 0.002",
                log),
            0)
      << read(log);
  const std::string s = read(log);
  EXPECT_NE(s.find("; tiny U-Net, 1112801 parameters;"), std::string::npos) << s;
  EXPECT_NE(
      s.find("[train] 3000 steps or 0.002 minutes, batch 4, lr 0.001 (warm-up 200), "
             "clip 1, EMA 0.999; loss simple, t uniform, param eps, var small, schedule linear, T "
             "20; seed 0\n"),
      std::string::npos)
      << s;
  const io::SafetensorsFile ckpt = io::load_safetensors((out / "ckpt.safetensors").string());
  EXPECT_EQ(ckpt.metadata.at("var"), "small");
  EXPECT_EQ(ckpt.metadata.at("rng.data").rfind("2 ", 0), 0u);  // seed 0 + the data stream
  EXPECT_NE(run("--config " + std::string(CONFIGS_DIR) + "/nope.toml", log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: " + std::string(CONFIGS_DIR) +
                           "/nope.toml was not readable (missing?) (see --help)\n");
  const fs::path typo = out / "typo.toml";
  { std::ofstream(typo) << "lr = 1e-3\nsetps = 10\n"; }
  EXPECT_NE(run("--config " + typo.string(), log), 0);
  EXPECT_EQ(read(log), "train_mnist: error: INI was not able to parse setps (see --help)\n");
}

// A --minutes run's progress line counts down the time left. The one step
// may take seconds (a sanitized build, a busy machine): the elapsed time is
// any, the time left 0:00.
TEST(TrainApp, ProgressLineShowsTimeLeft) {
  const fs::path data = make_dataset("e2e_eta_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_eta_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run("--data " + data.string() + " --out " + out.string() + kSmall +
                    " --final-sampler ddim --minutes 0.002",
                log),
            0)
      << read(log);
  const std::string text = read(log);
  const size_t at = text.find(" step/s, elapsed ");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string line = text.substr(at, text.find('\n', at) - at);
  EXPECT_NE(line.find(", ETA 0:00 | loss "), std::string::npos) << text;
}

// train_mnist and sample with --device cuda: a few steps, a checkpoint, the
// grids; skipped where no CUDA device is present.
TEST(TrainApp, RunsOnCuda) {
  AG_SKIP_WITHOUT_CUDA();
  const fs::path data = make_dataset("e2e_cuda_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_cuda_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run("--data " + data.string() + " --out " + out.string() + kSmall +
                    " --steps 2 --device cuda",
                log),
            0)
      << read(log);
  EXPECT_NE(read(log).find("on cuda"), std::string::npos) << read(log);
  EXPECT_EQ(png_size(out / "samples.png"), std::make_pair(62, 62));
  const std::string ckpt = (out / "ckpt.safetensors").string();
  ASSERT_EQ(
      run_exe(SAMPLE_EXE,
              "--ckpt " + ckpt + " -n 4 --sampler ddim --sample-steps 3 --device cuda --out " +
                  (out / "cuda").string(),
              log),
      0)
      << read(log);
  EXPECT_EQ(png_size(out / "cuda" / "samples.png"), std::make_pair(62, 62));
}

namespace {

// The number of frames in a GIF file (-1 if giflib cannot read it), and
// whether its palette is all greys.
std::pair<int, bool> gif_frames_and_grey(const fs::path& p) {
  int error = 0;
  GifFileType* gif = DGifOpenFileName(p.c_str(), &error);
  if (!gif) return {-1, false};
  const int frames = DGifSlurp(gif) == GIF_OK ? gif->ImageCount : -1;
  bool grey = gif->SColorMap != nullptr;
  for (int i = 0; grey && i < gif->SColorMap->ColorCount; ++i) {
    const GifColorType& c = gif->SColorMap->Colors[i];
    grey = c.Red == c.Green && c.Green == c.Blue;
  }
  DGifCloseFile(gif, &error);
  return {frames, grey};
}

}  // namespace

TEST(SampleApp, GridProgressionAndInterpolation) {
  const fs::path data = make_dataset("e2e_sample_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_sample_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run("--data " + data.string() + " --out " + out.string() + kSmall + " --steps 2", log),
            0)
      << read(log);
  EXPECT_EQ(png_size(out / "samples.png"), std::make_pair(62, 62));
  const std::string ckpt = (out / "ckpt.safetensors").string();
  // Every output in the --out folder, under the names train_mnist uses too.
  const fs::path grid = out / "grid";
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 9 --sampler ddim --sample-steps 10 --threads 1 --out " +
                        grid.string() + " --progression --save-tensor --interpolate" +
                        " --pairs 2 --interp-t 5 --gif --png-dir " + (grid / "each").string() +
                        " --data " + data.string(),
                    log),
            0)
      << read(log);
  EXPECT_EQ(png_size(grid / "samples.png"), std::make_pair(92, 92));  // 3 x 3 cells
  // Labelled montages, each picture drawn 2x: 10 steps x (4 x 2 rows), and
  // a, 9 mixes, b in one row per pair; the labels widen them by font widths.
  const auto [progression_w, progression_h] = png_size(grid / "progression.png");
  EXPECT_GT(progression_w, 10 * 56);
  EXPECT_GT(progression_h, 8 * 56);
  EXPECT_LT(progression_h, 9 * 56 + 80);
  const auto [interpolation_w, interpolation_h] = png_size(grid / "interpolation.png");
  EXPECT_GT(interpolation_w, 11 * 56);
  EXPECT_GT(interpolation_h, 2 * 56);
  EXPECT_LT(interpolation_h, 3 * 56 + 80);
  // The 10 DDIM steps, then x_0; grey digits, grey frames.
  EXPECT_EQ(gif_frames_and_grey(grid / "denoising.gif"), std::make_pair(11, true));
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(png_size(grid / "each" / ("sample_0000" + std::to_string(i) + ".png")),
              std::make_pair(28, 28));
  EXPECT_FALSE(fs::exists(grid / "each" / "sample_00009.png"));
  const io::SafetensorsFile saved = io::load_safetensors((grid / "samples.safetensors").string());
  ASSERT_EQ(saved.tensors.size(), 1u);
  EXPECT_EQ(saved.tensors[0].first, "samples");
  EXPECT_EQ(saved.tensors[0].second.shape(), (ag::Shape{9, 1, 28, 28}));
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 1 --threads 1 --out " + (out / "one").string(), log),
            0)
      << read(log);  // ancestral: T = 20 steps, from the checkpoint's metadata
  EXPECT_NE(read(log).find("20/20"), std::string::npos) << read(log);
  { std::ofstream(out / "bad.safetensors") << "garbage"; }
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + (out / "bad.safetensors").string(), log), 0);
  EXPECT_NE(read(log).find("sample: error:"), std::string::npos) << read(log);
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt /nonexistent.safetensors", log), 0);
  // Checked before sampling, so no work is lost: an --out folder that cannot
  // be made, and an interpolation timestep beyond the checkpoint's T.
  const std::string blocked = (out / "ckpt.safetensors" / "dir").string();
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --out " + blocked, log), 0);
  EXPECT_EQ(
      read(log).rfind("sample: error: --out " + blocked + ": not a folder that can be created", 0),
      0u)
      << read(log);
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --png-dir " + blocked, log), 0);
  EXPECT_EQ(read(log).rfind(
                "sample: error: --png-dir " + blocked + ": not a folder that can be created", 0),
            0u)
      << read(log);
  EXPECT_NE(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " --interpolate --interp-t 20 --out " + grid.string(), log),
            0);
  EXPECT_EQ(read(log), "sample: error: --interp-t 20 outside [0, 20) of this checkpoint\n");
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --out ''", log), 0);
  EXPECT_EQ(read(log), "sample: error: --out must name a folder\n");
  // A later output that is a directory fails before the grid is rewritten.
  const std::string grid_before = read(grid / "samples.png");
  fs::remove(grid / "samples.safetensors");
  fs::create_directories(grid / "samples.safetensors");
  EXPECT_NE(
      run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --out " + grid.string() + " --save-tensor", log), 0);
  EXPECT_EQ(read(log), "sample: error: --save-tensor " + (grid / "samples.safetensors").string() +
                           ": is a directory\n");
  EXPECT_EQ(read(grid / "samples.png"), grid_before);
  // The checkpoint's T must be a whole number in range ("5abc" was read as 5).
  io::SafetensorsFile file = io::load_safetensors(ckpt);
  const std::string bad_T = (out / "bad_T.safetensors").string();
  for (const std::string T : {"5abc", "0", "99999999999999999999"}) {
    file.metadata["T"] = T;
    io::save_safetensors(bad_T, file.tensors, file.metadata);
    EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + bad_T, log), 0);
    EXPECT_EQ(read(log), "sample: error: " + bad_T +
                             ": metadata 'T' is not a number of timesteps in [1, 100000]: '" + T +
                             "'\n");
  }
}

TEST(Imaging, GridLayoutAndValues) {
  // 3 images of 2x2: -1 (black), 0 (mid grey), 1 (white); 2 columns, pad 1.
  std::vector<float> v;
  for (float value : {-1.0f, 0.0f, 1.0f}) v.insert(v.end(), 4, value);
  const imaging::Image g = imaging::make_grid(ag::from_vector(v, {3, 1, 2, 2}), 2, 1);
  EXPECT_EQ(g.width, 2 * 3 + 1);
  EXPECT_EQ(g.height, 2 * 3 + 1);
  EXPECT_EQ(g.pixels[1 * g.width + 1], 0);    // first cell
  EXPECT_EQ(g.pixels[1 * g.width + 4], 128);  // second cell: round(127.5)
  EXPECT_EQ(g.pixels[4 * g.width + 1], 255);  // third cell, next row
  EXPECT_EQ(g.pixels[0], 0);                  // padding
  EXPECT_THROW(imaging::make_grid(ag::zeros({2, 2}), 1), std::runtime_error);
}

// A diverged model samples NaN; its pixels show black (converting NaN to a
// byte is undefined behaviour, which the sanitizer suite stops on).
TEST(Imaging, GridShowsNanAsBlack) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> v = {nan, 1.0f};  // two 1x1 images
  const imaging::Image g = imaging::make_grid(ag::from_vector(v, {2, 1, 1, 1}), 2, 0);
  ASSERT_EQ(g.pixels.size(), 2u);
  EXPECT_EQ(g.pixels[0], 0);
  EXPECT_EQ(g.pixels[1], 255);
}

TEST(Imaging, WritesPngAtomically) {
  const fs::path p = fs::path(::testing::TempDir()) / "grid.png";
  const imaging::Image grid = imaging::make_grid(ag::zeros({3, 1, 5, 7}), 3, 1);
  imaging::write_png(p.string(), grid);
  EXPECT_EQ(png_size(p), std::make_pair(3 * 7 + 4, 5 + 2));
  EXPECT_THROW(imaging::write_png("/nonexistent/dir/x.png", grid), std::runtime_error);
}

namespace {

// Every value finite and in [-1, 1] (the samplers clip x_0), and the samples
// neither constant nor all alike: each sample's pixels spread by more than
// 0.05, and no two samples are equal.
void expect_real_samples(const fs::path& file, int64_t n) {
  SCOPED_TRACE(file.string());
  const io::SafetensorsFile saved = io::load_safetensors(file.string());
  ASSERT_EQ(saved.tensors.size(), 1u);
  const ag::Tensor& samples = saved.tensors[0].second;
  ASSERT_EQ(samples.shape(), (ag::Shape{n, 1, 28, 28}));
  const std::vector<float> v = samples.to_vector<float>();
  const size_t d = 28 * 28;
  std::vector<std::vector<float>> images;
  for (int64_t i = 0; i < n; ++i) {
    images.emplace_back(v.begin() + i * d, v.begin() + (i + 1) * d);
    double mean = 0, var = 0;
    for (float x : images.back()) {
      ASSERT_TRUE(std::isfinite(x)) << "sample " << i;
      ASSERT_LE(std::abs(x), 1.0f) << "sample " << i;
      mean += x / static_cast<double>(d);
    }
    for (float x : images.back()) var += (x - mean) * (x - mean) / static_cast<double>(d);
    EXPECT_GT(std::sqrt(var), 0.05) << "sample " << i << " is nearly constant";
    for (int64_t j = 0; j < i; ++j)
      EXPECT_TRUE(images[j] != images.back()) << "samples " << j << " and " << i << " are equal";
  }
}

}  // namespace

// The samples train_mnist and sample --save-tensor write are images: not NaN,
// not zeros, not one constant.
TEST(SampleApp, SavedSampleTensorsAreRealImages) {
  const fs::path data = make_dataset("e2e_saved_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "e2e_saved_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run("--data " + data.string() + " --out " + out.string() + kSmall + " --steps 2", log),
            0)
      << read(log);
  expect_real_samples(out / "samples.safetensors", 4);
  for (const char* sampler : {"ddpm", "ddim"}) {
    const fs::path dir = out / sampler;
    ASSERT_EQ(
        run_exe(SAMPLE_EXE,
                "--ckpt " + (out / "ckpt.safetensors").string() + " -n 3 --sampler " + sampler +
                    " --sample-steps 4 --threads 1 --save-tensor --out " + dir.string(),
                log),
        0)
        << read(log);
    expect_real_samples(dir / "samples.safetensors", 3);
  }
}
