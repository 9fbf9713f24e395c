// Group normalization and softmax on CUDA. Statistics and reductions
// accumulate in double whatever the element type, as on the CPU. Group norm
// runs one block per (sample, group), or per channel for dgamma and dbeta;
// softmax one warp per line along a contiguous axis, else one thread per line.
#include <cmath>

#include "autograd/cuda/cuda_backend.h"
#include "autograd/cuda/launch.cuh"
#include "autograd/kernels/dispatch.h"
#include "autograd/kernels/group_norm_geometry.h"

namespace ag {

namespace {

using cuda::kWarpSize;

// One block per group ng of M elements: mean, 1 / sqrt(biased variance +
// eps), and y = (x - mean) * rstd * gamma + beta.
template <class T>
__global__ void group_norm_forward_kernel(const T* x, const T* gamma, const T* beta, GroupDims d,
                                          double eps, T* y, T* mean, T* rstd) {
  const int64_t Cg = d.channels_per_group(), M = d.group_size();
  for (int64_t ng = blockIdx.x; ng < d.N * d.G; ng += gridDim.x) {
    const T* xg = x + ng * M;
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) s += xg[i];
    const double m = cuda::block_sum(s) / static_cast<double>(M);
    double ss = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
      const double dev = xg[i] - m;
      ss += dev * dev;
    }
    const double var = cuda::block_sum(ss) / static_cast<double>(M);
    const T mt = static_cast<T>(m), rt = static_cast<T>(1.0 / std::sqrt(var + eps));
    if (threadIdx.x == 0) {
      mean[ng] = mt;
      rstd[ng] = rt;
    }
    const int64_t c0 = ng % d.G * Cg;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
      const int64_t c = c0 + i / d.HW;
      y[ng * M + i] = (xg[i] - mt) * (rt * gamma[c]) + beta[c];
    }
  }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * gamma.
template <class T>
__global__ void group_norm_dx_kernel(const T* x, const T* gamma, const T* mean, const T* rstd,
                                     const T* dy, GroupDims d, T* dx) {
  const int64_t Cg = d.channels_per_group(), M = d.group_size();
  for (int64_t ng = blockIdx.x; ng < d.N * d.G; ng += gridDim.x) {
    const int64_t c0 = ng % d.G * Cg, base = ng * M;
    const double m = mean[ng], r = rstd[ng];
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
      const double dxhat = static_cast<double>(dy[base + i]) * gamma[c0 + i / d.HW];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * (x[base + i] - m) * r;
    }
    const double a = cuda::block_sum(sum_dxhat) / static_cast<double>(M);
    const double b = cuda::block_sum(sum_dxhat_xhat) / static_cast<double>(M);
    for (int64_t i = threadIdx.x; i < M; i += blockDim.x) {
      const double g = gamma[c0 + i / d.HW];
      const double xhat = (x[base + i] - m) * r;
      dx[base + i] = static_cast<T>(r * (dy[base + i] * g - a - xhat * b));
    }
  }
}

// dgamma[c] = sum_{n, hw} dy * xhat and dbeta[c] = sum_{n, hw} dy: one block
// per channel; either output may be null.
template <class T>
__global__ void group_norm_dparams_kernel(const T* x, const T* mean, const T* rstd, const T* dy,
                                          GroupDims d, T* dgamma, T* dbeta) {
  const int64_t Cg = d.channels_per_group();
  for (int64_t c = blockIdx.x; c < d.C; c += gridDim.x) {
    double sum_dy_xhat = 0.0, sum_dy = 0.0;
    for (int64_t j = threadIdx.x; j < d.N * d.HW; j += blockDim.x) {
      const int64_t n = j / d.HW, hw = j - n * d.HW;
      const int64_t ng = n * d.G + c / Cg, at = (n * d.C + c) * d.HW + hw;
      const double m = mean[ng], r = rstd[ng];
      sum_dy_xhat += dy[at] * (x[at] - m) * r;
      sum_dy += dy[at];
    }
    sum_dy_xhat = cuda::block_sum(sum_dy_xhat);
    sum_dy = cuda::block_sum(sum_dy);
    if (threadIdx.x == 0 && dgamma) dgamma[c] = static_cast<T>(sum_dy_xhat);
    if (threadIdx.x == 0 && dbeta) dbeta[c] = static_cast<T>(sum_dy);
  }
}

// Softmax over contiguous lines of D (inner == 1): one warp per line.
template <class T>
__global__ void softmax_rows_kernel(const T* x, int64_t lines, int64_t D, T* y) {
  const int64_t lane = threadIdx.x % kWarpSize, warps = cuda::grid_stride() / kWarpSize;
  for (int64_t line = cuda::global_index() / kWarpSize; line < lines; line += warps) {
    const T* xl = x + line * D;
    T* yl = y + line * D;
    T mx = -INFINITY;
    for (int64_t k = lane; k < D; k += kWarpSize) mx = xl[k] > mx ? xl[k] : mx;
    mx = cuda::warp_max(mx);
    double s = 0.0;
    for (int64_t k = lane; k < D; k += kWarpSize) {
      const T e = std::exp(xl[k] - mx);
      yl[k] = e;
      s += e;
    }
    const T inv = static_cast<T>(1.0 / cuda::warp_sum(s));
    for (int64_t k = lane; k < D; k += kWarpSize) yl[k] *= inv;
  }
}

// Softmax over the middle axis of (outer, D, inner), inner > 1: one thread
// per line (o, i), its elements inner apart; neighbouring threads read
// neighbouring columns.
template <class T>
__global__ void softmax_columns_kernel(const T* x, int64_t outer, int64_t D, int64_t inner, T* y) {
  for (int64_t t = cuda::global_index(); t < outer * inner; t += cuda::grid_stride()) {
    const int64_t start = t / inner * D * inner + t % inner;
    const T* xl = x + start;
    T* yl = y + start;
    T mx = xl[0];
    for (int64_t k = 1; k < D; ++k) mx = xl[k * inner] > mx ? xl[k * inner] : mx;
    double s = 0.0;
    for (int64_t k = 0; k < D; ++k) {
      const T e = std::exp(xl[k * inner] - mx);
      yl[k * inner] = e;
      s += e;
    }
    const T inv = static_cast<T>(1.0 / s);
    for (int64_t k = 0; k < D; ++k) yl[k * inner] *= inv;
  }
}

// dx = y * (dy - sum_D(dy * y)) along contiguous lines: one warp per line.
template <class T>
__global__ void softmax_rows_backward_kernel(const T* y, const T* dy, int64_t lines, int64_t D,
                                             T* dx) {
  const int64_t lane = threadIdx.x % kWarpSize, warps = cuda::grid_stride() / kWarpSize;
  for (int64_t line = cuda::global_index() / kWarpSize; line < lines; line += warps) {
    const int64_t base = line * D;
    double dot = 0.0;
    for (int64_t k = lane; k < D; k += kWarpSize)
      dot += static_cast<double>(dy[base + k]) * y[base + k];
    const T t = static_cast<T>(cuda::warp_sum(dot));
    for (int64_t k = lane; k < D; k += kWarpSize) dx[base + k] = y[base + k] * (dy[base + k] - t);
  }
}

template <class T>
__global__ void softmax_columns_backward_kernel(const T* y, const T* dy, int64_t outer, int64_t D,
                                                int64_t inner, T* dx) {
  for (int64_t t = cuda::global_index(); t < outer * inner; t += cuda::grid_stride()) {
    const int64_t start = t / inner * D * inner + t % inner;
    double dot = 0.0;
    for (int64_t k = 0; k < D; ++k)
      dot += static_cast<double>(dy[start + k * inner]) * y[start + k * inner];
    const T dt = static_cast<T>(dot);
    for (int64_t k = 0; k < D; ++k) {
      const int64_t at = start + k * inner;
      dx[at] = y[at] * (dy[at] - dt);
    }
  }
}

}  // namespace

void CudaBackend::group_norm_forward(const TensorRef& x, const TensorRef& gamma,
                                     const TensorRef& beta, int64_t G, double eps,
                                     const TensorRef& y, const TensorRef& mean,
                                     const TensorRef& rstd) {
  const GroupDims d = group_dims(x, G);
  dispatch_float(x.dtype, "group_norm_forward", [&](auto tag) {
    using T = decltype(tag);
    cuda::launch("group_norm_forward_kernel", AG_HERE, cuda::block_per_task(d.N * d.G),
                 group_norm_forward_kernel<T>, x.ptr<T>(), gamma.ptr<T>(), beta.ptr<T>(), d, eps,
                 y.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>());
  });
}

void CudaBackend::group_norm_backward(const TensorRef& x, const TensorRef& gamma,
                                      const TensorRef& mean, const TensorRef& rstd,
                                      const TensorRef& dy, int64_t G, const TensorRef& dx,
                                      const TensorRef& dgamma, const TensorRef& dbeta) {
  const GroupDims d = group_dims(x, G);
  dispatch_float(x.dtype, "group_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    if (dx.data)
      cuda::launch("group_norm_dx_kernel", AG_HERE, cuda::block_per_task(d.N * d.G),
                   group_norm_dx_kernel<T>, x.ptr<T>(), gamma.ptr<T>(), mean.ptr<T>(),
                   rstd.ptr<T>(), dy.ptr<T>(), d, dx.ptr<T>());
    if (dgamma.data || dbeta.data)
      cuda::launch("group_norm_dparams_kernel", AG_HERE, cuda::block_per_task(d.C),
                   group_norm_dparams_kernel<T>, x.ptr<T>(), mean.ptr<T>(), rstd.ptr<T>(),
                   dy.ptr<T>(), d, dgamma.ptr<T>(), dbeta.ptr<T>());
  });
}

void CudaBackend::softmax_forward(const TensorRef& x, int64_t outer, int64_t D, int64_t inner,
                                  const TensorRef& y) {
  if (D == 0) return;
  dispatch_float(x.dtype, "softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1)
      cuda::launch("softmax_rows_kernel", AG_HERE, cuda::grid_for(outer * kWarpSize),
                   softmax_rows_kernel<T>, x.ptr<T>(), outer, D, y.ptr<T>());
    else
      cuda::launch("softmax_columns_kernel", AG_HERE, cuda::grid_for(outer * inner),
                   softmax_columns_kernel<T>, x.ptr<T>(), outer, D, inner, y.ptr<T>());
  });
}

void CudaBackend::softmax_backward(const TensorRef& y, const TensorRef& dy, int64_t outer,
                                   int64_t D, int64_t inner, const TensorRef& dx) {
  dispatch_float(y.dtype, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1)
      cuda::launch("softmax_rows_backward_kernel", AG_HERE, cuda::grid_for(outer * kWarpSize),
                   softmax_rows_backward_kernel<T>, y.ptr<T>(), dy.ptr<T>(), outer, D, dx.ptr<T>());
    else
      cuda::launch("softmax_columns_backward_kernel", AG_HERE, cuda::grid_for(outer * inner),
                   softmax_columns_backward_kernel<T>, y.ptr<T>(), dy.ptr<T>(), outer, D, inner,
                   dx.ptr<T>());
  });
}

}  // namespace ag
