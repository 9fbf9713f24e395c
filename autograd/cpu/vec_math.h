// exp that the compiler can vectorize. std::exp on float compiles to a
// scalar libm call per element; this one is plain arithmetic and selects (no
// libm calls: GCC 12 will not vectorize loops containing floorf or fminf),
// so with -fno-trapping-math (set for this library in CMake) a loop of it
// runs 16 lanes at a time with AVX-512. float uses Cephes'
// expf scheme (relative error under 1e-7 here); double keeps std::exp, the
// precision that gradient checks rely on.
#pragma once
#include <cmath>
#include <cstdint>

namespace ag::cpu {

// e^x = 2^n e^r with n = round(x / ln 2) and |r| <= ln 2 / 2; e^r from a
// degree-6 polynomial, 2^n built directly in the exponent bits. Like expf it
// gives 0 below the normal range, inf above it, and NaN for NaN.
inline float fast_exp(float x_in) {
  // Clamped so that NaN becomes -87 too: converting NaN to an integer below
  // is undefined behaviour (UBSan's float-cast-overflow), even though the
  // last select returns NaN for it.
  float x = x_in >= -87.0f ? x_in : -87.0f;
  x = x <= 88.0f ? x : 88.0f;
  // round(x / ln 2): truncating a positive number floors it, hence the offset
  const int32_t n = static_cast<int32_t>(x * 1.44269504088896341f + 128.5f) - 128;
  const float nf = static_cast<float>(n);
  const float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;  // ln 2 split in two
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = (p * r * r + r + 1.0f) * __builtin_bit_cast(float, (n + 127) << 23);
  const float low = x_in < -87.0f ? 0.0f : e;
  const float high = x_in > 88.72f ? HUGE_VALF : low;
  return x_in != x_in ? x_in : high;
}

inline float vexp(float x) { return fast_exp(x); }
inline double vexp(double x) { return std::exp(x); }

}  // namespace ag::cpu
