// conv2d and nearest-neighbour upsampling on the CPU. conv2d lowers to one
// GEMM per sample: im2col packs sample n's receptive fields into a column
// matrix (C*R*S, P*Q) that stays in cache, and y[n] (K, P*Q), already NCHW,
// is the weights viewed as (K, C*R*S) times it. 1x1 convolutions with stride
// 1 and no padding need no packing: the GEMM reads x[n] (C, H*W) directly.
// The backward pass mirrors this: dx[n] is col2im of w^T dy[n], and dw sums
// dy[n] col[n]^T into one partial per thread, added up at the end.
// With at least as many samples as threads, OpenMP runs samples in parallel
// and each GEMM single-threaded; otherwise samples run one after another and
// OpenBLAS spreads each GEMM across the threads.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "autograd/cpu/blas.h"
#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

namespace {

struct ConvGeometry {
  int64_t N, C, H, W;  // input (N, C, H, W)
  int64_t K, R, S;     // weight (K, C, R, S)
  int64_t P, Q;        // output (N, K, P, Q)
  int64_t stride, pad;
  int64_t crs() const { return C * R * S; }
  int64_t hw() const { return H * W; }
  int64_t pq() const { return P * Q; }
  bool pointwise() const { return R == 1 && S == 1 && stride == 1 && pad == 0; }
};

ConvGeometry conv_geometry(const TensorRef& x, const TensorRef& w, const Conv2dParams& p) {
  ConvGeometry g;
  g.N = x.shape[0];
  g.C = x.shape[1];
  g.H = x.shape[2];
  g.W = x.shape[3];
  g.K = w.shape[0];
  g.R = w.shape[2];
  g.S = w.shape[3];
  g.stride = p.stride;
  g.pad = p.padding;
  g.P = (g.H + 2 * g.pad - g.R) / g.stride + 1;
  g.Q = (g.W + 2 * g.pad - g.S) / g.stride + 1;
  return g;
}

// Scratch memory from the caching allocator, given back at scope exit.
template <class T>
class Scratch {
 public:
  Scratch(Backend& mem, int64_t count)
      : mem_(mem),
        nbytes_(static_cast<size_t>(count) * sizeof(T)),
        data_(static_cast<T*>(mem.allocate(nbytes_))) {}
  ~Scratch() { mem_.deallocate(data_, nbytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }

 private:
  Backend& mem_;
  size_t nbytes_;
  T* data_;
};

// body(i) for i < n, across threads when the total work is worth it and no
// parallel region encloses the call.
template <class F>
void parallel_for(int64_t n, int64_t work, const F& body) {
#pragma omp parallel for schedule(static) if (work > cpu::kParallelGrain && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) body(i);
}

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

// One input plane x (H, W) into its R*S column rows, each (P*Q).
template <class T>
void im2col_plane(const T* x, const ConvGeometry& g, T* col) {
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      T* row = col + (r * g.S + s) * g.pq();
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
template <class T>
void col2im_plane(const T* col, const ConvGeometry& g, T* dx) {
  std::fill(dx, dx + g.hw(), T(0));
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      const T* row = col + (r * g.S + s) * g.pq();
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

// The GEMM operand for sample x_n (C, H, W): x_n itself, viewed as (C, H*W),
// for pointwise convolutions, else its columns packed into col (C*R*S, P*Q).
template <class T>
const T* sample_columns(const T* x_n, const ConvGeometry& g, T* col) {
  if (g.pointwise()) return x_n;
  parallel_for(g.C, g.crs() * g.pq(),
               [&](int64_t c) { im2col_plane(x_n + c * g.hw(), g, col + c * g.R * g.S * g.pq()); });
  return col;
}

// dx_n (C, H, W) from its columns dcol (C*R*S, P*Q).
template <class T>
void col2im_sample(const T* dcol, const ConvGeometry& g, T* dx_n) {
  parallel_for(g.C, g.crs() * g.pq(), [&](int64_t c) {
    col2im_plane(dcol + c * g.R * g.S * g.pq(), g, dx_n + c * g.hw());
  });
}

// Threads that run samples side by side: all of them when there are enough
// samples and work, else one (and OpenBLAS parallelizes each GEMM).
int64_t sample_threads(const ConvGeometry& g) {
  const int64_t threads = omp_get_max_threads();
  const bool enough = g.N >= threads && g.N * g.K * g.crs() * g.pq() > cpu::kParallelGrain;
  return enough ? threads : 1;
}

// body(n, t) for every sample n, with t the index of the thread running it.
// With one thread no parallel region opens, so OpenBLAS may use them all.
template <class F>
void for_each_sample(const ConvGeometry& g, int64_t threads, const F& body) {
  if (threads == 1) {
    for (int64_t n = 0; n < g.N; ++n) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t n = 0; n < g.N; ++n) body(n, omp_get_thread_num());
}

// y_n (K, P*Q) = w (K, C*R*S) x columns of x_n (C*R*S, P*Q) + bias (K) or none.
template <class T>
void forward_sample(const T* x_n, const T* w, const T* bias, const ConvGeometry& g, T* col,
                    T* y_n) {
  const T* cols = sample_columns(x_n, g, col);
  if (bias)
    for (int64_t k = 0; k < g.K; ++k) std::fill(y_n + k * g.pq(), y_n + (k + 1) * g.pq(), bias[k]);
  cpu::blas_gemm(false, false, g.K, g.pq(), g.crs(), T(1), w, g.crs(), cols, g.pq(),
                 T(bias ? 1 : 0), y_n, g.pq());
}

template <class T>
void conv_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                  T* y) {
  const int64_t threads = sample_threads(g);
  const int64_t col_size = g.pointwise() ? 0 : g.crs() * g.pq();
  Scratch<T> cols(mem, threads * col_size);  // threads x (C*R*S, P*Q)
  for_each_sample(g, threads, [&](int64_t n, int64_t t) {
    forward_sample(x + n * g.C * g.hw(), w, bias, g, cols.data() + t * col_size,
                   y + n * g.K * g.pq());
  });
}

// For one sample: dw_part (K, C*R*S) += dy_n (K, P*Q) x columns of x_n^T, and
// dx_n (C, H, W) = col2im of w^T (C*R*S, K) dy_n; a null output is skipped.
template <class T>
void backward_sample(const T* x_n, const T* w, const T* dy_n, const ConvGeometry& g, T* col,
                     T* dx_n, T* dw_part) {
  if (dw_part) {
    const T* cols = sample_columns(x_n, g, col);
    cpu::blas_gemm(false, true, g.K, g.crs(), g.pq(), T(1), dy_n, g.pq(), cols, g.pq(), T(1),
                   dw_part, g.crs());
  }
  if (dx_n) {
    T* dcol = g.pointwise() ? dx_n : col;  // (C*R*S, P*Q)
    cpu::blas_gemm(true, false, g.crs(), g.pq(), g.K, T(1), w, g.crs(), dy_n, g.pq(), T(0), dcol,
                   g.pq());
    if (!g.pointwise()) col2im_sample(dcol, g, dx_n);
  }
}

// dw (size) += each of parts (count, size).
template <class T>
void add_partials(const T* parts, int64_t count, int64_t size, T* dw) {
  parallel_for(size, count * size, [&](int64_t i) {
    for (int64_t t = 0; t < count; ++t) dw[i] += parts[t * size + i];
  });
}

// dx and dw sample by sample; x is read only for dw, w only for dx. Thread 0
// accumulates into dw itself, the others into partials added at the end.
template <class T>
void conv_backward_samples(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                           T* dx, T* dw) {
  const int64_t threads = sample_threads(g);
  const int64_t col_size = g.pointwise() ? 0 : g.crs() * g.pq();
  const int64_t dw_size = dw ? g.K * g.crs() : 0;
  Scratch<T> cols(mem, threads * col_size);           // threads x (C*R*S, P*Q)
  Scratch<T> dw_parts(mem, (threads - 1) * dw_size);  // (threads - 1) x (K, C*R*S)
  if (dw) {
    std::fill(dw, dw + dw_size, T(0));
    std::fill(dw_parts.data(), dw_parts.data() + (threads - 1) * dw_size, T(0));
  }
  for_each_sample(g, threads, [&](int64_t n, int64_t t) {
    T* dw_part = !dw ? nullptr : t == 0 ? dw : dw_parts.data() + (t - 1) * dw_size;
    backward_sample(dw ? x + n * g.C * g.hw() : nullptr, w, dy + n * g.K * g.pq(), g,
                    cols.data() + t * col_size, dx ? dx + n * g.C * g.hw() : nullptr, dw_part);
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
  if (dx || dw) conv_backward_samples(mem, x, w, dy, g, dx, dw);
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
