// Tensor creation, dtype and copies, and clear errors on misuse.
#include <fstream>
#include <string>

#include "autograd/device.h"
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Tensor, Creation) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Shape{3, 1}));
  EXPECT_EQ(z.dtype(), DType::F32);
  EXPECT_EQ(z.device(), Device::CPU);
  EXPECT_TRUE(values_near(z, std::vector<double>(6, 0.0)));
  EXPECT_TRUE(values_near(ones({2}, DType::F64), {1, 1}));
  EXPECT_TRUE(values_near(full({3}, 2.5), {2.5, 2.5, 2.5}));
  EXPECT_TRUE(values_near(arange(4), {0, 1, 2, 3}));
  EXPECT_EQ(from_vector(std::vector<int32_t>{3, 1}, {2}).to_vector<int32_t>(),
            (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(zeros({}).numel(), 1);
  EXPECT_EQ(zeros({0, 3}).numel(), 0);
}

// An empty tensor's memory and an empty vector's may be null: copying 0
// bytes between them must not pass null to memcpy (undefined, and the
// sanitizer suite stops on it).
TEST(Tensor, EmptyRoundTrip) {
  for (DType dtype : {DType::F32, DType::F64, DType::I32}) {
    Tensor e = from_vector(std::vector<double>{}, {0, 3}).to(dtype);
    EXPECT_EQ(e.shape(), (Shape{0, 3}));
    EXPECT_TRUE(e.to_vector<float>().empty());
    EXPECT_TRUE(e.to_vector<int32_t>().empty());
  }
}

TEST(Tensor, DtypeConversionAndClone) {
  Tensor d = from_vector(std::vector<double>{1.5, -2.25}, {2});
  Tensor f = d.to(DType::F32);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_TRUE(values_near(f, {1.5, -2.25}));
  Tensor c = d.clone();
  c.fill_(0.0);
  EXPECT_TRUE(values_near(d, {1.5, -2.25}));  // the clone owns its memory
  EXPECT_DOUBLE_EQ(sum(d).item(), -0.75);
}

TEST(Tensor, CopyIntoStridedView) {
  Tensor x = zeros({2, 2}, DType::F64);
  transpose(x, 0, 1).copy_(from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}));
  EXPECT_TRUE(values_near(x, {1, 3, 2, 4}));
  Tensor y = zeros({3, 3}, DType::F64);
  slice(slice(y, 0, 1, 3), 1, 1, 3).fill_(5.0);  // a non-contiguous window
  EXPECT_TRUE(values_near(y, {0, 0, 0, 0, 5, 5, 0, 5, 5}));
}

TEST(Tensor, MisuseThrowsClearErrors) {
  EXPECT_THROW(from_vector(std::vector<float>{1, 2, 3}, {2, 2}), std::runtime_error);
  EXPECT_THROW(zeros({2}).item(), std::runtime_error);
  EXPECT_THROW(zeros({-1}), std::runtime_error);
  EXPECT_THROW(Tensor().shape(), std::runtime_error);
  EXPECT_THROW(zeros({2}).copy_(zeros({3})), std::runtime_error);
  EXPECT_THROW(from_vector(std::vector<int32_t>{1}, {1}).set_requires_grad(), std::runtime_error);
  if (cuda_device_count() > 0) return;  // CUDA tensors work (tests/test_cuda_ops.cpp)
  try {
    zeros({2}, DType::F32, Device::CUDA);
    FAIL() << "a CUDA tensor without a CUDA device";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos);
  }
}

// A process that never computes on a CUDA device never loads cuBLAS, whose
// start-up costs 0.35 s and 210 MB (autograd/cuda/cublas.cu).
TEST(Tensor, CpuWorkDoesNotLoadCublas) {
  EXPECT_TRUE(values_near(matmul(ones({2, 2}), ones({2, 2})), {2, 2, 2, 2}));
  cuda_device_count();
  std::ifstream maps("/proc/self/maps");
  ASSERT_TRUE(maps.good());
  for (std::string line; std::getline(maps, line);)
    EXPECT_EQ(line.find("libcublas"), std::string::npos) << line;
}

TEST(Tensor, CopyBetweenOverlappingViews) {
  Tensor x = arange(6, DType::F64);
  slice(x, 0, 1, 6).copy_(slice(x, 0, 0, 5));  // shift right by one
  EXPECT_TRUE(values_near(x, {0, 0, 1, 2, 3, 4}));
  Tensor m = reshape(arange(9, DType::F64), {3, 3});
  m.copy_(transpose(m, 0, 1));
  EXPECT_TRUE(values_near(m, {0, 3, 6, 1, 4, 7, 2, 5, 8}));
}

TEST(Tensor, FloatUniformStaysBelowOne) {
  Generator g;
  g.set_state(0, 11031643);  // a block whose word rounds to 1.0f
  for (float u : rand({4}, &g).to_vector<float>()) EXPECT_LT(u, 1.0f);
}

}  // namespace ag::test
