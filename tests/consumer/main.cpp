// Uses each installed library once: a gradient (autograd), a module saved
// and loaded through a safetensors file (nn, io), a noise schedule
// (diffusion). Prints "consumer: ok" when every value is as expected.
//   consumer DIR    (DIR: where to write the checkpoint)
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "diffusion/schedule.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"

namespace {

bool check(bool ok, const char* what) {
  if (!ok) std::fprintf(stderr, "consumer: %s\n", what);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  // d/dx sum(3 x^2) = 6 x
  ag::Tensor x = ag::from_vector(std::vector<double>{1, 2, 3}, {3}).set_requires_grad();
  ag::sum(ag::square(x) * 3.0).backward();
  const std::vector<double> dx = x.grad().to_vector<double>();

  ag::Generator a(1), b(2);
  nn::Linear saved(3, 2, a), loaded(3, 2, b);
  const std::string path = std::string(argv[1]) + "/linear.safetensors";
  nn::save_module(path, saved, {{"by", "consumer"}});
  nn::load_module(path, loaded);
  const io::SafetensorsFile file = io::load_safetensors(path);

  const diffusion::Schedule s = diffusion::make_schedule(diffusion::ScheduleKind::Linear, 1000);

  const bool ok = check(dx == std::vector<double>{6, 12, 18}, "wrong gradient") &&
                  check(saved.weight.to_vector<float>() == loaded.weight.to_vector<float>(),
                        "weights differ") &&
                  check(file.metadata.at("by") == "consumer", "metadata lost") &&
                  check(std::abs(s.betas.back() - 0.02) < 1e-12, "wrong schedule");
  if (ok) std::printf("consumer: ok\n");
  return ok ? 0 : 1;
}
