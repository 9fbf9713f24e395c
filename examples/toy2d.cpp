// DDPM (Ho et al. 2020) on 2-D points: the same diffusion::GaussianDiffusion
// as the image model, with a small MLP as the noise predictor eps_theta.
// train() is Algorithm 1, sample() is Algorithm 2. Writes two scatter plots in
// --out: toy2d_forward.png, the forward process q(x_t | x_0) spreading the
// data into a Gaussian, and toy2d_reverse.png, the reverse process condensing
// noise onto the data; with --csv also samples.csv and data.csv (x,y rows).
// A point is an (N, 2, 1, 1) tensor, a 2-pixel image, so that the schedule
// constants (N, 1, 1, 1) broadcast over it as over images.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "apps/imaging/image.h"
#include "apps/plotting/plot.h"
#include "autograd/ops.h"
#include "diffusion/diffusion.h"
#include "diffusion/samplers.h"
#include "nn/blocks.h"
#include "nn/optim.h"

namespace {

using ag::Tensor;
namespace fs = std::filesystem;

constexpr int64_t kT = 100;                         // diffusion steps
constexpr int64_t kBatch = 256;                     // points per training step
constexpr int64_t kPoints = 1000;                   // points drawn for the plots and the CSVs
constexpr int64_t kEmbed = 32;                      // width of the timestep embedding
constexpr int64_t kHidden = 128;                    // width of the MLP's hidden layers
const int64_t kShownT[] = {100, 50, 25, 10, 5, 0};  // the paper's t in the plots; 0: x_0
const double kPi = std::acos(-1.0);

// n points of the named 2-D distribution, within about [-3, 3]: the scale of
// the noise N(0, I), so that the data's shape lasts over several steps of q.
Tensor draw_data(const std::string& name, int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> p;
  for (int64_t i = 0; i < n; ++i) {
    double x, y;
    if (name == "swissroll") {  // (s cos s, s sin s), s in [1.5 pi, 4.5 pi]
      const double s = 1.5 * kPi * (1 + 2 * u(rng));
      x = (s * std::cos(s) + 0.5 * z(rng)) / 5, y = (s * std::sin(s) + 0.5 * z(rng)) / 5;
    } else if (name == "moons") {  // two interleaved half circles
      const double a = kPi * u(rng);
      const bool upper = i % 2 == 0;
      x = upper ? std::cos(a) : 1 - std::cos(a), y = upper ? std::sin(a) : 0.5 - std::sin(a);
      x = 2 * (x - 0.5 + 0.05 * z(rng)), y = 2 * (y - 0.25 + 0.05 * z(rng));
    } else if (name == "8gaussians") {  // 8 modes on a circle of radius 2
      const double a = kPi / 4 * static_cast<double>(i % 8);
      x = 2 * std::cos(a) + 0.1 * z(rng), y = 2 * std::sin(a) + 0.1 * z(rng);
    } else {
      throw std::runtime_error("--data " + name + ": not swissroll, moons or 8gaussians");
    }
    p.push_back(x), p.push_back(y);
  }
  return ag::from_vector(p, {n, 2, 1, 1}).to(ag::DType::F32);
}

// eps_theta(x_t, t): [x_t, embedding(t)] -> 3 x (Linear, SiLU) -> Linear -> 2.
class Mlp : public nn::Module {
 public:
  explicit Mlp(ag::Generator& gen) {
    const int64_t in[] = {2 + kEmbed, kHidden, kHidden, kHidden},
                  out[] = {kHidden, kHidden, kHidden, 2};
    for (int i = 0; i < 4; ++i)
      layers_.push_back(register_module("fc" + std::to_string(i),
                                        std::make_shared<nn::Linear>(in[i], out[i], gen)));
  }
  // x (N, 2, 1, 1), t (N) timestep indices -> predicted noise (N, 2, 1, 1).
  Tensor forward(const Tensor& x, const Tensor& t) const {
    const int64_t n = x.size(0);
    Tensor emb = nn::timestep_embedding(t, kEmbed, x.dtype(), x.device());
    Tensor h = ag::concat({ag::reshape(x, {n, 2}), emb}, 1);
    for (size_t i = 0; i + 1 < layers_.size(); ++i) h = ag::silu(layers_[i]->forward(h));
    return ag::reshape(layers_.back()->forward(h), {n, 2, 1, 1});
  }

 private:
  std::vector<std::shared_ptr<nn::Linear>> layers_;
};

// Algorithm 1. repeat: x_0 ~ q(x_0); t ~ Uniform({1..T}); eps ~ N(0, I);
// a gradient step on ||eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t)||^2
// (Adam, its learning rate decayed linearly to 0 over the run).
void train(const diffusion::GaussianDiffusion& d, const Mlp& model, const std::string& data,
           int64_t steps, std::mt19937_64& rng, ag::Generator& gen) {
  nn::AdamConfig config;
  config.lr = 2e-3;
  nn::Adam adam(model.parameters(), config);
  const diffusion::Denoiser eps_theta = [&](const Tensor& x, const Tensor& t) {
    return model.forward(x, t);
  };
  const auto start = std::chrono::steady_clock::now();
  for (int64_t step = 1; step <= steps; ++step) {
    const Tensor x0 = draw_data(data, kBatch, rng);                                // line 2
    const Tensor t = diffusion::sample_timesteps(kBatch, d.num_timesteps(), gen);  // line 3
    const Tensor eps = diffusion::noise_like(x0, gen);                             // line 4
    const Tensor loss =  // line 5: L_simple (Eq. 14), averaged over the batch
        ag::mean(d.training_losses(eps_theta, x0, t, eps, diffusion::LossType::Simple));
    adam.zero_grad();
    loss.backward();  // its gradient, then the descent step
    adam.step(config.lr * (1 - static_cast<double>(step - 1) / steps));  // decays to 0
    if (step % 500 == 0 || step == steps) {
      const std::chrono::duration<double> s = std::chrono::steady_clock::now() - start;
      std::printf("[toy2d] step %lld/%lld  loss %.4f  %.1f s\n", static_cast<long long>(step),
                  static_cast<long long>(steps), loss.item(), s.count());
      std::fflush(stdout);
    }
  }
}

// Algorithm 2. x_T ~ N(0, I); for t = T..1: x_{t-1} = mu_theta(x_t, t) + sigma_t z
// (z = 0 at t = 1), which is what diffusion::p_sample does. Returns x_t at
// each t of kShownT, in that order; the last is x_0, the samples.
std::vector<Tensor> sample(const diffusion::GaussianDiffusion& d, const Mlp& model,
                           ag::Generator& gen) {
  const diffusion::Denoiser eps_theta = [&](const Tensor& x, const Tensor& t) {
    return model.forward(x, t);
  };
  Tensor x = ag::randn({kPoints, 2, 1, 1}, &gen);  // line 1
  std::vector<Tensor> shown = {x};
  for (int64_t t = d.num_timesteps(); t >= 1; --t) {  // lines 2-4; t - 1 is t's index
    x = diffusion::p_sample(d, eps_theta, x, diffusion::full_timesteps(kPoints, t - 1), gen,
                            /*clip_x0=*/false);
    for (int64_t s : kShownT)
      if (s == t - 1) shown.push_back(x);
  }
  return shown;
}

plotting::Panel scatter(const std::string& title, const Tensor& points) {
  const std::vector<double> p = points.to_vector<double>();
  plotting::Series s{"", {}, {}, plotting::Style::kPoints, 0};
  for (size_t i = 0; i + 1 < p.size(); i += 2) s.x.push_back(p[i]), s.y.push_back(p[i + 1]);
  plotting::Panel panel{title, "", "", false, true, {{-3.5, 3.5}}, {{-3.5, 3.5}}, {s}};
  return panel;
}

void save(const fs::path& path, std::vector<plotting::Panel> panels) {
  imaging::write_png(path.string(), plotting::render({std::move(panels), 3, 1200, 800}));
  std::printf("[toy2d] wrote %s\n", path.c_str());
}

void write_csv(const fs::path& path, const Tensor& points) {
  std::ofstream f(path);
  f << "x,y\n";
  const std::vector<double> p = points.to_vector<double>();
  for (size_t i = 0; i + 1 < p.size(); i += 2) f << p[i] << ',' << p[i + 1] << '\n';
  if (!f) throw std::runtime_error(path.string() + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DDPM on 2-D toy data: train an MLP, plot the forward and reverse processes"};
  std::string data = "8gaussians", out = ".";
  int64_t steps = 5000;
  uint64_t seed = 0;
  bool csv = false;
  app.add_option("--data", data, "swissroll, moons or 8gaussians")->capture_default_str();
  app.add_option("--steps", steps, "training steps (0: untrained)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", out, "output folder")->capture_default_str();
  app.add_option("--seed", seed, "seed of the data, the weights and the noise")
      ->capture_default_str();
  app.add_flag("--csv", csv, "also write samples.csv and data.csv");
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);  // tensors of 256 x 128: a thread team costs more than it gains
  try {
    fs::create_directories(out);
    std::mt19937_64 rng(seed);
    ag::Generator gen(seed);
    const diffusion::GaussianDiffusion d(
        diffusion::make_schedule(diffusion::ScheduleKind::Linear, kT),
        diffusion::ModelMeanType::Eps, diffusion::ModelVarType::FixedLarge);
    const Mlp model(gen);
    std::printf("[toy2d] %s, T = %lld, MLP of %lld parameters\n", data.c_str(),
                static_cast<long long>(kT), static_cast<long long>(model.num_parameters()));
    train(d, model, data, steps, rng, gen);

    const Tensor x0 = draw_data(data, kPoints, rng);
    const Tensor eps = ag::randn(x0.shape(), &gen);
    std::vector<plotting::Panel> forward;
    for (auto it = std::rbegin(kShownT); it != std::rend(kShownT); ++it)
      forward.push_back(scatter(
          "q(x_t), t = " + std::to_string(*it),
          *it == 0 ? x0 : d.q_sample(x0, diffusion::full_timesteps(kPoints, *it - 1), eps)));
    save(fs::path(out) / "toy2d_forward.png", forward);

    const std::vector<Tensor> xs = sample(d, model, gen);
    std::vector<plotting::Panel> reverse;
    for (size_t i = 0; i < xs.size(); ++i)
      reverse.push_back(scatter("p(x_t), t = " + std::to_string(kShownT[i]), xs[i]));
    save(fs::path(out) / "toy2d_reverse.png", reverse);
    if (csv) {
      write_csv(fs::path(out) / "samples.csv", xs.back());
      write_csv(fs::path(out) / "data.csv", draw_data(data, kPoints, rng));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "toy2d: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
