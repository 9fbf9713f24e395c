// Winograd F(2x2, 3x3) on the CPU (Lavin & Gray, "Fast Algorithms for
// Convolutional Neural Networks", 2016).
//
// In 1-D, two outputs of a 3-tap correlation y_i = sum_r g_r d_{i+r} from four
// inputs d_0..d_3 take four multiplications instead of six:
//   y = A^T [(G g) . (B^T d)]
// with the 4x4 B^T, 4x3 G and 2x4 A^T of the maps below ('.' multiplies
// elementwise). In 2-D, a 2x2 output tile of one (output, input) channel pair
// is
//   Y = A^T [(G g G^T) . (B^T d B)] A
// from its 4x4 input tile d: 16 multiplications instead of 36. The sum over
// input channels commutes with A^T (.) A, so at each of the 16 points xi of a
// transformed tile it is a matrix product over all tiles at once:
//   M[xi] (K, tiles) = U[xi] (K, C) V[xi] (C, tiles),
// U = G g G^T the transformed filters, V = B^T d B the transformed tiles.
// These 16 GEMMs do 2.25 times less arithmetic than im2col's one.
//
// Backward: the op is linear in g and in d, so its adjoints are Winograd
// forms too. With Z = A dY A^T, a tile's output gradient (2x2) carried to the
// 16 points,
//   dU[xi] (K, C) = sum over tiles of Z[xi] V[xi]^T, and dw = G^T dU G;
//   dx is the convolution of dy with the kernel flipped and transposed,
//   w'[c, k, r, s] = w[k, c, 2 - r, 2 - s], itself 3x3 with stride 1 and
//   padding 1, so it reuses the forward pass.
// The transforms work a plane (one sample, one channel) at a time, their
// loops running over all of its tiles. Samples go in blocks small enough that
// a block's V and M (or Z) stay in cache; threads take whole blocks and run
// their GEMMs single-threaded.
#include "autograd/cpu/winograd.h"

#include <omp.h>

#include <algorithm>

#include "autograd/cpu/blas.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/scratch.h"

namespace ag::cpu {

namespace {

constexpr int kPoints = 16;  // the 4x4 points xi of a transformed tile

// The 1-D maps. B^T: four inputs to the four points.
struct InputMap {
  template <class T>
  void operator()(const T* d, T* v) const {
    v[0] = d[0] - d[2];
    v[1] = d[1] + d[2];
    v[2] = d[2] - d[1];
    v[3] = d[1] - d[3];
  }
};

// G: three filter taps to the four points.
struct FilterMap {
  template <class T>
  void operator()(const T* g, T* u) const {
    u[0] = g[0];
    u[1] = T(0.5) * (g[0] + g[1] + g[2]);
    u[2] = T(0.5) * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }
};

// A^T: the four points to two outputs.
struct OutputMap {
  template <class T>
  void operator()(const T* m, T* y) const {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  }
};

// A, the adjoint of A^T: two output gradients to the four points.
struct OutputGradMap {
  template <class T>
  void operator()(const T* dy, T* z) const {
    z[0] = dy[0];
    z[1] = dy[0] + dy[1];
    z[2] = dy[0] - dy[1];
    z[3] = -dy[1];
  }
};

// G^T, the adjoint of G: the four points to three filter-tap gradients.
struct FilterGradMap {
  template <class T>
  void operator()(const T* u, T* g) const {
    g[0] = u[0] + T(0.5) * (u[1] + u[2]);
    g[1] = T(0.5) * (u[1] - u[2]);
    g[2] = T(0.5) * (u[1] + u[2]) + u[3];
  }
};

// out (m x m) = L in L^T for in (n x n) and the 1-D map L from n values to m:
// L down each column, then along each row.
template <int n, int m, class T, class Map>
void map_2d(const T* in, T* out, Map map) {
  T mid[m][n];
  for (int j = 0; j < n; ++j) {
    T col[n], res[m];
    for (int i = 0; i < n; ++i) col[i] = in[i * n + j];
    map(col, res);
    for (int i = 0; i < m; ++i) mid[i][j] = res[i];
  }
  for (int i = 0; i < m; ++i) map(mid[i], out + i * m);
}

// The 2x2 output tiles of a plane, numbered row by row: tile l = i * cols + j
// covers outputs 2i .. 2i+1, 2j .. 2j+1 and reads inputs 2i-1 .. 2i+2,
// 2j-1 .. 2j+2.
struct Tiles {
  int64_t rows, cols;
  explicit Tiles(const ConvGeometry& g) : rows((g.H + 1) / 2), cols((g.W + 1) / 2) {}
  int64_t count() const { return rows * cols; }
  // The taps of split_input_plane: 8 arrays of (rows + 1) * cols.
  int64_t tap_count() const { return (rows + 1) * cols; }
  // A thread's buffer for one plane's transforms (the input's needs most).
  int64_t buffer() const { return 8 * tap_count() + 16 * count() + 2 * cols + 2; }
};

// out (width) = row h of plane (H, W) from column `first` on, zero outside
// the plane.
template <class T>
void padded_row(const T* plane, int64_t h, int64_t first, const ConvGeometry& g, int64_t width,
                T* out) {
  std::fill(out, out + width, T(0));
  if (h < 0 || h >= g.H) return;
  const int64_t lo = std::max<int64_t>(first, 0), hi = std::min(g.W, first + width);
  if (lo < hi) std::copy(plane + h * g.W + lo, plane + h * g.W + hi, out + lo - first);
}

// taps[(p * 4 + s)][ii * cols + j] = plane[2 ii + p - 1][2 j + s - 1] (zero
// outside), for ii <= rows: by row parity p and column offset s, so that tap
// (r, s) of every tile l is the contiguous taps[(r % 2) * 4 + s][l + (r / 2) * cols].
template <class T>
void split_input_plane(const T* plane, const ConvGeometry& g, const Tiles& tiles, T* row, T* taps) {
  const int64_t width = 2 * tiles.cols + 2;  // input columns -1 .. 2 * cols
  for (int64_t ii = 0; ii <= tiles.rows; ++ii)
    for (int p = 0; p < 2; ++p) {
      padded_row(plane, 2 * ii + p - 1, -1, g, width, row);
      for (int s = 0; s < 4; ++s) {
        T* out = taps + (p * 4 + s) * tiles.tap_count() + ii * tiles.cols;
#pragma GCC ivdep
        for (int64_t j = 0; j < tiles.cols; ++j) out[j] = row[2 * j + s];
      }
    }
}

// out[b][l] = map(in[0][l], .., in[n - 1][l])[b] for l < count: a 1-D map
// applied to n streams of values at once, each a vector lane. The output
// streams must overlap neither each other nor the inputs (the loop vectorizes
// without alias checks); input streams may overlap.
template <int n, int m, class T, class Map>
void map_streams(const T* const (&in)[n], T* const (&out)[m], int64_t count, Map map) {
  const T* src[n];  // local copies, which the stores cannot change
  T* dst[m];
  std::copy(in, in + n, src);
  std::copy(out, out + m, dst);
#pragma GCC ivdep
  for (int64_t l = 0; l < count; ++l) {
    T d[n], v[m];
    for (int a = 0; a < n; ++a) d[a] = src[a][l];
    map(d, v);
    for (int b = 0; b < m; ++b) dst[b][l] = v[b];
  }
}

// V[xi] (ld apart) = B^T d B of every tile of the plane (H, W): B^T down the
// columns of the tiles, then along the rows.
template <class T>
void transform_input_plane(const T* plane, const ConvGeometry& g, const Tiles& tiles, T* buf, T* V,
                           int64_t ld) {
  const int64_t count = tiles.count(), cols = tiles.cols;
  T* taps = buf;                        // 8 x tap_count
  T* e = taps + 8 * tiles.tap_count();  // e[a * 4 + s] = (B^T d)[a][s], 16 x count
  T* row = e + kPoints * count;         // 2 * cols + 2
  split_input_plane(plane, g, tiles, row, taps);
  const auto tap = [&](int r, int s) -> const T* {
    return taps + ((r % 2) * 4 + s) * tiles.tap_count() + (r / 2) * cols;
  };
  for (int s = 0; s < 4; ++s)
    map_streams<4, 4>(
        {tap(0, s), tap(1, s), tap(2, s), tap(3, s)},
        {e + s * count, e + (4 + s) * count, e + (8 + s) * count, e + (12 + s) * count}, count,
        InputMap{});
  for (int a = 0; a < 4; ++a) {
    const T* ea = e + 4 * a * count;
    T* Va = V + 4 * a * ld;
    map_streams<4, 4>({ea, ea + count, ea + 2 * count, ea + 3 * count},
                      {Va, Va + ld, Va + 2 * ld, Va + 3 * ld}, count, InputMap{});
  }
}

// Z[xi] (ld apart) = A dY A^T of every tile of the gradient plane (H, W).
template <class T>
void transform_output_grad_plane(const T* plane, const ConvGeometry& g, const Tiles& tiles, T* buf,
                                 T* Z, int64_t ld) {
  const int64_t count = tiles.count(), width = 2 * tiles.cols;
  T* taps = buf;            // taps[r * 2 + s] = dY[r][s] of each tile, 4 x count
  T* z = taps + 4 * count;  // z[a * 2 + s] = (A dY)[a][s], 8 x count
  T* row = z + 8 * count;   // 2 * cols
  for (int64_t i = 0; i < tiles.rows; ++i)
    for (int r = 0; r < 2; ++r) {
      padded_row(plane, 2 * i + r, 0, g, width, row);
      for (int s = 0; s < 2; ++s)
#pragma GCC ivdep
        for (int64_t j = 0; j < tiles.cols; ++j)
          taps[(r * 2 + s) * count + i * tiles.cols + j] = row[2 * j + s];
    }
  for (int s = 0; s < 2; ++s)
    map_streams<2, 4>(
        {taps + s * count, taps + (2 + s) * count},
        {z + s * count, z + (2 + s) * count, z + (4 + s) * count, z + (6 + s) * count}, count,
        OutputGradMap{});
  for (int a = 0; a < 4; ++a) {
    T* Za = Z + 4 * a * ld;
    map_streams<2, 4>({z + 2 * a * count, z + (2 * a + 1) * count},
                      {Za, Za + ld, Za + 2 * ld, Za + 3 * ld}, count, OutputGradMap{});
  }
}

// The plane (H, W) = A^T M A + shift of every tile, from M[xi] (ld apart);
// outputs past the plane's edge are dropped.
template <class T>
void transform_output_plane(const T* M, int64_t ld, T shift, const ConvGeometry& g,
                            const Tiles& tiles, T* buf, T* plane) {
  const int64_t count = tiles.count();
  T* t = buf;            // t[r * 4 + b] = (A^T M)[r][b], 8 x count
  T* y = t + 8 * count;  // y[r * 2 + s] = Y[r][s], 4 x count
  for (int b = 0; b < 4; ++b)
    map_streams<4, 2>({M + b * ld, M + (4 + b) * ld, M + (8 + b) * ld, M + (12 + b) * ld},
                      {t + b * count, t + (4 + b) * count}, count, OutputMap{});
  for (int r = 0; r < 2; ++r) {
    const T* tr = t + 4 * r * count;
    map_streams<4, 2>({tr, tr + count, tr + 2 * count, tr + 3 * count},
                      {y + 2 * r * count, y + (2 * r + 1) * count}, count, OutputMap{});
  }
  const int64_t whole = g.W / 2;  // tiles with both columns inside
  for (int64_t h = 0; h < g.H; ++h) {
    const T* left = y + (h % 2) * 2 * count + (h / 2) * tiles.cols;
    const T* right = left + count;
    T* out = plane + h * g.W;
#pragma GCC ivdep
    for (int64_t j = 0; j < whole; ++j) {
      out[2 * j] = left[j] + shift;
      out[2 * j + 1] = right[j] + shift;
    }
    if (whole < tiles.cols) out[2 * whole] = left[whole] + shift;
  }
}

// U[xi] (K, C) = G w[k, c] G^T for w (K, C, 3, 3); with `flip`, of the kernel
// flipped and transposed, w'[c, k] = w[k, c] turned by 180 degrees, and
// U[xi] is (C, K).
template <class T>
void transform_filters(const T* w, int64_t K, int64_t C, bool flip, T* U) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      const T* taps = w + (k * C + c) * 9;
      T g[9], u[kPoints];
      for (int j = 0; j < 9; ++j) g[j] = taps[flip ? 8 - j : j];
      map_2d<3, 4>(g, u, FilterMap{});
      const int64_t at = flip ? c * K + k : k * C + c;
      for (int xi = 0; xi < kPoints; ++xi) U[xi * K * C + at] = u[xi];
    }
}

// dw[k, c] (3x3) = G^T dU[:, k, c] G from dU[xi] (K, C).
template <class T>
void filter_grads(const T* dU, int64_t K, int64_t C, T* dw) {
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c) {
      T u[kPoints];
      for (int xi = 0; xi < kPoints; ++xi) u[xi] = dU[xi * K * C + k * C + c];
      map_2d<4, 3>(u, dw + (k * C + c) * 9, FilterGradMap{});
    }
}

// Bytes of transformed tiles a block aims for (its V and M, or V and Z).
constexpr int64_t kBlockBytes = 256 * 1024;

// The samples [n0, n0 + count) that share one set of GEMMs.
struct Block {
  int64_t n0, count;
};

// Samples per block for C input and K output channels.
template <class T>
int64_t block_samples(const ConvGeometry& g, const Tiles& tiles) {
  const int64_t bytes = kPoints * (g.C + g.K) * tiles.count() * int64_t(sizeof(T));
  return std::clamp<int64_t>(kBlockBytes / bytes, 1, g.N);
}

// Threads that take blocks side by side: one when the work is small or a
// parallel region encloses the call (OpenBLAS then spreads each GEMM).
int64_t block_threads(const ConvGeometry& g, const Tiles& tiles, int64_t size) {
  const int64_t blocks = (g.N + size - 1) / size;
  const bool worth = g.N * tiles.count() * g.C * g.K * kPoints > kParallelGrain;
  if (!worth || omp_in_parallel()) return 1;
  return std::min<int64_t>(omp_get_max_threads(), blocks);
}

// body(block, slot) for each block of `size` samples, slot the thread's index.
template <class F>
void for_each_block(const ConvGeometry& g, int64_t size, int64_t threads, const F& body) {
  const int64_t blocks = (g.N + size - 1) / size;
  const auto block = [&](int64_t i) { return Block{i * size, std::min(size, g.N - i * size)}; };
  if (threads == 1) {
    for (int64_t i = 0; i < blocks; ++i) body(block(i), 0);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < blocks; ++i) body(block(i), omp_get_thread_num());
}

// How a pass splits the samples into blocks and threads, and each thread's
// scratch slot: V (16, C, block tiles), then M or Z (16, K, block tiles),
// then the plane buffer.
template <class T>
struct Plan {
  struct Slot {
    T *V, *out, *buf;
  };
  Tiles tiles;
  int64_t size, threads, block_tiles, slot;
  explicit Plan(const ConvGeometry& g)
      : tiles(g),
        size(block_samples<T>(g, tiles)),
        threads(block_threads(g, tiles, size)),
        block_tiles(size * tiles.count()),
        slot(kPoints * (g.C + g.K) * block_tiles + tiles.buffer()) {}
  Slot carve(T* scratch, int64_t t, const ConvGeometry& g) const {
    T* V = scratch + t * slot;
    T* out = V + kPoints * g.C * block_tiles;
    return {V, out, out + kPoints * g.K * block_tiles};
  }
};

// V[xi] (channels, ld) = the transformed tiles of the block's samples of x
// (N, channels, H, W): sample n's at columns n * tiles .. of row c.
template <class T>
void transform_inputs(const T* x, int64_t channels, const ConvGeometry& g, const Tiles& tiles,
                      Block b, T* buf, T* V) {
  const int64_t ld = b.count * tiles.count();
  for (int64_t n = 0; n < b.count; ++n)
    for (int64_t c = 0; c < channels; ++c)
      transform_input_plane(x + ((b.n0 + n) * channels + c) * g.hw(), g, tiles, buf,
                            V + c * ld + n * tiles.count(), channels * ld);
}

// y (N, K, H, W) = the convolution of x (N, C, H, W) whose transformed
// filters are U[xi] (K, C), + bias (K, or null).
template <class T>
void winograd_conv(Backend& mem, const T* x, const T* U, const T* bias, const ConvGeometry& g,
                   T* y) {
  const Plan<T> plan(g);
  const Tiles& tiles = plan.tiles;
  Scratch<T> scratch(mem, plan.threads * plan.slot);
  for_each_block(g, plan.size, plan.threads, [&](Block b, int64_t t) {
    const int64_t ld = b.count * tiles.count();
    const auto [V, M, buf] = plan.carve(scratch.data(), t, g);
    transform_inputs(x, g.C, g, tiles, b, buf, V);
    for (int xi = 0; xi < kPoints; ++xi)
      blas_gemm(false, false, g.K, ld, g.C, T(1), U + xi * g.K * g.C, g.C, V + xi * g.C * ld, ld,
                T(0), M + xi * g.K * ld, ld);
    for (int64_t n = 0; n < b.count; ++n)
      for (int64_t k = 0; k < g.K; ++k)
        transform_output_plane(M + k * ld + n * tiles.count(), g.K * ld, bias ? bias[k] : T(0), g,
                               tiles, buf, y + ((b.n0 + n) * g.K + k) * g.hw());
  });
}

// dw (K, C, 3, 3) from x (N, C, H, W) and dy (N, K, H, W). Each thread sums
// its blocks' dU in its own slot; the slots are added up at the end.
template <class T>
void winograd_filter_grad(Backend& mem, const T* x, const T* dy, const ConvGeometry& g, T* dw) {
  const Plan<T> plan(g);
  const Tiles& tiles = plan.tiles;
  const int64_t threads = plan.threads, part = kPoints * g.K * g.C;
  Scratch<T> scratch(mem, threads * plan.slot);
  Scratch<T> dU(mem, threads * part);  // threads x (16, K, C)
  std::fill(dU.data(), dU.data() + threads * part, T(0));
  for_each_block(g, plan.size, threads, [&](Block b, int64_t t) {
    const int64_t ld = b.count * tiles.count();
    const auto [V, Z, buf] = plan.carve(scratch.data(), t, g);
    transform_inputs(x, g.C, g, tiles, b, buf, V);
    for (int64_t n = 0; n < b.count; ++n)
      for (int64_t k = 0; k < g.K; ++k)
        transform_output_grad_plane(dy + ((b.n0 + n) * g.K + k) * g.hw(), g, tiles, buf,
                                    Z + k * ld + n * tiles.count(), g.K * ld);
    for (int xi = 0; xi < kPoints; ++xi)
      blas_gemm(false, true, g.K, g.C, ld, T(1), Z + xi * g.K * ld, ld, V + xi * g.C * ld, ld, T(1),
                dU.data() + t * part + xi * g.K * g.C, g.C);
  });
  for (int64_t t = 1; t < threads; ++t)
    for (int64_t i = 0; i < part; ++i) dU.data()[i] += dU.data()[t * part + i];
  filter_grads(dU.data(), g.K, g.C, dw);
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  return g.R == 3 && g.S == 3 && g.stride == 1 && g.pad == 1;
}

template <class T>
void winograd_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                      T* y) {
  Scratch<T> U(mem, kPoints * g.K * g.C);
  transform_filters(w, g.K, g.C, false, U.data());
  winograd_conv(mem, x, U.data(), bias, g, y);
}

template <class T>
void winograd_backward(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                       T* dx, T* dw) {
  if (dx) {
    ConvGeometry transposed = g;  // dy (N, K, H, W) in, dx (N, C, H, W) out
    std::swap(transposed.C, transposed.K);
    Scratch<T> U(mem, kPoints * g.K * g.C);
    transform_filters(w, g.K, g.C, true, U.data());
    winograd_conv(mem, dy, U.data(), static_cast<const T*>(nullptr), transposed, dx);
  }
  if (dw) winograd_filter_grad(mem, x, dy, g, dw);
}

template void winograd_forward<float>(Backend&, const float*, const float*, const float*,
                                      const ConvGeometry&, float*);
template void winograd_forward<double>(Backend&, const double*, const double*, const double*,
                                       const ConvGeometry&, double*);
template void winograd_backward<float>(Backend&, const float*, const float*, const float*,
                                       const ConvGeometry&, float*, float*);
template void winograd_backward<double>(Backend&, const double*, const double*, const double*,
                                        const ConvGeometry&, double*, double*);

}  // namespace ag::cpu
