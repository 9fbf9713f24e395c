// What apps/train_mnist does around each training step, shared with
// `bench --loop`, which times it: a loss.csv line, the progress line, and
// every --ckpt-every steps a checkpoint and the loss curve, every
// --sample-every steps a quick sample grid from the EMA weights.
#pragma once
#include <filesystem>
#include <fstream>
#include <functional>
#include <vector>

#include "apps/common/loss_plot.h"
#include "apps/common/progress.h"
#include "apps/common/training.h"

namespace apps {

// A run stops after this many skipped steps in a row (StepResult::skipped).
constexpr int64_t kMaxSkippedInARow = 10;

// The files of a run in its --out folder (written by rank 0 of a
// data-parallel run alone), continued (loss.csv cut back to the
// checkpoint's step and appended, the curve redrawn with the history) when
// the run was resumed.
class TrainingLog {
 public:
  TrainingLog(Trainer& tr, const std::filesystem::path& out, bool resumed);
  // After each step, with its result. A skipped step prints a warning line,
  // and no checkpoint is written until a step succeeds again; the
  // kMaxSkippedInARow-th in a row throws, leaving the last checkpoint as it
  // was.
  void record(const StepResult& r);
  // The final progress line, checkpoint and loss curve.
  void finish();
  const std::filesystem::path& checkpoint() const { return ckpt_; }

 private:
  std::string status() const;
  void warn_skipped(const StepResult& r);
  void save_checkpoint();
  Trainer& tr_;
  std::filesystem::path out_, ckpt_, csv_, curve_;
  bool main_;            // rank 0 of a data-parallel run, the one that writes
  LossHistory history_;  // every step's loss, for the curve
  std::ofstream log_;
  ProgressBar bar_;
  std::chrono::steady_clock::time_point start_;
  int64_t first_step_;
};

// Trains one step at a time while keep_going() holds, each step followed by
// log.record.
void run_steps(Trainer& tr, TrainingLog& log, const std::function<bool()>& keep_going);

// The labels of a conditional model's grid of n samples: class i % classes
// at i (empty for an unconditional model, classes 0).
std::vector<int32_t> grid_labels(int64_t n, int64_t classes);

// A grid of samples from the EMA weights, from the same x_T every time so
// grids over training compare like with like: by DDIM (eta 0, clipped x_0,
// --sample-steps) for the quick grids along the way, or by `sampler` for the
// final one. A class-conditional model draws one column per class, guided
// with the default weight (kDefaultGuidance). Returns the samples.
ag::Tensor write_samples(Trainer& tr, const std::filesystem::path& path, Sampler sampler);

}  // namespace apps
