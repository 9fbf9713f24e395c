// Whole-model parity on CUDA and the CPU: a U-Net training step (forward,
// L_simple, backward, gradient clipping, Adam, EMA) for the tiny and base
// presets from the same weights, batch, timesteps, noise and dropout stream;
// ancestral and DDIM sampling from the same x_T and noise; and a training
// checkpoint written from CUDA and resumed on either device. Skips, saying
// why, where no CUDA device is present.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "diffusion/samplers.h"
#include "nn/checkpoint.h"
#include "tests/cuda_helpers.h"
#include "tests/nn_helpers.h"

namespace ag::test {

namespace {

using diffusion::GaussianDiffusion;

constexpr double kLr = 2e-4;
// The EMA's first update, with warm-up, decays by min(0.999, (1 + 0) / (10 + 0)):
// the shadow moves by 0.9 of the Adam step.
constexpr double kFirstEmaDecay = 0.1;

// DDPM's zero-initialized weights (each ResBlock's last conv, the attention
// projections, the output conv) and biases would leave most gradients zero
// at the first step: they get small random values, the same for a seed.
void fill_zero_parameters(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard no_grad;
  for (const Tensor& p : m.parameters()) {
    const Tensor noise = randn(p.shape(), &gen, p.dtype(), p.device()) * 0.02;
    if (sum(square(p)).item() == 0.0) p.copy_(noise);
  }
}

nn::NamedTensors on_host(const nn::NamedTensors& tensors) {
  nn::NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.detach().to(Device::CPU).clone());
  return out;
}

GaussianDiffusion linear_diffusion(int64_t T, Device device) {
  return GaussianDiffusion(diffusion::make_schedule(diffusion::ScheduleKind::Linear, T),
                           diffusion::ModelMeanType::Eps, diffusion::ModelVarType::FixedLarge,
                           DType::F32, device);
}

struct StepResult {
  double loss = 0.0, grad_norm = 0.0;
  nn::NamedTensors before, grads, after, ema;  // CPU copies
};

// One step of Algorithm 1 with Adam (lr kLr), clipping at 1 and an EMA, the
// model, data and diffusion on `device`. Adam's moments and the EMA's
// shadows start on the CPU and follow the parameters on their first update.
StepResult training_step(const std::string& preset, int64_t batch, Device device) {
  nn::UNet model(nn::unet_preset(preset), 3);
  fill_zero_parameters(model, 4);
  nn::Adam adam(model.parameters(), nn::AdamConfig{kLr});
  nn::EMA ema(model.named_parameters(), 0.999);
  model.to(device);
  const GaussianDiffusion d = linear_diffusion(1000, device);
  Generator gen(5);
  const Tensor x0 = clamp(randn({batch, 1, 28, 28}, &gen), -1.0, 1.0).to(device);
  const Tensor noise = randn({batch, 1, 28, 28}, &gen, DType::F32, device);
  std::vector<int32_t> steps;
  for (int64_t i = 0; i < batch; ++i) steps.push_back(static_cast<int32_t>((i * 379 + 17) % 1000));
  StepResult r;
  r.before = on_host(model.named_parameters());
  auto net = [&](const Tensor& x, const Tensor& t) { return model.forward(x, t); };
  Tensor loss = mean(
      d.training_losses(net, x0, from_vector(steps, {batch}), noise, diffusion::LossType::Simple));
  loss.backward();
  r.loss = loss.item();
  for (const auto& [name, p] : model.named_parameters()) r.grads.emplace_back(name, p.grad());
  r.grads = on_host(r.grads);  // copies: clipping scales the gradients in place
  r.grad_norm = nn::clip_grad_norm(model.parameters(), 1.0);
  adam.step();
  ema.update(model.named_parameters());
  r.after = on_host(model.named_parameters());
  r.ema = on_host(ema.shadow());
  return r;
}

double max_abs(const Tensor& t) {
  double m = 0.0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

double sum_abs(const Tensor& t) {
  double s = 0.0;
  for (double v : t.to_vector<double>()) s += std::abs(v);
  return s;
}

// Each device's EMA shadow is decay * before + (1 - decay) * after of its own
// parameters, to float32 rounding (1e-6 relative); a shadow left as it was
// would miss by 0.9 of the Adam step, about 2e-4. (Against the other device's
// shadow, within the 2.1 steps the updates may differ by, it could not fail.)
::testing::AssertionResult ema_follows_its_parameters(const StepResult& r, size_t i) {
  const Tensor before = r.before[i].second.to(DType::F64), after = r.after[i].second.to(DType::F64);
  return all_close(r.ema[i].second, before * kFirstEmaDecay + after * (1 - kFirstEmaDecay),
                   Tol{1e-9, 1e-6});
}

// Gradients within 2e-3 of each tensor's largest; updates within one Adam
// step everywhere (a gradient near 0 may flip the sign of its step) and
// within 1% on average; EMA shadows follow each device's own parameters.
void expect_step_matches(const std::string& preset, int64_t batch) {
  const StepResult cpu = training_step(preset, batch, Device::CPU);
  const StepResult gpu = training_step(preset, batch, Device::CUDA);
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-4 * std::abs(cpu.loss));
  EXPECT_NEAR(gpu.grad_norm, cpu.grad_norm, 1e-3 * cpu.grad_norm);
  ASSERT_EQ(gpu.grads.size(), cpu.grads.size());
  double update_error = 0.0, update_size = 0.0;
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    const std::string& name = cpu.grads[i].first;
    SCOPED_TRACE(name);
    EXPECT_TRUE(all_close(gpu.before[i].second, cpu.before[i].second, Tol{}));
    const Tensor& g = cpu.grads[i].second;
    EXPECT_TRUE(all_close(gpu.grads[i].second, g, Tol{2e-3 * max_abs(g) + 1e-8, 0.0}));
    const Tensor cpu_update = cpu.after[i].second - cpu.before[i].second;
    const Tensor gpu_update = gpu.after[i].second - gpu.before[i].second;
    EXPECT_TRUE(all_close(gpu_update, cpu_update, Tol{2.1 * kLr, 0.0}));
    EXPECT_TRUE(ema_follows_its_parameters(cpu, i)) << "cpu";
    EXPECT_TRUE(ema_follows_its_parameters(gpu, i)) << "cuda";
    update_error += sum_abs(gpu_update - cpu_update);
    update_size += sum_abs(cpu_update);
  }
  EXPECT_LT(update_error, 0.01 * update_size);
}

}  // namespace

class CudaUNet : public CudaTest {};

TEST_F(CudaUNet, TinyTrainingStepMatchesCpu) { expect_step_matches("tiny", 4); }

TEST_F(CudaUNet, BaseTrainingStepMatchesCpu) { expect_step_matches("base", 2); }

TEST_F(CudaUNet, SamplersMatchCpu) {
  const nn::UNetConfig c = nn::unet_preset("tiny");
  nn::UNet cpu_model(c, 8), gpu_model(c, 8);
  fill_zero_parameters(cpu_model, 9);
  fill_zero_parameters(gpu_model, 9);
  cpu_model.eval();
  gpu_model.eval();
  gpu_model.to(Device::CUDA);
  const GaussianDiffusion d_cpu = linear_diffusion(20, Device::CPU);
  const GaussianDiffusion d_gpu = linear_diffusion(20, Device::CUDA);
  Generator g(10);
  const Tensor x_T = randn({2, 1, 28, 28}, &g);
  auto run = [](const GaussianDiffusion& d, const nn::UNet& m, const Tensor& x,
                const std::string& sampler) {
    Generator gen(11);
    auto net = [&](const Tensor& xt, const Tensor& t) { return m.forward(xt, t); };
    if (sampler == "ddpm") return diffusion::p_sample_loop(d, net, x, gen).x0;
    return diffusion::ddim_sample_loop(d, net, x, 5, sampler == "ddim eta 1" ? 1.0 : 0.0, gen).x0;
  };
  for (const std::string sampler : {"ddpm", "ddim", "ddim eta 1"}) {
    SCOPED_TRACE(sampler);
    const Tensor on_gpu = run(d_gpu, gpu_model, x_T.to(Device::CUDA), sampler);
    EXPECT_EQ(on_gpu.device(), Device::CUDA);
    EXPECT_TRUE(all_close(on_gpu, run(d_cpu, cpu_model, x_T, sampler), Tol{1e-3, 1e-3}));
  }
}

TEST_F(CudaUNet, TrainingCheckpointMovesBetweenDevices) {
  const nn::UNetConfig c = small_test_unet();
  nn::UNet model(c, 1);
  nn::Adam adam(model.parameters());
  nn::EMA ema(model.named_parameters(), 0.9);
  model.to(Device::CUDA);
  const Tensor x = randn({2, 1, 8, 8}, nullptr, DType::F32, Device::CUDA);
  mean(square(model.forward(x, from_vector(std::vector<int32_t>{0, 5}, {2})))).backward();
  adam.step();
  ema.update(model.named_parameters());
  const std::string path =
      (std::filesystem::path(::testing::TempDir()) / "cuda_ckpt.safetensors").string();
  nn::save_training_checkpoint(path, {model, adam, ema, {}, 1, {}});
  for (Device device : {Device::CPU, Device::CUDA}) {
    SCOPED_TRACE(device_name(device));
    nn::UNet other(c, 2);
    nn::Adam other_adam(other.parameters());
    nn::EMA other_ema(other.named_parameters(), 0.9);
    other.to(device);
    nn::TrainingState s{other, other_adam, other_ema, {}, 0, {}};
    nn::load_training_checkpoint(path, s);
    EXPECT_EQ(s.step, 1);
    EXPECT_EQ(other_adam.step_count(), 1);
    const nn::NamedTensors want = model.named_parameters(), got = other.named_parameters();
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].second.device(), device) << got[i].first;
      EXPECT_TRUE(all_close(got[i].second, want[i].second.to(Device::CPU), Tol{})) << got[i].first;
      EXPECT_TRUE(
          all_close(other_adam.exp_avg_sq()[i], adam.exp_avg_sq()[i].to(Device::CPU), Tol{}))
          << got[i].first;
    }
    const nn::NamedTensors want_ema = ema.shadow(), got_ema = other_ema.shadow();
    for (size_t i = 0; i < want_ema.size(); ++i)
      EXPECT_TRUE(all_close(got_ema[i].second, want_ema[i].second.to(Device::CPU), Tol{}))
          << got_ema[i].first;
  }
}

}  // namespace ag::test
