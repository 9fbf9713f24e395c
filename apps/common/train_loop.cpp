#include "apps/common/train_loop.h"

#include <cstdio>
#include <cstdlib>

#include "apps/common/streams.h"
#include "apps/imaging/image.h"

namespace apps {

namespace fs = std::filesystem;

namespace {

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

double time_limit_s(const TrainOptions& o) { return o.minutes * 60; }

}  // namespace

TrainingLog::TrainingLog(Trainer& tr, const fs::path& out, bool resumed)
    : tr_(tr),
      out_(out),
      ckpt_(out / "ckpt.safetensors"),
      csv_(out / "loss.csv"),
      curve_(out / "loss.png"),
      history_(resumed ? read_loss_history(csv_) : std::vector<double>{}),
      log_(csv_, resumed ? std::ios::app : std::ios::trunc),
      bar_("[train] step", tr.opt.steps, "step", tr.step, time_limit_s(tr.opt)),
      start_(std::chrono::steady_clock::now()),
      first_step_(tr.step),
      smoothed_(history_.empty() ? 0.0 : history_.back()) {
  if (!resumed) log_ << "step,loss,smoothed_loss\n";
}

std::string TrainingLog::status() const {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  char buf[96];
  std::snprintf(buf, sizeof buf, "loss %.4f, %.1f img/s", smoothed_,
                (tr_.step - first_step_) * tr_.opt.batch / std::max(1e-9, s));
  return buf;
}

void TrainingLog::record(double loss) {
  smoothed_ = history_.empty() ? loss : 0.98 * smoothed_ + 0.02 * loss;  // for display
  history_.push_back(smoothed_);
  log_ << tr_.step << ',' << loss << ',' << smoothed_ << '\n';
  if (bar_.due()) bar_.update(tr_.step, status());
  const TrainOptions& o = tr_.opt;
  if (tr_.step % o.ckpt_every == 0) {
    nn::save_training_checkpoint(ckpt_.string(), tr_.state());
    imaging::write_png(curve_.string(), imaging::plot_curve(history_));
  }
  if (o.sample_every > 0 && tr_.step % o.sample_every == 0) {
    char name[64];
    std::snprintf(name, sizeof name, "samples_%06ld.png", static_cast<long>(tr_.step));
    write_samples(tr_, out_ / name, Sampler::Ddim);
  }
}

void TrainingLog::finish() {
  bar_.finish(tr_.step, status());
  log_.flush();
  nn::save_training_checkpoint(ckpt_.string(), tr_.state());
  std::printf("[train] checkpoint: %s (step %ld)\n", ckpt_.string().c_str(),
              static_cast<long>(tr_.step));
  imaging::write_png(curve_.string(), imaging::plot_curve(history_));
  std::printf("[train] loss curve: %s, log: %s\n", curve_.string().c_str(), csv_.string().c_str());
}

void run_steps(Trainer& tr, TrainingLog& log, const std::function<bool()>& keep_going) {
  while (keep_going()) log.record(tr.train_step());
}

ag::Tensor write_samples(Trainer& tr, const fs::path& path, Sampler sampler) {
  tr.ema.copy_to(tr.ema_model.named_parameters());
  tr.ema_model.eval();
  ag::Generator gen(tr.opt.seed + kGridStream);
  const TrainOptions& o = tr.opt;
  ag::Tensor x_T = draw_x_T(tr.ema_model.config, o.sample_n, gen, tr.device);
  auto net = [&](const ag::Tensor& x, const ag::Tensor& t) { return tr.ema_model.forward(x, t); };
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
  imaging::write_png(path.string(), imaging::make_grid(x0, square_grid_cols(o.sample_n)));
  return x0;
}

}  // namespace apps
