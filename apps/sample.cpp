// Samples from a trained DDPM checkpoint: a PNG grid of N images by ancestral
// sampling (Algorithm 2) or DDIM; optionally the progression of x_t and the
// predicted x_0 over the steps (the paper's Fig. 6), the same as an animated
// GIF, and interpolations between test images (Fig. 8). All in the --out
// folder: samples.png, and samples.safetensors, progression.png,
// denoising.gif and interpolation.png when asked for; --png-dir adds one PNG
// per sample. A class-conditional checkpoint draws the classes --label asks
// for, with classifier-free guidance of weight --guidance.

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "apps/common/choices.h"
#include "apps/common/cli.h"
#include "apps/common/conditioning.h"
#include "apps/common/sampling.h"
#include "apps/common/trained_model.h"
#include "apps/dataset/dataset.h"
#include "apps/imaging/image.h"
#include "apps/sample_pictures.h"
#include "diffusion/samplers.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"

using namespace ag;

namespace {

namespace fs = std::filesystem;

struct Options {
  std::string ckpt, weights = "ema", out = ".", device = "cpu", data = "mnist", var, label;
  apps::Sampler sampler = apps::Sampler::Ancestral;
  int64_t n = 0, sample_steps = 0, threads = 0, interp_t = 500, pairs = 4;  // n 0: the default
  double eta = 0.0, guidance = apps::kDefaultGuidance;
  uint64_t seed = 0;
  bool no_clip = false, save_tensor = false, progression = false, interpolate = false, gif = false;
  std::string png_dir;
};

// The files this run writes in --out, with the flag that asks for each.
struct Outputs {
  explicit Outputs(const Options& o)
      : grid(file(o, "samples.png")),
        tensor(file(o, "samples.safetensors")),
        progression(file(o, "progression.png")),
        interpolation(file(o, "interpolation.png")),
        gif(file(o, "denoising.gif")) {}
  static std::string file(const Options& o, const char* name) {
    return (fs::path(o.out) / name).string();
  }
  std::string grid, tensor, progression, interpolation, gif;
};

// Frames of --gif (each a snapshot of all n samples, hence its cap on n).
constexpr int64_t kGifFrames = 50, kMaxGifSamples = 256;
// -n when not given: samples in all, or per label with --label.
constexpr int64_t kDefaultSamples = 64, kDefaultPerLabel = 10;

void add_flags(CLI::App& app, Options& o) {
  app.add_option("--ckpt", o.ckpt, "checkpoint written by train_mnist")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("-n", o.n, "number of samples (with --label: split evenly between the labels)")
      ->check(CLI::Range(int64_t{1}, apps::kMaxImages))
      ->default_str(std::to_string(kDefaultSamples) + "; with --label " +
                    std::to_string(kDefaultPerLabel) + " per label");
  apps::add_label_flags(app, o.label, o.guidance);
  apps::add_choice(app, "--sampler", o.sampler, apps::sampler_choices(),
                   "ddpm (ancestral) or ddim");
  apps::add_sample_steps_flag(app, o.sample_steps);
  app.add_option("--eta", o.eta, "DDIM eta: 0 deterministic, 1 ancestral-like")
      ->check(apps::kUnitInterval)
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of x_T and the sampling noise")
      ->check(apps::kSeed)
      ->capture_default_str();
  app.add_option("--out", o.out, "output folder: the grid is samples.png in it")
      ->capture_default_str();
  app.add_option("--weights", o.weights, "ema (as the paper samples) or model")
      ->check(CLI::IsMember({"ema", "model"}))
      ->capture_default_str();
  apps::add_output_switch(app, "--save-tensor", o.save_tensor, "samples.safetensors",
                          "also save the samples as tensor 'samples' (for evaluate --quality)");
  app.add_flag("--no-clip", o.no_clip, "do not clip the predicted x_0 to [-1, 1]")
      ->capture_default_str();
  apps::add_output_switch(app, "--progression", o.progression, "progression.png",
                          "also write a PNG: per sample, x_t and predicted x_0 at 10 steps");
  apps::add_output_switch(app, "--gif", o.gif, "denoising.gif",
                          "also write an animated GIF of the grid being denoised (n <= 256)");
  app.add_option("--png-dir", o.png_dir, "also write each sample as DIR/sample_<i>.png");
  apps::add_output_switch(app, "--interpolate", o.interpolate, "interpolation.png",
                          "also write a PNG interpolating pairs of test images");
  app.add_option("--pairs", o.pairs, "image pairs to interpolate")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--interp-t", o.interp_t, "timestep index the pairs are diffused to")
      ->check(apps::kNonNegative)
      ->capture_default_str();
  app.add_option("--data", o.data,
                 "test images for --interpolate (fitted to the model's shape): mnist, fashion, "
                 "cifar10 or a directory, as train_mnist's --data")
      ->capture_default_str();
  apps::add_var_flag(app, o.var);
  apps::add_device_flags(app, o.device, o.threads);
}

void write_interpolation(const Options& o, const data::Dataset& test, Device device,
                         const diffusion::GaussianDiffusion& d, const diffusion::Denoiser& net,
                         Generator& gen) {
  std::vector<int64_t> a, b;
  for (int64_t i = 0; i < o.pairs; ++i) a.push_back(2 * i), b.push_back(2 * i + 1);
  std::vector<double> lambdas;
  for (int k = 0; k <= 8; ++k) lambdas.push_back(k / 8.0);
  Tensor xa = data::to_tensor(test.images, a).to(device);
  Tensor xb = data::to_tensor(test.images, b).to(device);
  Tensor mixed = diffusion::interpolate(d, net, xa, xb, o.interp_t, lambdas, gen, !o.no_clip);
  const std::string path = Outputs(o).interpolation;
  apps::write_interpolation(path, xa, xb, mixed, lambdas, o.interp_t);
  std::printf("[sample] interpolation (t index %ld): %s\n", static_cast<long>(o.interp_t),
              path.c_str());
}

// What to draw: n images, split evenly between `classes` (one row each in
// the grid), or unconditional ones (classes empty).
struct Request {
  std::vector<int32_t> classes, labels;  // labels: one per image
  int64_t n = 0, per_label = 0;
};

// --label and -n against the checkpoint's classes; --guidance only with
// --label.
Request request(const Options& o, bool guidance_given) {
  Request r;
  if (o.label.empty()) {
    if (guidance_given) {
      apps::require_conditional("--guidance", nn::checkpoint_config(o.ckpt).num_classes);
      throw std::runtime_error("--guidance weighs the labels of --label: give --label too");
    }
    r.n = o.n > 0 ? o.n : kDefaultSamples;
    return r;
  }
  r.classes = apps::parse_labels(o.label, nn::checkpoint_config(o.ckpt).num_classes);
  r.per_label =
      apps::per_label(o.n > 0 ? o.n : kDefaultPerLabel * static_cast<int64_t>(r.classes.size()),
                      r.classes, o.label);
  r.n = r.per_label * static_cast<int64_t>(r.classes.size());
  r.labels = apps::repeat_each(r.classes, r.per_label);
  return r;
}

// The grid: square, or with several classes one row per class, labelled with
// the class names of the data the model was trained on.
void write_grid(const std::string& path, const Tensor& x0, const Request& r,
                const std::string& dataset) {
  if (r.classes.size() <= 1)
    return imaging::write_png(path, imaging::make_grid(x0, apps::square_grid_cols(r.n)));
  std::vector<std::string> names;
  for (int32_t y : r.classes) names.push_back(apps::class_name(dataset, y));
  apps::write_labelled_rows(path, x0, names);
}

// The whole batch of samples and snapshots on every rank, from each rank's
// rows (one process: r itself).
diffusion::SampleResult gather(diffusion::SampleResult r, int64_t n) {
  r.x0 = ag::dist::gather_rows(r.x0, n);
  for (diffusion::Snapshot& s : r.snapshots) {
    s.xt = ag::dist::gather_rows(s.xt, n);
    s.pred_x0 = ag::dist::gather_rows(s.pred_x0, n);
  }
  return r;
}

int run(const Options& o, bool guidance_given) {
  const Request req = request(o, guidance_given);
  const Device device = apps::require_device(o.device);
  apps::set_threads(o.threads);
  apps::require_output_dir(o.out);
  const Outputs out(o);
  apps::require_output_file("--out", out.grid);
  if (o.save_tensor) apps::require_output_file("--save-tensor", out.tensor);
  if (o.progression) apps::require_output_file("--progression", out.progression);
  if (o.interpolate) apps::require_output_file("--interpolate", out.interpolation);
  if (o.gif) apps::require_output_file("--gif", out.gif);
  if (o.gif && req.n > kMaxGifSamples)
    throw std::runtime_error("--gif draws at most " + std::to_string(kMaxGifSamples) +
                             " samples, not " + std::to_string(req.n));
  if (!o.png_dir.empty()) apps::require_output_dir(o.png_dir, "--png-dir");
  const apps::TrainedModel tm = apps::load_trained_model(o.ckpt, o.weights, o.var, device);
  const nn::UNet& model = *tm.model;
  const diffusion::GaussianDiffusion& d = *tm.diffusion;
  data::Dataset test;  // the pairs to interpolate, loaded before the long work
  if (o.interpolate) {
    if (o.interp_t >= d.num_timesteps())
      throw std::runtime_error("--interp-t " + std::to_string(o.interp_t) + " outside [0, " +
                               std::to_string(d.num_timesteps()) + ") of this checkpoint");
    test = data::load_split(data::resolve_dataset_dir(o.data), false,
                            {model.config.resolution, model.config.in_ch});
    if (test.images.count < 2 * o.pairs)
      throw std::runtime_error("--interpolate: " + o.data + " holds " +
                               std::to_string(test.images.count) + " images, fewer than the " +
                               std::to_string(2 * o.pairs) + " that --pairs " +
                               std::to_string(o.pairs) + " takes");
  }
  const auto& c = model.config;
  std::printf("[sample] %s: %ld parameters (%s weights), step %s\n", o.ckpt.c_str(),
              static_cast<long>(model.num_parameters()), tm.weights.c_str(), tm.step.c_str());
  if (!req.classes.empty())
    std::printf("[sample] %ld per class, guidance w = %g\n", static_cast<long>(req.per_label),
                o.guidance);
  // Under mpirun each rank draws its rows of the samples, the same ones one
  // process draws (Generator::set_rows), and rank 0 writes them all.
  if (req.n < ag::dist::size())
    throw std::runtime_error("-n " + std::to_string(req.n) + ": fewer samples than the " +
                             std::to_string(ag::dist::size()) + " processes");
  const ag::dist::Rows rows = ag::dist::my_rows(req.n);
  const diffusion::Denoiser net =
      apps::denoiser_of(model, apps::part_of(req.labels, rows), o.guidance);
  Generator gen(o.seed);
  diffusion::SampleOptions so;
  so.clip_x0 = !o.no_clip;
  const std::vector<int64_t> order =
      apps::visited_steps(o.sampler, o.sample_steps, d.num_timesteps());
  const std::vector<int64_t> progression_steps =
      o.progression ? apps::evenly_spaced(order, 10) : std::vector<int64_t>{};
  const std::vector<int64_t> gif_steps =
      o.gif ? apps::evenly_spaced(order, kGifFrames) : std::vector<int64_t>{};
  so.record_steps = progression_steps;
  so.record_steps.insert(so.record_steps.end(), gif_steps.begin(), gif_steps.end());
  diffusion::SampleResult r;
  {
    ag::RowsGuard my_rows(gen, rows.begin, req.n);  // x_T and every step's noise
    const Tensor x_T = apps::draw_x_T(c, rows.count(), gen, device);
    r = gather(apps::sample_with_progress(d, net, x_T, o.sampler, o.sample_steps, o.eta, gen, so,
                                          "[sample] step"),
               req.n);
  }
  if (!ag::dist::is_main()) return 0;
  write_grid(out.grid, r.x0, req, tm.dataset);
  std::printf("[sample] %ld samples (%s, %zu steps): %s\n", static_cast<long>(req.n),
              apps::name_of(apps::sampler_choices(), o.sampler).c_str(), order.size(),
              out.grid.c_str());
  if (o.save_tensor) {
    io::NamedTensors tensors = {{"samples", r.x0}};
    if (!req.labels.empty()) tensors.push_back({"labels", from_vector(req.labels, {req.n})});
    io::save_safetensors(out.tensor, tensors);
    std::printf("[sample] samples as a tensor: %s\n", out.tensor.c_str());
  }
  if (o.progression) {
    apps::write_progression(out.progression, r.snapshots, progression_steps);
    std::printf("[sample] progression (rows: x_t, then predicted x_0): %s\n",
                out.progression.c_str());
  }
  if (o.gif) {
    apps::write_denoising_gif(out.gif, r.snapshots, gif_steps, r.x0, apps::square_grid_cols(req.n));
    std::printf("[sample] the reverse process as a GIF: %s\n", out.gif.c_str());
  }
  if (!o.png_dir.empty()) {
    apps::write_png_dir(o.png_dir, r.x0);
    std::printf("[sample] one PNG per sample: %s/sample_00000.png ...\n", o.png_dir.c_str());
  }
  if (o.interpolate) write_interpolation(o, test, device, d, apps::denoiser_of(model), gen);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sample images from a DDPM checkpoint."};
  Options o;
  add_flags(app, o);
  apps::one_line_parse_errors(app, "sample");
  CLI11_PARSE(app, argc, argv);
  return apps::run_reporting_errors("sample", [&] { return run(o, app.count("--guidance") > 0); });
}
