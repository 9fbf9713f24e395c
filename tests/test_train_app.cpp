// train_mnist end to end on a tiny synthetic IDX dataset: a few steps, a
// checkpoint, a sample grid of the right size, exact --resume, and clear
// errors with non-zero exits for bad flags and paths. Also the PNG helpers.
#include <gtest/gtest.h>

#include <algorithm>
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

const char* kSmall = " --T 20 --batch 4 --sample-n 4 --sample-steps 2 --sample-every 0 --threads 1";

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
  EXPECT_NE(read(out.string() + ".log").find("interrupted: resume with --resume"),
            std::string::npos);
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
  if (ag::cuda_device_count() == 0) {  // otherwise TrainApp.RunsOnCuda
    EXPECT_NE(run("--data " + data.string() + " --device cuda --steps 1", log), 0);
    EXPECT_NE(read(log).find("--device cuda: device 'cuda' requested, but"), std::string::npos)
        << read(log);
  }
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
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 4 --sampler ddim --steps 3 --device cuda --out " +
                        (out / "cuda.png").string(),
                    log),
            0)
      << read(log);
  EXPECT_EQ(png_size(out / "cuda.png"), std::make_pair(62, 62));
}

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
  ASSERT_EQ(
      run_exe(SAMPLE_EXE,
              "--ckpt " + ckpt + " -n 9 --sampler ddim --steps 10 --threads 1 --out " +
                  (out / "grid.png").string() + " --progression " + (out / "prog.png").string() +
                  " --interpolate " + (out / "interp.png").string() +
                  " --pairs 2 --interp-t 5 --data " + data.string(),
              log),
      0)
      << read(log);
  EXPECT_EQ(png_size(out / "grid.png"), std::make_pair(92, 92));     // 3 x 3 cells
  EXPECT_EQ(png_size(out / "prog.png"), std::make_pair(302, 482));   // 10 steps x (8 x 2) rows
  EXPECT_EQ(png_size(out / "interp.png"), std::make_pair(332, 62));  // a, 9 mixes, b; 2 pairs
  ASSERT_EQ(
      run_exe(SAMPLE_EXE,
              "--ckpt " + ckpt + " -n 1 --threads 1 --out " + (out / "one.png").string(), log),
      0)
      << read(log);  // ancestral: T = 20 steps, from the checkpoint's metadata
  EXPECT_NE(read(log).find("20/20"), std::string::npos) << read(log);
  { std::ofstream(out / "bad.safetensors") << "garbage"; }
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + (out / "bad.safetensors").string(), log), 0);
  EXPECT_NE(read(log).find("sample: error:"), std::string::npos) << read(log);
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt /nonexistent.safetensors", log), 0);
  // Checked before sampling, so no work is lost: outputs whose folder does
  // not exist, and an interpolation timestep beyond the checkpoint's T.
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --out /nonexistent/dir/grid.png", log), 0);
  EXPECT_EQ(read(log),
            "sample: error: --out /nonexistent/dir/grid.png: directory /nonexistent/dir does not "
            "exist\n");
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --interpolate x.png --interp-t 20", log), 0);
  EXPECT_EQ(read(log), "sample: error: --interp-t 20 outside [0, 20) of this checkpoint\n");
  EXPECT_NE(run_exe(SAMPLE_EXE, "--ckpt " + ckpt + " --out ''", log), 0);
  EXPECT_EQ(read(log), "sample: error: --out must name a PNG file\n");
  // A later output that is a directory fails before the grid is rewritten.
  const std::string grid_before = read(out / "grid.png");
  EXPECT_NE(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " --out " + (out / "grid.png").string() + " --save-tensor " +
                        out.string(),
                    log),
            0);
  EXPECT_EQ(read(log), "sample: error: --save-tensor " + out.string() + ": is a directory\n");
  EXPECT_EQ(read(out / "grid.png"), grid_before);
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

// A diverged run's NaN and inf losses are left out of the curve (converting
// them to pixels once made the line drawing loop for 2^63 steps).
TEST(Imaging, CurveSkipsValuesThatAreNotFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto dark = [](const imaging::Image& im) {
    return std::count(im.pixels.begin(), im.pixels.end(), 0);
  };
  const int64_t axes = dark(imaging::plot_curve({}));
  EXPECT_EQ(dark(imaging::plot_curve({nan, inf, -inf})), axes);
  const imaging::Image part = imaging::plot_curve({1.0, 0.5, nan, 0.25, inf, 0.2});
  EXPECT_GT(dark(part), axes);
  EXPECT_LT(dark(part), dark(imaging::plot_curve({1.0, 0.5, 0.4, 0.25, 0.22, 0.2})));
}

TEST(Imaging, WritesPngAtomically) {
  const fs::path p = fs::path(::testing::TempDir()) / "curve.png";
  imaging::write_png(p.string(), imaging::plot_curve({1.0, 0.5, 0.25, 0.2}));
  EXPECT_EQ(png_size(p), std::make_pair(640, 360));
  EXPECT_THROW(imaging::write_png("/nonexistent/dir/x.png", imaging::plot_curve({1.0})),
               std::runtime_error);
}
