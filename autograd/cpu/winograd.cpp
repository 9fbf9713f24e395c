// Winograd's minimal filtering F(4x4, 3x3) on the CPU (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016).
//
// In 1-D, 4 outputs of a 3-tap correlation y_i = sum_r g_r d_{i+r} from 6
// inputs d take 6 multiplications instead of 12:
//   y = A^T [(G g) . (B^T d)]
// with the 6x6 B^T, 6x3 G and 4x6 A^T below ('.' multiplies elementwise).
// In 2-D, a 4x4 output tile of one (output, input) channel pair is
//   Y = A^T [(G g G^T) . (B^T d B)] A
// from its 6x6 input tile d: 36 multiplications instead of 144. The sum over
// input channels commutes with A^T (.) A, so at each of the 36 points xi of
// a transformed tile it is a matrix product over all tiles at once:
//   M[xi] (tiles, K) = V[xi] (tiles, C) U[xi] (C, K),
// U = G g G^T the transformed filters, V = B^T d B the transformed tiles.
// These 36 GEMMs do 4 times less arithmetic than im2col's one. The price is
// float32 rounding: B^T and A^T have entries up to 8, and over 32 to 128
// channels the outputs' rms error is 1.3e-6 to 2.3e-6 of their rms (up to
// 5e-5 at worst), several times a direct sum's.
//
// Backward: the op is linear in g and in d, so its adjoints are Winograd
// forms too. With Z = A dY A^T, a tile's output gradient carried to the 36
// points,
//   dU[xi] (C, K) = sum over tiles of V[xi]^T Z[xi], and dw = G^T dU G;
//   dx is the convolution of dy with the kernel flipped and transposed,
//   w'[c, k, r, s] = w[k, c, 2 - r, 2 - s], itself 3x3 with stride 1 and
//   padding 1, so it reuses the forward pass.
//
// Layout: a sample's planes are first copied channel-last, (H, W, C) with
// the zero padding around them, so that every transform runs its vector
// lanes over the channels: long, contiguous loops with no ragged ends,
// whatever the plane's size. The transforms then go one row of tiles at a
// time, B^T (or A, A^T) down the columns and then along the rows. Samples go
// in blocks small enough that a block's V and M (or Z) stay in cache;
// threads take whole blocks and run their GEMMs single-threaded.
#include "autograd/cpu/winograd.h"

#include <omp.h>

#include <algorithm>

#include "autograd/cpu/blas.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/transpose.h"
#include "autograd/kernels/scratch.h"

namespace ag::cpu {

namespace {

// The 1-D maps come from the interpolation points 0, 1, -1, 2, -2 and
// infinity: kTile outputs per tile side from kAlpha = kTile + 2 inputs.
constexpr int kTile = 4, kAlpha = 6, kPoints = kAlpha * kAlpha;

// B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
//        0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
struct InputMap {
  template <class T>
  void operator()(const T* d, T* v) const {
    const T d42 = d[4] - d[2], d31 = d[3] - d[1];
    v[0] = T(4) * (d[0] - d[2]) + d42;
    v[1] = d[3] + d[4] - T(4) * (d[1] + d[2]);
    v[2] = d[4] - d[3] + T(4) * (d[1] - d[2]);
    v[3] = d42 + T(2) * d31;
    v[4] = d42 - T(2) * d31;
    v[5] = T(4) * (d[1] - d[3]) + d[5] - d[3];
  }
};

// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6;
//      1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
struct FilterMap {
  template <class T>
  void operator()(const T* g, T* u) const {
    const T outer = g[0] + g[2], quarter = T(0.25) * g[0] + g[2];
    u[0] = T(0.25) * g[0];
    u[1] = -(outer + g[1]) / T(6);
    u[2] = -(outer - g[1]) / T(6);
    u[3] = (quarter + T(0.5) * g[1]) / T(6);
    u[4] = (quarter - T(0.5) * g[1]) / T(6);
    u[5] = g[2];
  }
};

// A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
struct OutputMap {
  template <class T>
  void operator()(const T* p, T* y) const {
    const T s1 = p[1] + p[2], d1 = p[1] - p[2], s2 = p[3] + p[4], d2 = p[3] - p[4];
    y[0] = p[0] + s1 + s2;
    y[1] = d1 + T(2) * d2;
    y[2] = s1 + T(4) * s2;
    y[3] = d1 + T(8) * d2 + p[5];
  }
};

// A, the adjoint of A^T.
struct OutputGradMap {
  template <class T>
  void operator()(const T* dy, T* z) const {
    const T e1 = dy[0] + dy[2], o1 = dy[1] + dy[3];
    const T e2 = dy[0] + T(4) * dy[2], o2 = T(2) * dy[1] + T(8) * dy[3];
    z[0] = dy[0];
    z[1] = e1 + o1;
    z[2] = e1 - o1;
    z[3] = e2 + o2;
    z[4] = e2 - o2;
    z[5] = dy[3];
  }
};

// G^T, the adjoint of G.
struct FilterGradMap {
  template <class T>
  void operator()(const T* u, T* g) const {
    const T s1 = u[1] + u[2], d1 = u[1] - u[2], s2 = u[3] + u[4], d2 = u[3] - u[4];
    g[0] = T(0.25) * u[0] + (T(0.25) * s2 - s1) / T(6);
    g[1] = (T(0.5) * d2 - d1) / T(6);
    g[2] = (s2 - s1) / T(6) + u[5];
  }
};

// out[b][o * out_step + l] = map(in[0][o * in_step + l], ..)[b] for o < outer,
// l < inner: a 1-D map from n streams to m, the inner index a vector lane.
// The output streams must overlap neither each other nor the inputs (the
// loop vectorizes without alias checks); input streams may overlap.
template <int n, int m, class T, class Map>
void map_lanes(const T* const (&in)[n], int64_t in_step, T* const (&out)[m], int64_t out_step,
               int64_t outer, int64_t inner, Map map) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* src[n];  // local copies, which the stores cannot change
    T* dst[m];
    for (int a = 0; a < n; ++a) src[a] = in[a] + o * in_step;
    for (int b = 0; b < m; ++b) dst[b] = out[b] + o * out_step;
#pragma GCC ivdep
    for (int64_t l = 0; l < inner; ++l) {
      T d[n], v[m];
      for (int a = 0; a < n; ++a) d[a] = src[a][l];
      map(d, v);
      for (int b = 0; b < m; ++b) dst[b][l] = v[b];
    }
  }
}

// out (m x m streams) = L in L^T for in (n x n streams) and the 1-D map L from
// n values to m, each stream `lanes` long: L down each column into mid
// (m x n streams), then along each row.
template <int n, int m, class T, class Map>
void map_2d_lanes(const T* in, T* out, int64_t lanes, T* mid, Map map) {
  const T* src[n];
  T* dst[m];
  for (int j = 0; j < n; ++j) {
    for (int r = 0; r < n; ++r) src[r] = in + (r * n + j) * lanes;
    for (int i = 0; i < m; ++i) dst[i] = mid + (i * n + j) * lanes;
    map_lanes<n, m>(src, 0, dst, 0, 1, lanes, map);
  }
  for (int i = 0; i < m; ++i) {
    for (int s = 0; s < n; ++s) src[s] = mid + (i * n + s) * lanes;
    for (int b = 0; b < m; ++b) dst[b] = out + (i * m + b) * lanes;
    map_lanes<n, m>(src, 0, dst, 0, 1, lanes, map);
  }
}

// The 4x4 output tiles of a plane, numbered row by row: tile i * cols + j
// covers outputs 4i .. 4i + 3, 4j .. 4j + 3 and reads the 6x6 inputs from
// 4i - 1, 4j - 1 on.
struct Tiles {
  int64_t rows, cols;
  explicit Tiles(const ConvGeometry& g)
      : rows((g.H + kTile - 1) / kTile), cols((g.W + kTile - 1) / kTile) {}
  int64_t count() const { return rows * cols; }
  // The channel-last input plane with its padding: (in_h, in_w, C).
  int64_t in_h() const { return kTile * rows + 2; }
  int64_t in_w() const { return kTile * cols + 2; }
  // The channel-last output plane, whole tiles: (out_h, out_w, K).
  int64_t out_h() const { return kTile * rows; }
  int64_t out_w() const { return kTile * cols; }
};

// dst (ph, pw, channels) = the planes src (channels, H, W) channel-last, at
// row and column `offset` on; zero elsewhere.
template <class T>
void to_channel_last(const T* src, int64_t channels, const ConvGeometry& g, int64_t offset,
                     int64_t ph, int64_t pw, T* dst) {
  const int64_t row = pw * channels;
  std::fill(dst, dst + offset * row, T(0));
  std::fill(dst + (offset + g.H) * row, dst + ph * row, T(0));
  for (int64_t h = 0; h < g.H; ++h) {
    T* line = dst + (offset + h) * row;
    std::fill(line, line + offset * channels, T(0));
    std::fill(line + (offset + g.W) * channels, line + row, T(0));
  }
  constexpr int64_t kGroup = 8;  // channels read side by side, in order
  for (int64_t c = 0; c < channels; c += kGroup)
    for (int64_t h = 0; h < g.H; ++h)
      transpose(src + c * g.hw() + h * g.W, g.hw(),
                dst + ((offset + h) * pw + offset) * channels + c, channels,
                std::min(kGroup, channels - c), g.W);
}

// dst (K, H, W) = src (out_h, out_w, K) back to planes, + bias (K, or null).
template <class T>
void from_channel_last(const T* src, int64_t pw, const T* bias, const ConvGeometry& g, T* dst) {
  constexpr int64_t kGroup = 8;  // planes written side by side, in order
  for (int64_t k = 0; k < g.K; k += kGroup)
    for (int64_t h = 0; h < g.H; ++h)
      transpose(src + h * pw * g.K + k, g.K, dst + k * g.hw() + h * g.W, g.hw(), g.W,
                std::min(kGroup, g.K - k));
  if (!bias) return;
  for (int64_t k = 0; k < g.K; ++k) {
    T* plane = dst + k * g.hw();
    for (int64_t i = 0; i < g.hw(); ++i) plane[i] += bias[k];
  }
}

// out[xi] (ld apart), rows t0 .. t0 + cols - 1 (channels wide) = L d L^T of
// the tiles of row i of the channel-last plane P (rows of `width` pixels),
// for the 1-D map L from n values to the 6 points: B^T for the input's 6x6
// tiles (P padded), A for the output gradient's 4x4 tiles. L goes down the
// columns into buf, then along the rows.
template <int n, class T, class Map>
void transform_tile_row(const T* P, int64_t width, int64_t channels, const Tiles& tiles, int64_t i,
                        T* buf, T* points, int64_t t0, int64_t ld, Map map) {
  const int64_t row = width * channels;
  const T* in[n];
  T* out[kAlpha];
  for (int r = 0; r < n; ++r) in[r] = P + (kTile * i + r) * row;
  for (int a = 0; a < kAlpha; ++a) out[a] = buf + a * row;
  map_lanes<n, kAlpha>(in, 0, out, 0, 1, row, map);
  for (int a = 0; a < kAlpha; ++a) {
    for (int s = 0; s < n; ++s) in[s] = buf + a * row + s * channels;
    for (int b = 0; b < kAlpha; ++b) out[b] = points + (a * kAlpha + b) * ld + t0 * channels;
    map_lanes<n, kAlpha>(in, kTile * channels, out, channels, tiles.cols, channels, map);
  }
}

// Rows 4i .. 4i + 3 of the channel-last output Q (out_h, out_w, K) =
// A^T M A of the tiles t0 .. t0 + cols - 1, from M[xi] (ld apart).
template <class T>
void transform_output_row(const T* M, int64_t ld, int64_t t0, int64_t K, const Tiles& tiles,
                          int64_t i, T* buf, T* Q) {
  const int64_t width = tiles.cols * K;
  const T* in[kAlpha];
  T* out[kTile];
  for (int a = 0; a < kAlpha; ++a) {  // along the rows: buf[a * kTile + s] (cols, K)
    for (int b = 0; b < kAlpha; ++b) in[b] = M + (a * kAlpha + b) * ld + t0 * K;
    for (int s = 0; s < kTile; ++s) out[s] = buf + (a * kTile + s) * width;
    map_lanes<kAlpha, kTile>(in, 0, out, 0, 1, width, OutputMap{});
  }
  for (int s = 0; s < kTile; ++s) {  // down the columns
    for (int a = 0; a < kAlpha; ++a) in[a] = buf + (a * kTile + s) * width;
    for (int r = 0; r < kTile; ++r) out[r] = Q + ((kTile * i + r) * tiles.out_w() + s) * K;
    map_lanes<kAlpha, kTile>(in, K, out, kTile * K, tiles.cols, K, OutputMap{});
  }
}

// U[xi] (C, K) = G w[k, c] G^T for w (K, C, 3, 3); with `flip`, of the kernel
// flipped and transposed, w'[c, k] = w[k, c] turned by 180 degrees, and
// U[xi] is (K, C). The (k, c) pairs are the vector lanes.
template <class T>
void transform_filters(Backend& mem, const T* w, int64_t K, int64_t C, bool flip, T* U) {
  const int64_t lanes = K * C;
  Scratch<T> buf(mem, (9 + 3 * kAlpha) * lanes);
  T* taps = buf.data();  // taps[j] (lanes) = tap j of each pair
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int j = 0; j < 9; ++j)
        taps[j * lanes + (flip ? k * C + c : c * K + k)] = w[(k * C + c) * 9 + (flip ? 8 - j : j)];
  map_2d_lanes<3, kAlpha>(taps, U, lanes, taps + 9 * lanes, FilterMap{});
}

// dw[k, c] (3x3) = G^T dU[:, c, k] G from dU[xi] (C, K).
template <class T>
void filter_grads(Backend& mem, const T* dU, int64_t K, int64_t C, T* dw) {
  const int64_t lanes = K * C;
  Scratch<T> buf(mem, (9 + 3 * kAlpha) * lanes);
  T* taps = buf.data();
  map_2d_lanes<kAlpha, 3>(dU, taps, lanes, taps + 9 * lanes, FilterGradMap{});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int j = 0; j < 9; ++j) dw[(k * C + c) * 9 + j] = taps[j * lanes + c * K + k];
}

// Bytes of transformed tiles a block aims for (its V and M, or V and Z).
constexpr int64_t kBlockBytes = 256 * 1024;

// The samples [n0, n0 + count) that share one set of GEMMs.
struct Block {
  int64_t n0, count;
};

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
// scratch slot: V (36, block tiles, C), then M or Z (36, block tiles, K), then
// one sample's channel-last plane (input or output, the larger) and
// the transforms' row buffer.
template <class T>
struct Plan {
  struct Slot {
    T *V, *out, *plane, *buf;
  };
  Tiles tiles;
  int64_t size, threads, block_tiles, plane, slot;
  explicit Plan(const ConvGeometry& g)
      : tiles(g),
        size(samples_per_block(g)),
        threads(block_threads(g)),
        block_tiles(size * tiles.count()),
        plane(std::max(tiles.in_h() * tiles.in_w() * g.C, tiles.out_h() * tiles.out_w() * g.K)),
        slot(kPoints * (g.C + g.K) * block_tiles + plane + row_buffer(g)) {}
  Slot carve(T* scratch, int64_t t, const ConvGeometry& g) const {
    T* V = scratch + t * slot;
    T* out = V + kPoints * g.C * block_tiles;
    T* plane_at = out + kPoints * g.K * block_tiles;
    return {V, out, plane_at, plane_at + plane};
  }

 private:
  int64_t samples_per_block(const ConvGeometry& g) const {
    const int64_t bytes = kPoints * (g.C + g.K) * tiles.count() * int64_t(sizeof(T));
    return std::clamp<int64_t>(kBlockBytes / bytes, 1, g.N);
  }
  // One when the work is small or a parallel region encloses the call
  // (OpenBLAS then spreads each GEMM).
  int64_t block_threads(const ConvGeometry& g) const {
    const int64_t blocks = (g.N + size - 1) / size;
    const bool worth = g.N * tiles.count() * g.C * g.K * kPoints > kParallelGrain;
    if (!worth || omp_in_parallel()) return 1;
    return std::min<int64_t>(omp_get_max_threads(), blocks);
  }
  // kAlpha rows as wide as the widest a transform passes through its buffer.
  int64_t row_buffer(const ConvGeometry& g) const {
    return kAlpha * std::max(tiles.in_w() * g.C, tiles.out_w() * g.K);
  }
};

// V[xi] (block tiles, channels) = the transformed tiles of the block's samples
// of x (N, channels, H, W): sample n's from row n * tiles on.
template <class T>
void transform_inputs(const T* x, int64_t channels, const ConvGeometry& g, const Tiles& tiles,
                      Block b, T* plane, T* buf, T* V) {
  const int64_t ld = b.count * tiles.count() * channels;
  for (int64_t n = 0; n < b.count; ++n) {
    to_channel_last(x + (b.n0 + n) * channels * g.hw(), channels, g, 1, tiles.in_h(), tiles.in_w(),
                    plane);
    for (int64_t i = 0; i < tiles.rows; ++i)
      transform_tile_row<kAlpha>(plane, tiles.in_w(), channels, tiles, i, buf, V,
                                 n * tiles.count() + i * tiles.cols, ld, InputMap{});
  }
}

// y (N, K, H, W) = the convolution of x (N, C, H, W) whose transformed
// filters are U[xi] (C, K), + bias (K, or null).
template <class T>
void winograd_conv(Backend& mem, const T* x, const T* U, const T* bias, const ConvGeometry& g,
                   T* y) {
  const Plan<T> plan(g);
  const Tiles& tiles = plan.tiles;
  Scratch<T> scratch(mem, plan.threads * plan.slot);
  for_each_block(g, plan.size, plan.threads, [&](Block b, int64_t t) {
    const int64_t rows = b.count * tiles.count();
    const auto [V, M, plane, buf] = plan.carve(scratch.data(), t, g);
    transform_inputs(x, g.C, g, tiles, b, plane, buf, V);
    for (int xi = 0; xi < kPoints; ++xi)
      blas_gemm(false, false, rows, g.K, g.C, T(1), V + xi * rows * g.C, g.C, U + xi * g.C * g.K,
                g.K, T(0), M + xi * rows * g.K, g.K);
    for (int64_t n = 0; n < b.count; ++n) {
      for (int64_t i = 0; i < tiles.rows; ++i)
        transform_output_row(M, rows * g.K, n * tiles.count() + i * tiles.cols, g.K, tiles, i, buf,
                             plane);
      from_channel_last(plane, tiles.out_w(), bias, g, y + (b.n0 + n) * g.K * g.hw());
    }
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
  Scratch<T> dU(mem, threads * part);  // threads x (36, C, K)
  std::fill(dU.data(), dU.data() + threads * part, T(0));
  for_each_block(g, plan.size, threads, [&](Block b, int64_t t) {
    const int64_t rows = b.count * tiles.count();
    const auto [V, Z, plane, buf] = plan.carve(scratch.data(), t, g);
    transform_inputs(x, g.C, g, tiles, b, plane, buf, V);
    for (int64_t n = 0; n < b.count; ++n) {
      to_channel_last(dy + (b.n0 + n) * g.K * g.hw(), g.K, g, 0, tiles.out_h(), tiles.out_w(),
                      plane);
      for (int64_t i = 0; i < tiles.rows; ++i)
        transform_tile_row<kTile>(plane, tiles.out_w(), g.K, tiles, i, buf, Z,
                                  n * tiles.count() + i * tiles.cols, rows * g.K, OutputGradMap{});
    }
    for (int xi = 0; xi < kPoints; ++xi)
      blas_gemm(true, false, g.C, g.K, rows, T(1), V + xi * rows * g.C, g.C, Z + xi * rows * g.K,
                g.K, T(1), dU.data() + t * part + xi * g.C * g.K, g.K);
  });
  for (int64_t t = 1; t < threads; ++t)
    for (int64_t i = 0; i < part; ++i) dU.data()[i] += dU.data()[t * part + i];
  filter_grads(mem, dU.data(), g.K, g.C, dw);
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  return g.R == 3 && g.S == 3 && g.stride == 1 && g.pad == 1;
}

template <class T>
void winograd_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                      T* y) {
  Scratch<T> U(mem, kPoints * g.K * g.C);
  transform_filters(mem, w, g.K, g.C, false, U.data());
  winograd_conv(mem, x, U.data(), bias, g, y);
}

template <class T>
void winograd_backward(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                       T* dx, T* dw) {
  if (dx) {
    ConvGeometry transposed = g;  // dy (N, K, H, W) in, dx (N, C, H, W) out
    std::swap(transposed.C, transposed.K);
    Scratch<T> U(mem, kPoints * g.K * g.C);
    transform_filters(mem, w, g.K, g.C, true, U.data());
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
