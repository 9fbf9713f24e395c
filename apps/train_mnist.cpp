// Trains a DDPM on MNIST (or Fashion-MNIST, or any IDX copy) — Algorithm 1 of
// Ho et al. 2020 with Adam, warm-up, gradient clipping and an EMA of the
// weights — with a progress bar, atomic checkpoints, periodic sample grids
// from the EMA weights, loss.csv and loss.png, exact --resume and a
// checkpoint on Ctrl-C.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "apps/common/cli.h"
#include "apps/common/progress.h"
#include "apps/common/sampling.h"
#include "apps/dataset/idx.h"
#include "apps/imaging/image.h"
#include "diffusion/samplers.h"
#include "nn/checkpoint.h"

using namespace ag;

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

struct Options {
  std::string preset = "tiny", dataset = "mnist", loss = "simple", param = "eps", var = "large";
  std::string schedule = "linear", device = "cpu", out, resume, final_sampler = "ddpm";
  int64_t batch = 64, warmup = 200, T = 1000, steps = 0, subset = 0, ckpt_every = 500;
  int64_t sample_every = 500, sample_n = 64, sample_steps = 50, threads = 0;
  double lr = 2e-4, clip = 1.0, ema = 0.999, minutes = 0;
  uint64_t seed = 0;
};

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--preset", o.preset, "U-Net size")
      ->check(CLI::IsMember(nn::unet_preset_names()))
      ->capture_default_str();
  app.add_option("--dataset,--data", o.dataset, "mnist, fashion, or a directory of IDX files")
      ->capture_default_str();
  app.add_option("--batch", o.batch, "images per step")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--lr", o.lr, "Adam learning rate")->check(apps::kPositive)->capture_default_str();
  app.add_option("--warmup", o.warmup, "linear warm-up steps")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--clip", o.clip, "global gradient-norm clip (0: off)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--ema", o.ema, "EMA decay (with the (1+n)/(10+n) warm-up)")
      ->check(apps::kUnitInterval)
      ->capture_default_str();
  app.add_option("--loss", o.loss, "simple (Eq. 14) or vlb (Eq. 5)")
      ->check(CLI::IsMember({"simple", "vlb"}))
      ->capture_default_str();
  app.add_option("--param", o.param, "model output: eps, x0 or xprev")
      ->check(CLI::IsMember({"eps", "x0", "xprev"}))
      ->capture_default_str();
  app.add_option("--var", o.var, "reverse variance: large (beta) or small (beta~)")
      ->check(CLI::IsMember({"large", "small"}))
      ->capture_default_str();
  app.add_option("--schedule", o.schedule, "noise schedule")
      ->check(CLI::IsMember({"linear", "cosine"}))
      ->capture_default_str();
  app.add_option("--T", o.T, "diffusion steps")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the weights, data order, noise and dropout")
      ->capture_default_str();
  apps::add_device_flags(app, o.device, o.threads);
  app.add_option("--steps", o.steps, "stop after this many steps in all (0: no step limit)")
      ->check(apps::kNonNegative);
  app.add_option("--minutes", o.minutes, "stop after this much training time (0: no limit)")
      ->check(apps::kNonNegative);
  app.add_option("--subset", o.subset, "train on the first N images only (0: all)")
      ->check(apps::kNonNegative);
  app.add_option("--out", o.out, "output folder (default runs/<preset>)");
  app.add_option("--resume", o.resume, "continue exactly from this training checkpoint");
  app.add_option("--ckpt-every", o.ckpt_every, "checkpoint every N steps")
      ->check(apps::kPositive)
      ->capture_default_str();
  app.add_option("--sample-every", o.sample_every,
                 "EMA sample grid every N steps (0: only at the end)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--sample-n", o.sample_n, "images per sample grid")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--final-sampler", o.final_sampler,
                 "sampler of the final grid: ddpm (ancestral, T steps) or ddim")
      ->check(CLI::IsMember({"ddpm", "ddim"}))
      ->capture_default_str();
  app.add_option("--sample-steps", o.sample_steps, "DDIM steps for the grids")
      ->check(apps::kPositive)
      ->capture_default_str();
}

}  // namespace

namespace {

namespace fs = std::filesystem;

// Everything one run holds. The data generator draws batches, timesteps and
// noise; the model's own generator draws dropout masks; both are saved in
// checkpoints, so --resume continues the very same stream. The models, the
// batches and the sampling live on `device`; Adam's moments and the EMA
// follow the parameters there on their first update (nn::follow_param).
struct Trainer {
  Trainer(const Options& o, Device device, data::Dataset data)
      : opt(o),
        device(device),
        train(std::move(data)),
        model(nn::unet_preset(o.preset), o.seed),
        ema_model(nn::unet_preset(o.preset), o.seed),
        adam(model.parameters(), nn::AdamConfig{o.lr}),
        ema(model.named_parameters(), o.ema),
        diffusion(diffusion::make_schedule(diffusion::parse_schedule(o.schedule), o.T),
                  diffusion::parse_mean_type(o.param), diffusion::parse_var_type(o.var), DType::F32,
                  device),
        data_gen(o.seed + 2) {
    model.to(device);
    ema_model.to(device);
  }

  // The diffusion settings travel in the checkpoint so that apps/sample can
  // rebuild the same process.
  nn::TrainingState state() {
    io::Metadata extra{{"schedule", opt.schedule}, {"T", std::to_string(opt.T)},
                       {"param", opt.param},       {"var", opt.var},
                       {"loss", opt.loss},         {"dataset", opt.dataset}};
    return {model, adam, ema, {{"data", &data_gen}}, step, extra};
  }

  // One step of Algorithm 1: x_0 from the data, t ~ U{1..T}, eps ~ N(0, I),
  // a gradient step on the loss. Returns the batch's loss.
  double train_step() {
    const int64_t n = train.images.count, B = opt.batch;
    std::vector<int64_t> idx;
    for (double u : rand({B}, &data_gen, DType::F64).to_vector<double>())
      idx.push_back(std::min(n - 1, static_cast<int64_t>(u * n)));
    const Tensor t = diffusion::sample_timesteps(B, opt.T, data_gen);
    Tensor x0 = data::to_tensor(train.images, idx).to(device);
    Tensor noise = randn(x0.shape(), &data_gen, DType::F32, device);
    auto net = [&](const Tensor& x, const Tensor& tt) { return model.forward(x, tt); };
    Tensor loss =
        mean(diffusion.training_losses(net, x0, t, noise, diffusion::parse_loss_type(opt.loss)));
    loss.backward();
    if (opt.clip > 0) nn::clip_grad_norm(model.parameters(), opt.clip);
    adam.step(nn::warmup_lr(opt.lr, adam.step_count() + 1, opt.warmup));
    adam.zero_grad();
    ema.update(model.named_parameters());
    ++step;
    return loss.item();
  }

  // A grid of samples from the EMA weights, from the same x_T every time so
  // grids over training compare like with like: by DDIM (eta 0, clipped x_0)
  // for the quick grids along the way, or by ancestral sampling (Algorithm 2,
  // T steps, cleaner on short runs) for the final one.
  Tensor write_samples(const fs::path& path, bool ancestral) {
    ema.copy_to(ema_model.named_parameters());
    ema_model.eval();
    Generator gen(opt.seed + 3);
    const auto& c = ema_model.config;
    Tensor x_T = apps::draw_x_T(c, opt.sample_n, gen, device);
    auto net = [&](const Tensor& x, const Tensor& t) { return ema_model.forward(x, t); };
    Tensor x0;
    if (ancestral) {
      x0 = apps::sample_with_progress(diffusion, net, x_T, "ddpm", 0, 0.0, gen, {},
                                      "[train] sampling step")
               .x0;
    } else {
      x0 = diffusion::ddim_sample_loop(diffusion, net, x_T, std::min(opt.sample_steps, opt.T), 0.0,
                                       gen)
               .x0;
    }
    imaging::write_png(path.string(), imaging::make_grid(x0, apps::square_grid_cols(opt.sample_n)));
    return x0;
  }

  Options opt;
  Device device;
  data::Dataset train;
  nn::UNet model, ema_model;
  nn::Adam adam;
  nn::EMA ema;
  diffusion::GaussianDiffusion diffusion;
  Generator data_gen;
  int64_t step = 0;
};

data::Dataset load_training_data(const Options& o) {
  data::Dataset d = data::load_split(data::resolve_dataset_dir(o.dataset), true);
  if (o.subset > 0 && o.subset < d.images.count) {
    const int64_t pixels = d.images.rows * d.images.cols;
    d.images.count = o.subset;
    d.images.pixels.resize(static_cast<size_t>(o.subset * pixels));
    d.labels.labels.resize(static_cast<size_t>(o.subset));
  }
  return d;
}

std::vector<double> read_loss_history(const fs::path& csv) {
  std::vector<double> smoothed;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const auto last = line.rfind(',');
    if (last != std::string::npos) smoothed.push_back(std::atof(line.c_str() + last + 1));
  }
  return smoothed;
}

std::string status_text(double smoothed, double images_per_s) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.4f, %.1f img/s", smoothed, images_per_s);
  return buf;
}

// Loads a training checkpoint into tr; refuses one trained with other
// diffusion settings than this run's flags.
void resume(Trainer& tr, const std::string& path) {
  nn::TrainingState s = tr.state();
  const io::Metadata wanted = s.extra;
  nn::load_training_checkpoint(path, s);
  for (const char* key : {"schedule", "T", "param", "var", "loss"}) {
    auto it = s.extra.find(key);
    if (it != s.extra.end() && it->second != wanted.at(key))
      throw std::runtime_error(path + ": trained with --" + key + " " + it->second +
                               ", but this run asks for " + wanted.at(key));
  }
  tr.step = s.step;
  std::printf("[train] resumed %s at step %ld\n", path.c_str(), static_cast<long>(tr.step));
}

// Trains until --steps, --minutes or Ctrl-C, logging every step's loss to
// loss.csv; a checkpoint and the loss curve every --ckpt-every steps and at
// the end (after Ctrl-C too), a quick sample grid every --sample-every steps.
void train_loop(Trainer& tr, const Options& o, const fs::path& out) {
  const fs::path ckpt = out / "ckpt.safetensors", csv = out / "loss.csv", curve = out / "loss.png";
  std::vector<double> history = o.resume.empty() ? std::vector<double>{} : read_loss_history(csv);
  std::ofstream log(csv, o.resume.empty() ? std::ios::trunc : std::ios::app);
  if (o.resume.empty()) log << "step,loss,smoothed_loss\n";
  std::signal(SIGINT, on_sigint);

  const int64_t target = o.steps > 0 ? o.steps : INT64_MAX;
  apps::ProgressBar bar("[train] step", o.steps, "step", tr.step);
  const auto start = std::chrono::steady_clock::now();
  double smoothed = history.empty() ? 0.0 : history.back();
  auto minutes = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  };
  auto img_s = [&, first = tr.step] {
    return (tr.step - first) * o.batch / std::max(1e-9, minutes() * 60);
  };
  while (tr.step < target && (o.minutes <= 0 || minutes() < o.minutes) && !g_interrupted) {
    const double loss = tr.train_step();
    smoothed = history.empty() ? loss : 0.98 * smoothed + 0.02 * loss;  // for display
    history.push_back(smoothed);
    log << tr.step << ',' << loss << ',' << smoothed << '\n';
    bar.update(tr.step, status_text(smoothed, img_s()));
    if (tr.step % o.ckpt_every == 0) {
      nn::save_training_checkpoint(ckpt.string(), tr.state());
      imaging::write_png(curve.string(), imaging::plot_curve(history));
    }
    if (o.sample_every > 0 && tr.step % o.sample_every == 0) {
      char name[64];
      std::snprintf(name, sizeof name, "samples_%06ld.png", static_cast<long>(tr.step));
      tr.write_samples(out / name, false);
    }
  }
  bar.finish(tr.step, status_text(smoothed, img_s()));
  log.flush();
  nn::save_training_checkpoint(ckpt.string(), tr.state());
  std::printf("[train] checkpoint: %s (step %ld)\n", ckpt.string().c_str(),
              static_cast<long>(tr.step));
  imaging::write_png(curve.string(), imaging::plot_curve(history));
  std::printf("[train] loss curve: %s, log: %s\n", curve.string().c_str(), csv.string().c_str());
  if (g_interrupted)
    std::printf("[train] interrupted: resume with --resume %s\n", ckpt.string().c_str());
}

// The final grid from the EMA weights, and the same samples as a tensor.
void write_final_samples(Trainer& tr, const Options& o, const fs::path& out) {
  const bool ancestral = o.final_sampler == "ddpm";
  std::printf("[train] sampling %ld images from the EMA weights (%s, %ld steps)\n",
              static_cast<long>(o.sample_n), ancestral ? "ancestral" : "DDIM",
              static_cast<long>(ancestral ? o.T : o.sample_steps));
  const Tensor samples = tr.write_samples(out / "samples.png", ancestral);
  io::save_safetensors((out / "samples.safetensors").string(), {{"samples", samples}});
  std::printf("[train] samples: %s (as a tensor for evaluate --quality: %s)\n",
              (out / "samples.png").string().c_str(),
              (out / "samples.safetensors").string().c_str());
}

int run(const Options& o) {
  const Device device = apps::require_device(o.device);
  apps::set_threads(o.threads);
  const fs::path out = o.out.empty() ? fs::path("runs") / o.preset : fs::path(o.out);
  fs::create_directories(out);
  std::printf("[train] loading %s\n", o.dataset.c_str());
  Trainer tr(o, device, load_training_data(o));
  std::printf("[train] %ld training images; %s U-Net, %ld parameters; on %s, %d CPU threads\n",
              static_cast<long>(tr.train.images.count), o.preset.c_str(),
              static_cast<long>(tr.model.num_parameters()), device_name(device),
              omp_get_max_threads());
  if (!o.resume.empty()) resume(tr, o.resume);
  train_loop(tr, o, out);
  if (g_interrupted) return 130;
  write_final_samples(tr, o, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train a DDPM (Ho et al. 2020) on MNIST-style IDX data."};
  Options o;
  add_flags(app, o);
  apps::one_line_parse_errors(app, "train_mnist");
  CLI11_PARSE(app, argc, argv);
  return apps::run_reporting_errors("train_mnist", [&] { return run(o); });
}
