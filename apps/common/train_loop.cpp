#include "apps/common/train_loop.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "apps/common/conditioning.h"
#include "apps/common/loss_plot.h"
#include "apps/common/streams.h"
#include "apps/imaging/image.h"
#include "autograd/distributed.h"
#include "io/atomic_file.h"

namespace apps {

namespace fs = std::filesystem;

namespace {

// loss.csv cut back to `step`, and its rows: a run killed after its last
// checkpoint may have logged steps that the resumed run will redo.
LossHistory keep_loss_history(const fs::path& csv, int64_t step) {
  LossHistory h = read_loss_csv(csv.string(), step);
  const std::string kept = loss_csv_text(h);
  io::write_file_atomically(csv.string(), kept.data(), kept.size());
  return h;
}

double time_limit_s(const TrainOptions& o) { return o.minutes * 60; }

// Throws "<csv>: cannot write: <reason>" when the stream's last operation
// failed (a full disk); called right after it, while errno holds the cause.
void require_written(const std::ostream& log, const fs::path& csv) {
  const int err = errno;
  if (!log) throw std::runtime_error(csv.string() + ": cannot write: " + std::strerror(err));
}

}  // namespace

TrainingLog::TrainingLog(Trainer& tr, const fs::path& out, bool resumed)
    : tr_(tr),
      out_(out),
      ckpt_(out / "ckpt.safetensors"),
      csv_(out / "loss.csv"),
      curve_(out / "loss.png"),
      main_(ag::dist::is_main()),
      history_(main_ && resumed && fs::exists(csv_) ? keep_loss_history(csv_, tr.step)
                                                    : LossHistory{}),
      bar_("[train] step", tr.opt.steps, "step", tr.step, time_limit_s(tr.opt)),
      start_(std::chrono::steady_clock::now()),
      first_step_(tr.step) {
  if (!main_) return;
  log_.open(csv_, history_.step.empty() ? std::ios::trunc : std::ios::app);
  if (history_.step.empty()) log_ << kLossCsvHeader;
  if (!log_) throw std::runtime_error(csv_.string() + ": cannot open for writing");
}

std::string TrainingLog::status() const {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.4f, %.1f img/s", tr_.smoothed_loss,
                (tr_.step - first_step_) * tr_.opt.batch / std::max(1e-9, s));
  return buf;
}

void TrainingLog::record(const StepResult& r) {
  if (main_) {
    history_.step.push_back(static_cast<double>(tr_.step));
    history_.loss.push_back(r.loss);
    history_.smoothed.push_back(tr_.smoothed_loss);
    write_loss_row(log_, tr_.step, r.loss, tr_.smoothed_loss);
    require_written(log_, csv_);
  }
  if (r.skipped) warn_skipped(r);
  if (main_ && bar_.due()) bar_.update(tr_.step, status());
  const TrainOptions& o = tr_.opt;
  if (tr_.step % o.ckpt_every == 0 && tr_.skipped_in_a_row == 0) save_checkpoint();
  if (o.sample_every > 0 && tr_.step % o.sample_every == 0) {
    char name[64];
    std::snprintf(name, sizeof name, "samples_%06ld.png", static_cast<long>(tr_.step));
    write_samples(tr_, out_ / name, Sampler::Ddim);
  }
}

void TrainingLog::warn_skipped(const StepResult& r) {
  if (main_)
    std::printf(
        "[train] warning: step %ld skipped (loss %g, gradient norm %g: not finite); %ld in "
        "a row, %ld in all\n",
        static_cast<long>(tr_.step), r.loss, r.grad_norm, static_cast<long>(tr_.skipped_in_a_row),
        static_cast<long>(tr_.skipped));
  if (tr_.skipped_in_a_row < kMaxSkippedInARow) return;
  throw std::runtime_error(
      std::to_string(kMaxSkippedInARow) + " steps in a row (to step " + std::to_string(tr_.step) +
      ") had a loss or gradient that is not finite; stopped without " + "saving (" +
      (fs::exists(ckpt_) ? ckpt_.string() + " is the last good checkpoint"
                         : std::string("no checkpoint was written")) +
      "); try a lower --lr");
}

// The loss log first, so that it holds every step the checkpoint has done.
void TrainingLog::save_checkpoint() {
  if (!main_) return;
  require_written(log_.flush(), csv_);
  nn::save_training_checkpoint(ckpt_.string(), tr_.state());
  imaging::write_png(curve_.string(), plot_loss(history_));
}

void TrainingLog::finish() {
  if (!main_) return;
  bar_.finish(tr_.step, status());
  save_checkpoint();
  std::printf("[train] checkpoint: %s (step %ld)\n", ckpt_.string().c_str(),
              static_cast<long>(tr_.step));
  std::printf("[train] loss curve: %s, log: %s\n", curve_.string().c_str(), csv_.string().c_str());
}

void run_steps(Trainer& tr, TrainingLog& log, const std::function<bool()>& keep_going) {
  while (keep_going()) log.record(tr.train_step());
}

std::vector<int32_t> grid_labels(int64_t n, int64_t classes) {
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < n && classes > 0; ++i)
    labels.push_back(static_cast<int32_t>(i % classes));
  return labels;
}

ag::Tensor write_samples(Trainer& tr, const fs::path& path, Sampler sampler) {
  tr.ema.copy_to(tr.ema_model.named_parameters());
  tr.ema_model.eval();
  ag::Generator gen(tr.opt.seed + kGridStream);
  const TrainOptions& o = tr.opt;
  const int64_t classes = tr.ema_model.config.num_classes;
  const std::vector<int32_t> labels = grid_labels(o.sample_n, classes);  // a column per class
  // Each rank draws its rows of the grid (one process: all of them).
  const ag::dist::Rows rows = ag::dist::my_rows(o.sample_n);
  ag::RowsGuard my_rows(gen, rows.begin, o.sample_n);
  ag::Tensor x_T = draw_x_T(tr.ema_model.config, rows.count(), gen, tr.device);
  const diffusion::Denoiser net =
      denoiser_of(tr.ema_model, part_of(labels, rows), kDefaultGuidance);
  ag::Tensor x0;
  if (sampler == Sampler::Ancestral) {
    x0 = sample_with_progress(tr.diffusion, net, x_T, sampler, 0, 0.0, gen, {},
                              "[train] sampling step")
             .x0;
  } else {
    x0 =
        diffusion::ddim_sample_loop(tr.diffusion, net, x_T, std::min(o.sample_steps, o.T), 0.0, gen)
            .x0;
  }
  x0 = ag::dist::gather_rows(x0, o.sample_n);
  const int64_t cols = classes > 0 ? std::min(classes, o.sample_n) : square_grid_cols(o.sample_n);
  if (ag::dist::is_main()) imaging::write_png(path.string(), imaging::make_grid(x0, cols));
  return x0;
}

}  // namespace apps
