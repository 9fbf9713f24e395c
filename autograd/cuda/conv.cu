// conv2d and nearest-neighbour upsampling on CUDA. conv2d lowers to cuBLAS
// GEMMs over chunks of samples. im2col packs a chunk's receptive fields side
// by side into col (C*R*S, count*P*Q), sample n's columns at n*P*Q; one
// strided-batched GEMM then gives every y[n] (K, P*Q) = w (K, C*R*S) x its
// columns (leading dimension count*P*Q, batch stride P*Q), written straight
// into y, which already holds the bias (beta = 1). Pointwise convolutions
// (1x1, stride 1, no padding) read x[n] (C, H*W) directly as their columns.
// Backward, per chunk: dx[n] = col2im(w^T dy[n]), again one batched GEMM
// (pointwise: into dx directly), and dw += dy_chunk col^T, dy_chunk being dy
// of the chunk packed as (K, count*P*Q), one GEMM over all its columns.
// dbias sums dy per channel. Chunks hold at most kColumnBudget column
// entries, so scratch stays bounded at any batch size.
#include <algorithm>
#include <type_traits>

#include "autograd/kernels/conv_geometry.h"
#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/kernels/dispatch.h"

namespace ag {

namespace {

constexpr int64_t kColumnBudget = int64_t{1} << 25;

// col (C*R*S, count*P*Q) from the samples [n0, n0 + count) of x (N, C, H, W);
// entries in the padding are 0.
template <class T>
__global__ void im2col_kernel(const T* x, ConvGeometry g, int64_t n0, int64_t count, T* col) {
  const int64_t ld = count * g.pq(), total = g.crs() * ld;
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride()) {
    const int64_t row = i / ld, j = i - row * ld;
    const int64_t n = j / g.pq(), pq = j - n * g.pq();
    const int64_t p = pq / g.Q, q = pq - p * g.Q;
    const int64_t c = row / (g.R * g.S), rs = row - c * (g.R * g.S);
    const int64_t r = rs / g.S, s = rs - r * g.S;
    const int64_t ih = p * g.stride - g.pad + r, iw = q * g.stride - g.pad + s;
    const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
    col[i] = inside ? x[((n0 + n) * g.C + c) * g.hw() + ih * g.W + iw] : T(0);
  }
}

// The adjoint of im2col: each dx element of the chunk's samples sums the
// column entries that read it, taps in (r, s) order; no atomics.
template <class T>
__global__ void col2im_kernel(const T* col, ConvGeometry g, int64_t n0, int64_t count, T* dx) {
  const int64_t ld = count * g.pq(), total = count * g.C * g.hw();
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride()) {
    const int64_t n = i / (g.C * g.hw()), chw = i - n * (g.C * g.hw());
    const int64_t c = chw / g.hw(), hw = chw - c * g.hw();
    const int64_t h = hw / g.W, w = hw - h * g.W;
    T acc = T(0);
    for (int64_t r = 0; r < g.R; ++r) {
      const int64_t ph = h + g.pad - r;  // p * stride for the output row p that reads h
      if (ph < 0 || ph % g.stride != 0 || ph / g.stride >= g.P) continue;
      for (int64_t s = 0; s < g.S; ++s) {
        const int64_t qw = w + g.pad - s;
        if (qw < 0 || qw % g.stride != 0 || qw / g.stride >= g.Q) continue;
        const int64_t row = (c * g.R + r) * g.S + s;
        acc += col[row * ld + n * g.pq() + (ph / g.stride) * g.Q + qw / g.stride];
      }
    }
    dx[(n0 * g.C) * g.hw() + i] = acc;
  }
}

// y (N, K, P*Q) = bias[k] in every plane k.
template <class T>
__global__ void bias_fill_kernel(const T* bias, ConvGeometry g, T* y) {
  const int64_t total = g.N * g.K * g.pq();
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride())
    y[i] = bias[i / g.pq() % g.K];
}

// packed (K, count*P*Q) = dy[n0 + n] (K, P*Q) side by side.
template <class T>
__global__ void pack_grads_kernel(const T* dy, ConvGeometry g, int64_t n0, int64_t count,
                                  T* packed) {
  const int64_t ld = count * g.pq(), total = g.K * ld;
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride()) {
    const int64_t k = i / ld, j = i - k * ld;
    const int64_t n = j / g.pq(), pq = j - n * g.pq();
    packed[i] = dy[((n0 + n) * g.K + k) * g.pq() + pq];
  }
}

// dbias[k] = sum of dy (N, K, P*Q) over N and P*Q: one block per channel.
template <class T>
__global__ void bias_grad_kernel(const T* dy, ConvGeometry g, T* dbias) {
  for (int64_t k = blockIdx.x; k < g.K; k += gridDim.x) {
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < g.N * g.pq(); j += blockDim.x) {
      const int64_t n = j / g.pq(), pq = j - n * g.pq();
      acc += dy[(n * g.K + k) * g.pq() + pq];
    }
    acc = cuda::block_sum(acc);
    if (threadIdx.x == 0) dbias[k] = static_cast<T>(acc);
  }
}

// Samples per chunk: as many as fit kColumnBudget column entries, at least one.
int64_t chunk_size(const ConvGeometry& g) {
  return std::clamp<int64_t>(kColumnBudget / std::max<int64_t>(g.crs() * g.pq(), 1), 1, g.N);
}

template <class T>
void im2col(const T* x, const ConvGeometry& g, int64_t n0, int64_t count, T* col) {
  cuda::launch("im2col_kernel", AG_HERE, cuda::grid_for(g.crs() * count * g.pq()), im2col_kernel<T>,
               x, g, n0, count, col);
}

// GemmArgs for element type T, everything else at its default.
template <class T>
GemmArgs gemm_args() {
  GemmArgs a;
  a.dtype = std::is_same_v<T, float> ? DType::F32 : DType::F64;
  return a;
}

// y[n] (K, P*Q) = w (K, C*R*S) x columns[n] (+ y[n]) for the chunk's samples.
template <class T>
void forward_chunk(const T* x, const T* w, bool bias, const ConvGeometry& g, int64_t n0,
                   int64_t count, T* col, T* y) {
  GemmArgs a = gemm_args<T>();
  a.M = g.K;
  a.N = g.pq();
  a.K = g.crs();
  a.beta = bias ? 1.0 : 0.0;
  a.A = w;
  a.lda = g.crs();
  a.stride_a = 0;
  if (g.pointwise()) {
    a.B = x + n0 * g.C * g.hw();
    a.ldb = g.hw();
    a.stride_b = g.C * g.hw();
  } else {
    im2col(x, g, n0, count, col);
    a.B = col;
    a.ldb = count * g.pq();
    a.stride_b = g.pq();
  }
  a.C = y + n0 * g.K * g.pq();
  a.ldc = g.pq();
  a.stride_c = g.K * g.pq();
  a.batch = count;
  cuda_backend().gemm(a);
}

template <class T>
void conv_forward(const T* x, const T* w, const T* bias, const ConvGeometry& g, T* y) {
  if (bias)
    cuda::launch("bias_fill_kernel", AG_HERE, cuda::grid_for(g.N * g.K * g.pq()),
                 bias_fill_kernel<T>, bias, g, y);
  const int64_t chunk = chunk_size(g);
  Scratch<T> col(cuda_backend(), g.pointwise() ? 0 : g.crs() * chunk * g.pq());
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk)
    forward_chunk(x, w, bias != nullptr, g, n0, std::min(chunk, g.N - n0), col.data(), y);
}

// dw (K, C*R*S) (+)= dy_chunk (K, count*P*Q) x col^T, col (C*R*S, count*P*Q).
template <class T>
void weight_grad_chunk(const T* x, const T* dy, const ConvGeometry& g, int64_t n0, int64_t count,
                       T* col, T* packed, T* dw) {
  const int64_t ld = count * g.pq();
  im2col(x, g, n0, count, col);
  cuda::launch("pack_grads_kernel", AG_HERE, cuda::grid_for(g.K * ld), pack_grads_kernel<T>, dy, g,
               n0, count, packed);
  GemmArgs a = gemm_args<T>();
  a.trans_b = true;
  a.M = g.K;
  a.N = g.crs();
  a.K = ld;
  a.beta = n0 == 0 ? 0.0 : 1.0;
  a.A = packed;
  a.lda = ld;
  a.B = col;
  a.ldb = ld;
  a.C = dw;
  a.ldc = g.crs();
  cuda_backend().gemm(a);
}

// dx[n] = col2im(w^T (C*R*S, K) x dy[n] (K, P*Q)) for the chunk's samples;
// pointwise, the product is dx[n] itself.
template <class T>
void input_grad_chunk(const T* w, const T* dy, const ConvGeometry& g, int64_t n0, int64_t count,
                      T* col, T* dx) {
  GemmArgs a = gemm_args<T>();
  a.trans_a = true;
  a.M = g.crs();
  a.N = g.pq();
  a.K = g.K;
  a.A = w;
  a.lda = g.crs();
  a.stride_a = 0;
  a.B = dy + n0 * g.K * g.pq();
  a.ldb = g.pq();
  a.stride_b = g.K * g.pq();
  a.batch = count;
  if (g.pointwise()) {
    a.C = dx + n0 * g.C * g.hw();
    a.ldc = g.hw();
    a.stride_c = g.C * g.hw();
    cuda_backend().gemm(a);
    return;
  }
  a.C = col;
  a.ldc = count * g.pq();
  a.stride_c = g.pq();
  cuda_backend().gemm(a);
  cuda::launch("col2im_kernel", AG_HERE, cuda::grid_for(count * g.C * g.hw()), col2im_kernel<T>,
               col, g, n0, count, dx);
}

template <class T>
void conv_backward(const T* x, const T* w, const T* dy, const ConvGeometry& g, T* dx, T* dw,
                   T* dbias) {
  if (dbias)
    cuda::launch("bias_grad_kernel", AG_HERE, cuda::block_per_task(g.K), bias_grad_kernel<T>, dy, g,
                 dbias);
  if (!dx && !dw) return;
  const int64_t chunk = chunk_size(g);
  const bool need_col = dw || !g.pointwise();
  Scratch<T> col(cuda_backend(), need_col ? g.crs() * chunk * g.pq() : 0);  // (C*R*S, chunk*P*Q)
  Scratch<T> packed(cuda_backend(), dw ? g.K * chunk * g.pq() : 0);         // (K, chunk*P*Q)
  for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
    const int64_t count = std::min(chunk, g.N - n0);
    if (dw) weight_grad_chunk(x, dy, g, n0, count, col.data(), packed.data(), dw);
    if (dx) input_grad_chunk(w, dy, g, n0, count, col.data(), dx);
  }
}

// y (planes, 2H, 2W) from x (planes, H, W): each pixel becomes a 2x2 block.
template <class T>
__global__ void upsample_forward_kernel(const T* x, int64_t planes, int64_t H, int64_t W, T* y) {
  const int64_t total = planes * 4 * H * W;
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride()) {
    const int64_t plane = i / (4 * H * W), rest = i - plane * (4 * H * W);
    const int64_t oh = rest / (2 * W), ow = rest - oh * (2 * W);
    y[i] = x[plane * H * W + (oh / 2) * W + ow / 2];
  }
}

// dx (planes, H, W): each pixel sums its 2x2 block of dy (planes, 2H, 2W).
template <class T>
__global__ void upsample_backward_kernel(const T* dy, int64_t planes, int64_t H, int64_t W, T* dx) {
  const int64_t total = planes * H * W;
  for (int64_t i = cuda::global_index(); i < total; i += cuda::grid_stride()) {
    const int64_t plane = i / (H * W), hw = i - plane * (H * W);
    const int64_t h = hw / W, w = hw - h * W;
    const T* top = dy + plane * 4 * H * W + 2 * h * 2 * W + 2 * w;
    const T* bottom = top + 2 * W;
    dx[i] = top[0] + top[1] + bottom[0] + bottom[1];
  }
}

}  // namespace

void CudaBackend::conv2d_forward(const TensorRef& x, const TensorRef& w, const TensorRef& bias,
                                 const TensorRef& y, const Conv2dParams& p) {
  const ConvGeometry g = conv_geometry(x, w, p);
  dispatch_float(x.dtype, "conv2d_forward", [&](auto tag) {
    using T = decltype(tag);
    conv_forward<T>(x.ptr<T>(), w.ptr<T>(), bias.ptr<T>(), g, y.ptr<T>());
  });
}

void CudaBackend::conv2d_backward(const TensorRef& x, const TensorRef& w, const TensorRef& dy,
                                  const TensorRef& dx, const TensorRef& dw, const TensorRef& dbias,
                                  const Conv2dParams& p) {
  const ConvGeometry g = conv_geometry(x, w, p);
  dispatch_float(dy.dtype, "conv2d_backward", [&](auto tag) {
    using T = decltype(tag);
    conv_backward<T>(x.ptr<T>(), w.ptr<T>(), dy.ptr<T>(), g, dx.ptr<T>(), dw.ptr<T>(),
                     dbias.ptr<T>());
  });
}

void CudaBackend::upsample_nearest2x_forward(const TensorRef& x, const TensorRef& y) {
  const int64_t planes = x.shape[0] * x.shape[1], H = x.shape[2], W = x.shape[3];
  dispatch_float(x.dtype, "upsample_nearest2x_forward", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("upsample_forward_kernel", AG_HERE, cuda::grid_for(planes * 4 * H * W),
                 upsample_forward_kernel<T>, x.ptr<T>(), planes, H, W, y.ptr<T>());
  });
}

void CudaBackend::upsample_nearest2x_backward(const TensorRef& dy, const TensorRef& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1], H = dx.shape[2], W = dx.shape[3];
  dispatch_float(dy.dtype, "upsample_nearest2x_backward", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("upsample_backward_kernel", AG_HERE, cuda::grid_for(planes * H * W),
                 upsample_backward_kernel<T>, dy.ptr<T>(), planes, H, W, dx.ptr<T>());
  });
}

}  // namespace ag
