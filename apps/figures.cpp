// The pictures of docs/ that are not samples: the training images as the
// model sees them, the forward process on a test image, the two noise
// schedules, sample grids over training, the loss curve of a run and the
// bound's terms per t of several models. Each subcommand writes one PNG,
// named after it, in --out.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "apps/common/cli.h"
#include "apps/common/loss_plot.h"
#include "apps/dataset/dataset.h"
#include "apps/imaging/image.h"
#include "apps/plotting/montage.h"
#include "apps/plotting/plot.h"
#include "autograd/generator.h"
#include "autograd/ops.h"
#include "diffusion/diffusion.h"

namespace {

namespace fs = std::filesystem;
using ag::Tensor;

struct Options {
  std::string out = ".", data = "mnist", run = "runs/tiny";
  std::vector<std::string> rd_files, labels;
  int64_t index = 0, n = 64, resolution = 0, channels = 0;
  uint64_t seed = 0;
};

std::string output(const Options& o, const char* name) {
  apps::require_output_dir(o.out);
  const std::string path = (fs::path(o.out) / name).string();
  apps::require_output_file("--out", path);
  return path;
}

void save(const std::string& path, const imaging::Image& im, const char* what) {
  imaging::write_png(path, im);
  std::printf("[figures] %s: %s\n", what, path.c_str());
}

// The first n training images after loading and fitting, as train_mnist
// would train on them with the same --data, --resolution and --channels.
void data_grid(const Options& o) {
  const std::string path = output(o, "data.png");
  const data::Dataset train =
      data::load_split(data::resolve_dataset_dir(o.data), true, {o.resolution, o.channels});
  std::vector<int64_t> first(static_cast<size_t>(std::min(o.n, train.images.count)));
  for (size_t i = 0; i < first.size(); ++i) first[i] = static_cast<int64_t>(i);
  const int64_t cols =
      static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(first.size()))));
  save(path, imaging::make_grid(data::to_tensor(train.images, first), cols), "training images");
}

const int64_t kShownT[] = {0, 50, 100, 250, 500, 750, 1000};

// One test digit diffused to each t of kShownT by q(x_t | x_0) (Eq. 4), with
// one noise draw shared by every t and both schedules, so the rows differ
// only in how much of x_0 each schedule keeps.
void forward(const Options& o) {
  const std::string path = output(o, "forward.png");
  const data::Dataset test =
      data::load_split(data::resolve_dataset_dir(o.data), false, {o.resolution, o.channels});
  if (o.index < 0 || o.index >= test.images.count)
    throw std::runtime_error("--index " + std::to_string(o.index) + " outside the " +
                             std::to_string(test.images.count) + " test images");
  const Tensor x0 = data::to_tensor(test.images, {o.index});
  ag::Generator gen(o.seed);
  const Tensor noise = ag::randn(x0.shape(), &gen);
  plotting::Montage m;
  m.title = "q(x_t | x_0): one test image, one noise draw";
  m.scale = 3;
  for (const char* name : {"linear", "cosine"}) {
    const diffusion::GaussianDiffusion d(
        diffusion::make_schedule(diffusion::parse_schedule(name), 1000),
        diffusion::ModelMeanType::Eps, diffusion::ModelVarType::FixedLarge);
    std::vector<imaging::Image> row;
    for (int64_t t : kShownT) {
      const Tensor i = diffusion::full_timesteps(1, t - 1);  // the index of t
      row.push_back(imaging::make_grid(t == 0 ? x0 : d.q_sample(x0, i, noise), 1, 0));
    }
    m.rows.push_back(row);
    m.row_labels.push_back(name);
  }
  for (int64_t t : kShownT) m.column_labels.push_back("t = " + std::to_string(t));
  save(path, plotting::render(m), "forward process");
}

// beta_t, alpha-bar_t and the signal-to-noise ratio alpha-bar_t / (1 -
// alpha-bar_t) of the linear and cosine schedules, against t.
void schedules(const Options& o) {
  const std::string path = output(o, "schedules.png");
  plotting::Panel beta{"beta_t", "t", "beta_t (log scale)",      true, false, {},
                       {},       {},  plotting::Corner::kTopLeft};
  plotting::Panel abar{
      "alpha-bar_t = prod of (1 - beta_s)", "t", "alpha-bar_t", false, false, {}, {}, {},
      plotting::Corner::kTopRight};
  plotting::Panel snr{"SNR = alpha-bar_t / (1 - alpha-bar_t)",
                      "t",
                      "SNR (log scale)",
                      true,
                      false,
                      {},
                      {},
                      {},
                      plotting::Corner::kBottomLeft};
  for (const char* name : {"linear", "cosine"}) {
    const diffusion::Schedule s = diffusion::make_schedule(diffusion::parse_schedule(name), 1000);
    std::vector<double> t, ratio;
    for (int64_t i = 0; i < s.T; ++i) {
      t.push_back(static_cast<double>(i + 1));
      ratio.push_back(s.alphas_cumprod[i] / (1 - s.alphas_cumprod[i]));
    }
    beta.series.push_back({name, t, s.betas});
    abar.series.push_back({name, t, s.alphas_cumprod});
    snr.series.push_back({name, t, ratio});
  }
  save(path, plotting::render({{beta, abar, snr}, 3, 1500, 450}), "schedules");
}

// Grids shown side by side at most (a long run's are picked evenly, the
// last one always among them).
constexpr size_t kMaxGrids = 8;

// The step of a file named samples_<step>.png (1 to 15 digits), else -1.
long step_of(const std::string& file) {
  const std::string prefix = "samples_", suffix = ".png";
  if (file.size() <= prefix.size() + suffix.size() || file.rfind(prefix, 0) != 0 ||
      file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  const std::string digits =
      file.substr(prefix.size(), file.size() - prefix.size() - suffix.size());
  if (digits.size() > 15 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

// The grids samples_<step>.png of a run, oldest first.
void training(const Options& o) {
  const std::string path = output(o, "training.png");
  std::vector<std::pair<long, fs::path>> grids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(o.run, ec))
    if (const long step = step_of(entry.path().filename().string()); step >= 0)
      grids.emplace_back(step, entry.path());
  if (ec) throw std::runtime_error("--run " + o.run + ": " + ec.message());
  if (grids.empty())
    throw std::runtime_error("--run " + o.run + ": no samples_<step>.png (train_mnist writes " +
                             "one every --sample-every steps)");
  std::sort(grids.begin(), grids.end());
  if (grids.size() > kMaxGrids) {
    std::vector<std::pair<long, fs::path>> picked;
    for (size_t k = 0; k < kMaxGrids; ++k)
      picked.push_back(grids[k * (grids.size() - 1) / (kMaxGrids - 1)]);
    grids = picked;
  }
  plotting::Montage m;
  m.title = "Samples over training (EMA weights, the same x_T in every grid)";
  m.rows.emplace_back();
  for (const auto& [step, file] : grids) {
    m.rows[0].push_back(imaging::read_image(file.string()));
    m.column_labels.push_back("step " + std::to_string(step));
  }
  save(path, plotting::render(m), "samples over training");
}

void loss(const Options& o) {
  const std::string path = output(o, "loss.png");
  save(path, apps::plot_loss(apps::read_loss_csv((fs::path(o.run) / "loss.csv").string())),
       "loss curve");
}

// The term L_{t-1} (bits/dim) at each t of an rd.csv of evaluate --nll --rd.
plotting::Series read_terms(const std::string& path, const std::string& label) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("--rd " + path + ": cannot open it");
  std::string line;
  std::getline(in, line);
  if (line != "t,rate_bpd,distortion_rmse,next_term_bpd")
    throw std::runtime_error("--rd " + path + ": not an rd.csv of evaluate --nll --rd");
  plotting::Series s{label, {}, {}};
  while (std::getline(in, line)) {
    long t = 0;
    double rate = 0, distortion = 0, term = 0;
    if (std::sscanf(line.c_str(), "%ld,%lf,%lf,%lf", &t, &rate, &distortion, &term) != 4)
      throw std::runtime_error("--rd " + path + ": bad row '" + line + "'");
    s.x.insert(s.x.begin(), static_cast<double>(t));  // the file runs t = T..1
    s.y.insert(s.y.begin(), term);
  }
  if (s.x.empty()) throw std::runtime_error("--rd " + path + ": no rows");
  return s;
}

// The improved DDPM paper's Fig. 2 for the models whose rd.csv are given:
// each term of the bound against t (log scale), and the bound accumulated
// from t = 1 up, which shows how much of it the first steps hold.
void terms(const Options& o) {
  if (o.rd_files.size() != o.labels.size())
    throw std::runtime_error("give one --label for each --rd");
  const std::string path = output(o, "vlb_terms.png");
  plotting::Panel per_t{"Terms of the bound: L_{t-1} in bits/dim",
                        "t",
                        "bits/dim (log scale)",
                        true,
                        false,
                        {},
                        {},
                        {}};
  plotting::Panel total{
      "The bound accumulated from t = 1 up", "t", "bits/dim", false, false, {}, {}, {}};
  total.legend = plotting::Corner::kBottomRight;
  for (size_t i = 0; i < o.rd_files.size(); ++i) {
    const plotting::Series s = read_terms(o.rd_files[i], o.labels[i]);
    plotting::Series sum = s;
    for (size_t k = 1; k < sum.y.size(); ++k) sum.y[k] += sum.y[k - 1];
    per_t.series.push_back(s);
    total.series.push_back(sum);
  }
  save(path, plotting::render({{per_t, total}, 2, 1400, 500}), "the bound's terms per t");
}

void add_out(CLI::App* sub, Options& o) {
  sub->add_option("--out", o.out, "output folder")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Pictures of the training data, the forward process, the schedules and a training run "
      "(for docs/)."};
  app.require_subcommand(1);
  Options o;
  CLI::App* dat = app.add_subcommand("data", "the first -n training images, as loaded and fitted");
  dat->add_option("-n", o.n, "images")->check(CLI::Range(1, 1024))->capture_default_str();
  CLI::App* fwd = app.add_subcommand("forward", "one test image at t = 0, 50, ..., 1000 (Eq. 4)");
  for (CLI::App* sub : {dat, fwd}) {
    sub->add_option("--data", o.data, "mnist, fashion, cifar10 or a directory, as train_mnist's")
        ->capture_default_str();
    sub->add_option("--resolution", o.resolution, "crop and resize to this side (0: as they are)")
        ->check(CLI::Range(int64_t{0}, int64_t{1024}))
        ->capture_default_str();
    sub->add_option("--channels", o.channels, "1 (grey) or 3 (RGB); 0: as they are")
        ->check(CLI::IsMember({0, 1, 3}))
        ->capture_default_str();
  }
  fwd->add_option("--index", o.index, "which test image")->capture_default_str();
  fwd->add_option("--seed", o.seed, "seed of the noise draw")
      ->check(apps::kSeed)
      ->capture_default_str();
  CLI::App* sch = app.add_subcommand("schedules", "beta_t, alpha-bar_t and SNR, linear vs cosine");
  CLI::App* trn = app.add_subcommand("training", "the sample grids of a run side by side");
  CLI::App* lss = app.add_subcommand("loss", "redraw loss.png from a run's loss.csv");
  for (CLI::App* sub : {trn, lss})
    sub->add_option("--run", o.run, "the run's folder (train_mnist --out)")->capture_default_str();
  CLI::App* trm = app.add_subcommand(
      "terms", "the bound's terms per t of models, from rd.csv files of evaluate --nll --rd");
  trm->add_option("--rd", o.rd_files, "an rd.csv (repeat for each model)")
      ->required()
      ->check(CLI::ExistingFile);
  trm->add_option("--label", o.labels, "its legend entry (one per --rd, in order)")->required();
  for (CLI::App* sub : {dat, fwd, sch, trn, lss, trm}) add_out(sub, o);
  apps::one_line_parse_errors(app, "figures");
  CLI11_PARSE(app, argc, argv);
  return apps::run_reporting_errors("figures", [&] {
    if (dat->parsed()) data_grid(o);
    if (fwd->parsed()) forward(o);
    if (sch->parsed()) schedules(o);
    if (trn->parsed()) training(o);
    if (lss->parsed()) loss(o);
    if (trm->parsed()) terms(o);
    return 0;
  });
}
