// conv2d and nearest-neighbour upsampling on the CPU. conv2d lowers to GEMM:
// im2col packs the receptive fields of a chunk of samples into one column
// matrix (C*R*S, n*P*Q), and a single OpenBLAS GEMM per chunk multiplies the
// weights, viewed as (K, C*R*S), by it. 1x1 convolutions with stride 1 and no
// padding need no packing: each sample's GEMM reads the input directly.
// OpenMP parallelizes the packing loops; GEMMs run outside any parallel
// region so that OpenBLAS uses every thread itself.
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "autograd/cpu/cpu_backend.h"
#include "autograd/cpu/dispatch.h"

namespace ag {

namespace {

// Column buffers stay under this size; larger batches run in chunks.
constexpr int64_t kColumnBytes = int64_t{32} << 20;

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

// How many samples one column buffer holds (at least one).
int64_t chunk_samples(const ConvGeometry& g, size_t elem_size) {
  const int64_t per_sample = g.crs() * g.pq() * static_cast<int64_t>(elem_size);
  return std::clamp<int64_t>(kColumnBytes / std::max<int64_t>(per_sample, 1), 1,
                             std::max<int64_t>(g.N, 1));
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

// body(i) for i < n, across threads when the total work is worth it.
template <class F>
void parallel_for(int64_t n, int64_t work, const F& body) {
#pragma omp parallel for schedule(static) if (work > cpu::kParallelGrain)
  for (int64_t i = 0; i < n; ++i) body(i);
}

// C (M, N) = op(A) op(B) + beta C, row-major.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(M),
              static_cast<blasint>(N), static_cast<blasint>(K), 1.0f, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const double* A,
          int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(M),
              static_cast<blasint>(N), static_cast<blasint>(K), 1.0, A,
              static_cast<blasint>(lda), B, static_cast<blasint>(ldb), beta, C,
              static_cast<blasint>(ldc));
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

// One input plane x (H, W) into its R*S column rows, each (P*Q) at stride ld.
template <class T>
void im2col_plane(const T* x, const ConvGeometry& g, T* col, int64_t ld) {
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      T* row = col + (r * g.S + s) * ld;
      const Span qs = valid_columns(s - g.pad, g);
      for (int64_t p = 0; p < g.P; ++p) {
        T* out = row + p * g.Q;
        const int64_t ih = p * g.stride - g.pad + r;
        if (ih < 0 || ih >= g.H) {
          std::fill(out, out + g.Q, T(0));
          continue;
        }
        const int64_t base = ih * g.W + s - g.pad;
        std::fill(out, out + qs.lo, T(0));
        for (int64_t q = qs.lo; q < qs.hi; ++q) out[q] = x[base + q * g.stride];
        std::fill(out + qs.hi, out + g.Q, T(0));
      }
    }
  }
}

// The adjoint of im2col_plane: dx (H, W) = sum of its column rows' entries.
template <class T>
void col2im_plane(const T* col, const ConvGeometry& g, int64_t ld, T* dx) {
  std::fill(dx, dx + g.hw(), T(0));
  for (int64_t r = 0; r < g.R; ++r) {
    for (int64_t s = 0; s < g.S; ++s) {
      const T* row = col + (r * g.S + s) * ld;
      const Span qs = valid_columns(s - g.pad, g);
      for (int64_t p = 0; p < g.P; ++p) {
        const int64_t ih = p * g.stride - g.pad + r;
        if (ih < 0 || ih >= g.H) continue;
        const T* in = row + p * g.Q;
        const int64_t base = ih * g.W + s - g.pad;
        for (int64_t q = qs.lo; q < qs.hi; ++q) dx[base + q * g.stride] += in[q];
      }
    }
  }
}

// Samples [n0, n0 + nc) of x (N, C, H, W) into col (C*R*S, nc*P*Q).
template <class T>
void im2col(const T* x, const ConvGeometry& g, int64_t n0, int64_t nc, T* col) {
  const int64_t ld = nc * g.pq();
  parallel_for(nc * g.C, g.crs() * ld, [&](int64_t i) {
    const int64_t n = i / g.C, c = i % g.C;
    im2col_plane(x + ((n0 + n) * g.C + c) * g.hw(), g, col + c * g.R * g.S * ld + n * g.pq(),
                 ld);
  });
}

// dcol (C*R*S, nc*P*Q) back onto samples [n0, n0 + nc) of dx (N, C, H, W).
template <class T>
void col2im(const T* dcol, const ConvGeometry& g, int64_t n0, int64_t nc, T* dx) {
  const int64_t ld = nc * g.pq();
  parallel_for(nc * g.C, g.crs() * ld, [&](int64_t i) {
    const int64_t n = i / g.C, c = i % g.C;
    col2im_plane(dcol + c * g.R * g.S * ld + n * g.pq(), g, ld,
                 dx + ((n0 + n) * g.C + c) * g.hw());
  });
}

// y (N, K, P, Q) samples [n0, n0 + nc) = out (K, nc*P*Q) + bias (K) or none.
template <class T>
void unpack_output(const T* out, const T* bias, const ConvGeometry& g, int64_t n0, int64_t nc,
                   T* y) {
  const int64_t ld = nc * g.pq();
  parallel_for(nc * g.K, g.K * ld, [&](int64_t i) {
    const int64_t n = i / g.K, k = i % g.K;
    const T* src = out + k * ld + n * g.pq();
    T* dst = y + ((n0 + n) * g.K + k) * g.pq();
    const T b = bias ? bias[k] : T(0);
    for (int64_t j = 0; j < g.pq(); ++j) dst[j] = src[j] + b;
  });
}

// dyt (K, nc*P*Q) = samples [n0, n0 + nc) of dy (N, K, P, Q).
template <class T>
void pack_output_grad(const T* dy, const ConvGeometry& g, int64_t n0, int64_t nc, T* dyt) {
  const int64_t ld = nc * g.pq();
  parallel_for(nc * g.K, g.K * ld, [&](int64_t i) {
    const int64_t n = i / g.K, k = i % g.K;
    std::memcpy(dyt + k * ld + n * g.pq(), dy + ((n0 + n) * g.K + k) * g.pq(),
                static_cast<size_t>(g.pq()) * sizeof(T));
  });
}

// y (N, K, P, Q) += bias (K)
template <class T>
void add_bias(const T* bias, const ConvGeometry& g, T* y) {
  parallel_for(g.N * g.K, g.N * g.K * g.pq(), [&](int64_t i) {
    T* plane = y + i * g.pq();
    const T b = bias[i % g.K];
    for (int64_t j = 0; j < g.pq(); ++j) plane[j] += b;
  });
}

// dbias (K) = sum of dy (N, K, P, Q) over N, P, Q.
template <class T>
void bias_grad(const T* dy, const ConvGeometry& g, T* dbias) {
  parallel_for(g.K, g.N * g.K * g.pq(), [&](int64_t k) {
    T total = 0;
    for (int64_t n = 0; n < g.N; ++n) {
      const T* plane = dy + (n * g.K + k) * g.pq();
      for (int64_t j = 0; j < g.pq(); ++j) total += plane[j];
    }
    dbias[k] = total;
  });
}

// y[n] (K, H*W) = w (K, C) x[n] (C, H*W), one GEMM per sample.
template <class T>
void forward_pointwise(const T* x, const T* w, const ConvGeometry& g, T* y) {
  for (int64_t n = 0; n < g.N; ++n)
    gemm(false, false, g.K, g.hw(), g.C, w, g.C, x + n * g.C * g.hw(), g.hw(), T(0),
         y + n * g.K * g.hw(), g.hw());
}

// dw (K, C) = sum_n dy[n] (K, H*W) x[n]^T; dx[n] (C, H*W) = w^T dy[n].
template <class T>
void backward_pointwise(const T* x, const T* w, const T* dy, const ConvGeometry& g, T* dx,
                        T* dw) {
  for (int64_t n = 0; n < g.N; ++n) {
    const T* dy_n = dy + n * g.K * g.hw();
    if (dw)
      gemm(false, true, g.K, g.C, g.hw(), dy_n, g.hw(), x + n * g.C * g.hw(), g.hw(),
           T(n == 0 ? 0 : 1), dw, g.C);
    if (dx)
      gemm(true, false, g.C, g.hw(), g.K, w, g.C, dy_n, g.hw(), T(0), dx + n * g.C * g.hw(),
           g.hw());
  }
}

template <class T>
void conv_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                  T* y) {
  if (g.pointwise()) {
    forward_pointwise(x, w, g, y);
    if (bias) add_bias(bias, g, y);
    return;
  }
  const int64_t chunk = chunk_samples(g, sizeof(T));
  Scratch<T> col(mem, g.crs() * chunk * g.pq());  // (C*R*S, chunk*P*Q)
  Scratch<T> out(mem, g.K * chunk * g.pq());      // (K, chunk*P*Q)
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nc = std::min(chunk, g.N - n0);
    im2col(x, g, n0, nc, col.data());
    gemm(false, false, g.K, nc * g.pq(), g.crs(), w, g.crs(), col.data(), nc * g.pq(), T(0),
         out.data(), nc * g.pq());
    unpack_output(out.data(), bias, g, n0, nc, y);
  }
}

// dx and dw by chunks; x is read only for dw, w only for dx.
template <class T>
void conv_backward_chunked(Backend& mem, const T* x, const T* w, const T* dy,
                           const ConvGeometry& g, T* dx, T* dw) {
  const int64_t chunk = chunk_samples(g, sizeof(T));
  Scratch<T> col(mem, g.crs() * chunk * g.pq());  // (C*R*S, chunk*P*Q): x's or dx's columns
  Scratch<T> dyt(mem, g.K * chunk * g.pq());      // (K, chunk*P*Q)
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t nc = std::min(chunk, g.N - n0);
    const int64_t cols = nc * g.pq();
    pack_output_grad(dy, g, n0, nc, dyt.data());
    if (dw) {
      im2col(x, g, n0, nc, col.data());
      gemm(false, true, g.K, g.crs(), cols, dyt.data(), cols, col.data(), cols,
           T(n0 == 0 ? 0 : 1), dw, g.crs());
    }
    if (dx) {
      gemm(true, false, g.crs(), cols, g.K, w, g.crs(), dyt.data(), cols, T(0), col.data(),
           cols);
      col2im(col.data(), g, n0, nc, dx);
    }
  }
}

template <class T>
void conv_backward(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                   T* dx, T* dw, T* dbias) {
  if (dbias) bias_grad(dy, g, dbias);
  if (g.N == 0) {
    if (dw) std::fill(dw, dw + g.K * g.crs(), T(0));
    return;
  }
  if (g.pointwise())
    backward_pointwise(x, w, dy, g, dx, dw);
  else if (dx || dw)
    conv_backward_chunked(mem, x, w, dy, g, dx, dw);
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
                                 const TensorRef& dx, const TensorRef& dw,
                                 const TensorRef& dbias, const Conv2dParams& p) {
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
    upsample_forward<T>(x.ptr<T>(), x.shape[0] * x.shape[1], x.shape[2], x.shape[3],
                        y.ptr<T>());
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
