// matmul and batched matmul through BLAS, with transposed (view) operands.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Matmul, ForwardValues) {
  Tensor a = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = from_vector(std::vector<double>{7, 8, 9, 10, 11, 12}, {3, 2});
  EXPECT_TRUE(values_near(matmul(a, b), {58, 64, 139, 154}));
  EXPECT_TRUE(values_near(matmul(transpose(b, 0, 1), transpose(a, 0, 1)), {58, 139, 64, 154}));
  Tensor af = a.to(DType::F32), bf = b.to(DType::F32);
  EXPECT_TRUE(values_near(matmul(af, bf), {58, 64, 139, 154}, 1e-5));
}

TEST(Matmul, BatchedMatchesLoop) {
  Generator gen(3);
  Tensor a = randn({4, 5, 6}, &gen, DType::F64), b = randn({4, 6, 3}, &gen, DType::F64);
  Tensor c = matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{4, 5, 3}));
  for (int64_t i = 0; i < 4; ++i) {
    Tensor ci =
        matmul(reshape(slice(a, 0, i, i + 1), {5, 6}), reshape(slice(b, 0, i, i + 1), {6, 3}));
    EXPECT_TRUE(values_near(reshape(slice(c, 0, i, i + 1), {5, 3}), ci.to_vector<double>(), 1e-12));
  }
}

TEST(Matmul, ShapeErrors) {
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({2, 3})), std::runtime_error);
  EXPECT_THROW(matmul(zeros({2, 2, 3}), zeros({3, 3, 2})), std::runtime_error);
  EXPECT_THROW(matmul(zeros({3}), zeros({3, 2})), std::runtime_error);
}

TEST(Matmul, Gradcheck) {
  Tensor a = rand_leaf({3, 4}, 31), b = rand_leaf({4, 2}, 32);
  EXPECT_TRUE(gradcheck([](auto& v) { return matmul(v[0], v[1]); }, {a, b}));
  Tensor ba = rand_leaf({2, 3, 4}, 33), bb = rand_leaf({2, 4, 2}, 34);
  EXPECT_TRUE(gradcheck([](auto& v) { return matmul(v[0], v[1]); }, {ba, bb}));
  EXPECT_TRUE(gradcheck([](auto& v) { return matmul(v[0], v[1]); }, {ba, b}));  // shared B
  EXPECT_TRUE(gradcheck([](auto& v) { return matmul(v[0], v[1]); }, {a, bb}));  // shared A
}

TEST(Matmul, GradcheckTransposedViews) {
  Tensor a = rand_leaf({4, 3}, 35), b = rand_leaf({2, 4}, 36);
  EXPECT_TRUE(gradcheck(
      [](auto& v) { return matmul(transpose(v[0], 0, 1), transpose(v[1], 0, 1)); }, {a, b}));
  Tensor q = rand_leaf({2, 5, 3}, 37);  // attention-like q k^T
  EXPECT_TRUE(gradcheck([](auto& v) { return matmul(v[0], transpose(v[0], 1, 2)); }, {q}));
}

}  // namespace ag::test
