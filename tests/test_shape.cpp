// reshape, permute, transpose, slice, concat: values, view semantics, gradients.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Shape, ReshapeAndPermuteValues) {
  Tensor x = arange(6, DType::F64);
  Tensor m = reshape(x, {2, -1});
  EXPECT_EQ(m.shape(), (Shape{2, 3}));
  EXPECT_TRUE(values_near(transpose(m, 0, 1), {0, 3, 1, 4, 2, 5}));
  EXPECT_FALSE(transpose(m, 0, 1).is_contiguous());
  Tensor p = permute(reshape(arange(24, DType::F64), {2, 3, 4}), {2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_TRUE(values_near(slice(slice(p, 0, 1, 2), 1, 1, 2), {13, 17, 21}));
  EXPECT_THROW(reshape(x, {4, -1}), std::runtime_error);
  EXPECT_THROW(permute(m, {0, 0}), std::runtime_error);
}

TEST(Shape, ViewsShareStorage) {
  Tensor x = zeros({2, 3}, DType::F64);
  Tensor row = slice(x, 0, 1, 2);
  Tensor t = transpose(x, 0, 1);
  EXPECT_EQ(row.storage(), x.storage());
  EXPECT_EQ(t.storage(), x.storage());
  row.fill_(7.0);
  EXPECT_TRUE(values_near(x, {0, 0, 0, 7, 7, 7}));
  EXPECT_TRUE(values_near(t, {0, 7, 0, 7, 0, 7}));
  EXPECT_EQ(x.version(), 1u);  // the write through the view bumped the shared counter
}

TEST(Shape, ConcatValues) {
  Tensor a = reshape(arange(4, DType::F64), {2, 2});
  Tensor b = reshape(arange(2, DType::F64), {2, 1}) + 10.0;
  EXPECT_TRUE(values_near(concat({a, b}, 1), {0, 1, 10, 2, 3, 11}));
  EXPECT_TRUE(values_near(concat({a, a}, 0), {0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_THROW(concat({a, b}, 0), std::runtime_error);
  EXPECT_THROW(slice(a, 1, 1, 3), std::runtime_error);
}

TEST(Shape, Gradcheck) {
  Tensor x = rand_leaf({2, 3, 4}, 41);
  EXPECT_TRUE(gradcheck([](auto& v) { return reshape(v[0], {6, 4}); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return reshape(transpose(v[0], 1, 2), {8, 3}); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return permute(v[0], {1, 2, 0}); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return transpose(v[0], 0, 2); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return slice(v[0], 2, 1, 3); }, {x}));
  EXPECT_TRUE(gradcheck([](auto& v) { return slice(transpose(v[0], 0, 1), 0, 2, 3); }, {x}));
  Tensor y = rand_leaf({2, 1, 4}, 42);
  EXPECT_TRUE(gradcheck([](auto& v) { return concat({v[0], v[1], v[0]}, 1); }, {x, y}));
  EXPECT_TRUE(gradcheck(
      [](auto& v) {
        return concat({transpose(v[0], 0, 2), v[0] * 2.0}, 0);
      },
      {rand_leaf({3, 2, 3}, 43)}));
}

TEST(Shape, ReshapeRejectsInvalidSizes) {
  EXPECT_THROW(reshape(arange(6), {-2, -3}), std::runtime_error);
  EXPECT_THROW(reshape(arange(6), {-1, -1}), std::runtime_error);
  EXPECT_EQ(reshape(arange(6), {3, -1}).shape(), (Shape{3, 2}));
}

}  // namespace ag::test
