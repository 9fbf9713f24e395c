// Evaluates a trained DDPM. --nll: the negative log-likelihood bound in
// bits/dim on test images (Eq. 5, all T terms, with the breakdown and the
// rate-distortion curve of the paper's Fig. 5). --quality:
// scores samples with a small classifier this project trains with its own
// engine: mean confidence, class histogram, an Inception-Score analogue and a
// Frechet distance of classifier features, next to the same scores for real
// test images and for noise, so the numbers read against both ends; for
// class-conditional samples, also how often the classifier agrees with the
// label asked for, at one guidance weight or a sweep of them.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/common/choices.h"
#include "apps/common/cli.h"
#include "apps/common/conditioning.h"
#include "apps/common/progress.h"
#include "apps/common/sampling.h"
#include "apps/common/streams.h"
#include "apps/common/trained_model.h"
#include "apps/dataset/idx.h"
#include "apps/guidance_sweep.h"
#include "apps/imaging/image.h"
#include "apps/metrics/classifier.h"
#include "apps/metrics/scores.h"
#include "apps/plotting/plot.h"
#include "autograd/distributed.h"
#include "diffusion/likelihood.h"
#include "diffusion/samplers.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"

using namespace ag;

namespace {

struct Options {
  std::string ckpt, samples, weights = "ema", data = "mnist", classifier;
  apps::Sampler sampler = apps::Sampler::Ancestral;
  std::string device = "cpu", var, out = ".", label, guidance_sweep;
  bool nll = false, quality = false, rd = false;
  int64_t n = 256, batch = 64, sample_steps = 0, classifier_epochs = 2, threads = 0;
  double guidance = apps::kDefaultGuidance;
  uint64_t seed = 0;
  // Whether -n, --guidance and --data were given.
  bool n_given = false, guidance_given = false, data_given = false;
};

// --quality's samples from --ckpt with --label and no -n: this many per label.
constexpr int64_t kDefaultPerLabel = 25;

void add_flags(CLI::App& app, Options& o) {
  app.add_flag("--nll", o.nll, "bits/dim of -n test images under --ckpt (the full T-term bound)")
      ->capture_default_str();
  app.add_flag("--quality", o.quality,
               "score --samples, or -n images sampled from --ckpt, with the classifier")
      ->capture_default_str();
  app.add_option("--ckpt", o.ckpt, "checkpoint written by train_mnist")->check(CLI::ExistingFile);
  app.add_option("--samples", o.samples,
                 "samples.safetensors written by train_mnist or sample --save-tensor")
      ->check(CLI::ExistingFile);
  app.add_option("-n", o.n, "test images for --nll; samples to draw for --quality with --ckpt")
      ->check(CLI::Range(int64_t{2}, apps::kMaxImages))
      ->capture_default_str();
  apps::add_output_switch(app, "--rd", o.rd, "rd.csv",
                          "with --nll: write the rate-distortion curve (the paper's Fig. 5), one "
                          "CSV row per timestep, and its plot rd.png");
  app.add_option("--out", o.out, "output folder (of --rd)")->capture_default_str();
  app.add_option("--batch", o.batch, "images per model call for --nll")
      ->check(CLI::Range(int64_t{1}, apps::kMaxBatch))
      ->capture_default_str();
  app.add_option("--weights", o.weights, "ema or model")
      ->check(CLI::IsMember({"ema", "model"}))
      ->capture_default_str();
  apps::add_choice(app, "--sampler", o.sampler, apps::sampler_choices(),
                   "sampler for --quality --ckpt: ddpm or ddim");
  apps::add_sample_steps_flag(app, o.sample_steps, true);
  app.add_option("--seed", o.seed, "seed of the sampling and of the bound's noise")
      ->check(apps::kSeed)
      ->capture_default_str();
  app.add_option("--data", o.data,
                 "test images: for --nll mnist, fashion, cifar10 or a directory (as train_mnist's "
                 "--data); for --quality MNIST-style IDX data only")
      ->default_str("the --ckpt's training data, else mnist");
  app.add_option("--classifier", o.classifier,
                 "classifier file; trained and saved there if missing "
                 "(default: data/classifier-mnist.safetensors, -fashion for fashion, "
                 "DIR/classifier.safetensors for a directory)");
  app.add_option("--classifier-epochs", o.classifier_epochs, "epochs when training the classifier")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  apps::add_label_flags(app, o.label, o.guidance);
  app.add_option("--guidance-sweep", o.guidance_sweep,
                 "with --quality --ckpt of a class-conditional model: score samples at each "
                 "guidance weight, e.g. 0,0.5,1,2,4 (--label's classes, all by default); "
                 "guidance_sweep.csv and .png in --out");
  apps::add_var_flag(app, o.var);
  apps::add_device_flags(app, o.device, o.threads);
}

std::string rd_path(const Options& o, const char* name = "rd.csv") {
  return (std::filesystem::path(o.out) / name).string();
}

// first, first + 2, first + 4, ...: n indices.
std::vector<int64_t> strided(int64_t n, int64_t first) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = first + 2 * i;
  return v;
}

// Sums over test images of the bound's terms (Eq. 5) and of the squared error
// of the predicted x_0, per timestep index i: terms[i] is L_i (the decoder L_0
// at i = 0, else the KL for x_i given x_{i+1}), x0_mse[i] is the error of the
// x_0 predicted from x_{i+1}.
// total_sq sums the squares of the images' bounds, for the standard error.
struct BoundSums {
  int64_t n = 0;
  double prior = 0, total_sq = 0;
  std::vector<double> terms, x0_mse;
};

BoundSums bound_sums(const Options& o, const apps::TrainedModel& tm,
                     const diffusion::GaussianDiffusion& d, Device device) {
  const data::Dataset test =
      data::load_split(data::resolve_dataset_dir(o.data), false,
                       {tm.model->config.resolution, tm.model->config.in_ch});
  const int64_t T = d.num_timesteps();
  BoundSums sums{std::min(o.n, test.images.count), 0.0, 0.0, std::vector<double>(T, 0.0),
                 std::vector<double>(T, 0.0)};
  auto net = [&](const Tensor& x, const Tensor& t) { return tm.model->forward(x, t); };
  Generator gen(o.seed);
  apps::ProgressBar bar("[nll] terms", T * ((sums.n + o.batch - 1) / o.batch), "term");
  int64_t done_batches = 0;
  for (int64_t b = 0; b < sums.n; b += o.batch) {
    // Under mpirun each rank takes its rows of the batch, with the noise one
    // process would draw for them (Generator::set_rows). Only a last batch
    // smaller than the ranks leaves a rank without rows.
    const int64_t count = std::min(sums.n, b + o.batch) - b;
    const ag::dist::Rows rows = ag::dist::my_rows(count);
    if (rows.count() == 0) break;
    std::vector<int64_t> idx;
    for (int64_t i = b + rows.begin; i < b + rows.end; ++i) idx.push_back(i);
    diffusion::BoundOptions bo;
    bo.progress = [&](int64_t done, int64_t) { bar.update(done_batches * T + done); };
    ag::RowsGuard my_rows(gen, rows.begin, count);
    const diffusion::BoundResult r =
        diffusion::calc_bpd_loop(d, net, data::to_tensor(test.images, idx).to(device), gen, bo);
    ++done_batches;
    sums.prior += sum(r.prior_bpd).item();
    sums.total_sq += sum(square(r.total_bpd)).item();
    for (int64_t i = 0; i < T; ++i) {
      sums.terms[i] += sum(r.terms_bpd[i]).item();
      sums.x0_mse[i] += sum(r.x0_mse[i]).item();
    }
  }
  bar.finish(done_batches * T);
  sums.prior = ag::dist::sum(sums.prior);
  sums.total_sq = ag::dist::sum(sums.total_sq);
  sums.terms = ag::dist::sum(sums.terms);
  sums.x0_mse = ag::dist::sum(sums.x0_mse);
  return sums;
}

// The paper's Fig. 5 (Sec. 4.3, progressive coding): a receiver holding x_t
// has been sent L_T + L_{T-1} + ... + L_t bits per dimension (the rate) and
// estimates x_0 from x_t with an RMSE on the [0, 255] scale (the distortion).
struct RatePoint {
  int64_t t;
  double rate, distortion, term;  // term: L_{t-1}, the bits that x_{t-1} costs next
};

std::vector<RatePoint> rate_distortion(const BoundSums& s) {
  const int64_t T = static_cast<int64_t>(s.terms.size());
  const double dn = static_cast<double>(s.n);
  std::vector<RatePoint> points;
  double rate = s.prior / dn;
  for (int64_t t = T; t >= 1; --t) {
    if (t < T) rate += s.terms[t] / dn;
    points.push_back({t, rate, 127.5 * std::sqrt(s.x0_mse[t - 1] / dn), s.terms[t - 1] / dn});
  }
  return points;
}

void write_rate_distortion_csv(const std::string& path, const std::vector<RatePoint>& points) {
  std::string csv = "t,rate_bpd,distortion_rmse,next_term_bpd\n";
  char line[128];
  for (const RatePoint& p : points) {
    std::snprintf(line, sizeof line, "%ld,%.6f,%.4f,%.6f\n", static_cast<long>(p.t), p.rate,
                  p.distortion, p.term);
    csv += line;
  }
  io::write_file_atomically(path, csv.data(), csv.size());
}

// Fig. 5's three panels: the rate and the distortion against t, and the
// distortion against the rate.
imaging::Image plot_rate_distortion(const std::vector<RatePoint>& points) {
  std::vector<double> t, rate, distortion;
  for (const RatePoint& p : points)
    t.push_back(static_cast<double>(p.t)), rate.push_back(p.rate),
        distortion.push_back(p.distortion);
  using plotting::Panel;
  Panel by_t_rate{"Rate: bits/dim sent to hold x_t",
                  "t",
                  "rate (bits/dim)",
                  false,
                  false,
                  {},
                  {},
                  {{"", t, rate}}};
  Panel by_t_distortion{"Distortion: RMSE of x_0 predicted from x_t",
                        "t",
                        "RMSE on [0, 255]",
                        false,
                        false,
                        {},
                        {},
                        {{"", t, distortion, plotting::Style::kLine, 1}}};
  Panel curve{"Rate-distortion",
              "rate (bits/dim)",
              "RMSE on [0, 255]",
              false,
              false,
              {},
              {},
              {{"", rate, distortion, plotting::Style::kLine, 2}}};
  return plotting::render({{by_t_rate, by_t_distortion, curve}, 3, 1500, 450});
}

// Bits/dim of the first n test images, in batches, with the breakdown of
// Eq. 5 into the prior L_T, the decoder L_0 and the KL terms in between, and
// a few points of the rate-distortion curve (all T of them with --rd).
void run_nll(const Options& o, Device device) {
  const apps::TrainedModel tm = apps::load_trained_model(o.ckpt, o.weights, o.var, device);
  const int64_t full_T = tm.diffusion->num_timesteps();
  const int64_t K = apps::sampler_steps(apps::Sampler::Ancestral, o.sample_steps, full_T);
  const diffusion::GaussianDiffusion d =
      K == full_T ? *tm.diffusion : tm.diffusion->respaced(diffusion::spaced_timesteps(full_T, K));
  const BoundSums s = bound_sums(o, tm, d, device);
  const int64_t T = static_cast<int64_t>(s.terms.size());
  const double dn = static_cast<double>(s.n);
  double kl = 0;
  std::vector<double> kl_by_quarter(4, 0.0);
  for (int64_t i = 1; i < T; ++i) kl += s.terms[i], kl_by_quarter[i * 4 / T] += s.terms[i];
  const std::string process =
      K == full_T ? "" : " (respaced from T = " + std::to_string(full_T) + ")";
  std::printf("[nll] %s (%s weights, step %s), %ld test images, T = %ld%s\n", o.ckpt.c_str(),
              tm.weights.c_str(), tm.step.c_str(), static_cast<long>(s.n), static_cast<long>(T),
              process.c_str());
  const double mean = (s.prior + s.terms[0] + kl) / dn;
  // The standard error of the mean over images: sqrt(sample variance / n).
  const double var = std::max(0.0, (s.total_sq - dn * mean * mean) / std::max(1.0, dn - 1));
  std::printf("  NLL bound      %8.4f bits/dim (standard error %.4f over %ld images)\n", mean,
              std::sqrt(var / dn), static_cast<long>(s.n));
  std::printf("    prior L_T    %8.4f\n    decoder L_0  %8.4f\n    KL L_1..L_%ld %7.4f\n",
              s.prior / dn, s.terms[0] / dn, static_cast<long>(T - 1), kl / dn);
  for (int q = 0; q < 4; ++q)
    std::printf("      t in (%4ld, %4ld]  %8.4f\n", static_cast<long>(q * T / 4),
                static_cast<long>((q + 1) * T / 4), kl_by_quarter[q] / dn);
  const std::vector<RatePoint> points = rate_distortion(s);
  std::printf("  rate-distortion (Fig. 5): bits/dim sent to hold x_t, RMSE of x_0 from x_t\n");
  int64_t shown = 0;
  for (int64_t t : {T, 3 * T / 4, T / 2, T / 4, T / 10, int64_t{1}}) {
    if (t < 1 || t == shown) continue;
    shown = t;
    const RatePoint& p = points[T - t];
    std::printf("    t = %5ld  rate %8.4f  distortion %7.3f\n", static_cast<long>(p.t), p.rate,
                p.distortion);
  }
  if (o.rd && ag::dist::is_main()) {
    write_rate_distortion_csv(rd_path(o), points);
    imaging::write_png(rd_path(o, "rd.png"), plot_rate_distortion(points));
    std::printf("[nll] rate-distortion, all %ld timesteps: %s, plotted in %s\n",
                static_cast<long>(T), rd_path(o).c_str(), rd_path(o, "rd.png").c_str());
  }
}

// Scores of NaN images would be NaN, and every such image "a 0": refuse them.
void require_finite(const Tensor& samples, const std::string& source) {
  const std::vector<float> v = samples.to_vector<float>();
  const size_t per = v.size() / std::max<size_t>(1, static_cast<size_t>(samples.size(0)));
  int64_t bad = 0;
  for (size_t i = 0; i < v.size(); i += per)
    bad +=
        std::any_of(v.begin() + i, v.begin() + i + per, [](float x) { return !std::isfinite(x); });
  if (bad > 0)
    throw std::runtime_error(source + ": " + std::to_string(bad) + " of the " +
                             std::to_string(samples.size(0)) +
                             " samples hold NaN or inf (a diverged model?); nothing to score");
}

// The classifier behind --quality's scores reads 28x28 grey images: the
// scores are defined for MNIST-like digits and Fashion-MNIST, nothing else.
constexpr const char* kQualityScope =
    "evaluate --quality scores 28x28 grey images only (MNIST-like digits, Fashion-MNIST): its "
    "classifier is defined for those; ";

void require_quality_shape(const std::string& what, int64_t channels, int64_t height,
                           int64_t width) {
  if (channels != 1 || height != 28 || width != 28)
    throw std::runtime_error(std::string(kQualityScope) + what + " is " + std::to_string(channels) +
                             "x" + std::to_string(height) + "x" + std::to_string(width) +
                             " (evaluate --nll gives bits/dim for any data)");
}

// Data that is there but not IDX (CIFAR-10, a folder of pictures) is refused;
// data that is missing is left to the loader's own error.
void require_quality_data(const std::string& data) {
  const std::string dir = data::resolve_dataset_dir(data);
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec) && !data::has_idx_split(dir))
    throw std::runtime_error(std::string(kQualityScope) + "--data " + data +
                             " is not MNIST-style IDX data (mnist, fashion or a directory of IDX "
                             "files)");
}

// Samples to score and, for class-conditional ones, the label each was
// drawn for (empty otherwise).
struct Samples {
  Tensor images;
  std::vector<int32_t> labels;
};

// A samples file: tensor "samples", and "labels" where sample --label wrote it.
Samples load_samples(const std::string& path) {
  const io::SafetensorsFile f = io::load_safetensors(path);
  Samples s;
  for (const auto& [name, t] : f.tensors) {
    if (name == "labels") {
      if (t.dtype() != DType::I32 || t.dim() != 1)
        throw std::runtime_error(path + ": labels must be (N) int32, got " + dtype_name(t.dtype()) +
                                 " " + shape_str(t.shape()));
      s.labels = t.to_vector<int32_t>();
    }
    if (name != "samples") continue;
    if (t.dim() != 4)
      throw std::runtime_error(path + ": samples must be (N, 1, 28, 28), got " +
                               shape_str(t.shape()));
    require_quality_shape(path, t.size(1), t.size(2), t.size(3));
    s.images = t.to(DType::F32);
    require_finite(s.images, path);
  }
  if (!s.images.defined()) throw std::runtime_error(path + ": no tensor named 'samples'");
  if (!s.labels.empty() && static_cast<int64_t>(s.labels.size()) != s.images.size(0))
    throw std::runtime_error(path + ": " + std::to_string(s.labels.size()) + " labels for " +
                             std::to_string(s.images.size(0)) + " samples");
  return s;
}

// -n samples from the checkpoint, guided with weight w towards `labels` (one
// per image; empty: unconditional), from the same x_T and noise for every w.
Tensor draw_samples(const Options& o, const apps::TrainedModel& tm,
                    const std::vector<int32_t>& labels, double w, Device device) {
  const diffusion::Denoiser net = apps::denoiser_of(*tm.model, labels, w);
  Generator gen(o.seed);
  const int64_t n = labels.empty() ? o.n : static_cast<int64_t>(labels.size());
  const Tensor x_T = apps::draw_x_T(tm.model->config, n, gen, device);
  const Tensor x0 = apps::sample_with_progress(*tm.diffusion, net, x_T, o.sampler, o.sample_steps,
                                               0.0, gen, {}, "[quality] sampling step")
                        .x0.to(Device::CPU);
  require_finite(x0, o.ckpt);
  return x0;
}

std::string default_classifier_path(const std::string& data) {
  namespace fs = std::filesystem;
  if (data == "mnist" || data == "fashion")
    return (fs::path(data::resolve_dataset_dir("mnist")).parent_path() /
            ("classifier-" + data + ".safetensors"))
        .string();
  return (fs::path(data) / "classifier.safetensors").string();
}

double frechet_to(const metrics::Predictions& p, const metrics::Gaussian& test_features) {
  return metrics::frechet_distance(metrics::fit_gaussian(p.features, p.n, metrics::kFeatureDim),
                                   test_features);
}

struct Row {
  std::string name;
  metrics::Predictions p;
};

void print_row(const Row& r, const metrics::Gaussian& test_features) {
  const int64_t k = metrics::kNumClasses;
  const auto h = metrics::class_histogram(r.p.probs, r.p.n, k);
  int64_t present = 0;
  std::string hist;
  for (int64_t c : h) present += c > 0, hist += " " + std::to_string(c);
  std::printf("  %-14s %6ld %10.4f %8.3f %10.2f %7ld  [%s ]\n", r.name.c_str(),
              static_cast<long>(r.p.n), metrics::mean_confidence(r.p.probs, r.p.n, k),
              metrics::inception_score(r.p.probs, r.p.n, k), frechet_to(r.p, test_features),
              static_cast<long>(present), hist.c_str());
}

void print_agreement(const metrics::Agreement& a, int64_t n) {
  std::printf("[quality] agreement with the asked label: %.4f of %ld samples; per class:\n ",
              a.overall, static_cast<long>(n));
  for (size_t c = 0; c < a.per_class.size(); ++c)
    if (a.asked[c] > 0) std::printf(" %zu: %.3f", c, a.per_class[c]);
  std::printf("\n");
}

// The classifier of --data, and the Gaussian of its features on (up to 5000)
// odd-indexed test images that Frechet distances are taken to.
struct Scorer {
  metrics::LoadedClassifier c;
  std::string path;
  metrics::Gaussian test_features;
  int64_t reference_n = 0;
};

Scorer make_scorer(const Options& o, const data::Dataset& test) {
  metrics::ClassifierTraining ct;
  ct.epochs = o.classifier_epochs;
  Scorer s;
  s.path = o.classifier.empty() ? default_classifier_path(o.data) : o.classifier;
  s.c = metrics::load_or_train_classifier(s.path, o.data, ct);
  // MNIST's test split is ordered (its two halves come from different
  // writers), so interleaving keeps both sets from one distribution.
  const int64_t half = test.images.count / 2;
  const metrics::Predictions ref = metrics::predict(
      *s.c.model, data::to_tensor(test.images, strided(std::min<int64_t>(half, 5000), 1)));
  s.test_features = metrics::fit_gaussian(ref.features, ref.n, metrics::kFeatureDim);
  s.reference_n = ref.n;
  return s;
}

// The labels of --quality's samples from --ckpt: --label's classes (all of
// them for a sweep without --label), -n split evenly between them.
std::vector<int32_t> sample_labels(const Options& o, const nn::UNetConfig& c) {
  const bool sweep = !o.guidance_sweep.empty();
  if (o.label.empty() && !sweep) return {};
  if (sweep) apps::require_conditional("--guidance-sweep", c.num_classes);
  const std::string text = o.label.empty() ? "all" : o.label;
  const std::vector<int32_t> classes = apps::parse_labels(text, c.num_classes);
  const int64_t k = static_cast<int64_t>(classes.size());
  const int64_t n = o.n_given ? o.n : kDefaultPerLabel * k;
  return apps::repeat_each(classes, apps::per_label(n, classes, text));
}

void check_quality_flags(const Options& o) {
  if (o.samples.empty() == o.ckpt.empty())
    throw std::runtime_error("--quality needs exactly one of --samples FILE or --ckpt FILE");
  if (o.ckpt.empty() && (!o.label.empty() || !o.guidance_sweep.empty()))
    throw std::runtime_error(
        "--label and --guidance-sweep draw samples from --ckpt (a --samples file brings its own "
        "labels)");
  if (o.guidance_given && o.label.empty()) {
    if (!o.ckpt.empty())
      apps::require_conditional("--guidance", nn::checkpoint_config(o.ckpt).num_classes);
    throw std::runtime_error("--guidance weighs the labels of --label: give --label too");
  }
  if (o.guidance_given && !o.guidance_sweep.empty())
    throw std::runtime_error("give one of --guidance or --guidance-sweep");
}

// --guidance-sweep: the scores at each w, printed, in guidance_sweep.csv and
// plotted in guidance_sweep.png.
void run_sweep(const Options& o, const apps::TrainedModel& tm, const std::vector<int32_t>& labels,
               const Scorer& s, Device device) {
  const std::vector<double> ws = apps::parse_weights(o.guidance_sweep);
  const std::string csv = (std::filesystem::path(o.out) / "guidance_sweep.csv").string();
  const std::string png = (std::filesystem::path(o.out) / "guidance_sweep.png").string();
  std::vector<apps::SweepPoint> points;
  const int64_t k = metrics::kNumClasses;
  for (double w : ws) {
    std::printf("[quality] guidance w = %g: %zu samples\n", w, labels.size());
    const metrics::Predictions p =
        metrics::predict(*s.c.model, draw_samples(o, tm, labels, w, device).contiguous());
    points.push_back({w, metrics::label_agreement(p.probs, labels, k),
                      metrics::mean_confidence(p.probs, p.n, k),
                      metrics::inception_score(p.probs, p.n, k), frechet_to(p, s.test_features)});
  }
  std::printf("  %6s %10s %12s %10s %8s %10s\n", "w", "agreement", "worst class", "confidence",
              "IS", "Frechet");
  for (const apps::SweepPoint& p : points)
    std::printf("  %6g %10.4f %12.4f %10.4f %8.3f %10.2f\n", p.w, p.agreement.overall,
                apps::worst_class(p.agreement), p.confidence, p.inception_score, p.frechet);
  apps::write_sweep_csv(csv, points);
  imaging::write_png(png, apps::plot_sweep(points));
  std::printf("[quality] guidance sweep: %s, plotted in %s\n", csv.c_str(), png.c_str());
}

void run_quality(const Options& o, Device device) {
  check_quality_flags(o);
  if (!o.guidance_sweep.empty()) {
    apps::parse_weights(o.guidance_sweep);
    apps::require_output_dir(o.out);
    for (const char* f : {"guidance_sweep.csv", "guidance_sweep.png"})
      apps::require_output_file("--guidance-sweep", (std::filesystem::path(o.out) / f).string());
  }
  // The data, the samples file or the checkpoint's shape and labels are
  // checked first, before a classifier is perhaps trained.
  Samples samples = o.samples.empty() ? Samples() : load_samples(o.samples);
  if (!o.ckpt.empty()) {
    const nn::UNetConfig c = nn::checkpoint_config(o.ckpt);
    require_quality_shape(o.ckpt, c.in_ch, c.resolution, c.resolution);
    samples.labels = sample_labels(o, c);
  }
  require_quality_data(o.data);
  const data::Dataset test = data::load_split(data::resolve_dataset_dir(o.data), false);
  const int64_t n =
      o.samples.empty()
          ? (samples.labels.empty() ? o.n : static_cast<int64_t>(samples.labels.size()))
          : samples.images.size(0);
  const int64_t half = test.images.count / 2;
  if (n > half)
    throw std::runtime_error(std::to_string(n) + " samples, but the test split has only " +
                             std::to_string(half) + " even-indexed images to compare with");
  const Scorer s = make_scorer(o, test);
  std::printf("[quality] classifier %s: test accuracy %.4f\n", s.path.c_str(), s.c.test_accuracy);
  std::printf("[quality] Frechet distance to the features of %ld odd-indexed test images\n",
              static_cast<long>(s.reference_n));
  std::unique_ptr<apps::TrainedModel> tm;
  if (!o.ckpt.empty())
    tm = std::make_unique<apps::TrainedModel>(
        apps::load_trained_model(o.ckpt, o.weights, o.var, device));
  if (!o.guidance_sweep.empty()) return run_sweep(o, *tm, samples.labels, s, device);
  if (tm) samples.images = draw_samples(o, *tm, samples.labels, o.guidance, device);
  Generator noise_gen(o.seed + apps::kNoiseRowStream);
  const std::vector<Row> rows = {
      {"samples", metrics::predict(*s.c.model, samples.images.contiguous())},
      {"test images", metrics::predict(*s.c.model, data::to_tensor(test.images, strided(n, 0)))},
      {"uniform noise",
       metrics::predict(*s.c.model, rand({n, 1, 28, 28}, &noise_gen) * 2.0 - 1.0)}};
  std::printf("  %-14s %6s %10s %8s %10s %7s  %s\n", "images", "n", "confidence", "IS", "Frechet",
              "classes", "histogram (0..9)");
  for (const Row& r : rows) print_row(r, s.test_features);
  if (!samples.labels.empty())
    print_agreement(metrics::label_agreement(rows[0].p.probs, samples.labels, metrics::kNumClasses),
                    n);
}

// Without --data, a checkpoint's images are those it was trained on (its
// metadata "dataset"): a Fashion-MNIST model is scored against Fashion-MNIST.
void data_of_checkpoint(Options& o) {
  if (o.data_given || o.ckpt.empty()) return;
  const io::Metadata md = io::load_safetensors(o.ckpt).metadata;
  const auto it = md.find("dataset");
  if (it == md.end() || it->second == o.data) return;
  o.data = it->second;
  std::printf("[evaluate] --data %s, as %s was trained on\n", o.data.c_str(), o.ckpt.c_str());
}

int run(Options o) {
  data_of_checkpoint(o);
  if (o.nll == o.quality) throw std::runtime_error("choose one of --nll or --quality");
  if (o.quality && ag::dist::size() > 1)
    throw std::runtime_error(
        "--quality runs as one process (under mpirun, --nll shares its "
        "images between the processes)");
  if (o.nll && o.ckpt.empty()) throw std::runtime_error("--nll needs --ckpt");
  if (!o.nll && o.rd) throw std::runtime_error("--rd needs --nll");
  if (o.nll && (!o.label.empty() || o.guidance_given || !o.guidance_sweep.empty()))
    throw std::runtime_error("--label, --guidance and --guidance-sweep are for --quality");
  if (o.rd) {
    apps::require_output_dir(o.out);
    apps::require_output_file("--rd", rd_path(o));
    apps::require_output_file("--rd", rd_path(o, "rd.png"));
  }
  const Device device = apps::require_device(o.device);
  apps::set_threads(o.threads);
  if (o.nll)
    run_nll(o, device);
  else
    run_quality(o, device);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Evaluate a DDPM: bits/dim (--nll) or sample quality (--quality)."};
  Options o;
  add_flags(app, o);
  apps::one_line_parse_errors(app, "evaluate");
  CLI11_PARSE(app, argc, argv);
  o.n_given = app.count("-n") > 0;
  o.guidance_given = app.count("--guidance") > 0;
  o.data_given = app.count("--data") > 0;
  return apps::run_reporting_errors("evaluate", [&] { return run(o); });
}
