// A first look at the engine: fit y = sin(3x) on [-1, 1] with a two-layer
// tanh network, by gradient descent with momentum, written directly against
// the autograd API. Every step records a graph, backward() fills .grad of the
// four parameters, and the update runs under NoGradGuard.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/allocator.h"
#include "autograd/device.h"
#include "autograd/ops.h"

using namespace ag;

namespace {

struct Mlp {
  Tensor w1, b1, w2, b2;  // (1, H), (H), (H, 1), (1)
  std::vector<Tensor> params() const { return {w1, b1, w2, b2}; }
  Tensor operator()(const Tensor& x) const {  // x (N, 1) -> (N, 1)
    return add(matmul(tanh(add(matmul(x, w1), b1)), w2), b2);
  }
};

Mlp init_mlp(int64_t hidden, Generator& gen) {
  auto param = [&](const Shape& s, double scale) {
    return (randn(s, &gen) * scale).detach().set_requires_grad();
  };
  return {param({1, hidden}, 1.5), param({hidden}, 0.5), param({hidden, 1}, 0.3), param({1}, 0.0)};
}

void sgd_momentum(const std::vector<Tensor>& params, std::vector<Tensor>& velocity, double lr,
                  double momentum) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor g = params[i].grad();
    velocity[i] = velocity[i].defined() ? velocity[i] * momentum + g : g.clone();
    params[i].copy_(params[i] - velocity[i] * lr);
    params[i].zero_grad();
  }
}

}  // namespace

int main() {
  std::printf("ddpm.cpp autograd demo: %d OpenMP threads, %d CUDA device(s)\n",
              omp_get_max_threads(), cuda_device_count());
  const int64_t n = 256, hidden = 32, steps = 3000;
  std::vector<float> xs(n), ys(n);
  for (int64_t i = 0; i < n; ++i) {
    xs[i] = -1.0f + 2.0f * static_cast<float>(i) / (n - 1);
    ys[i] = std::sin(3.0f * xs[i]);
  }
  Tensor x = from_vector(xs, {n, 1}), y = from_vector(ys, {n, 1});  // (N, 1)

  Generator gen(0);
  Mlp model = init_mlp(hidden, gen);
  std::vector<Tensor> velocity(model.params().size());
  std::printf("fitting y = sin(3x) with a 1-%ld-1 tanh network, %ld steps\n",
              static_cast<long>(hidden), static_cast<long>(steps));
  auto start = std::chrono::steady_clock::now();
  for (int64_t step = 0; step <= steps; ++step) {
    Tensor loss = mse_loss(model(x), y);
    loss.backward();
    sgd_momentum(model.params(), velocity, 0.05, 0.9);
    if (step % 500 == 0)
      std::printf("  step %5ld  mse %.6f\n", static_cast<long>(step), loss.item());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%.2f s, %.0f steps/s; cpu memory in use %.1f KiB, peak %.1f KiB\n", secs,
              steps / secs, cpu_allocator().stats().in_use / 1024.0,
              cpu_allocator().stats().peak_in_use / 1024.0);

  NoGradGuard no_grad;
  std::vector<float> pred = model(x).to_vector<float>();
  std::printf("     x   sin(3x)  network\n");
  for (int64_t i = 0; i < n; i += 51) std::printf("%6.2f  %7.3f  %7.3f\n", xs[i], ys[i], pred[i]);
  return 0;
}
