// Times DDPM training and sampling per U-Net preset and batch size: the
// training step apps/train_mnist takes, the very function (apps/common/
// training.h: a batch copied from an in-memory dataset of random images,
// random t, q_sample noise, U-Net forward, L_simple, backward, clip 1.0, Adam
// at 2e-4 with warm-up, the EMA update), one ancestral sampling step
// (p_sample, eval mode), and peak memory. Prints a table, or JSON for
// bench/unet_vs_torch.py, which runs a PyTorch reference of the same model
// beside it. --parity writes the weights, an input and our results for that
// script's correctness check. --loop also times train_mnist's loop around
// the step (apps/common/train_loop.h: loss.csv, the progress line, the
// checkpoints and grids due), so what the loop adds to the step shows.
//
// Memory: "peak MB" is the high-water mark of bytes held by live tensors and
// scratch in the device's caching allocator during the training steps
// (weights, gradients, Adam moments, the EMA and its sampling copy, and
// activations). "RSS MB" is the process
// peak RSS minus the RSS at start; RSS peaks are per process, so it describes
// one configuration only when a process runs one (as unet_vs_torch.py does).
//
// Each preset is timed on images of the shape it was made for: the MNIST
// presets on 1x28x28, cifar10 on 3x32x32.
#include <omp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <utility>

#include "apps/common/cli.h"
#include "apps/common/streams.h"
#include "apps/common/timing.h"
#include "apps/common/train_loop.h"
#include "apps/common/training.h"
#include "apps/dataset/dataset.h"
#include "autograd/allocator.h"
#include "diffusion/samplers.h"
#include "io/safetensors.h"

using namespace ag;

namespace {

constexpr int64_t kSampleBatch = 64;  // images per timed sampling step
constexpr int64_t kImages = 1024;     // the random training set
constexpr uint64_t kSeed = 0;

struct Options {
  std::vector<std::string> presets{"tiny", "small", "base"};
  std::vector<int64_t> batches{64, 128};
  int64_t reps = 5, warmup = 2, threads = 0;
  int64_t ckpt_every = apps::TrainOptions{}.ckpt_every;
  int64_t sample_every = apps::TrainOptions{}.sample_every;
  std::string device = "cpu", parity;
  bool json = false, loop = false;
};

struct Row {
  std::string preset;
  int64_t batch = 0, params = 0;
  double step_ms = 0, sample_ms = 0, peak_mb = 0, rss_mb = 0;
  double loop_ms = 0, loop_mean_ms = 0;  // with --loop
};

void add_loop_flags(CLI::App& app, Options& o) {
  app.add_flag("--loop", o.loop,
               "also time train_mnist's loop around the step (loss.csv, progress line, "
               "checkpoints and grids as configured)")
      ->capture_default_str();
  app.add_option("--ckpt-every", o.ckpt_every, "with --loop: checkpoint every N steps")
      ->check(apps::kPositive)
      ->capture_default_str();
  app.add_option("--sample-every", o.sample_every,
                 "with --loop: sample grid every N steps (0: none)")
      ->check(apps::kNonNegative)
      ->capture_default_str();
}

void add_flags(CLI::App& app, Options& o) {
  const auto presets = nn::unet_preset_names();
  app.add_option("--presets", o.presets, "U-Net presets, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember(std::set<std::string>(presets.begin(), presets.end())))
      ->capture_default_str();
  app.add_option("--batches", o.batches, "training batch sizes, comma-separated")
      ->delimiter(',')
      ->check(CLI::Range(int64_t{1}, apps::kMaxBatch))
      ->capture_default_str();
  app.add_option("--reps", o.reps, "timed repetitions (the median is reported)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--warmup-reps", o.warmup, "untimed repetitions first")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  apps::add_renamed_flag(app, "--warmup", "--warmup-reps");  // train_mnist's is lr warm-up
  apps::add_device_flags(app, o.device, o.threads);
  app.add_flag("--json", o.json, "one JSON object on stdout instead of the table")
      ->capture_default_str();
  app.add_option("--parity", o.parity,
                 "write the first preset's weights, a probe input and our outputs to this "
                 "safetensors file, then exit");
  add_loop_flags(app, o);
}

double resident_mb() {
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) * 1024 / 1e6;  // ru_maxrss is in KiB on Linux
}

CachingAllocator& allocator_for(Device device) {
  return device == Device::CUDA ? cuda_allocator() : cpu_allocator();
}

double allocator_peak_mb(Device device) {
  return static_cast<double>(allocator_for(device).stats().peak_in_use) / 1e6;
}

// The image shape a preset was made for (nn/unet.h).
data::ImageShape made_for(const std::string& preset) {
  return preset == "cifar10" ? data::ImageShape{32, 3} : data::ImageShape{28, 1};
}

// A batch of n standard normal images of the model's shape.
Tensor random_images(const nn::UNet& model, int64_t n, Generator& gen, Device device) {
  const nn::UNetConfig& c = model.config;
  return randn({n, c.in_ch, c.resolution, c.resolution}, &gen, DType::F32, device);
}

// train_mnist's settings (its defaults) for one configuration.
apps::TrainOptions training_options(const std::string& preset, int64_t batch, const Options& o) {
  apps::TrainOptions t;
  t.preset = preset;
  t.batch = batch;
  t.device = o.device;
  t.seed = kSeed;
  t.ckpt_every = o.ckpt_every;
  t.sample_every = o.sample_every;
  return t;
}

// train_mnist's loop (apps::run_steps with its TrainingLog, in a scratch
// folder) for o.warmup and then o.reps steps; each step is timed from one
// call of the loop's condition to the next, so it includes all the loop
// does around it. Fills the median and the mean (in which the checkpoints
// and grids due in these steps count in full) into r.
void time_loop(apps::Trainer& tr, const Options& o, Row& r) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("bench_loop_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::vector<double> ms;
  {
    apps::TrainingLog log(tr, dir, false);
    int64_t calls = 0;
    auto last = std::chrono::steady_clock::now();
    apps::run_steps(tr, log, [&] {
      synchronize(tr.device);
      const auto now = std::chrono::steady_clock::now();
      if (calls++ > o.warmup)
        ms.push_back(std::chrono::duration<double, std::milli>(now - last).count());
      last = now;
      return calls <= o.warmup + o.reps;
    });
  }
  fs::remove_all(dir);
  double total = 0;
  for (double m : ms) total += m;
  r.loop_mean_ms = total / static_cast<double>(ms.size());
  r.loop_ms = apps::upper_median(std::move(ms));
}

// Training steps at `batch` (with --loop, then the loop), then sampling steps
// at kSampleBatch; the cache is emptied in between so the sampling sizes do
// not pile onto the training ones.
Row measure(const std::string& preset, int64_t batch, const Options& o, Device device,
            double rss_base) {
  CachingAllocator& alloc = allocator_for(device);
  alloc.empty_cache();
  const data::ImageShape shape = made_for(preset);
  apps::Trainer tr(training_options(preset, batch, o), device,
                   apps::random_dataset(kImages, kSeed, shape.channels, shape.resolution));
  Row r{preset, batch, tr.model.num_parameters()};
  alloc.reset_peak();
  r.step_ms = apps::median_ms([&] { tr.train_step(); }, device, o.warmup, o.reps);
  r.peak_mb = allocator_peak_mb(device);
  if (o.loop) time_loop(tr, o, r);

  alloc.empty_cache();
  tr.model.eval();
  Generator gen(kSeed);
  const Tensor xt = random_images(tr.model, kSampleBatch, gen, device);
  const Tensor t =
      diffusion::full_timesteps(kSampleBatch, tr.opt.T / 2);  // any t > 0 costs the same
  auto net = [&](const Tensor& x, const Tensor& tt) { return tr.model.forward(x, tt); };
  r.sample_ms = apps::median_ms([&] { diffusion::p_sample(tr.diffusion, net, xt, t, gen, true); },
                                device, o.warmup, o.reps);
  r.rss_mb = peak_rss_mb() - rss_base;
  return r;
}

void print_table_header(const Options& o) {
  std::printf(
      "train_mnist's training step (batch copy, forward, L_simple, backward, clip, Adam, EMA)\n"
      "and one ancestral sampling step at batch %ld; %s, %d threads, median of %ld after %ld\n"
      "warm-up. peak MB: allocator high-water in the training step; RSS MB: process peak RSS\n"
      "minus RSS at start, cumulative over the rows of this process.\n",
      static_cast<long>(kSampleBatch), o.device.c_str(), omp_get_max_threads(),
      static_cast<long>(o.reps), static_cast<long>(o.warmup));
  if (o.loop)
    std::printf(
        "loop ms: the step inside train_mnist's loop (loss.csv, progress line, a checkpoint\n"
        "every %ld steps, a grid every %ld), median; loop mean: the mean, with those in full.\n",
        static_cast<long>(o.ckpt_every), static_cast<long>(o.sample_every));
  std::printf("\n%-7s %5s %10s %9s %9s %15s %8s %7s", "preset", "batch", "params", "step ms",
              "img/s", "sample-step ms", "peak MB", "RSS MB");
  if (o.loop) std::printf(" %8s %10s", "loop ms", "loop mean");
  std::printf("\n");
}

void print_table_row(const Row& r, const Options& o) {
  std::printf("%-7s %5ld %10ld %9.1f %9.1f %15.1f %8.1f %7.1f", r.preset.c_str(),
              static_cast<long>(r.batch), static_cast<long>(r.params), r.step_ms,
              1e3 * r.batch / r.step_ms, r.sample_ms, r.peak_mb, r.rss_mb);
  if (o.loop) std::printf(" %8.1f %10.1f", r.loop_ms, r.loop_mean_ms);
  std::printf("\n");
}

void print_json(const Options& o, const std::vector<Row>& rows) {
  std::printf(
      "{\"device\": \"%s\", \"threads\": %d, \"reps\": %ld, \"warmup\": %ld, "
      "\"sample_batch\": %ld, \"rows\": [",
      o.device.c_str(), omp_get_max_threads(), static_cast<long>(o.reps),
      static_cast<long>(o.warmup), static_cast<long>(kSampleBatch));
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::printf(
        "%s\n {\"preset\": \"%s\", \"batch\": %ld, \"params\": %ld, \"step_ms\": %.3f, "
        "\"img_s\": %.3f, \"sample_ms\": %.3f, \"peak_mb\": %.3f, \"rss_mb\": %.3f",
        i ? "," : "", r.preset.c_str(), static_cast<long>(r.batch), static_cast<long>(r.params),
        r.step_ms, 1e3 * r.batch / r.step_ms, r.sample_ms, r.peak_mb, r.rss_mb);
    if (o.loop)
      std::printf(", \"loop_ms\": %.3f, \"loop_mean_ms\": %.3f", r.loop_ms, r.loop_mean_ms);
    std::printf("}");
  }
  std::printf("]}\n");
}

// The model, the diffusion and a generator of --parity's probe, as the
// training step has them.
struct ParitySetup {
  ParitySetup(const std::string& preset, Device device)
      : model(nn::unet_preset(preset, made_for(preset).channels, made_for(preset).resolution),
              kSeed),
        diffusion(diffusion::make_schedule(diffusion::ScheduleKind::Linear, apps::TrainOptions{}.T),
                  diffusion::ModelMeanType::Eps, diffusion::ModelVarType::FixedLarge, DType::F32,
                  device),
        gen(kSeed + apps::kDataStream),
        device(device) {
    model.to(device);
  }

  diffusion::Denoiser net() {
    return [this](const Tensor& x, const Tensor& t) { return model.forward(x, t); };
  }

  Tensor images(int64_t n) { return random_images(model, n, gen, device); }

  nn::UNet model;
  diffusion::GaussianDiffusion diffusion;
  Generator gen;
  Device device;
};

// Adds N(0, 1/fan_in) to every weight and N(0, 0.1^2) to every vector: at its
// DDPM init the output layer and the residual branches are nearly zero
// (init.h), so comparing fresh models would prove little.
void perturb(nn::Module& m, Generator& gen) {
  NoGradGuard no_grad;
  for (const Tensor& p : m.parameters()) {
    const double scale = p.dim() >= 2 ? 1.0 / std::sqrt(double(p.numel() / p.size(0))) : 0.1;
    p.copy_(p + randn(p.shape(), &gen) * scale);
  }
}

// The file holds the (perturbed) weights under their module names and
// probe.x, probe.t, probe.noise, probe.y = the eval-mode forward of (x, t);
// metadata "loss" (L_simple of x at t with that noise) and "grad_norm".
void write_parity(const Options& o, Device device) {
  ParitySetup s(o.presets.front(), device);
  perturb(s.model, s.gen);
  s.model.eval();
  const int64_t n = 4;
  const Tensor x = s.images(n), noise = s.images(n);
  const Tensor t = from_vector(std::vector<int32_t>{0, 333, 666, 999}, {n});
  Tensor y;
  {
    NoGradGuard no_grad;
    y = s.model.forward(x, t);
  }
  Tensor loss =
      mean(s.diffusion.training_losses(s.net(), x, t, noise, diffusion::LossType::Simple));
  loss.backward();
  // An infinite bound measures the norm and clips nothing.
  const double grad_norm =
      nn::clip_grad_norm(s.model.parameters(), std::numeric_limits<double>::infinity());
  nn::NamedTensors tensors = s.model.named_parameters();
  for (auto& [name, v] : nn::NamedTensors{{"x", x}, {"t", t}, {"noise", noise}, {"y", y}})
    tensors.emplace_back("probe." + name, v);
  char loss_s[32], norm_s[32];
  std::snprintf(loss_s, sizeof loss_s, "%.9g", loss.item());
  std::snprintf(norm_s, sizeof norm_s, "%.9g", grad_norm);
  io::save_safetensors(o.parity, tensors,
                       {{"preset", o.presets.front()}, {"loss", loss_s}, {"grad_norm", norm_s}});
}

int run(const Options& o) {
  const Device device = apps::require_device(o.device);
  apps::set_threads(o.threads);
  if (!o.parity.empty()) {
    write_parity(o, device);
    return 0;
  }
  const double rss_base = resident_mb();
  std::vector<Row> rows;
  if (!o.json) print_table_header(o);
  for (const std::string& preset : o.presets)
    for (int64_t batch : o.batches) {
      rows.push_back(measure(preset, batch, o, device, rss_base));
      if (!o.json) print_table_row(rows.back(), o);
    }
  if (o.json) print_json(o, rows);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time U-Net training and sampling steps per preset and batch size."};
  Options o;
  add_flags(app, o);
  apps::one_line_parse_errors(app, "bench");
  CLI11_PARSE(app, argc, argv);
  return apps::run_reporting_errors("bench", [&] { return run(o); });
}
