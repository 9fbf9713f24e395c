// Determinism on the CPU. The same seed and thread count give a bitwise
// identical run: train_mnist twice, in two processes, writes the same
// checkpoint and samples, tensor by tensor. Another thread count changes the
// order of some float32 sums (conv2d's per-thread weight-gradient partials,
// OpenBLAS's split of a GEMM), so 1 and 2 threads agree to rounding only:
// checked for conv2d on both CPU algorithms, Winograd and im2col, and for a
// U-Net training step's loss and gradients. The reductions to one number
// give the same bits on any thread count.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "app_helpers.h"
#include "autograd/cpu/winograd.h"
#include "autograd/fused.h"
#include "autograd/kernels/conv_geometry.h"
#include "autograd/ops.h"
#include "diffusion/diffusion.h"
#include "diffusion/schedule.h"
#include "io/safetensors.h"
#include "nn/unet.h"

namespace {

using namespace apps_test;
using namespace ag;

// ---- The same seed and thread count: bitwise identical ----

// Both files hold the same tensors, byte for byte, and the same metadata.
void expect_same_tensors(const fs::path& a, const fs::path& b) {
  SCOPED_TRACE(a.filename().string());
  const io::SafetensorsFile fa = io::load_safetensors(a.string());
  const io::SafetensorsFile fb = io::load_safetensors(b.string());
  EXPECT_EQ(fa.metadata, fb.metadata);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (size_t i = 0; i < fa.tensors.size(); ++i) {
    const auto& [name, ta] = fa.tensors[i];
    const Tensor& tb = fb.tensors[i].second;
    ASSERT_EQ(name, fb.tensors[i].first);
    ASSERT_EQ(ta.dtype(), tb.dtype()) << name;
    ASSERT_EQ(ta.shape(), tb.shape()) << name;
    const size_t bytes = static_cast<size_t>(ta.numel()) * dtype_size(ta.dtype());
    EXPECT_EQ(std::memcmp(ta.data_ptr(), tb.data_ptr(), bytes), 0) << name << " differs";
  }
}

// Every value of every tensor in the file is finite, and not all are zero.
void expect_finite_and_nonzero(const fs::path& p) {
  double total = 0.0;
  for (const auto& [name, t] : io::load_safetensors(p.string()).tensors)
    for (double v : t.to_vector<double>()) {
      ASSERT_TRUE(std::isfinite(v)) << p << ": " << name;
      total += std::abs(v);
    }
  EXPECT_GT(total, 0.0) << p;
}

// Two runs of train_mnist with seed 0 on 2 threads: Adam, the EMA, dropout,
// the data order and the final samples all come out the same.
TEST(Determinism, SameSeedAndThreadsGiveBitwiseIdenticalRuns) {
  const fs::path data = make_dataset("determinism_data", 40);
  const std::string flags =
      " --T 20 --batch 4 --sample-n 4 --sample-steps 2 --sample-every 0 --steps 3 --threads 2";
  std::vector<fs::path> outs;
  for (const char* name : {"determinism_a", "determinism_b"}) {
    const fs::path out = fs::path(::testing::TempDir()) / name;
    fs::remove_all(out);
    const fs::path log = out.string() + ".log";
    ASSERT_EQ(
        run_exe(TRAIN_MNIST_EXE, "--data " + data.string() + " --out " + out.string() + flags, log),
        0)
        << read(log);
    EXPECT_NE(read(log).find("2 CPU threads"), std::string::npos) << read(log);
    outs.push_back(out);
  }
  for (const char* file : {"ckpt.safetensors", "samples.safetensors"}) {
    expect_finite_and_nonzero(outs[0] / file);
    expect_same_tensors(outs[0] / file, outs[1] / file);
  }
}

// ---- 1 and 2 threads: the same to float32 rounding ----

// Runs body() with `threads` OpenMP threads, which the OpenMP build of
// OpenBLAS follows too (it reads omp_get_max_threads() on every call), and
// restores the count after. A parallel region must really get them all,
// even where there are fewer cores.
template <class F>
auto with_threads(int threads, const F& body) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  int team = 0;  // what a parallel region gets, as the kernels' do
#pragma omp parallel
#pragma omp single
  team = omp_get_num_threads();
  EXPECT_EQ(team, threads);
  auto result = body();
  omp_set_num_threads(saved);
  return result;
}

// a (the 2-thread result) is b (the 1-thread one) to within tol of b's
// largest magnitude, and b is finite and not all zero.
::testing::AssertionResult agree(const std::vector<float>& a, const std::vector<float>& b,
                                 double tol) {
  if (a.size() != b.size())
    return ::testing::AssertionFailure() << a.size() << " values vs " << b.size();
  double scale = 0.0, worst = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    if (!std::isfinite(b[i])) return ::testing::AssertionFailure() << "non-finite at " << i;
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  if (scale == 0.0) return ::testing::AssertionFailure() << "all zero";
  if (!(worst <= tol * scale))
    return ::testing::AssertionFailure() << "max diff " << worst << " > " << tol << " x " << scale;
  return ::testing::AssertionSuccess() << "max diff " << worst << " of " << scale;
}

Tensor normal(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, &gen);
}

struct ConvCase {
  int64_t N, C, H, W, K, R, stride, pad;
};

// y = conv2d(x, w, b) and its gradients for a seeded dy, in float32.
struct ConvResult {
  std::vector<float> y, dx, dw, db;
};

ConvResult conv_run(const ConvCase& c) {
  Tensor x = normal({c.N, c.C, c.H, c.W}, 1).set_requires_grad(true);
  Tensor w = normal({c.K, c.C, c.R, c.R}, 2).set_requires_grad(true);
  Tensor b = normal({c.K}, 3).set_requires_grad(true);
  Tensor y = conv2d(x, w, b, c.stride, c.pad);
  y.backward(normal(y.shape(), 4));
  return {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>(),
          b.grad().to_vector<float>()};
}

bool takes_winograd(const ConvCase& c) {
  const Tensor x = zeros({c.N, c.C, c.H, c.W}), w = zeros({c.K, c.C, c.R, c.R});
  return cpu::winograd_applies(conv_geometry(x.ref(), w.ref(), Conv2dParams{c.stride, c.pad}));
}

// 1 vs 2 threads for conv2d, and 2 threads twice (bitwise). The shapes are
// the tiny U-Net's at 28 x 28, where the two thread counts sum in another
// order and differ by up to about 1.5e-6 of the largest value.
void expect_threads_agree(const ConvCase& c) {
  const ConvResult one = with_threads(1, [&] { return conv_run(c); });
  const ConvResult two = with_threads(2, [&] { return conv_run(c); });
  const ConvResult again = with_threads(2, [&] { return conv_run(c); });
  const double tol = 1e-5;
  EXPECT_TRUE(agree(two.y, one.y, tol)) << "y";
  EXPECT_TRUE(agree(two.dx, one.dx, tol)) << "dx";
  EXPECT_TRUE(agree(two.dw, one.dw, tol)) << "dw";
  EXPECT_TRUE(agree(two.db, one.db, tol)) << "db";
  EXPECT_EQ(again.y, two.y);
  EXPECT_EQ(again.dx, two.dx);
  EXPECT_EQ(again.dw, two.dw);
  EXPECT_EQ(again.db, two.db);
}

// 3x3, stride 1, padding 1 takes Winograd. A sample of 32 + 32 channels of
// 28 x 28 transforms to 441 KiB of tiles, more than a 256 KiB block, so each
// of the 4 samples is a block: each thread takes 2 and sums its own dw
// partial, (b0 + b1) + (b2 + b3) where 1 thread sums b0 + b1 + b2 + b3.
TEST(Determinism, ConvWinogradOneAndTwoThreadsAgree) {
  const ConvCase c{4, 32, 28, 28, 32, 3, 1, 1};
  ASSERT_TRUE(takes_winograd(c));
  expect_threads_agree(c);
}

// Strided: im2col. 1 thread runs the 4 samples as one GEMM of 4 x 14 x 14
// columns; 2 threads take 2 samples each, one GEMM of half the width, and
// add their dw partials.
TEST(Determinism, ConvIm2colSamplesSplitOneAndTwoThreadsAgree) {
  const ConvCase c{4, 32, 28, 28, 32, 3, 2, 1};
  ASSERT_FALSE(takes_winograd(c));
  expect_threads_agree(c);
}

// One sample: im2col runs one GEMM (32 x 288 by 288 x 256 for y), which
// OpenBLAS splits over the 2 threads.
TEST(Determinism, ConvIm2colOneSampleOneAndTwoThreadsAgree) {
  const ConvCase c{1, 32, 32, 32, 32, 3, 2, 1};
  ASSERT_FALSE(takes_winograd(c));
  expect_threads_agree(c);
}

// The reductions to one number (sum, mse_loss, and the sum of squares behind
// clip_grad_norm) add fixed blocks in a fixed order: the same bits on any
// thread count, and on repeats (OpenMP's reduction(+) added the threads'
// partials as they finished). Oversubscribing 2 cores with 8 threads
// scrambles the finishing order most.
TEST(Determinism, FullReductionsGiveTheSameBitsOnAnyThreadCount) {
  const Tensor x = normal({1 << 20}, 8), y = normal({1 << 20}, 9);
  const auto reduce = [&] {
    Tensor squares = zeros({1}, DType::F64);
    fused::add_sum_squares(x, squares);
    return std::vector<double>{sum(x).item(), mse_loss(x, y).item(), squares.item()};
  };
  const std::vector<double> one = with_threads(1, reduce);
  double squares = 0.0;  // in order, one term at a time
  for (float v : x.to_vector<float>()) squares += static_cast<double>(v) * v;
  EXPECT_NEAR(one[2], squares, 1e-10 * squares);
  EXPECT_NEAR(one[2], 1 << 20, 0.01 * (1 << 20));  // about n for unit normals
  for (int threads : {2, 3, 4, 8})
    for (int repeat = 0; repeat < 20; ++repeat)
      ASSERT_EQ(with_threads(threads, reduce), one) << threads << " threads, repeat " << repeat;
}

// One step of Algorithm 1 on the tiny U-Net (Winograd, im2col, GroupNorm,
// attention, dropout): the loss and every parameter's gradient.
struct StepResult {
  double loss;
  std::vector<std::pair<std::string, std::vector<float>>> grads;  // by parameter name
};

StepResult unet_step() {
  nn::UNet model(nn::unet_preset("tiny"), 5);
  {
    // DDPM's near-zero output layers would leave every gradient but theirs
    // near zero, and the loss near mean(eps^2) whatever the network does.
    NoGradGuard no_grad;
    Generator gen(6);
    for (const Tensor& p : model.parameters()) p.copy_(p + randn(p.shape(), &gen) * 0.05);
  }
  const diffusion::GaussianDiffusion diff(
      diffusion::make_schedule(diffusion::ScheduleKind::Linear, 1000),
      diffusion::ModelMeanType::Eps, diffusion::ModelVarType::FixedLarge);
  Generator gen(7);
  const Tensor x0 = rand({4, 1, 28, 28}, &gen) * 2.0 - 1.0;
  const Tensor t = diffusion::sample_timesteps(4, 1000, gen);
  const Tensor noise = randn(x0.shape(), &gen);
  auto net = [&](const Tensor& x, const Tensor& tt) { return model.forward(x, tt); };
  Tensor loss = mean(diff.training_losses(net, x0, t, noise, diffusion::LossType::Simple));
  loss.backward();
  StepResult r{loss.item(), {}};
  for (const auto& [name, p] : model.named_parameters())
    r.grads.emplace_back(name, p.grad().to_vector<float>());
  return r;
}

// The largest magnitude in g.
double max_abs(const std::vector<float>& g) {
  double m = 0.0;
  for (float v : g) m = std::max(m, std::abs(static_cast<double>(v)));
  return m;
}

// Softmax ignores a shift shared by all keys, and an attention block's key
// bias adds q . b_k to every key alike: its gradient is zero but for
// rounding, so its size alone is checked.
bool gradient_is_rounding(const std::string& name) {
  const std::string key_bias = ".k.bias";
  return name.size() >= key_bias.size() &&
         name.compare(name.size() - key_bias.size(), key_bias.size(), key_bias) == 0;
}

// Every gradient differs between 1 and 2 threads, by up to about 6e-6 of
// its largest value.
TEST(Determinism, UNetStepOneAndTwoThreadsAgree) {
  const StepResult one = with_threads(1, unet_step);
  const StepResult two = with_threads(2, unet_step);
  EXPECT_GT(one.loss, 0.0);
  EXPECT_NEAR(two.loss, one.loss, 1e-6 * one.loss);
  ASSERT_EQ(two.grads.size(), one.grads.size());
  double scale = 0.0;
  for (const auto& [name, g] : one.grads) scale = std::max(scale, max_abs(g));
  for (size_t i = 0; i < one.grads.size(); ++i) {
    const auto& [name, g] = one.grads[i];
    ASSERT_EQ(two.grads[i].first, name);
    if (gradient_is_rounding(name)) {
      EXPECT_LE(max_abs(g), 1e-6 * scale) << name;
      EXPECT_LE(max_abs(two.grads[i].second), 1e-6 * scale) << name;
    } else {
      EXPECT_TRUE(agree(two.grads[i].second, g, 1e-4)) << name;
    }
  }
}

}  // namespace
