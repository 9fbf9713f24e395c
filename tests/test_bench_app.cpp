// apps/bench end to end: the smallest configuration prints a table row and
// JSON with positive figures, the step it times is train_mnist's (with the
// EMA), --loop times train_mnist's loop beside it, --parity writes its file
// (for cifar10 at 3x32x32), and bad flags exit non-zero with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "app_helpers.h"
#include "autograd/device.h"
#include "tests/cuda_skip.h"

namespace {

using namespace apps_test;

const char* kQuick = " --presets tiny --batches 2 --reps 1 --warmup-reps 0 --threads 1";

int run_bench(const std::string& args, const fs::path& log) {
  return run_exe(BENCH_EXE, args, log);
}

fs::path log_path(const std::string& name) { return fs::path(::testing::TempDir()) / name; }

}  // namespace

TEST(BenchApp, TableRowHasPositiveFigures) {
  const fs::path log = log_path("bench_table.log");
  ASSERT_EQ(run_bench(kQuick, log), 0) << read(log);
  const std::string out = read(log);
  const size_t row = out.find("\ntiny ");
  ASSERT_NE(row, std::string::npos) << out;
  long batch = 0, params = 0;
  double step_ms = 0, img_s = 0, sample_ms = 0, peak_mb = 0, rss_mb = -1;
  ASSERT_EQ(std::sscanf(out.c_str() + row, " tiny %ld %ld %lf %lf %lf %lf %lf", &batch, &params,
                        &step_ms, &img_s, &sample_ms, &peak_mb, &rss_mb),
            7)
      << out;
  EXPECT_EQ(batch, 2);
  EXPECT_EQ(params, 1112801);
  EXPECT_GT(step_ms, 0);
  EXPECT_NEAR(img_s, 2e3 / step_ms, 0.05 * img_s + 0.1);
  EXPECT_GT(sample_ms, 0);
  // Weights, gradients, two Adam moments, and train_mnist's EMA and the model
  // it samples with: the step is train_mnist's, not one without the EMA.
  EXPECT_GT(peak_mb, 6 * params * 4 / 1e6);
  EXPECT_GT(rss_mb, 4 * params * 4 / 1e6);  // the same, touched in this process's memory
}

TEST(BenchApp, TimesTrainMnistsStep) {
  const fs::path log = log_path("bench_header.log");
  ASSERT_EQ(run_bench(kQuick, log), 0) << read(log);
  EXPECT_NE(read(log).find("train_mnist's training step (batch copy, forward, L_simple, backward, "
                           "clip, Adam, EMA)"),
            std::string::npos)
      << read(log);
}

// --loop: the same step inside train_mnist's loop (here with a checkpoint
// every step), timed beside the bare step; its scratch folder is removed.
TEST(BenchApp, LoopTimesTrainMnistsLoop) {
  const fs::path log = log_path("bench_loop.log");
  ASSERT_EQ(
      run_bench(
          "--presets tiny --batches 2 --reps 2 --warmup-reps 0 --threads 1 --loop --ckpt-every 1 "
          "--sample-every 0 --json",
          log),
      0)
      << read(log);
  const std::string out = read(log);
  const nlohmann::json j = nlohmann::json::parse(out.substr(out.find('{')));
  const auto& r = j["rows"][0];
  for (const char* key : {"step_ms", "loop_ms", "loop_mean_ms"})
    EXPECT_GT(r[key].get<double>(), 0) << key;
  ASSERT_EQ(run_bench(std::string(kQuick) + " --loop --ckpt-every 500", log), 0) << read(log);
  EXPECT_NE(read(log).find("a checkpoint\nevery 500 steps, a grid every 500"), std::string::npos)
      << read(log);
  EXPECT_NE(read(log).find("  loop ms  loop mean\ntiny "), std::string::npos) << read(log);
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path()))
    EXPECT_EQ(entry.path().filename().string().rfind("bench_loop_", 0), std::string::npos);
}

TEST(BenchApp, JsonHasOneRowPerConfiguration) {
  const fs::path log = log_path("bench_json.log");
  ASSERT_EQ(run_bench(std::string(kQuick) + " --json", log), 0) << read(log);
  const nlohmann::json j = nlohmann::json::parse(read(log));
  EXPECT_EQ(j["threads"], 1);
  ASSERT_EQ(j["rows"].size(), 1u);
  const auto& r = j["rows"][0];
  EXPECT_EQ(r["preset"], "tiny");
  EXPECT_EQ(r["batch"], 2);
  for (const char* key : {"step_ms", "img_s", "sample_ms", "peak_mb"})
    EXPECT_GT(r[key].get<double>(), 0) << key;
}

// --device cuda: the row's figures come from the device (its allocator's
// peak holds at least the weights, gradients and Adam moments); skipped where
// no CUDA device is present, and an error there.
TEST(BenchApp, RunsOnCuda) {
  const fs::path log = log_path("bench_cuda.log");
  if (ag::cuda_device_count() == 0) {
    EXPECT_NE(run_bench(std::string(kQuick) + " --device cuda", log), 0);
    const std::string out = read(log);
    EXPECT_EQ(out.rfind("bench: error: ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  AG_SKIP_WITHOUT_CUDA();
  ASSERT_EQ(run_bench(std::string(kQuick) + " --device cuda --json", log), 0) << read(log);
  const nlohmann::json j = nlohmann::json::parse(read(log));
  EXPECT_EQ(j["device"], "cuda");
  const auto& r = j["rows"][0];
  for (const char* key : {"step_ms", "img_s", "sample_ms"}) EXPECT_GT(r[key].get<double>(), 0);
  EXPECT_GT(r["peak_mb"].get<double>(), 4 * 1112801 * 4 / 1e6);
}

TEST(BenchApp, ParityWritesWeightsProbeAndResults) {
  const fs::path file = log_path("bench_parity.safetensors");
  const fs::path log = log_path("bench_parity.log");
  ASSERT_EQ(run_bench("--presets tiny --threads 1 --parity " + file.string(), log), 0) << read(log);
  const std::string header = read(file).substr(0, 20000);  // the JSON header comes first
  for (const char* name : {"probe.x", "probe.t", "probe.noise", "probe.y", "\"grad_norm\"",
                           "\"loss\"", "conv_out.weight", "mid.attn.q.weight"})
    EXPECT_NE(header.find(name), std::string::npos) << name;
}

// Each preset is timed on images of the shape it was made for: the paper's
// CIFAR-10 model and its probe are 3x32x32.
TEST(BenchApp, Cifar10PresetTakesCifarShapedImages) {
  const fs::path file = log_path("bench_parity_cifar10.safetensors");
  const fs::path log = log_path("bench_parity_cifar10.log");
  ASSERT_EQ(run_bench("--presets cifar10 --threads 1 --parity " + file.string(), log), 0)
      << read(log);
  const std::string raw = read(file);
  uint64_t n = 0;
  ASSERT_GE(raw.size(), sizeof n);
  std::memcpy(&n, raw.data(), sizeof n);  // the header's length, little-endian
  const nlohmann::json header = nlohmann::json::parse(raw.substr(sizeof n, n));
  for (const char* probe : {"probe.x", "probe.noise", "probe.y"})
    EXPECT_EQ(header[probe]["shape"], nlohmann::json({4, 3, 32, 32})) << probe;
  EXPECT_EQ(header["conv_in.weight"]["shape"], nlohmann::json({128, 3, 3, 3}));
  EXPECT_EQ(header["__metadata__"]["preset"], "cifar10");
  fs::remove(file);
}

TEST(BenchApp, BadFlagsGiveOneLineErrors) {
  const fs::path log = log_path("bench_bad.log");
  for (const char* args : {"--presets nope", "--batches 0", "--batches 4097", "--presets tiny,nope",
                           "--reps 0", "--loop --ckpt-every 0", "--loop --sample-every -1"}) {
    EXPECT_NE(run_bench(args, log), 0) << args;
    const std::string out = read(log);
    EXPECT_EQ(out.rfind("bench: error: ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  EXPECT_NE(run_bench("--warmup 2", log), 0);  // train_mnist's --warmup is the lr warm-up
  EXPECT_EQ(read(log), "bench: error: --warmup is now --warmup-reps (see --help)\n");
}
