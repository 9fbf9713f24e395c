// The CPU kernels' transpose: float32 goes through 8x8 register blocks where
// AVX is there, float64 one element at a time; both against the definition,
// on sizes with ragged edges and on strided (padded) rows.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "autograd/cpu/transpose.h"

namespace {

template <class T>
void check_transpose(int64_t rows, int64_t cols, int64_t lds, int64_t ldd) {
  std::vector<T> src(rows * lds), dst(cols * ldd, T(-1));
  for (size_t i = 0; i < src.size(); ++i) src[i] = T(i);
  ag::cpu::transpose(src.data(), lds, dst.data(), ldd, rows, cols);
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < ldd; ++i) {
      const T want = i < rows ? src[i * lds + j] : T(-1);  // padding untouched
      ASSERT_EQ(dst[j * ldd + i], want) << rows << "x" << cols << " at (" << i << ", " << j << ")";
    }
}

TEST(Transpose, MatchesDefinition) {
  for (auto [rows, cols] :
       {std::pair<int64_t, int64_t>{8, 8}, {32, 28}, {13, 21}, {7, 9}, {1, 17}, {17, 1}, {24, 16}})
    for (int64_t pad : {0, 3}) {
      check_transpose<float>(rows, cols, cols + pad, rows + pad);
      check_transpose<double>(rows, cols, cols + pad, rows + pad);
    }
}

}  // namespace
