// conv2d and upsample_nearest2x: forward values against hand computations and
// a direct seven-loop reference, gradients against central differences (full
// Jacobians on small shapes, directional checks at U-Net scale).
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tests/gradcheck.h"

namespace ag::test {
namespace {

struct ConvCase {
  int64_t N, C, H, W, K, R, S, stride, pad;
  bool bias;
};

std::string describe(const ConvCase& c) {
  return "N=" + std::to_string(c.N) + " C=" + std::to_string(c.C) + " H=" + std::to_string(c.H) +
         " W=" + std::to_string(c.W) + " K=" + std::to_string(c.K) + " R=" + std::to_string(c.R) +
         " S=" + std::to_string(c.S) + " stride=" + std::to_string(c.stride) +
         " pad=" + std::to_string(c.pad) + (c.bias ? " bias" : " no bias");
}

// Standard normals without grad.
Tensor normal(const Shape& shape, uint64_t seed, DType dtype = DType::F64) {
  Generator gen(seed);
  return randn(shape, &gen, dtype);
}

// y[n,k,p,q] = sum_{c,r,s} w[k,c,r,s] x[n,c,p*stride-pad+r, q*stride-pad+s] + b[k],
// straight from the definition; b may be undefined.
std::vector<double> conv2d_reference(const Tensor& x, const Tensor& w, const Tensor& b,
                                     int64_t stride, int64_t pad) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = w.size(0), R = w.size(2), S = w.size(3);
  const int64_t P = (H + 2 * pad - R) / stride + 1, Q = (W + 2 * pad - S) / stride + 1;
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(K);
  std::vector<double> y(static_cast<size_t>(N * K * P * Q));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          double acc = bv[k];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = p * stride - pad + r, iw = q * stride - pad + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += wv[((k * C + c) * R + r) * S + s] * xv[((n * C + c) * H + ih) * W + iw];
              }
          y[((n * K + k) * P + p) * Q + q] = acc;
        }
  return y;
}

// conv2d of `c` on seeded normals in `dtype`, compared with the reference.
::testing::AssertionResult matches_reference(const ConvCase& c, DType dtype, double tol) {
  Tensor x = normal({c.N, c.C, c.H, c.W}, 1, dtype);
  Tensor w = normal({c.K, c.C, c.R, c.S}, 2, dtype);
  Tensor b = c.bias ? normal({c.K}, 3, dtype) : Tensor();
  Tensor y = conv2d(x, w, b, c.stride, c.pad);
  const int64_t P = (c.H + 2 * c.pad - c.R) / c.stride + 1;
  const int64_t Q = (c.W + 2 * c.pad - c.S) / c.stride + 1;
  if (y.shape() != Shape{c.N, c.K, P, Q} || y.dtype() != dtype)
    return ::testing::AssertionFailure() << "output shape " << shape_str(y.shape());
  return values_near(y, conv2d_reference(x, w, b, c.stride, c.pad), tol);
}

// The inputs of a gradcheck of `c`: x, w and (when c.bias) b, all float64 leaves.
std::vector<Tensor> conv_leaves(const ConvCase& c) {
  std::vector<Tensor> in{rand_leaf({c.N, c.C, c.H, c.W}, 11), rand_leaf({c.K, c.C, c.R, c.S}, 12)};
  if (c.bias) in.push_back(rand_leaf({c.K}, 13));
  return in;
}

Fn conv_fn(const ConvCase& c) {
  return [c](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), c.stride, c.pad);
  };
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

const ConvCase kUNet{4, 32, 28, 28, 32, 3, 3, 1, 1, true};
const ConvCase kUNetDown{4, 32, 28, 28, 32, 3, 3, 2, 1, true};

TEST(Conv2dForward, HandComputedValid) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_TRUE(values_near(conv2d(x, w, Tensor()), {37, 47, 67, 77}, 1e-12));
  Tensor b = from_vector(std::vector<double>{0.5}, {1});
  EXPECT_TRUE(values_near(conv2d(x, w, b), {37.5, 47.5, 67.5, 77.5}, 1e-12));
}

TEST(Conv2dForward, HandComputedStrideAndPadding) {
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = from_vector(std::vector<float>{1, 2, 3, 4}, {1, 1, 2, 2});
  Tensor y = conv2d(x, w, Tensor(), 2, 1);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_TRUE(values_near(y, {4, 18, 36, 77}, 1e-6));
}

TEST(Conv2dForward, MatchesReference) {
  const std::vector<ConvCase> cases = {
      {2, 3, 7, 6, 4, 3, 3, 1, 1, true},   // 3x3 "same", H != W
      {2, 3, 7, 7, 5, 3, 3, 2, 1, false},  // strided
      {1, 4, 5, 5, 2, 3, 3, 1, 0, true},   // no padding
      {3, 5, 4, 4, 6, 1, 1, 1, 0, true},   // 1x1: GEMM straight on the input
      {2, 3, 6, 6, 4, 1, 1, 2, 0, false},  // 1x1 strided
      {2, 2, 5, 5, 3, 1, 1, 1, 1, true},   // 1x1 padded
      {1, 2, 6, 7, 3, 2, 3, 2, 2, true},   // non-square kernel, wide padding
      {2, 1, 3, 3, 1, 3, 3, 3, 0, true},   // a single output pixel
      {2, 2, 7, 6, 3, 5, 5, 1, 2, true},   // 5x5 "same": im2col's shifted planes
      {1, 2, 5, 3, 2, 3, 3, 1, 1, true},   // Winograd: odd sizes, partial tiles
      {2, 3, 1, 6, 2, 3, 3, 1, 1, false},  // Winograd: one row
      {1, 2, 1, 1, 3, 3, 3, 1, 1, true},   // Winograd: one pixel
  };
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(describe(c));
    EXPECT_TRUE(matches_reference(c, DType::F64, 1e-12));
    EXPECT_TRUE(matches_reference(c, DType::F32, 1e-4));
  }
}

TEST(Conv2dForward, NonContiguousInputs) {
  Tensor xt = normal({2, 3, 6, 5}, 4);
  Tensor wt = normal({4, 3, 3, 3}, 5);
  Tensor x = transpose(xt, 2, 3);  // (2, 3, 5, 6), strided
  Tensor w = transpose(wt, 2, 3);
  ASSERT_FALSE(x.is_contiguous());
  Tensor y = conv2d(x, w, Tensor(), 1, 1);
  EXPECT_TRUE(values_near(y, conv2d_reference(x, w, Tensor(), 1, 1), 1e-12));
}

TEST(Conv2dForward, NoGraphWithoutGrad) {
  ConvCase c{1, 2, 4, 4, 3, 3, 3, 1, 1, true};
  std::vector<Tensor> in = conv_leaves(c);
  {
    NoGradGuard no_grad;
    EXPECT_FALSE(conv_fn(c)(in).requires_grad());
  }
  EXPECT_TRUE(conv_fn(c)(in).requires_grad());
}

// An empty batch: an empty output, and weight and bias gradients that are
// sums of nothing (zero), for the Winograd, im2col and pointwise paths.
TEST(Conv2dGrad, EmptyBatch) {
  for (int64_t R : {3, 5, 1}) {
    SCOPED_TRACE(R);
    const Tensor x = zeros({0, 2, 6, 6}, DType::F32).set_requires_grad(true);
    const Tensor w = ones({3, 2, R, R}, DType::F32).set_requires_grad(true);
    const Tensor b = ones({3}, DType::F32).set_requires_grad(true);
    const Tensor y = conv2d(x, w, b, 1, R / 2);
    EXPECT_EQ(y.shape(), (Shape{0, 3, 6, 6}));
    sum(y).backward();
    EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3 * 2 * R * R, 0.0f));
    EXPECT_EQ(b.grad().to_vector<float>(), std::vector<float>(3, 0.0f));
    EXPECT_EQ(x.grad().numel(), 0);
  }
}

TEST(Conv2dGrad, FullJacobian3x3) {
  ConvCase c{2, 3, 5, 5, 4, 3, 3, 1, 1, true};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

TEST(Conv2dGrad, FullJacobian3x3OddSizes) {
  ConvCase c{2, 2, 5, 3, 3, 3, 3, 1, 1, true};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

TEST(Conv2dGrad, FullJacobian5x5Same) {
  ConvCase c{1, 2, 5, 4, 2, 5, 5, 1, 2, true};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

TEST(Conv2dGrad, FullJacobianStride2) {
  ConvCase c{2, 3, 5, 5, 4, 3, 3, 2, 1, true};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

TEST(Conv2dGrad, FullJacobianPointwise) {
  ConvCase c{2, 3, 4, 5, 4, 1, 1, 1, 0, true};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

TEST(Conv2dGrad, FullJacobianNoBias) {
  ConvCase c{2, 3, 5, 4, 2, 2, 3, 1, 2, false};
  EXPECT_TRUE(gradcheck(conv_fn(c), conv_leaves(c)));
}

// Each input alone requiring grad: the backward kernel then gets only the
// operands it reads (x for dw, w for dx, neither for dbias).
TEST(Conv2dGrad, OneInputAtATime) {
  ConvCase c{2, 2, 4, 4, 3, 3, 3, 1, 1, true};
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    std::vector<Tensor> in = conv_leaves(c);
    for (int j = 0; j < 3; ++j) in[j].set_requires_grad(j == i);
    EXPECT_TRUE(gradcheck(conv_fn(c), in));
  }
}

TEST(Conv2dGrad, NonContiguousInput) {
  Fn f = [](const std::vector<Tensor>& in) {
    return conv2d(transpose(in[0], 2, 3), in[1], in[2], 1, 1);
  };
  EXPECT_TRUE(
      gradcheck(f, {rand_leaf({2, 3, 5, 4}, 21), rand_leaf({2, 3, 3, 3}, 22), rand_leaf({2}, 23)}));
}

// Both algorithms: im2col (strided) and Winograd (3x3 "same").
TEST(Conv2dGrad, Float32MatchesFloat64) {
  for (const ConvCase& c :
       {ConvCase{2, 3, 6, 6, 4, 3, 3, 2, 1, true}, ConvCase{2, 3, 7, 6, 4, 3, 3, 1, 1, true}}) {
    SCOPED_TRACE(describe(c));
    std::vector<Tensor> in64 = conv_leaves(c);
    std::vector<Tensor> in32;
    for (const Tensor& t : in64) in32.push_back(t.detach().to(DType::F32).set_requires_grad(true));
    Tensor y64 = conv_fn(c)(in64);
    Tensor v = normal(y64.shape(), 7);
    sum(mul(y64, v)).backward();
    sum(mul(conv_fn(c)(in32), v.to(DType::F32))).backward();
    for (size_t i = 0; i < in64.size(); ++i) {
      SCOPED_TRACE("input " + std::to_string(i));
      ASSERT_EQ(in32[i].grad().dtype(), DType::F32);
      EXPECT_TRUE(values_near(in32[i].grad(), in64[i].grad().to_vector<double>(), 1e-4));
    }
  }
}

// A U-Net level's 3x3 convolution (Winograd) and its downsampling (im2col,
// several samples per GEMM). The outputs are about 16 in size (sums of 288
// products of unit normals). Float32 Winograd F(4x4, 3x3) is off from them by
// about 1e-6 of that on average and 2e-5 at worst (its transforms multiply by
// up to 8), a direct float32 sum by less.
TEST(Conv2dUNetScale, ForwardMatchesReference) {
  for (const auto& [c, f32_tol] : {std::pair{kUNet, 1e-3}, std::pair{kUNetDown, 1e-4}}) {
    SCOPED_TRACE(describe(c));
    EXPECT_TRUE(matches_reference(c, DType::F64, 1e-10));
    EXPECT_TRUE(matches_reference(c, DType::F32, f32_tol));
  }
}

// One directional check per input, so an error in one gradient cannot hide
// behind the others.
TEST(Conv2dUNetScale, DirectionalGradcheck) {
  for (const ConvCase& c : {kUNet, kUNetDown})
    for (int i = 0; i < 3; ++i) {
      SCOPED_TRACE(describe(c) + ", input " + std::to_string(i));
      std::vector<Tensor> in = conv_leaves(c);
      for (int j = 0; j < 3; ++j) in[j].set_requires_grad(j == i);
      EXPECT_TRUE(gradcheck_directional(conv_fn(c), in));
    }
}

// dx and dw of L = sum(y * dy), straight from the definition of y: each
// product w[k,c,r,s] x[n,c,ih,iw] in y[n,k,p,q] sends dy[n,k,p,q] times the
// other factor to each.
struct ConvGrads {
  std::vector<double> dx, dw;
};

ConvGrads conv2d_reference_grads(const Tensor& x, const Tensor& w, const Tensor& dy, int64_t stride,
                                 int64_t pad) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t K = w.size(0), R = w.size(2), S = w.size(3), P = dy.size(2), Q = dy.size(3);
  const std::vector<double> xv = x.to_vector<double>(), wv = w.to_vector<double>();
  const std::vector<double> dyv = dy.to_vector<double>();
  ConvGrads g{std::vector<double>(xv.size()), std::vector<double>(wv.size())};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t q = 0; q < Q; ++q) {
          const double d = dyv[((n * K + k) * P + p) * Q + q];
          for (int64_t c = 0; c < C; ++c)
            for (int64_t r = 0; r < R; ++r)
              for (int64_t s = 0; s < S; ++s) {
                const int64_t ih = p * stride - pad + r, iw = q * stride - pad + s;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + c) * H + ih) * W + iw;
                const int64_t wi = ((k * C + c) * R + r) * S + s;
                g.dx[xi] += d * wv[wi];
                g.dw[wi] += d * xv[xi];
              }
        }
  return g;
}

// Winograd's dx and dw against the definition, in float64 to rounding: each
// of the 3 samples (64 channels of 14 x 13) is a block of its own, and the
// blocks spread over the threads, whose dw partials are then summed.
TEST(Conv2dWinograd, GradientsMatchReference) {
  ConvCase c{3, 64, 14, 13, 48, 3, 3, 1, 1, false};
  std::vector<Tensor> in = conv_leaves(c);
  Tensor y = conv_fn(c)(in);
  Tensor dy = normal(y.shape(), 8);
  y.backward(dy);
  const ConvGrads ref = conv2d_reference_grads(in[0], in[1], dy, c.stride, c.pad);
  EXPECT_TRUE(values_near(in[0].grad(), ref.dx, 1e-10));
  EXPECT_TRUE(values_near(in[1].grad(), ref.dw, 1e-10));
}

// In float64 a 32 x 32 plane of 64 channels is more than one block holds, so
// each of the 8 samples is a block; forward and directional gradients.
TEST(Conv2dWinograd, ManyBlocksForwardAndGradients) {
  ConvCase c{8, 64, 32, 32, 3, 3, 3, 1, 1, true};
  EXPECT_TRUE(matches_reference(c, DType::F64, 1e-10));
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    std::vector<Tensor> in = conv_leaves(c);
    for (int j = 0; j < 3; ++j) in[j].set_requires_grad(j == i);
    EXPECT_TRUE(gradcheck_directional(conv_fn(c), in, 2));
  }
}

TEST(Conv2dErrors, RejectsBadArguments) {
  Tensor x = normal({2, 3, 5, 5}, 1);
  Tensor w = normal({4, 3, 3, 3}, 2);
  EXPECT_EQ(error_of([&] {
              conv2d(x, normal({4, 4, 3, 3}, 3), Tensor());
            }),
            "conv2d: input has 3 channels but weight expects 4");
  EXPECT_THROW(conv2d(normal({3, 5, 5}, 4), w, Tensor()), std::runtime_error);
  EXPECT_THROW(conv2d(x, normal({4, 3, 3}, 5), Tensor()), std::runtime_error);
  EXPECT_THROW(conv2d(x, w, normal({3}, 6)), std::runtime_error);
  EXPECT_THROW(conv2d(x, w, normal({4, 1}, 6)), std::runtime_error);
  EXPECT_THROW(conv2d(x, w, Tensor(), 0), std::runtime_error);
  EXPECT_THROW(conv2d(x, w, Tensor(), 1, -1), std::runtime_error);
  EXPECT_THROW(conv2d(normal({2, 3, 2, 2}, 7), w, Tensor()), std::runtime_error);
  EXPECT_THROW(conv2d(x.to(DType::F32), w, Tensor()), std::runtime_error);
  EXPECT_EQ(error_of([&] { conv2d(x, w, Tensor(), 0); }).rfind("conv2d: ", 0), 0u);
}

TEST(UpsampleNearest2x, Forward) {
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 2, 1, 3});
  Tensor y = upsample_nearest2x(x);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 6}));
  EXPECT_TRUE(
      values_near(y, {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 4, 4, 5, 5, 6, 6}));
}

TEST(UpsampleNearest2x, BackwardSumsEachBlock) {
  Tensor x = rand_leaf({1, 1, 2, 2}, 31);
  std::vector<double> g(16);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<double>(i);
  upsample_nearest2x(x).backward(from_vector(g, {1, 1, 4, 4}));
  // block (i, j) holds 8i + 2j + {0, 1, 4, 5}
  EXPECT_TRUE(values_near(x.grad(), {10, 18, 42, 50}, 1e-12));
}

TEST(UpsampleNearest2x, Gradcheck) {
  Fn f = [](const std::vector<Tensor>& in) { return upsample_nearest2x(in[0]); };
  EXPECT_TRUE(gradcheck(f, {rand_leaf({2, 3, 3, 4}, 32)}));
  Fn strided = [](const std::vector<Tensor>& in) {
    return upsample_nearest2x(transpose(in[0], 1, 3));
  };
  EXPECT_TRUE(gradcheck(strided, {rand_leaf({2, 3, 2, 4}, 33)}));
}

TEST(UpsampleNearest2x, RejectsBadArguments) {
  EXPECT_THROW(upsample_nearest2x(normal({3, 4, 4}, 1)), std::runtime_error);
  EXPECT_THROW(upsample_nearest2x(from_vector(std::vector<int32_t>{1, 2, 3, 4}, {1, 1, 2, 2})),
               std::runtime_error);
}

}  // namespace
}  // namespace ag::test
