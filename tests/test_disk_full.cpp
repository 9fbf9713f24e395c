// A full disk while saving (simulated with a file-size limit, `ulimit -f`):
// a PNG through imaging::write_png, and train_mnist's checkpoint and
// sample's grid and samples.safetensors over files from an earlier run. The
// program exits 1 with one error line naming the file and the cause, and the
// earlier file is byte for byte as it was, with no temporary file beside it.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "app_helpers.h"
#include "apps/imaging/image.h"
#include "autograd/tensor.h"
#include "tests/file_size_limit.h"

namespace {

using namespace apps_test;
using ag::test::file_names;

const std::string kTooLarge = std::strerror(EFBIG);  // "File too large"

// `exe` run under `ulimit -f blocks` (512-byte blocks), which applies to the
// log its output goes to as well: the limits below leave room for that.
std::string limited(int blocks, const char* exe) {
  return "sh -c 'ulimit -f " + std::to_string(blocks) + " && exec \"$0\" \"$@\"' " + exe;
}

// The log holds one error line, its last, and it is `line`.
::testing::AssertionResult ends_with_one_error(const std::string& log, const std::string& line) {
  const size_t at = log.find("error");
  if (at == std::string::npos || log.find("error", at + 1) != std::string::npos ||
      log.size() < line.size() || log.compare(log.size() - line.size(), line.size(), line) != 0)
    return ::testing::AssertionFailure()
           << "expected one error line, the last, '" << line << "' in:\n"
           << log;
  return ::testing::AssertionSuccess();
}

}  // namespace

TEST(DiskFull, WritePngKeepsThePreviousImage) {
  const fs::path dir = fs::path(::testing::TempDir()) / "disk_full_png";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string p = (dir / "loss.png").string();
  imaging::write_png(p, imaging::make_grid(ag::rand({16, 1, 28, 28}), 4));
  const std::string previous = read(p);
  const rlim_t limit = 100;
  ASSERT_GT(previous.size(), limit);  // the next curve, as large, cannot fit
  std::string error = "no error";
  {
    const ag::test::FileSizeLimit disk(limit);
    try {
      imaging::write_png(p, imaging::make_grid(ag::rand({16, 1, 28, 28}), 4));
    } catch (const std::runtime_error& e) {
      error = e.what();
    }
  }
  EXPECT_EQ(error, p + ": cannot write: " + kTooLarge);
  EXPECT_EQ(read(p), previous);
  EXPECT_EQ(file_names(dir), std::vector<std::string>{"loss.png"});
}

// A resumed run whose checkpoint no longer fits: the checkpoint it resumed
// from is still there to resume from again.
TEST(DiskFull, TrainKeepsThePreviousCheckpoint) {
  const fs::path data = make_dataset("disk_full_train_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "disk_full_train";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  const std::string args = "--data " + data.string() + " --out " + out.string() + kSmall;
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE, args + " --steps 2", log), 0) << read(log);
  const fs::path ckpt = out / "ckpt.safetensors";
  const std::string previous = read(ckpt);
  const std::vector<std::string> files = file_names(out);
  const int blocks = 2048;  // 1 MiB: room for the log, loss.csv and loss.png
  ASSERT_GT(previous.size(), blocks * 512u);
  EXPECT_EQ(run_exe(limited(blocks, TRAIN_MNIST_EXE).c_str(),
                    args + " --steps 4 --resume " + ckpt.string(), log),
            1);
  EXPECT_TRUE(ends_with_one_error(
      read(log),
      "train_mnist: error: " + ckpt.string() + ": cannot save: cannot write: " + kTooLarge + "\n"));
  EXPECT_EQ(read(ckpt), previous);
  EXPECT_EQ(file_names(out), files);
}

// sample's grid, then its --save-tensor file, each over the one an earlier
// run (another seed) wrote.
TEST(DiskFull, SampleKeepsThePreviousSamples) {
  const fs::path data = make_dataset("disk_full_sample_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "disk_full_sample";
  fs::remove_all(out);
  const fs::path log = out.string() + ".log";
  ASSERT_EQ(run_exe(TRAIN_MNIST_EXE,
                    "--data " + data.string() + " --out " + (out / "run").string() + kSmall +
                        " --steps 2",
                    log),
            0)
      << read(log);
  const fs::path grid = out / "samples.png", tensor = out / "samples.safetensors";
  const std::string args = "--ckpt " + (out / "run" / "ckpt.safetensors").string() +
                           " -n 36 --sampler ddim --sample-steps 2 --threads 1 --save-tensor" +
                           " --out " + out.string();
  ASSERT_EQ(run_exe(SAMPLE_EXE, args + " --seed 1", log), 0) << read(log);
  const std::string previous_grid = read(grid), previous_tensor = read(tensor);
  const std::vector<std::string> files = file_names(out);

  const int grid_blocks = 8;  // 4 KiB: room for the log, not for the grid
  ASSERT_GT(previous_grid.size(), grid_blocks * 512u);
  EXPECT_EQ(run_exe(limited(grid_blocks, SAMPLE_EXE).c_str(), args + " --seed 2", log), 1);
  EXPECT_TRUE(ends_with_one_error(
      read(log), "sample: error: " + grid.string() + ": cannot write: " + kTooLarge + "\n"));
  EXPECT_EQ(read(grid), previous_grid);
  EXPECT_EQ(read(tensor), previous_tensor);
  EXPECT_EQ(file_names(out), files);

  const int tensor_blocks = 128;  // 64 KiB: room for the grid, not for 36 x 28 x 28 floats
  ASSERT_LT(previous_grid.size(), tensor_blocks * 512u);
  ASSERT_GT(previous_tensor.size(), tensor_blocks * 512u);
  EXPECT_EQ(run_exe(limited(tensor_blocks, SAMPLE_EXE).c_str(), args + " --seed 2", log), 1);
  EXPECT_TRUE(ends_with_one_error(
      read(log),
      "sample: error: " + tensor.string() + ": cannot save: cannot write: " + kTooLarge + "\n"));
  EXPECT_NE(read(grid), previous_grid);  // the grid, which fitted, is the new one
  EXPECT_EQ(read(tensor), previous_tensor);
  EXPECT_EQ(file_names(out), files);
}

// loss.csv that cannot grow (the limit is 512 bytes; 30 steps log more) is
// an error at the latest when it is flushed before a checkpoint, never a
// silent gap, and no checkpoint gets ahead of its log. The output goes
// through a pipe, to which the limit does not apply.
TEST(DiskFull, TrainReportsALossLogThatCannotGrow) {
  const fs::path data = make_dataset("disk_full_csv_data", 16);
  const fs::path out = fs::path(::testing::TempDir()) / "disk_full_csv";
  fs::remove_all(out);
  const std::string cmd = limited(1, TRAIN_MNIST_EXE) + " --data " + data.string() + " --out " +
                          out.string() + kSmall + " --steps 30 --ckpt-every 30 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  const fs::path csv = out / "loss.csv";
  EXPECT_TRUE(ends_with_one_error(
      output, "train_mnist: error: " + csv.string() + ": cannot write: " + kTooLarge + "\n"));
  EXPECT_LE(fs::file_size(csv), 512u);
  EXPECT_FALSE(fs::exists(out / "ckpt.safetensors"));
}
