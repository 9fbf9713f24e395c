// Out-of-place matrix transpose, for the layout changes of the CPU kernels
// (Winograd's planes to channel-last and back). One side of a plain
// transpose loop is always strided, one element per cache line touched; in
// float32 with AVX it goes instead in 8x8 blocks transposed in registers, 8
// loads and 8 stores of 8 contiguous values each.
#pragma once
#include <cstdint>

#ifdef __AVX__
#include <immintrin.h>
#endif

namespace ag::cpu {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, one by one.
template <class T>
void transpose_scalar(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

template <class T>
void transpose(const T* src, int64_t lds, T* dst, int64_t ldd, int64_t rows, int64_t cols) {
  transpose_scalar(src, lds, dst, ldd, rows, cols);
}

#ifdef __AVX__
// The 8x8 block at src (rows lds apart) to dst (rows ldd apart), transposed:
// pairs of rows interleaved, then pairs of pairs, then the 128-bit halves.
inline void transpose_8x8(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}

// Whole 8x8 blocks in registers, the ragged right and bottom edges one by one.
template <>
inline void transpose<float>(const float* src, int64_t lds, float* dst, int64_t ldd, int64_t rows,
                             int64_t cols) {
  const int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (int64_t i = 0; i < rows8; i += 8)
    for (int64_t j = 0; j < cols8; j += 8)
      transpose_8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd);
  transpose_scalar(src + cols8, lds, dst + cols8 * ldd, ldd, rows, cols - cols8);
  transpose_scalar(src + rows8 * lds, lds, dst + rows8, ldd, rows - rows8, cols8);
}
#endif

}  // namespace ag::cpu
