// A user's own pictures end to end: a folder of RGB PNGs trains (cropped and
// resized, with flips), resumes, samples and is scored in bits/dim, and the
// classifier scores refuse what they are not defined for.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "app_helpers.h"
#include "apps/imaging/image.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"

namespace {

using namespace apps_test;

int train(const std::string& args, const fs::path& log) {
  return run_exe(TRAIN_MNIST_EXE, args, log);
}

// n pictures of 20x12 (wider than high: the loader crops them square), each
// a red-to-blue gradient with a green bar whose place depends on i.
fs::path make_folder(const std::string& name, int n) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::remove_all(dir);
  fs::create_directories(dir / "more");
  for (int i = 0; i < n; ++i) {
    imaging::Image im{20, 12, 3, std::vector<uint8_t>(20 * 12 * 3)};
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 20; ++x) {
        uint8_t* p = &im.pixels[(y * 20 + x) * 3];
        p[0] = static_cast<uint8_t>(12 * x);
        p[1] = std::abs(x - 4 - 2 * i) < 2 ? 255 : 0;
        p[2] = static_cast<uint8_t>(255 - 12 * x);
      }
    // Half of them one folder down: the loader looks into subfolders.
    const fs::path sub = i % 2 ? dir / "more" : dir;
    imaging::write_png((sub / ("p" + std::to_string(i) + ".png")).string(), im);
  }
  return dir;
}

}  // namespace

TEST(OwnImages, RgbFolderTrainsResumesSamplesAndEvaluates) {
  const fs::path data = make_folder("own_rgb", 6);
  const fs::path out = fs::path(::testing::TempDir()) / "own_rgb_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  const std::string args =
      "--data " + data.string() + " --resolution 8 --flip --out " + out.string() + kSmall;
  ASSERT_EQ(train(args + " --steps 2", log), 0) << read(log);
  EXPECT_NE(read(log).find("6 training images, 3x8x8, random flips"), std::string::npos)
      << read(log);
  const imaging::Image grid = imaging::read_image((out / "samples.png").string());
  EXPECT_EQ(grid.channels, 3);
  EXPECT_EQ(grid.width, 2 * 8 + 3 * 2);  // 2 x 2 cells of 8 and 2 pad
  const std::string ckpt = (out / "ckpt.safetensors").string();
  const nn::UNetConfig c = nn::checkpoint_config(ckpt);
  EXPECT_EQ(c.in_ch, 3);
  EXPECT_EQ(c.resolution, 8);
  const io::Metadata md = io::load_safetensors(ckpt).metadata;
  EXPECT_EQ(md.at("resolution"), "8");
  EXPECT_EQ(md.at("channels"), "3");
  EXPECT_EQ(md.at("flip"), "true");

  // --resume takes the shape from the checkpoint; another shape conflicts.
  ASSERT_EQ(train("--resume " + ckpt + " --steps 3", log), 0) << read(log);
  EXPECT_EQ(lines(out / "loss.csv"), 1 + 3);
  EXPECT_NE(train("--resume " + ckpt + " --steps 4 --resolution 16", log), 0);
  EXPECT_NE(read(log).find("--resolution 16 conflicts with"), std::string::npos) << read(log);

  const fs::path pics = out / "pictures";
  ASSERT_EQ(run_exe(SAMPLE_EXE,
                    "--ckpt " + ckpt + " -n 4 --sampler ddim --sample-steps 3 --threads 1" +
                        " --progression --gif --interpolate --pairs 2 --interp-t 5 --data " +
                        data.string() + " --out " + pics.string(),
                    log),
            0)
      << read(log);
  EXPECT_EQ(imaging::read_image((pics / "samples.png").string()).channels, 3);
  EXPECT_EQ(imaging::read_image((pics / "interpolation.png").string()).channels, 3);
  EXPECT_TRUE(fs::exists(pics / "denoising.gif"));

  ASSERT_EQ(run_exe(EVALUATE_EXE,
                    "--nll --ckpt " + ckpt + " -n 4 --threads 1 --data " + data.string(), log),
            0)
      << read(log);
  const std::string nll = read(log);
  const size_t at = nll.find("NLL bound");
  ASSERT_NE(at, std::string::npos) << nll;
  const double bpd = std::stod(nll.substr(at + 9));
  EXPECT_TRUE(std::isfinite(bpd) && bpd > 0) << nll;

  EXPECT_NE(run_exe(EVALUATE_EXE, "--quality --ckpt " + ckpt + " -n 4 --threads 1", log), 0);
  EXPECT_NE(read(log).find("scores 28x28 grey images only"), std::string::npos) << read(log);
  EXPECT_NE(read(log).find("is 3x8x8"), std::string::npos) << read(log);
  const std::string digits = (out / "digits.safetensors").string();
  io::save_safetensors(digits, {{"samples", ag::zeros({4, 1, 28, 28})}});
  EXPECT_NE(
      run_exe(EVALUATE_EXE, "--quality --samples " + digits + " --data " + data.string(), log), 0);
  EXPECT_NE(read(log).find("is not MNIST-style IDX data"), std::string::npos) << read(log);
}

TEST(OwnImages, FolderWithoutImagesOrWithABadOneIsAnError) {
  const fs::path empty = fs::path(::testing::TempDir()) / "own_empty";
  fs::remove_all(empty);
  fs::create_directories(empty);
  { std::ofstream(empty / "notes.txt") << "no pictures here"; }
  const fs::path log = empty.string() + ".log";
  const std::string out = " --out " + (empty / "run").string() + kSmall + " --steps 1";
  EXPECT_EQ(train("--data " + empty.string() + out, log), 1);
  EXPECT_NE(read(log).find("no PNG or JPEG images"), std::string::npos) << read(log);
  EXPECT_FALSE(fs::exists(empty / "run" / "ckpt.safetensors"));

  const fs::path bad = make_folder("own_bad", 2);
  { std::ofstream(bad / "broken.png") << "\x89PNG\r\n\x1a\n truncated"; }
  EXPECT_EQ(train("--data " + bad.string() + " --resolution 8" + out, log), 1);
  EXPECT_NE(read(log).find("broken.png"), std::string::npos) << read(log);
}

// configs/cifar10.toml, the paper's CIFAR-10 recipe, loads and runs (on a
// small stand-in for CIFAR-10's batches, with a small model, briefly).
TEST(OwnImages, Cifar10RecipeIsThePapers) {
  const fs::path data = fs::path(::testing::TempDir()) / "own_cifar";
  fs::create_directories(data);
  for (const char* name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"}) {
    std::ofstream f(data / name, std::ios::binary);
    for (int record = 0; record < 2; ++record) {
      f.put(static_cast<char>(record));
      for (int k = 0; k < 3 * 32 * 32; ++k) f.put(static_cast<char>(k % 251));
    }
  }
  const fs::path out = fs::path(::testing::TempDir()) / "own_cifar_run";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(train("--config " + std::string(CONFIGS_DIR) + "/cifar10.toml --data " + data.string() +
                      " --preset tiny --out " + out.string() + kSmall +
                      " --final-sampler ddim --minutes 0.002",
                  log),
            0)
      << read(log);
  const std::string s = read(log);
  EXPECT_NE(s.find("[train] 10 training images, 3x32x32, random flips; tiny U-Net"),
            std::string::npos)
      << s;
  EXPECT_NE(
      s.find("[train] 800000 steps or 0.002 minutes, batch 4, lr 0.0002 (warm-up 5000), "
             "clip 1, EMA 0.9999; loss simple, t uniform, param eps, var large, schedule linear"),
      std::string::npos)
      << s;
}

// figures data: the training images as the model sees them, after the crop
// and resize (a left-to-right red ramp stays one).
TEST(OwnImages, FiguresShowsTheFittedTrainingImages) {
  const fs::path data = make_folder("own_figures", 6);
  const fs::path out = fs::path(::testing::TempDir()) / "own_figures_out";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(
      run_exe(FIGURES_EXE,
              "data --data " + data.string() + " --resolution 8 -n 5 --out " + out.string(), log),
      0)
      << read(log);
  const imaging::Image grid = imaging::read_image((out / "data.png").string());
  EXPECT_EQ(grid.channels, 3);
  EXPECT_EQ(grid.width, 3 * 8 + 4 * 2);  // 5 images: 3 columns, 2 rows
  EXPECT_EQ(grid.height, 2 * 8 + 3 * 2);
  auto red = [&](int x, int y) { return grid.pixels[(y * grid.width + x) * 3]; };
  EXPECT_LT(red(2 + 0, 2 + 4) + 60, red(2 + 7, 2 + 4));
  EXPECT_NE(run_exe(FIGURES_EXE, "data --data " + data.string() + " --out " + out.string(), log),
            0);
  EXPECT_NE(read(log).find("give --resolution"), std::string::npos) << read(log);
}
