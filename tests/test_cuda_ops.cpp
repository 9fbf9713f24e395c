// Every op on CUDA against the CPU on the same inputs: forward values and
// the gradients of every input from the same output gradient. Tolerances are
// stated per op: exact where both devices do the same IEEE operations in the
// same order; a few float32 rounding steps where the order differs (sums in
// double, cuBLAS vs OpenBLAS blocking, expf vs the CPU's polynomial exp).
// Every test skips, saying why, where no CUDA device is present.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string>

#include "autograd/allocator.h"
#include "autograd/fused.h"
#include "tests/cuda_helpers.h"

namespace ag::test {

namespace {

constexpr Tol kExact{0.0, 0.0};
constexpr Tol kElementwise{1e-6, 1e-5};  // float32: a few ulps (exp, tanh, pow, sums in double)
constexpr Tol kGemm{1e-4, 1e-4};         // float32 products of length <= 600, different blocking
constexpr Tol kDouble{1e-12, 1e-12};     // float64, any op

// A CPU leaf of uniforms in [lo, hi), for ops that need positive inputs.
Tensor uniform_leaf(const Shape& shape, uint64_t seed, double lo, double hi,
                    DType dtype = DType::F32) {
  Generator gen(seed);
  NoGradGuard no_grad;
  return affine(rand(shape, &gen, dtype), hi - lo, lo).set_requires_grad(true);
}

}  // namespace

class CudaOps : public CudaTest {};

TEST_F(CudaOps, TensorsMoveBothWaysBitForBit) {
  const Tensor f = randn({3, 5});
  const Tensor d = randn({7}, nullptr, DType::F64);
  const Tensor i = from_vector(std::vector<int32_t>{1, -2, 3}, {3});
  for (const Tensor& t : {f, d, i}) {
    const Tensor there = t.to(Device::CUDA);
    EXPECT_EQ(there.device(), Device::CUDA);
    EXPECT_EQ(there.dtype(), t.dtype());
    const Tensor back = there.to(Device::CPU);
    EXPECT_EQ(back.device(), Device::CPU);
    EXPECT_TRUE(all_close(back, t, kExact));
  }
  EXPECT_EQ(zeros({2, 2}, DType::F32, Device::CUDA).to_vector<float>(),
            std::vector<float>(4, 0.0f));
  EXPECT_EQ(full({}, 2.5, DType::F64, Device::CUDA).item(), 2.5);
  EXPECT_TRUE(all_close(arange(6, DType::F32, Device::CUDA), arange(6), kExact));
  EXPECT_TRUE(all_close(f.to(Device::CUDA).to(DType::F64), f.to(DType::F64), kExact));
  const Tensor strided = transpose(reshape(arange(12, DType::F32, Device::CUDA), {3, 4}), 0, 1);
  EXPECT_TRUE(
      all_close(strided.contiguous(), transpose(reshape(arange(12), {3, 4}), 0, 1), kExact));
}

TEST_F(CudaOps, MixingDevicesIsAClearError) {
  const Tensor cpu = zeros({2}), cuda = zeros({2}, DType::F32, Device::CUDA);
  const std::vector<std::pair<std::string, std::function<void()>>> mixes = {
      {"add", [&] { add(cpu, cuda); }},
      {"greater", [&] { greater(cpu, cuda); }},
      {"where", [&] { where(cpu, cuda, cuda); }},
      {"where", [&] { where(cuda, cuda, cpu); }}};
  for (const auto& [op, f] : mixes) {
    try {
      f();
      ADD_FAILURE() << op << " of a cpu and a cuda tensor";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(op + ": tensors on different devices"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST_F(CudaOps, BinaryOpsBroadcast) {
  const std::vector<std::pair<Shape, Shape>> shapes = {{{2, 3, 4}, {2, 3, 4}}, {{2, 3, 4}, {4}},
                                                       {{2, 3, 4}, {3, 1}},    {{2, 1, 4}, {3, 1}},
                                                       {{2, 3, 4}, {}},        {{5}, {2, 1}}};
  uint64_t seed = 1;
  for (const auto& [sa, sb] : shapes) {
    SCOPED_TRACE(shape_str(sa) + " with " + shape_str(sb));
    const Tensor a = normal_leaf(sa, seed++), b = normal_leaf(sb, seed++);
    const Tensor positive = uniform_leaf(sb, seed++, 0.5, 2.0);
    expect_cuda_matches_cpu([](auto& v) { return add(v[0], v[1]); }, {a, b}, kExact, kElementwise);
    expect_cuda_matches_cpu([](auto& v) { return sub(v[0], v[1]); }, {a, b}, kExact, kElementwise);
    expect_cuda_matches_cpu([](auto& v) { return mul(v[0], v[1]); }, {a, b}, kExact, kElementwise);
    expect_cuda_matches_cpu([](auto& v) { return div(v[0], v[1]); }, {a, positive}, kExact,
                            kElementwise);
  }
}

TEST_F(CudaOps, BinaryOpsOnStridedViews) {
  const Tensor a = normal_leaf({4, 6}, 10), b = normal_leaf({6, 4}, 11);
  expect_cuda_matches_cpu([](auto& v) { return mul(v[0], transpose(v[1], 0, 1)); }, {a, b}, kExact,
                          kElementwise);
  expect_cuda_matches_cpu([](auto& v) { return add(slice(v[0], 1, 1, 5), slice(v[1], 0, 2, 6)); },
                          {a, b}, kExact, kElementwise);
  const Tensor d = normal_leaf({4, 6}, 12, DType::F64), e = normal_leaf({6}, 13, DType::F64);
  expect_cuda_matches_cpu(
      [](auto& v) {
        return div(transpose(v[0], 0, 1), reshape(exp(v[1]), {6, 1}));
      },
      {d, e}, kDouble, kDouble);
}

TEST_F(CudaOps, ComparisonsAndWhere) {
  const std::vector<std::array<Shape, 3>> shapes = {
      {{{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}}, {{{2, 1, 4}, {3, 1}, {4}}}, {{{4}, {2, 3, 4}, {}}}};
  uint64_t seed = 40;
  for (const auto& [sc, sa, sb] : shapes) {
    SCOPED_TRACE(shape_str(sc) + ", " + shape_str(sa) + ", " + shape_str(sb));
    const Tensor c = normal_leaf(sc, seed++), a = normal_leaf(sa, seed++);
    const Tensor b = normal_leaf(sb, seed++);
    expect_cuda_matches_cpu([](auto& v) { return greater(v[0], v[1]); }, {c, a}, kExact, kExact);
    expect_cuda_matches_cpu([](auto& v) { return less(v[0], v[1]); }, {a, b}, kExact, kExact);
    expect_cuda_matches_cpu([](auto& v) { return greater(v[0], 0.25); }, {b}, kExact, kExact);
    // Gradients are sums over broadcast dimensions (sum_to), in double on both.
    expect_cuda_matches_cpu([](auto& v) { return where(greater(v[0], 0.0), v[1], v[2]); },
                            {c.detach(), a, b}, kExact, kElementwise);
  }
  const Tensor d = normal_leaf({4, 6}, 50, DType::F64), e = normal_leaf({6, 4}, 51, DType::F64);
  expect_cuda_matches_cpu(
      [](auto& v) { return where(less(v[0], 0.0), transpose(v[1], 0, 1), exp(v[0])); }, {d, e},
      kDouble, kDouble);
}

TEST_F(CudaOps, EveryUnaryOp) {
  const Tensor x = normal_leaf({3, 50}, 20);
  const Tensor pos = uniform_leaf({3, 50}, 21, 0.1, 3.0);
  const std::vector<std::pair<std::string, OpFn>> on_any = {
      {"neg", [](auto& v) { return neg(v[0]); }},
      {"exp", [](auto& v) { return exp(v[0]); }},
      {"pow3", [](auto& v) { return pow(v[0], 3.0); }},
      {"pow0", [](auto& v) { return pow(v[0], 0.0); }},
      {"square", [](auto& v) { return square(v[0]); }},
      {"sigmoid", [](auto& v) { return sigmoid(v[0]); }},
      {"silu", [](auto& v) { return silu(v[0]); }},
      {"tanh", [](auto& v) { return tanh(v[0]); }},
      {"affine", [](auto& v) { return affine(v[0], -1.5, 0.25); }},
      {"clamp", [](auto& v) { return clamp(v[0], -0.5, 0.7); }},
  };
  const std::vector<std::pair<std::string, OpFn>> on_positive = {
      {"log", [](auto& v) { return log(v[0]); }},
      {"sqrt", [](auto& v) { return sqrt(v[0]); }},
      {"pow0.5", [](auto& v) { return pow(v[0], 0.5); }},
  };
  for (DType dtype : {DType::F32, DType::F64}) {
    const Tol tol = dtype == DType::F32 ? kElementwise : kDouble;
    for (const auto& [name, f] : on_any) {
      SCOPED_TRACE(name + " " + dtype_name(dtype));
      expect_cuda_matches_cpu(f, {x.detach().to(dtype).set_requires_grad()}, tol, tol);
    }
    for (const auto& [name, f] : on_positive) {
      SCOPED_TRACE(name + " " + dtype_name(dtype));
      expect_cuda_matches_cpu(f, {pos.detach().to(dtype).set_requires_grad()}, tol, tol);
    }
  }
}

TEST_F(CudaOps, SumAndMean) {
  const Tensor x = normal_leaf({3, 4, 5}, 30);
  for (const std::vector<int>& axes :
       std::vector<std::vector<int>>{{0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}}) {
    SCOPED_TRACE(::testing::PrintToString(axes));
    expect_cuda_matches_cpu([&](auto& v) { return sum(v[0], axes); }, {x}, kElementwise,
                            kElementwise);
    expect_cuda_matches_cpu([&](auto& v) { return mean(v[0], axes, true); }, {x}, kElementwise,
                            kElementwise);
  }
  // One long row (partial sums across blocks), many long rows (a block per
  // row), long columns (a thread per column).
  const Tol big{1e-4, 1e-6};
  expect_cuda_matches_cpu([](auto& v) { return sum(v[0]); }, {normal_leaf({300001}, 31)}, big,
                          kExact);
  expect_cuda_matches_cpu([](auto& v) { return sum(v[0], {1}); }, {normal_leaf({5, 70000}, 32)},
                          big, kExact);
  expect_cuda_matches_cpu([](auto& v) { return sum(v[0], {0}); }, {normal_leaf({70000, 5}, 33)},
                          big, kExact);
  expect_cuda_matches_cpu([](auto& v) { return mean(v[0]); }, {normal_leaf({4, 9}, 34, DType::F64)},
                          kDouble, kDouble);
}

TEST_F(CudaOps, MatmulPlainBatchedAndTransposed) {
  const Tensor a = normal_leaf({7, 33}, 40), b = normal_leaf({33, 9}, 41);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], v[1]); }, {a, b}, kGemm, kGemm);
  const Tensor ba = normal_leaf({3, 7, 33}, 42), bb = normal_leaf({3, 33, 9}, 43);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], v[1]); }, {ba, bb}, kGemm, kGemm);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], v[1]); }, {ba, b}, kGemm, kGemm);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], v[1]); }, {a, bb}, kGemm, kGemm);
  // Attention's pattern: q^T k and v w^T on (N, C, HW) views, no copies.
  const Tensor q = normal_leaf({2, 16, 49}, 44), k = normal_leaf({2, 16, 49}, 45);
  expect_cuda_matches_cpu([](auto& v) { return matmul(transpose(v[0], 1, 2), v[1]); }, {q, k},
                          kGemm, kGemm);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], transpose(v[1], 1, 2)); }, {q, k},
                          kGemm, kGemm);
  const Tensor da = normal_leaf({5, 6}, 46, DType::F64),
               db = normal_leaf({2, 6, 3}, 47, DType::F64);
  expect_cuda_matches_cpu([](auto& v) { return matmul(v[0], v[1]); }, {da, db}, kDouble, kDouble);
}

TEST_F(CudaOps, ShapeOps) {
  const Tensor a = normal_leaf({2, 3, 4}, 50), b = normal_leaf({3, 2, 4}, 51);
  expect_cuda_matches_cpu(
      [](auto& v) {
        return reshape(permute(v[0], {2, 0, 1}), {4, 6});
      },
      {a}, kExact, kExact);
  expect_cuda_matches_cpu([](auto& v) { return contiguous(transpose(v[0], 0, 2)); }, {a}, kExact,
                          kExact);
  expect_cuda_matches_cpu([](auto& v) { return slice(v[0], 2, 1, 3) * 2.0; }, {a}, kExact, kExact);
  expect_cuda_matches_cpu(
      [](auto& v) {
        return concat({v[0], permute(v[1], {1, 0, 2}), v[0]}, 1);
      },
      {a, b}, kExact, kExact);
  expect_cuda_matches_cpu([](auto& v) { return concat({v[0], v[0]}, -1); }, {a}, kExact, kExact);
  expect_cuda_matches_cpu(
      [](auto& v) {
        return expand(slice(v[0], 0, 0, 1), {3, 3, 4});
      },
      {a}, kExact, kElementwise);
}

TEST_F(CudaOps, Conv2d) {
  struct Case {
    int64_t N, C, H, K, kernel, stride, padding;
    bool bias;
  };
  const std::vector<Case> cases = {
      {3, 4, 9, 5, 3, 1, 1, true},   // the U-Net's 3x3 convolutions
      {3, 4, 9, 5, 3, 2, 1, true},   // Downsample: stride 2 over an odd size
      {2, 6, 8, 3, 1, 1, 0, true},   // pointwise (1x1): no im2col
      {2, 3, 7, 4, 3, 1, 0, false},  // no padding, no bias
      {2, 3, 8, 2, 4, 3, 2, true},   // uneven kernel, stride and padding
      {0, 3, 6, 4, 3, 1, 1, true},   // an empty batch: dw and dbias are zero
  };
  uint64_t seed = 60;
  for (const Case& c : cases) {
    SCOPED_TRACE("N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " H" +
                 std::to_string(c.H) + " K" + std::to_string(c.K) + " kernel" +
                 std::to_string(c.kernel) + " stride" + std::to_string(c.stride) + " pad" +
                 std::to_string(c.padding));
    const Tensor x = normal_leaf({c.N, c.C, c.H, c.H}, seed++);
    const Tensor w = normal_leaf({c.K, c.C, c.kernel, c.kernel}, seed++, DType::F32, 0.3);
    // Without a bias, the third input is ignored and needs no gradient.
    const Tensor b = c.bias ? normal_leaf({c.K}, seed++) : zeros({c.K});
    auto f = [c](auto& v) {
      return conv2d(v[0], v[1], c.bias ? v[2] : Tensor(), c.stride, c.padding);
    };
    expect_cuda_matches_cpu(f, {x, w, b}, kGemm, kGemm);
    expect_cuda_matches_cpu(f, {x, w.detach(), b.detach()}, kGemm, kGemm);  // dx alone
    expect_cuda_matches_cpu(f, {x.detach(), w, b}, kGemm, kGemm);           // dw, dbias alone
    expect_cuda_matches_cpu(f, {x.to(DType::F64), w.to(DType::F64), b.to(DType::F64)}, kDouble,
                            kDouble);
  }
}

TEST_F(CudaOps, Conv2dOverSeveralChunks) {
  // 576 x 784 column entries per sample: 74 samples per chunk of 2^25, so 80
  // samples take two chunks (dw accumulates across them).
  const Tensor x = normal_leaf({80, 64, 28, 28}, 70);
  const Tensor w = normal_leaf({4, 64, 3, 3}, 71, DType::F32, 0.05);
  const Tensor b = normal_leaf({4}, 72);
  // dw and dbias sum 62720 products each, to values of a few hundred. Two
  // float32 orders of such a sum differ by up to about 8e-3 (measured on the
  // CPU: Winograd against float64 5.4e-3; a sequential order per chunk, as a
  // GEMM without split-K may take, 7.9e-3), so atol is 2e-2: still 1e-4 of
  // the values, far below what a lost or doubled chunk would change.
  auto f = [](auto& v) { return conv2d(v[0], v[1], v[2], 1, 1); };
  expect_cuda_matches_cpu(f, {x, w.detach(), b.detach()}, kGemm, kGemm);  // dx: 36-term sums
  expect_cuda_matches_cpu(f, {x.detach(), w, b}, kGemm, Tol{2e-2, 1e-3});
}

TEST_F(CudaOps, UpsampleNearest2x) {
  expect_cuda_matches_cpu([](auto& v) { return upsample_nearest2x(v[0]); },
                          {normal_leaf({2, 3, 5, 7}, 80)}, kExact, kExact);
}

TEST_F(CudaOps, GroupNorm) {
  for (int64_t G : {1, 4, 8}) {
    SCOPED_TRACE("groups " + std::to_string(G));
    const Tensor x = normal_leaf({3, 8, 12, 12}, 90, DType::F32, 2.0, 0.5);  // groups > a block
    const Tensor gamma = normal_leaf({8}, 91, DType::F32, 0.5, 1.0);
    const Tensor beta = normal_leaf({8}, 92);
    auto f = [G](auto& v) { return group_norm(v[0], G, v[1], v[2]); };
    expect_cuda_matches_cpu(f, {x, gamma, beta}, Tol{1e-5, 1e-5}, Tol{1e-5, 1e-4});
    expect_cuda_matches_cpu(f, {x, gamma.detach(), beta.detach()}, Tol{1e-5, 1e-5},
                            Tol{1e-5, 1e-4});
    expect_cuda_matches_cpu(f, {x.to(DType::F64), gamma.to(DType::F64), beta.to(DType::F64)},
                            kDouble, kDouble);
  }
}

TEST_F(CudaOps, Softmax) {
  // Last axis (a warp per row): shorter and longer than a warp; middle axis
  // (a thread per line).
  expect_cuda_matches_cpu([](auto& v) { return softmax(v[0], -1); },
                          {normal_leaf({6, 20}, 100, DType::F32, 3.0)}, kElementwise, kElementwise);
  expect_cuda_matches_cpu([](auto& v) { return softmax(v[0], -1); },
                          {normal_leaf({2, 196, 196}, 101, DType::F32, 3.0)}, kElementwise,
                          kElementwise);
  expect_cuda_matches_cpu([](auto& v) { return softmax(v[0], 1); },
                          {normal_leaf({2, 7, 5}, 102, DType::F32, 3.0)}, kElementwise,
                          kElementwise);
  expect_cuda_matches_cpu([](auto& v) { return softmax(v[0], 0); },
                          {normal_leaf({7, 40}, 103, DType::F64, 3.0)}, kDouble, kDouble);
}

// Indices on the CUDA device, or on the CPU (where timesteps are drawn) for a
// table on the device; bad ones of either kind are caught before any kernel.
TEST_F(CudaOps, GatherAndItsScatter) {
  const Tensor table = normal_leaf({10, 3}, 110);
  const Tensor idx = from_vector(std::vector<int32_t>{3, 3, 0, 9, 3}, {5});
  const Tensor idx_cuda = idx.to(Device::CUDA);
  expect_cuda_matches_cpu(
      [&](auto& v) { return gather(v[0], v[0].device() == Device::CPU ? idx : idx_cuda); }, {table},
      kExact, kExact);
  expect_cuda_matches_cpu([&](auto& v) { return gather(v[0], idx); }, {table}, kExact, kExact);
  const Tensor table_cuda = table.detach().to(Device::CUDA);
  for (const Tensor& bad : {from_vector(std::vector<int32_t>{1, 10}, {2}, Device::CUDA),
                            from_vector(std::vector<int32_t>{-1, 1}, {2})}) {
    try {
      gather(table_cuda, bad);
      FAIL() << "an index outside the table";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("out of range"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(gather(table.detach(), idx_cuda), std::runtime_error);  // CUDA indices, CPU table
}

TEST_F(CudaOps, DropoutDrawsTheCpuMask) {
  const Tensor x = normal_leaf({4, 1000}, 120);
  for (double p : {0.1, 0.5}) {
    SCOPED_TRACE(p);
    Generator g(7);
    g.set_state(7, 1234);
    expect_cuda_matches_cpu(
        [&](auto& v) {
          Generator copy = g;  // the same generator state on both devices
          return dropout(v[0], p, true, &copy);
        },
        {x}, kExact, kExact);
  }
}

TEST_F(CudaOps, RandomStreamEqualsTheCpus) {
  for (int64_t n : {1, 3, 4, 4003}) {
    SCOPED_TRACE(n);
    Generator cpu_gen(99), cuda_gen(99);
    for (DType dtype : {DType::F32, DType::F64}) {
      EXPECT_TRUE(
          all_close(rand({n}, &cuda_gen, dtype, Device::CUDA), rand({n}, &cpu_gen, dtype), kExact));
      // Normals come from log, cos and sin in double: equal to a few double
      // ulps, so to the float rounding of those.
      const Tol normal_tol = dtype == DType::F64 ? Tol{1e-14, 1e-13} : Tol{0.0, 2e-7};
      EXPECT_TRUE(all_close(randn({n}, &cuda_gen, dtype, Device::CUDA), randn({n}, &cpu_gen, dtype),
                            normal_tol));
    }
    EXPECT_EQ(cuda_gen.offset(), cpu_gen.offset());
  }
  Generator a(5), b(5);
  const std::vector<double> five = randn({5}, &a, DType::F64, Device::CUDA).to_vector<double>();
  const std::vector<double> many = randn({1000}, &b, DType::F64, Device::CUDA).to_vector<double>();
  EXPECT_EQ(five, std::vector<double>(many.begin(), many.begin() + 5));
  Generator c(0);
  c.set_state(0, 11031643);  // a block whose word rounds to 1.0f
  for (float u : rand({4}, &c, DType::F32, Device::CUDA).to_vector<float>()) EXPECT_LT(u, 1.0f);
}

TEST_F(CudaOps, MseLoss) {
  const Tensor a = normal_leaf({4, 1, 6, 6}, 130), b = normal_leaf({4, 1, 6, 6}, 131);
  expect_cuda_matches_cpu([](auto& v) { return mse_loss(v[0], v[1]); }, {a, b}, kElementwise,
                          kElementwise);
}

TEST_F(CudaOps, MemoryStaysFlatAcrossSteps) {
  const Tensor w = normal_leaf({8, 4, 3, 3}, 140).detach().to(Device::CUDA).set_requires_grad();
  const Tensor x = randn({2, 4, 12, 12}, nullptr, DType::F32, Device::CUDA);
  auto step = [&] {
    mean(square(silu(conv2d(x, w, Tensor(), 1, 1)))).backward();
    w.zero_grad();
  };
  step();
  step();
  const AllocatorStats before = cuda_allocator().stats();
  step();
  const AllocatorStats after = cuda_allocator().stats();
  EXPECT_EQ(after.system_allocs, before.system_allocs);
  EXPECT_EQ(after.in_use, before.in_use);
}

// The fused optimizer kernels (autograd/fused.h) on inputs chosen so that one
// update moves every element by far more than the tolerance of the
// comparison: a CUDA kernel that does nothing, or drops a term, cannot pass.
namespace {

// +-(0.5 + |z|) for standard normals z: values bounded away from 0.
std::vector<double> away_from_zero(int64_t n, uint64_t seed) {
  std::vector<double> v = normal_leaf({n}, seed, DType::F64).to_vector<double>();
  for (double& x : v) x = std::copysign(0.5 + std::abs(x), x);
  return v;
}

Tensor from_values(const std::vector<double>& v, DType dtype) {
  return from_vector(v, {static_cast<int64_t>(v.size())}).to(dtype);
}

// Adam at step 3 from g = +-(0.5 + |z|), m = 0.3 g, v = 0.5 g^2 and
// parameters ~ N(0, 1): every parameter moves by about 0.02, m by 0.07 |g|
// and v by 5e-4 g^2.
struct AdamInputs {
  Tensor param, grad, m, v;
};

AdamInputs adam_inputs(DType dtype) {
  const int64_t n = 1000;
  const std::vector<double> g = away_from_zero(n, 150);
  std::vector<double> m, v;
  for (double x : g) m.push_back(0.3 * x), v.push_back(0.5 * x * x);
  return {normal_leaf({n}, 151, dtype).detach(), from_values(g, dtype), from_values(m, dtype),
          from_values(v, dtype)};
}

AdamStepArgs adam_args(bool decoupled) {
  AdamStepArgs a;
  a.lr = 0.2;
  a.weight_decay = 0.01;
  a.decoupled = decoupled;
  a.bias_correction1 = 1 - std::pow(a.beta1, 3);
  a.bias_correction2 = 1 - std::pow(a.beta2, 3);
  return a;
}

AdamInputs on_device(const AdamInputs& in, Device device) {
  return {in.param.to(device).clone(), in.grad.to(device).clone(), in.m.to(device).clone(),
          in.v.to(device).clone()};
}

// The EMA at decay 0.9 towards parameters 0.5 to 4 away: it moves by 0.05 or more.
struct EmaInputs {
  Tensor ema, param;
};

EmaInputs ema_inputs(DType dtype) {
  const std::vector<double> ema = normal_leaf({1000}, 152, DType::F64).to_vector<double>();
  std::vector<double> param = away_from_zero(1000, 153);
  for (size_t i = 0; i < param.size(); ++i) param[i] += ema[i];
  return {from_values(ema, dtype), from_values(param, dtype)};
}
constexpr double kEmaDecay = 0.9;

Tol fused_tol(DType dtype) { return dtype == DType::F64 ? kDouble : kElementwise; }

// Every element moved by more than `factor` times the tolerance `tol` allows
// at its new value.
::testing::AssertionResult moves_far(const Tensor& before, const Tensor& after, Tol tol,
                                     double factor) {
  const std::vector<double> a = before.to_vector<double>(), b = after.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(b[i] - a[i]) > factor * (tol.atol + tol.rtol * std::abs(b[i]))))
      return ::testing::AssertionFailure()
             << "element " << i << " moved from " << a[i] << " to " << b[i] << " only";
  return ::testing::AssertionSuccess();
}

// The CPU reference's updates, checked on every machine (the CUDA tests
// below skip without a device): far larger than the tolerance, so no kernel
// that leaves its inputs as they were passes the comparisons.
void expect_cpu_updates_are_large(DType dtype) {
  for (bool decoupled : {false, true}) {
    const AdamInputs before = adam_inputs(dtype), after = on_device(before, Device::CPU);
    fused::adam_step(after.param, after.grad, after.m, after.v, adam_args(decoupled));
    EXPECT_TRUE(moves_far(before.param, after.param, fused_tol(dtype), 100)) << "param";
    EXPECT_TRUE(moves_far(before.m, after.m, fused_tol(dtype), 100)) << "m";
    EXPECT_TRUE(moves_far(before.v, after.v, fused_tol(dtype), 20)) << "v";
  }
  const EmaInputs ema = ema_inputs(dtype);
  const Tensor moved = ema.ema.clone();
  fused::ema_update(moved, ema.param, kEmaDecay);
  EXPECT_TRUE(moves_far(ema.ema, moved, fused_tol(dtype), 100)) << "ema";
}

}  // namespace

TEST(FusedParityInputs, CpuUpdatesDwarfTheTolerance) {
  for (DType dtype : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dtype));
    expect_cpu_updates_are_large(dtype);
  }
}

TEST_F(CudaOps, AdamStepMatchesCpu) {
  for (DType dtype : {DType::F32, DType::F64}) {
    for (bool decoupled : {false, true}) {
      SCOPED_TRACE(testing::Message() << dtype_name(dtype) << ", decoupled " << decoupled);
      const AdamInputs in = adam_inputs(dtype);
      const AdamInputs cpu = on_device(in, Device::CPU), gpu = on_device(in, Device::CUDA);
      fused::adam_step(cpu.param, cpu.grad, cpu.m, cpu.v, adam_args(decoupled));
      fused::adam_step(gpu.param, gpu.grad, gpu.m, gpu.v, adam_args(decoupled));
      ASSERT_EQ(gpu.param.device(), Device::CUDA);
      EXPECT_TRUE(all_close(gpu.param, cpu.param, fused_tol(dtype))) << "param";
      EXPECT_TRUE(all_close(gpu.m, cpu.m, fused_tol(dtype))) << "m";
      EXPECT_TRUE(all_close(gpu.v, cpu.v, fused_tol(dtype))) << "v";
      EXPECT_TRUE(all_close(gpu.grad, in.grad, kExact)) << "grad is read only";
      EXPECT_TRUE(moves_far(in.param, cpu.param, fused_tol(dtype), 100));
    }
  }
}

TEST_F(CudaOps, EmaUpdateMatchesCpu) {
  for (DType dtype : {DType::F32, DType::F64}) {
    SCOPED_TRACE(dtype_name(dtype));
    const EmaInputs in = ema_inputs(dtype);
    const Tensor cpu = in.ema.clone(), gpu = in.ema.to(Device::CUDA).clone();
    fused::ema_update(cpu, in.param, kEmaDecay);
    fused::ema_update(gpu, in.param.to(Device::CUDA), kEmaDecay);
    ASSERT_EQ(gpu.device(), Device::CUDA);
    EXPECT_TRUE(all_close(gpu, cpu, fused_tol(dtype)));
    EXPECT_TRUE(moves_far(in.ema, cpu, fused_tol(dtype), 100));
  }
}

// Without a device, asking for CUDA is a one-line error; with one, CUDA
// tensors are made and no reason for unavailability is given.
TEST(CudaAvailability, CudaTensorsOrAClearError) {
  if (cuda_device_count() > 0) {
    EXPECT_EQ(zeros({2}, DType::F32, Device::CUDA).device(), Device::CUDA);
    EXPECT_NO_THROW(cuda_allocator());
    EXPECT_TRUE(cuda_unavailable_reason().empty()) << cuda_unavailable_reason();
    return;
  }
  try {
    zeros({2}, DType::F32, Device::CUDA);
    FAIL() << "a CUDA tensor without a CUDA device";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find("device 'cuda' requested, but "), 0u) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_THROW(cuda_allocator(), std::runtime_error);
  EXPECT_FALSE(cuda_unavailable_reason().empty());
}

// cuBLAS, which a CUDA build opens at a device's first matrix product, loads
// without a device too; a build without CUDA says it has none.
TEST(CudaAvailability, CublasLoadsOnDemand) {
#if AG_WITH_CUDA
  const std::string path = load_cublas();
  EXPECT_NE(path.find("libcublas.so"), std::string::npos) << path;
  EXPECT_EQ(load_cublas(), path);
#else
  EXPECT_THROW(load_cublas(), std::runtime_error);
#endif
}

// AG_REQUIRE_CUDA=1 turns the skips into failures: this binary, rerun on one
// CUDA test with it set, exits non-zero exactly when no device is present.
TEST(CudaAvailability, RequireCudaTurnsSkipsIntoFailures) {
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof self - 1), 0);
  const std::string cmd = std::string("AG_REQUIRE_CUDA=1 '") + self +
                          "' --gtest_filter=CudaOps.TensorsMoveBothWaysBitForBit >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status) != 0, cuda_device_count() == 0) << "exit " << WEXITSTATUS(status);
}

}  // namespace ag::test
