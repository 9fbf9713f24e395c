// Trains a DDPM on MNIST (or Fashion-MNIST, or any IDX copy) — Algorithm 1 of
// Ho et al. 2020 with Adam, warm-up, gradient clipping and an EMA of the
// weights — with a progress bar, atomic checkpoints, periodic sample grids
// from the EMA weights, loss.csv and loss.png, exact --resume and a
// checkpoint on Ctrl-C. The step and the loop around it live in
// apps/common (training.h, train_loop.h), where apps/bench times them.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "apps/common/choices.h"
#include "apps/common/cli.h"
#include "apps/common/run_settings.h"
#include "apps/common/train_loop.h"
#include "apps/common/training.h"
#include "autograd/distributed.h"
#include "io/safetensors.h"

using namespace ag;

namespace {

namespace fs = std::filesystem;
using apps::TrainOptions;

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

void add_model_flags(CLI::App& app, TrainOptions& o) {
  app.add_option("--preset", o.preset, "U-Net size")
      ->check(CLI::IsMember(nn::unet_preset_names()))
      ->capture_default_str();
  app.add_option("--data", o.data,
                 "mnist, fashion, cifar10, or a directory: IDX files, CIFAR-10's binary batches "
                 "or a folder of PNG/JPEG images")
      ->capture_default_str();
  apps::add_renamed_flag(app, "--dataset", "--data");
  app.add_option("--resolution", o.resolution,
                 "images are center-cropped and resized to this side (0: as the data has them)")
      ->check(CLI::Range(int64_t{0}, int64_t{1024}))
      ->capture_default_str();
  app.add_option("--channels", o.channels, "1 (grey) or 3 (RGB); 0: as the data has them")
      ->check(CLI::IsMember({0, 1, 3}))
      ->capture_default_str();
  app.add_flag("--flip", o.flip, "mirror training images left to right at random (not for digits)");
  app.add_flag("--cond", o.cond,
               "class-conditional: train on the data's labels too (classifier-free guidance; "
               "sample --label)");
  app.add_option("--p-uncond", o.p_uncond,
                 "with --cond: probability that a training label is dropped to \"no label\"")
      ->check(apps::kUnitInterval)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "images per step")
      ->check(CLI::Range(int64_t{1}, apps::kMaxBatch))
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
  apps::add_choice(app, "--loss", o.loss, apps::loss_choices(),
                   "simple (Eq. 14), vlb (Eq. 5) or hybrid (improved DDPM's L_simple + lambda "
                   "L_vlb; the default with --learn-sigma)");
  app.add_option("--hybrid-lambda", o.hybrid_lambda, "weight of L_vlb in the hybrid loss")
      ->check(apps::kPositive)
      ->capture_default_str();
  apps::add_choice(
      app, "--t-sampler", o.t_sampler, apps::t_sampler_choices(),
      "how t is drawn: uniform, or importance (p_t ~ sqrt(E[L_t^2]) of each t's recent "
      "losses; made for --loss vlb)");
  apps::add_choice(app, "--param", o.param, apps::param_choices(),
                   "model output: eps, x0 or xprev");
  apps::add_choice(app, "--var", o.var, apps::var_choices(),
                   "reverse variance: large (beta), small (beta~) or learned (= --learn-sigma)");
  app.add_flag("--learn-sigma",
               "learn the reverse variances (improved DDPM): the U-Net outputs "
               "2C channels; same as --var learned");
  apps::add_choice(app, "--schedule", o.schedule, apps::schedule_choices(), "noise schedule");
  app.add_option("--T", o.T, "diffusion steps")
      ->check(CLI::Range(2, 100000))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the weights, data order, noise and dropout")
      ->check(apps::kSeed)
      ->capture_default_str();
  apps::add_device_flags(app, o.device, o.threads);
}

void add_run_flags(CLI::App& app, TrainOptions& o) {
  app.add_option("--steps", o.steps, "training steps in all (0: no step limit)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--minutes", o.minutes, "stop after this much training time (0: no limit)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--subset", o.subset, "train on the first N images only (0: all)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--out", o.out, "output folder")
      ->default_str("runs/<preset>, or the --resume checkpoint's folder");
  app.add_option("--resume", o.resume,
                 "continue exactly from this training checkpoint, with its settings (only "
                 "--steps, --minutes, --ckpt-every, --sample-every, --device, --threads and "
                 "--out may be given again)")
      ->check(CLI::ExistingFile);
  app.add_option("--ckpt-every", o.ckpt_every, "checkpoint every N steps")
      ->check(apps::kPositive)
      ->capture_default_str();
  app.add_option("--sample-every", o.sample_every,
                 "EMA sample grid every N steps (0: only at the end)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--sample-n", o.sample_n, "images per sample grid")
      ->check(CLI::Range(int64_t{1}, apps::kMaxImages))
      ->capture_default_str();
  apps::add_choice(app, "--final-sampler", o.final_sampler, apps::sampler_choices(),
                   "sampler of the final grid: ddpm (ancestral, T steps) or ddim");
  app.add_option("--sample-steps", o.sample_steps, "DDIM steps for the grids")
      ->check(apps::kPositive)
      ->capture_default_str();
  app.set_config("--config", "", "read flags from this TOML file (e.g. configs/main.toml)");
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is no silent default
}

// The training split, fitted to --resolution and --channels, which become
// the shape it was loaded at (what the checkpoint records).
data::Dataset load_training_data(TrainOptions& o) {
  data::Dataset d =
      data::load_split(data::resolve_dataset_dir(o.data), true, {o.resolution, o.channels});
  o.resolution = d.images.rows;
  o.channels = d.images.channels;
  if (o.subset > 0 && o.subset < d.images.count) {
    d.images.count = o.subset;
    d.images.pixels.resize(static_cast<size_t>(o.subset * d.images.image_bytes()));
    if (!d.labels.labels.empty()) d.labels.labels.resize(static_cast<size_t>(o.subset));
  }
  return d;
}

// Whether the command line (or --config) gave `flag`; --learn-sigma gives --var.
bool given(const CLI::App& app, const std::string& flag) {
  return app.count(flag) > 0 || (flag == "--var" && app.count("--learn-sigma") > 0);
}

// --learn-sigma is --var learned, whose loss is hybrid unless --loss says.
void apply_learn_sigma(TrainOptions& o, const CLI::App& app) {
  if (app.count("--learn-sigma") == 0) return;
  if (app.count("--var") > 0 && o.var != diffusion::ModelVarType::Learned)
    throw std::runtime_error("--learn-sigma conflicts with --var " +
                             apps::name_of(apps::var_choices(), o.var));
  o.var = diffusion::ModelVarType::Learned;
  if (app.count("--loss") == 0) o.loss = diffusion::LossType::Hybrid;
}

// Learned variances train only through the bound; the hybrid loss trains
// nothing but learned variances through it.
void check_loss_and_variance(const TrainOptions& o) {
  const bool learned = o.var == diffusion::ModelVarType::Learned;
  if (learned && o.loss == diffusion::LossType::Simple)
    throw std::runtime_error(
        "--loss simple does not train learned variances: use --loss hybrid (L_simple + lambda "
        "L_vlb) or --loss vlb with --learn-sigma");
  if (!learned && o.loss == diffusion::LossType::Hybrid)
    throw std::runtime_error("--loss hybrid trains learned variances: add --learn-sigma");
}

// --p-uncond is the label dropout of --cond's training.
void check_conditioning(const TrainOptions& o, const CLI::App& app) {
  if (app.count("--p-uncond") > 0 && !o.cond)
    throw std::runtime_error("--p-uncond drops labels of class-conditional training: add --cond");
  if (o.cond && !(o.p_uncond > 0 && o.p_uncond < 1))
    throw std::runtime_error("--p-uncond " + apps::exact_text(o.p_uncond) +
                             ": guidance needs both the conditional and the unconditional model "
                             "trained, so p must lie strictly between 0 and 1");
}

// Under mpirun every process takes rows of each batch and of each grid.
void check_processes(const TrainOptions& o) {
  const int64_t ranks = ag::dist::size();
  if (o.batch < ranks)
    throw std::runtime_error("--batch " + std::to_string(o.batch) + ": fewer images than the " +
                             std::to_string(ranks) + " processes (--batch is the global batch)");
  if (o.sample_n < ranks)
    throw std::runtime_error("--sample-n " + std::to_string(o.sample_n) +
                             ": fewer samples than the " + std::to_string(ranks) + " processes");
}

// For --resume: this run's settings become the checkpoint's (a fixed setting
// given with another value is an error); only the budget flags may change.
void restore_run_settings(TrainOptions& o, const CLI::App& app) {
  const io::SafetensorsFile file = io::load_safetensors(o.resume);
  const auto missing = apps::restore_settings(
      o, file.metadata, [&](const std::string& flag) { return given(app, flag); }, o.resume);
  if (o.cond && std::find(missing.begin(), missing.end(), "--cond") != missing.end())
    throw std::runtime_error("--cond: " + o.resume +
                             " was written before --cond existed, by an unconditional run: resume "
                             "it without --cond");
  if (!missing.empty()) {
    std::string flags;
    for (const std::string& f : missing) flags += (flags.empty() ? "" : " ") + f;
    std::printf(
        "[train] %s does not store %s (written before checkpoints kept every setting): "
        "they are this command line's\n",
        o.resume.c_str(), flags.c_str());
  }
}

// Loads the training checkpoint into tr: weights, EMA, Adam, generators, step.
void resume(apps::Trainer& tr, const std::string& path) {
  tr.resume(path);
  std::printf("[train] resumed %s at step %ld\n", path.c_str(), static_cast<long>(tr.step));
}

// A data-parallel run's time per step on rank 0, by what it was spent on,
// and the bytes of gradients each step all-reduces (docs/distributed.md).
void print_step_times(const apps::Trainer& tr) {
  const apps::StepTimes& t = tr.times;
  const double per = 1000.0 / static_cast<double>(std::max<int64_t>(1, t.steps));
  int64_t bytes = 0;
  for (const Tensor& p : tr.model.parameters())
    bytes += p.numel() * static_cast<int64_t>(dtype_size(p.dtype()));
  std::printf(
      "[train] %d processes, per step on rank 0: compute %.1f ms, waiting for the others %.1f ms, "
      "all-reduce of %.2f MB of gradients %.1f ms\n",
      ag::dist::size(), t.compute * per, t.wait * per, static_cast<double>(bytes) / 1e6,
      t.all_reduce * per);
}

// Trains until --steps, --minutes or Ctrl-C, logging every step's loss to
// loss.csv; a checkpoint and the loss curve every --ckpt-every steps and at
// the end (after Ctrl-C too), a quick sample grid every --sample-every steps.
// SIGTERM stops it as Ctrl-C does (what mpirun, on its own Ctrl-C, and job
// schedulers send). Returns whether either stopped it (on any rank).
bool train_loop(apps::Trainer& tr, const TrainOptions& o, const fs::path& out,
                const std::string& program) {
  apps::TrainingLog log(tr, out, !o.resume.empty());
  std::signal(SIGINT, on_sigint);
  std::signal(SIGTERM, on_sigint);
  const int64_t target = o.steps > 0 ? o.steps : INT64_MAX;
  const auto start = std::chrono::steady_clock::now();
  auto minutes = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / 60;
  };
  // Every rank of a data-parallel run stops at the same step: when any of
  // them is told to (one process: when it is).
  apps::run_steps(tr, log, [&] {
    return tr.step < target &&
           !ag::dist::any((o.minutes > 0 && minutes() >= o.minutes) || g_interrupted);
  });
  log.finish();
  if (ag::dist::size() > 1) print_step_times(tr);
  const bool interrupted = ag::dist::any(g_interrupted);
  if (interrupted)
    std::printf("[train] interrupted; to go on: %s --resume %s\n", program.c_str(),
                log.checkpoint().c_str());
  // No rank exits before rank 0 has written: mpirun ends a run's other
  // processes once one exits with a non-zero status (130 here).
  ag::dist::barrier();
  return interrupted;
}

// The final grid from the EMA weights, and the same samples as a tensor.
void write_final_samples(apps::Trainer& tr, const TrainOptions& o, const fs::path& out) {
  const bool ancestral = o.final_sampler == apps::Sampler::Ancestral;
  std::printf("[train] sampling %ld images from the EMA weights (%s, %ld steps)\n",
              static_cast<long>(o.sample_n), ancestral ? "ancestral" : "DDIM",
              static_cast<long>(ancestral ? o.T : o.sample_steps));
  const Tensor samples = apps::write_samples(tr, out / "samples.png", o.final_sampler);
  const nn::UNetConfig& c = tr.model.config;
  io::NamedTensors tensors = {{"samples", samples}};
  if (c.num_classes > 0)  // the label each sample was drawn for, which evaluate --quality checks
    tensors.push_back(
        {"labels", from_vector(apps::grid_labels(o.sample_n, c.num_classes), {o.sample_n})});
  if (ag::dist::is_main()) io::save_safetensors((out / "samples.safetensors").string(), tensors);
  const bool digits = c.in_ch == 1 && c.resolution == 28;  // what --quality scores
  std::printf("[train] samples: %s (as a tensor%s: %s)\n", (out / "samples.png").string().c_str(),
              digits ? " for evaluate --quality" : "",
              (out / "samples.safetensors").string().c_str());
}

// What this run will do, as the settings that decide its result.
void print_settings(const apps::Trainer& tr, const TrainOptions& o) {
  std::printf(
      "[train] %ld training images, %ldx%ldx%ld%s; %s U-Net, %ld parameters; on %s, %d CPU "
      "threads%s\n",
      static_cast<long>(tr.train.images.count), static_cast<long>(tr.train.images.channels),
      static_cast<long>(tr.train.images.rows), static_cast<long>(tr.train.images.cols),
      o.flip ? ", random flips" : "", o.preset.c_str(),
      static_cast<long>(tr.model.num_parameters()), device_name(tr.device), omp_get_max_threads(),
      ag::dist::size() > 1
          ? (" in each of " + std::to_string(ag::dist::size()) + " processes (data-parallel)")
                .c_str()
          : "");
  std::string limit = o.steps > 0 ? std::to_string(o.steps) + " steps" : "";
  if (o.minutes > 0) {
    char minutes[48];
    std::snprintf(minutes, sizeof minutes, "%g minutes", o.minutes);
    limit += (limit.empty() ? "" : " or ") + std::string(minutes);
  }
  if (limit.empty()) limit = "no step limit";
  std::printf(
      "[train] %s, batch %ld, lr %g (warm-up %ld), clip %g, EMA %g; loss %s%s, t %s, param %s, "
      "var %s, schedule %s, T %ld%s; seed %lu\n",
      limit.c_str(), static_cast<long>(o.batch), o.lr, static_cast<long>(o.warmup), o.clip, o.ema,
      apps::name_of(apps::loss_choices(), o.loss).c_str(),
      o.loss == diffusion::LossType::Hybrid
          ? (" (lambda " + apps::exact_text(o.hybrid_lambda) + ")").c_str()
          : "",
      apps::name_of(apps::t_sampler_choices(), o.t_sampler).c_str(),
      apps::name_of(apps::param_choices(), o.param).c_str(),
      apps::name_of(apps::var_choices(), o.var).c_str(),
      apps::name_of(apps::schedule_choices(), o.schedule).c_str(), static_cast<long>(o.T),
      o.cond ? ("; " + std::to_string(tr.model.config.num_classes) +
                " classes, labels dropped with p " + apps::exact_text(o.p_uncond))
                   .c_str()
             : "",
      static_cast<unsigned long>(o.seed));
}

// The --out folder: as given, else beside the checkpoint resumed, else
// runs/<preset>.
fs::path output_dir(const TrainOptions& o) {
  if (!o.out.empty()) return o.out;
  if (!o.resume.empty()) {
    const fs::path dir = fs::path(o.resume).parent_path();
    return dir.empty() ? fs::path(".") : dir;
  }
  return fs::path("runs") / o.preset;
}

int run(TrainOptions& o, const CLI::App& app, const std::string& program) {
  apply_learn_sigma(o, app);
  if (!o.resume.empty()) restore_run_settings(o, app);
  check_loss_and_variance(o);
  check_conditioning(o, app);
  check_processes(o);
  const Device device = apps::require_device(o.device);
  apps::set_threads(o.threads);
  const fs::path out = output_dir(o);
  apps::require_output_dir(out.string());
  std::printf("[train] loading %s\n", o.data.c_str());
  data::Dataset train = load_training_data(o);
  apps::Trainer tr(o, device, std::move(train));
  print_settings(tr, o);
  if (!o.resume.empty()) resume(tr, o.resume);
  if (train_loop(tr, o, out, program)) return 130;
  write_final_samples(tr, o, out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Train a DDPM (Ho et al. 2020) on MNIST, Fashion-MNIST, CIFAR-10 or a folder of images."};
  TrainOptions o;
  add_model_flags(app, o);
  add_run_flags(app, o);
  apps::one_line_parse_errors(app, "train_mnist");
  CLI11_PARSE(app, argc, argv);
  return apps::run_reporting_errors("train_mnist", [&] { return run(o, app, argv[0]); });
}
