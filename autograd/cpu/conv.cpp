// conv2d and nearest-neighbour upsampling on the CPU. 3x3 convolutions with
// stride 1 and padding 1, most of the U-Net's, go through Winograd's
// F(4x4, 3x3) (winograd.cpp), with 4 times fewer multiplications. The
// others (strided, 1x1, other sizes) lower to one GEMM per group of samples:
// im2col packs the receptive fields of the group's samples side by side into
// a column matrix (C*R*S, count*P*Q), the weights viewed as (K, C*R*S) times
// it give (K, count*P*Q), and a copy (adding the bias) scatters that into y's
// NCHW planes. Groups hold about kGroupColumns / (P*Q) samples: one at 28x28,
// several at 14x14 and 7x7, where a GEMM per sample is too narrow for
// OpenBLAS to block well and pays its per-call packing too often. A group of
// one writes y directly, and pointwise (1x1, stride 1, no padding)
// convolutions go one sample at a time, the GEMM reading x[n] (C, H*W)
// directly as its columns.
// The backward pass mirrors this: dy of a group is packed into (K, count*P*Q),
// dw sums dy_group col^T into one partial per thread, added up at the end,
// and dx is col2im of w^T dy_group, sample by sample.
// im2col and col2im of stride-1 convolutions that keep the size (5x5 with
// padding 2, say) shift whole planes at once instead of going row by row.
// With at least as many samples as threads, each thread takes an equal run
// of samples and its GEMMs run single-threaded; otherwise groups run one
// after another and OpenBLAS spreads each GEMM across the threads.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "autograd/kernels/conv_geometry.h"
#include "autograd/cpu/blas.h"
#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"
#include "autograd/cpu/winograd.h"
#include "autograd/kernels/scratch.h"

namespace ag {

namespace {

// body(i) for i < n, across threads when the total work is worth it and no
// parallel region encloses the call.
template <class F>
void parallel_for(int64_t n, int64_t work, const F& body) {
#pragma omp parallel for schedule(static) if (work > cpu::kParallelGrain && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) body(i);
}

// The GEMM width a group of samples aims for (g*P*Q columns).
constexpr int64_t kGroupColumns = 1024;

// The output columns q in [lo, hi) whose input column q*stride + offset lies
// in [0, W).
struct Span {
  int64_t lo, hi;
};

Span valid_columns(int64_t offset, const ConvGeometry& g) {
  const int64_t lo = offset >= 0 ? 0 : (-offset + g.stride - 1) / g.stride;
  const int64_t last = g.W - 1 - offset;
  const int64_t hi = last < 0 ? 0 : last / g.stride + 1;
  return {std::min(lo, g.Q), std::clamp(hi, std::min(lo, g.Q), g.Q)};
}

// dst[q] = src[q * stride] for q < n.
template <class T>
void gather_row(const T* src, int64_t stride, int64_t n, T* dst) {
  if (stride == 1)
    std::copy(src, src + n, dst);
  else
    for (int64_t q = 0; q < n; ++q) dst[q] = src[q * stride];
}

// dst[q * stride] += src[q] for q < n.
template <class T>
void scatter_add_row(const T* src, int64_t n, int64_t stride, T* dst) {
  if (stride == 1)
    for (int64_t q = 0; q < n; ++q) dst[q] += src[q];
  else
    for (int64_t q = 0; q < n; ++q) dst[q * stride] += src[q];
}

// Kernel tap (r, s) of a stride-1 convolution that keeps the size (P = H,
// Q = W) reads x at offset (dh, dw) = (r - pad, s - pad), so its column row
// (H*W) is the plane x shifted by dh*W + dw. Rows p outside [p_lo, p_hi) and
// columns q outside [q_lo, q_hi) are padding; the rest lies in the row's
// entries [lo, hi), along with the padding columns of the rows in between.
struct Shift {
  int64_t offset, lo, hi, p_lo, p_hi, q_lo, q_hi;
};

Shift tap_shift(int64_t r, int64_t s, const ConvGeometry& g) {
  const int64_t dh = r - g.pad, dw = s - g.pad;
  Shift t;
  t.offset = dh * g.W + dw;
  t.p_lo = std::clamp<int64_t>(-dh, 0, g.H);
  t.p_hi = std::clamp<int64_t>(g.H - dh, t.p_lo, g.H);
  t.q_lo = std::clamp<int64_t>(-dw, 0, g.W);
  t.q_hi = std::clamp<int64_t>(g.W - dw, t.q_lo, g.W);
  const bool empty = t.p_lo == t.p_hi || t.q_lo == t.q_hi;
  t.lo = empty ? 0 : t.p_lo * g.W + t.q_lo;
  t.hi = empty ? 0 : (t.p_hi - 1) * g.W + t.q_hi;
  return t;
}

// Zeroes the padding columns q outside [q_lo, q_hi) of rows [p_lo, p_hi) of
// a tap's row (H*W): a column at a time, as there are at most `pad` of them
// on each side (a call per row would cost more than the stores).
template <class T>
void zero_padding_columns(const Shift& t, const ConvGeometry& g, T* row) {
  const auto zero_column = [&](int64_t q) {
    for (int64_t p = t.p_lo; p < t.p_hi; ++p) row[p * g.W + q] = T(0);
  };
  for (int64_t q = 0; q < t.q_lo; ++q) zero_column(q);
  for (int64_t q = t.q_hi; q < g.W; ++q) zero_column(q);
}

// row (H*W) = column row of tap t for the size-keeping plane x (H, W).
template <class T>
void shifted_row(const T* x, const Shift& t, const ConvGeometry& g, T* row) {
  std::fill(row, row + t.lo, T(0));
  std::copy(x + t.lo + t.offset, x + t.hi + t.offset, row + t.lo);
  std::fill(row + t.hi, row + g.hw(), T(0));
  zero_padding_columns(t, g, row);
}

// The adjoint of shifted_row: dx (H, W) += row (H*W) of tap t. Zeroes the
// row's padding entries so that one contiguous sum covers the rest.
template <class T>
void shifted_row_add(T* row, const Shift& t, const ConvGeometry& g, T* dx) {
  zero_padding_columns(t, g, row);
  T* out = dx + t.offset;
#pragma omp simd
  for (int64_t j = t.lo; j < t.hi; ++j) out[j] += row[j];
}

// One input plane x (H, W) into its R*S column rows, each (P*Q), ld apart.
template <class T>
void im2col_plane(const T* x, const ConvGeometry& g, int64_t ld, T* col) {
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      T* row = col + (r * g.S + s) * ld;
      if (g.keeps_size()) {
        shifted_row(x, tap_shift(r, s, g), g, row);
        continue;
      }
      const Span qs = valid_columns(s - g.pad, g);
      for (int64_t p = 0; p < g.P; ++p) {
        T* out = row + p * g.Q;
        const int64_t ih = p * g.stride - g.pad + r;
        if (ih < 0 || ih >= g.H) {
          std::fill(out, out + g.Q, T(0));
          continue;
        }
        const T* in = x + (ih * g.W + s - g.pad + qs.lo * g.stride);
        std::fill(out, out + qs.lo, T(0));
        gather_row(in, g.stride, qs.hi - qs.lo, out + qs.lo);
        std::fill(out + qs.hi, out + g.Q, T(0));
      }
    }
  }
}

// The adjoint of im2col_plane: dx (H, W) = sum of its column rows' entries.
// May overwrite col's padding entries.
template <class T>
void col2im_plane(T* col, const ConvGeometry& g, int64_t ld, T* dx) {
  std::fill(dx, dx + g.hw(), T(0));
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      T* row = col + (r * g.S + s) * ld;
      if (g.keeps_size()) {
        shifted_row_add(row, tap_shift(r, s, g), g, dx);
        continue;
      }
      const Span qs = valid_columns(s - g.pad, g);
      for (int64_t p = 0; p < g.P; ++p) {
        const int64_t ih = p * g.stride - g.pad + r;
        if (ih < 0 || ih >= g.H) continue;
        T* out = dx + (ih * g.W + s - g.pad + qs.lo * g.stride);
        scatter_add_row(row + p * g.Q + qs.lo, qs.hi - qs.lo, g.stride, out);
      }
    }
  }
}

// The samples [n0, n0 + count) that share one GEMM.
struct Group {
  int64_t n0, count;
  int64_t width(const ConvGeometry& g) const { return count * g.pq(); }
};

// The GEMM operand for group b of x (N, C, H, W): x[n0] itself, viewed as
// (C, H*W), for one pointwise sample, else the group's columns packed into
// col (C*R*S, count*P*Q).
template <class T>
const T* group_columns(const T* x, const ConvGeometry& g, Group b, T* col) {
  if (g.pointwise() && b.count == 1) return x + b.n0 * g.C * g.hw();
  const int64_t ld = b.width(g);
  parallel_for(b.count * g.C, b.count * g.crs() * g.pq(), [&](int64_t i) {
    const int64_t n = i / g.C, c = i % g.C;
    im2col_plane(x + (b.n0 + n) * g.C * g.hw() + c * g.hw(), g, ld,
                 col + c * g.R * g.S * ld + n * g.pq());
  });
  return col;
}

// dx[n] (C, H, W) for the group's samples from their columns dcol
// (C*R*S, count*P*Q), which this may overwrite.
template <class T>
void group_col2im(T* dcol, const ConvGeometry& g, Group b, T* dx) {
  const int64_t ld = b.width(g);
  parallel_for(b.count * g.C, b.count * g.crs() * g.pq(), [&](int64_t i) {
    const int64_t n = i / g.C, c = i % g.C;
    col2im_plane(dcol + c * g.R * g.S * ld + n * g.pq(), g, ld,
                 dx + (b.n0 + n) * g.C * g.hw() + c * g.hw());
  });
}

// dy of the group, dy[n] (K, P*Q) side by side as one (K, count*P*Q) matrix:
// dy[n0] itself for one sample, else packed into buf.
template <class T>
const T* group_grads(const T* dy, const ConvGeometry& g, Group b, T* buf) {
  if (b.count == 1) return dy + b.n0 * g.K * g.pq();
  for (int64_t n = 0; n < b.count; ++n)
    for (int64_t k = 0; k < g.K; ++k) {
      const T* src = dy + ((b.n0 + n) * g.K + k) * g.pq();
      std::copy(src, src + g.pq(), buf + k * b.width(g) + n * g.pq());
    }
  return buf;
}

// y[n] (K, P*Q) of the group = its part of out (K, count*P*Q) + bias (K) or
// none; out may be y[n0] itself for one sample.
template <class T>
void store_outputs(const T* out, const T* bias, const ConvGeometry& g, Group b, T* y) {
  for (int64_t n = 0; n < b.count; ++n)
    for (int64_t k = 0; k < g.K; ++k) {
      const T* src = out + k * b.width(g) + n * g.pq();
      T* dst = y + ((b.n0 + n) * g.K + k) * g.pq();
      const T shift = bias ? bias[k] : T(0);
      if (src == dst && !bias) continue;
#pragma omp simd
      for (int64_t j = 0; j < g.pq(); ++j) dst[j] = src[j] + shift;
    }
}

// Threads that run samples side by side: all of them when there are enough
// samples and work, else one (and OpenBLAS parallelizes each GEMM).
int64_t sample_threads(const ConvGeometry& g) {
  const int64_t threads = omp_get_max_threads();
  const bool enough = g.N >= threads && g.N * g.K * g.crs() * g.pq() > cpu::kParallelGrain;
  return enough ? threads : 1;
}

// Samples per group: about kGroupColumns / (P*Q), evened out over the
// ceil(N / threads) samples of a thread; pointwise convolutions read x
// directly, so they go one sample at a time.
int64_t group_size(const ConvGeometry& g, int64_t threads) {
  if (g.pointwise()) return 1;
  const int64_t per_thread = (g.N + threads - 1) / threads;
  const int64_t wanted = std::clamp<int64_t>(kGroupColumns / g.pq(), 1, per_thread);
  const int64_t groups = (per_thread + wanted - 1) / wanted;
  return (per_thread + groups - 1) / groups;
}

// body(b, t) for groups b of at most size samples, where scratch slot t of
// threads covers samples [t*N/threads, (t+1)*N/threads). With one thread no
// parallel region opens, so OpenBLAS may use them all.
template <class F>
void for_each_group(const ConvGeometry& g, int64_t threads, int64_t size, const F& body) {
  const auto run = [&](int64_t t) {
    const int64_t end = (t + 1) * g.N / threads;
    for (int64_t n0 = t * g.N / threads; n0 < end; n0 += size)
      body(Group{n0, std::min(size, end - n0)}, t);
  };
  if (threads == 1) {
    run(0);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t t = 0; t < threads; ++t) run(t);
}

// y[n] (K, P*Q) = w (K, C*R*S) x columns of x[n] (C*R*S, P*Q) + bias for the
// group's samples, via out (K, count*P*Q).
template <class T>
void forward_group(const T* x, const T* w, const T* bias, const ConvGeometry& g, Group b, T* col,
                   T* out, T* y) {
  const T* cols = group_columns(x, g, b, col);
  const int64_t n = b.width(g);
  if (b.count == 1) out = y + b.n0 * g.K * g.pq();
  cpu::blas_gemm(false, false, g.K, n, g.crs(), T(1), w, g.crs(), cols, n, T(0), out, n);
  store_outputs(out, bias, g, b, y);
}

template <class T>
void conv_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                  T* y) {
  if (cpu::winograd_applies(g)) {
    cpu::winograd_forward(mem, x, w, bias, g, y);
    return;
  }
  const int64_t threads = sample_threads(g);
  const int64_t size = group_size(g, threads);
  const int64_t col_size = g.pointwise() ? 0 : g.crs() * size * g.pq();
  const int64_t out_size = size == 1 ? 0 : g.K * size * g.pq();
  Scratch<T> cols(mem, threads * col_size);  // threads x (C*R*S, size*P*Q)
  Scratch<T> outs(mem, threads * out_size);  // threads x (K, size*P*Q)
  for_each_group(g, threads, size, [&](Group b, int64_t t) {
    forward_group(x, w, bias, g, b, cols.data() + t * col_size, outs.data() + t * out_size, y);
  });
}

// For one group: dw_part (K, C*R*S) += dy_group (K, count*P*Q) x its columns
// of x^T, and dx[n] (C, H, W) = col2im of w^T (C*R*S, K) dy_group; a null
// output is skipped. col and buf are scratch for columns and dy_group.
template <class T>
void backward_group(const T* x, const T* w, const T* dy, const ConvGeometry& g, Group b, T* col,
                    T* buf, T* dx, T* dw_part) {
  const T* dy_group = group_grads(dy, g, b, buf);
  const int64_t n = b.width(g);
  if (dw_part) {
    const T* cols = group_columns(x, g, b, col);
    cpu::blas_gemm(false, true, g.K, g.crs(), n, T(1), dy_group, n, cols, n, T(1), dw_part,
                   g.crs());
  }
  if (dx) {
    const bool direct = g.pointwise() && b.count == 1;
    T* dcol = direct ? dx + b.n0 * g.C * g.hw() : col;  // (C*R*S, count*P*Q)
    cpu::blas_gemm(true, false, g.crs(), n, g.K, T(1), w, g.crs(), dy_group, n, T(0), dcol, n);
    if (!direct) group_col2im(dcol, g, b, dx);
  }
}

// dw (size) += each of parts (count, size).
template <class T>
void add_partials(const T* parts, int64_t count, int64_t size, T* dw) {
  parallel_for(size, count * size, [&](int64_t i) {
    for (int64_t t = 0; t < count; ++t) dw[i] += parts[t * size + i];
  });
}

// dx and dw group by group; x is read only for dw, w only for dx. Thread 0
// accumulates into dw itself, the others into partials added at the end.
template <class T>
void conv_backward_groups(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                          T* dx, T* dw) {
  const int64_t threads = sample_threads(g);
  const int64_t size = group_size(g, threads);
  const int64_t col_size = g.pointwise() ? 0 : g.crs() * size * g.pq();
  const int64_t buf_size = size == 1 ? 0 : g.K * size * g.pq();
  const int64_t dw_size = dw ? g.K * g.crs() : 0;
  Scratch<T> cols(mem, threads * col_size);           // threads x (C*R*S, size*P*Q)
  Scratch<T> bufs(mem, threads * buf_size);           // threads x (K, size*P*Q)
  Scratch<T> dw_parts(mem, (threads - 1) * dw_size);  // (threads - 1) x (K, C*R*S)
  if (dw) {
    std::fill(dw, dw + dw_size, T(0));
    std::fill(dw_parts.data(), dw_parts.data() + (threads - 1) * dw_size, T(0));
  }
  for_each_group(g, threads, size, [&](Group b, int64_t t) {
    T* dw_part = !dw ? nullptr : t == 0 ? dw : dw_parts.data() + (t - 1) * dw_size;
    backward_group(x, w, dy, g, b, cols.data() + t * col_size, bufs.data() + t * buf_size, dx,
                   dw_part);
  });
  if (dw) add_partials(dw_parts.data(), threads - 1, dw_size, dw);
}

// dbias (K) = sum of dy (N, K, P, Q) over N, P, Q.
template <class T>
void bias_grad(const T* dy, const ConvGeometry& g, T* dbias) {
  parallel_for(g.K, g.N * g.K * g.pq(), [&](int64_t k) {
    double total = 0.0;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* plane = dy + (n * g.K + k) * g.pq();
#pragma omp simd reduction(+ : total)
      for (int64_t j = 0; j < g.pq(); ++j) total += plane[j];
    }
    dbias[k] = static_cast<T>(total);
  });
}

template <class T>
void conv_backward(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g, T* dx,
                   T* dw, T* dbias) {
  if (dbias) bias_grad(dy, g, dbias);
  if (!dx && !dw) return;
  if (cpu::winograd_applies(g))
    cpu::winograd_backward(mem, x, w, dy, g, dx, dw);
  else
    conv_backward_groups(mem, x, w, dy, g, dx, dw);
}

// y (planes, 2H, 2W) from x (planes, H, W): each pixel becomes a 2x2 block.
template <class T>
void upsample_forward(const T* x, int64_t planes, int64_t H, int64_t W, T* y) {
  parallel_for(planes, planes * 4 * H * W, [&](int64_t i) {
    const T* in = x + i * H * W;
    T* out = y + i * 4 * H * W;
    for (int64_t h = 0; h < H; ++h) {
      T* row = out + 2 * h * 2 * W;
      for (int64_t w = 0; w < W; ++w) row[2 * w] = row[2 * w + 1] = in[h * W + w];
      std::memcpy(row + 2 * W, row, static_cast<size_t>(2 * W) * sizeof(T));
    }
  });
}

// dx (planes, H, W): each pixel sums its 2x2 block of dy (planes, 2H, 2W).
template <class T>
void upsample_backward(const T* dy, int64_t planes, int64_t H, int64_t W, T* dx) {
  parallel_for(planes, planes * 4 * H * W, [&](int64_t i) {
    const T* in = dy + i * 4 * H * W;
    T* out = dx + i * H * W;
    for (int64_t h = 0; h < H; ++h) {
      const T* top = in + 2 * h * 2 * W;
      const T* bottom = top + 2 * W;
      for (int64_t w = 0; w < W; ++w)
        out[h * W + w] = top[2 * w] + top[2 * w + 1] + bottom[2 * w] + bottom[2 * w + 1];
    }
  });
}

}  // namespace

void CpuBackend::conv2d_forward(const TensorRef& x, const TensorRef& w, const TensorRef& bias,
                                const TensorRef& y, const Conv2dParams& p) {
  const ConvGeometry g = conv_geometry(x, w, p);
  cpu::dispatch_float(x.dtype, "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    conv_forward<T>(*this, x.ptr<T>(), w.ptr<T>(), bias.ptr<T>(), g, y.ptr<T>());
  });
}

void CpuBackend::conv2d_backward(const TensorRef& x, const TensorRef& w, const TensorRef& dy,
                                 const TensorRef& dx, const TensorRef& dw, const TensorRef& dbias,
                                 const Conv2dParams& p) {
  const ConvGeometry g = conv_geometry(x, w, p);
  cpu::dispatch_float(dy.dtype, "conv2d_backward", [&](auto tag) {
    using T = decltype(tag);
    conv_backward<T>(*this, x.ptr<T>(), w.ptr<T>(), dy.ptr<T>(), g, dx.ptr<T>(), dw.ptr<T>(),
                     dbias.ptr<T>());
  });
}

void CpuBackend::upsample_nearest2x_forward(const TensorRef& x, const TensorRef& y) {
  cpu::dispatch_float(x.dtype, "upsample_nearest2x_forward", [&](auto tag) {
    using T = decltype(tag);
    upsample_forward<T>(x.ptr<T>(), x.shape[0] * x.shape[1], x.shape[2], x.shape[3], y.ptr<T>());
  });
}

void CpuBackend::upsample_nearest2x_backward(const TensorRef& dy, const TensorRef& dx) {
  cpu::dispatch_float(dy.dtype, "upsample_nearest2x_backward", [&](auto tag) {
    using T = decltype(tag);
    upsample_backward<T>(dy.ptr<T>(), dx.shape[0] * dx.shape[1], dx.shape[2], dx.shape[3],
                         dx.ptr<T>());
  });
}

}  // namespace ag
