// Times the engine's ops on the shapes a small MNIST U-Net uses (float32,
// batch 64): forward, or forward + backward with a given output gradient.
// Each case is a Google Benchmark: 3 untimed calls, then 15 timed ones (one
// call per repetition, wall-clock time), reported as mean, median, stddev
// and cv in milliseconds. bench/ops_vs_torch.py reads the medians from
// --benchmark_format=json and runs the same cases in PyTorch beside them.
//   bench_ops [--benchmark_repetitions=N] [--benchmark_filter=REGEX] ...
#include <benchmark/benchmark.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "autograd/ops.h"

using namespace ag;

namespace {

struct Case {
  std::string name;
  std::function<void()> run;
};

Tensor leaf(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return randn(s, &g).set_requires_grad();
}

// y = f(inputs); y.backward(dy) with a fixed random dy; grads cleared after.
std::function<void()> fwd_bwd(std::function<Tensor()> f, std::vector<Tensor> inputs) {
  Tensor dy;
  {
    NoGradGuard no_grad;
    Generator g(99);
    dy = randn(f().shape(), &g);
  }
  return [f, inputs, dy] {
    f().backward(dy);
    for (const Tensor& t : inputs) t.zero_grad();
  };
}

std::function<void()> fwd(std::function<Tensor()> f) {
  return [f] {
    NoGradGuard no_grad;
    f();
  };
}

std::vector<Case> cases() {
  Tensor a = leaf({1024, 1024}, 1), b = leaf({1024, 1024}, 2);
  Tensor x = leaf({64, 32, 28, 28}, 3), w = leaf({32, 32, 3, 3}, 4), bias = leaf({32}, 5);
  Tensor h = leaf({64, 64, 14, 14}, 6), gamma = leaf({64}, 7), beta = leaf({64}, 8);
  Tensor att = leaf({64, 196, 196}, 9);
  Tensor q = leaf({64, 196, 64}, 10), k = leaf({64, 196, 64}, 11);
  Tensor chan = leaf({32, 1, 1}, 12);
  return {
      {"matmul_1024_fwd", fwd([=] { return matmul(a, b); })},
      {"conv3x3_fwd", fwd([=] { return conv2d(x, w, bias, 1, 1); })},
      {"conv3x3_fwd_bwd", fwd_bwd([=] { return conv2d(x, w, bias, 1, 1); }, {x, w, bias})},
      {"group_norm_fwd_bwd",
       fwd_bwd([=] { return group_norm(h, 32, gamma, beta); }, {h, gamma, beta})},
      {"softmax_fwd_bwd", fwd_bwd([=] { return softmax(att, -1); }, {att})},
      {"bmm_qk_fwd_bwd", fwd_bwd([=] { return matmul(q, transpose(k, 1, 2)); }, {q, k})},
      {"silu_fwd_bwd", fwd_bwd([=] { return silu(x); }, {x})},
      {"add_bias_fwd_bwd", fwd_bwd([=] { return add(x, chan); }, {x, chan})},
      {"upsample_fwd_bwd", fwd_bwd([=] { return upsample_nearest2x(h); }, {h})},
      {"sum_nhw_fwd_bwd", fwd_bwd(
                              [=] {
                                return sum(x, {0, 2, 3});
                              },
                              {x})},
      {"mse_fwd_bwd", fwd_bwd([=] { return mse_loss(x, chan * 1.0 + x * 0.5); }, {x, chan})},
      {"dropout_fwd", fwd([=] { return dropout(x, 0.1, true); })},
      {"randn_1m", fwd([] { return randn({1 << 20}); })},
  };
}

// A case as a benchmark: 3 untimed warm-up calls before the first
// repetition's timed loop, none before the later ones.
std::function<void(benchmark::State&)> timed(std::function<void()> run) {
  return [run = std::move(run), warm = false](benchmark::State& state) mutable {
    if (!warm) {
      for (int i = 0; i < 3; ++i) run();
      warm = true;
    }
    for (auto _ : state) run();
  };
}

// --help: what the program does and the defaults it sets, then Google
// Benchmark's own flags.
void print_help() {
  std::printf(
      "Time the engine's ops on a small MNIST U-Net's shapes (float32, batch 64).\n"
      "Defaults here: --benchmark_repetitions=15 --benchmark_report_aggregates_only=true\n"
      "(3 untimed calls, then one call per repetition; the same flags given win).\n"
      "--benchmark_list_tests=true lists the cases.\n\n");
  benchmark::PrintDefaultHelp();
}

}  // namespace

int main(int argc, char** argv) {
  // Defaults first, so that the same flags given on the command line win.
  std::vector<char*> args = {argv[0], const_cast<char*>("--benchmark_repetitions=15"),
                             const_cast<char*>("--benchmark_report_aggregates_only=true")};
  args.insert(args.end(), argv + 1, argv + argc);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data(), print_help);
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  for (const Case& c : cases())
    benchmark::RegisterBenchmark(c.name.c_str(), timed(c.run))
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
