// One training run of a DDPM as apps/train_mnist runs it, and its step
// (Algorithm 1 of Ho et al. 2020 with Adam, warm-up, gradient clipping and an
// EMA of the weights). apps/bench times this very step.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/sampling.h"
#include "apps/dataset/dataset.h"
#include "diffusion/diffusion.h"
#include "diffusion/timestep_sampler.h"
#include "nn/checkpoint.h"
#include "nn/ema.h"
#include "nn/optim.h"
#include "nn/unet.h"

namespace apps {

// train_mnist's settings, with its defaults (the paper's, except the EMA
// decay, 0.999 for short runs); the choices are enums, read once.
struct TrainOptions {
  std::string preset = "tiny", data = "mnist", device = "cpu", out, resume;
  diffusion::LossType loss = diffusion::LossType::Simple;
  diffusion::ModelMeanType param = diffusion::ModelMeanType::Eps;
  diffusion::ModelVarType var = diffusion::ModelVarType::FixedLarge;
  diffusion::ScheduleKind schedule = diffusion::ScheduleKind::Linear;
  diffusion::TimestepSampling t_sampler = diffusion::TimestepSampling::Uniform;
  Sampler final_sampler = Sampler::Ancestral;
  int64_t batch = 64, warmup = 200, T = 1000, steps = 0, subset = 0, ckpt_every = 500;
  int64_t sample_every = 500, sample_n = 64, sample_steps = 50, threads = 0;
  // The images' side and channel count (0: as the data has them); once the
  // data is loaded, the values it was loaded at, which the model is built for.
  int64_t resolution = 0, channels = 0;
  bool flip = false;  // random horizontal flips of the training images
  // Class-conditional training (--cond): each label dropped to "no label"
  // with probability p_uncond, for classifier-free guidance.
  bool cond = false;
  double p_uncond = 0.1;
  double lr = 2e-4, clip = 1.0, ema = 0.999, minutes = 0;
  double hybrid_lambda = 0.001;  // L_hybrid's weight of L_vlb (Nichol & Dhariwal, Sec. 3.1)
  // The linear schedule's betas scaled by 1000 / T (diffusion::make_schedule);
  // false for checkpoints from before that rule.
  bool scale_linear = true;
  uint64_t seed = 0;
};

// Where a data-parallel run's steps spend their time, summed over steps (in
// seconds): computing (forward, backward, the update), waiting for the
// slowest rank (at the loss's sum and before the gradients' all-reduce) and
// in the all-reduce itself. One process: all of it is compute.
struct StepTimes {
  double compute = 0, wait = 0, all_reduce = 0;
  int64_t steps = 0;
};

struct StepResult {
  double loss, grad_norm;  // the batch's loss; the gradients' norm before clipping
  bool skipped;            // not finite: no update was made
};

// The U-Net of preset `preset` for images of `channels` x resolution x
// resolution, with twice the output channels for learned variances and a
// label embedding for num_classes classes (0: unconditional).
nn::UNetConfig model_config(const std::string& preset, const data::Images& images,
                            bool learn_sigma = false, int64_t num_classes = 0);

// The classes of a labelled training set for --cond: the largest label + 1.
// Throws a one-line error when the data has no labels (a folder of images).
int64_t num_classes_of(const data::Dataset& data, const std::string& name);

// Classifier-free guidance's label dropout (Ho & Salimans 2022, Algorithm 1):
// each label replaced by null_label with probability p_uncond, one uniform
// draw from `gen` per label.
std::vector<int32_t> drop_labels(std::vector<int32_t> labels, double p_uncond, int64_t null_label,
                                 ag::Generator& gen);

// Everything one run holds. The data generator draws batches, timesteps and
// noise; the model's own generator draws dropout masks; both are saved in
// checkpoints, so --resume continues the very same stream. The models, the
// batches and the sampling live on `device`; Adam's moments and the EMA
// follow the parameters there on their first update (nn::follow_param).
// The models are o.preset at the data's image shape (model_config).
struct Trainer {
  Trainer(const TrainOptions& o, ag::Device device, data::Dataset data);

  // Every setting travels in the checkpoint (apps/common/run_settings.h), so
  // that --resume restores the run and apps/sample rebuilds the same process.
  nn::TrainingState state();
  // Restores the state a checkpoint of this run holds (nn::
  // load_training_checkpoint: weights, EMA, Adam, generators, step) and the
  // smoothed loss.
  void resume(const std::string& path);

  // One step of Algorithm 1: x_0 from the data (each image mirrored with
  // probability 1/2 under --flip; with --cond its label, dropped with
  // probability p_uncond), t ~ U{1..T} (or by importance, each
  // sample's loss weighted by 1 / (T p_t)), eps ~ N(0, I),
  // a gradient step on the loss (clipped, Adam at the warm-up lr), then the
  // EMA update. A step whose loss or gradient norm is not finite changes no
  // weight, moment or average: it is skipped and counted.
  StepResult train_step();

  TrainOptions opt;
  ag::Device device;
  data::Dataset train;
  nn::UNet model, ema_model;
  nn::Adam adam;
  nn::EMA ema;
  diffusion::GaussianDiffusion diffusion;
  ag::Generator data_gen;
  // The history of the bound's terms for --t-sampler importance (its
  // checkpoint metadata "t_sampler_history"); unused under uniform t.
  diffusion::ImportanceSampler t_sampler;
  int64_t step = 0;
  int64_t skipped_in_a_row = 0, skipped = 0;  // steps skipped as not finite
  // The loss averaged over recent steps (decay 0.98; NaN before the first
  // finite one), for the progress line and loss.csv. Checkpoints keep it
  // exactly, so a resumed loss.csv reads as if the run had not stopped.
  double smoothed_loss = NAN;
  StepTimes times;

 private:
  StepResult skip(double loss, double grad_norm);
};

// n random images (uniform bytes) of `channels` x resolution x resolution
// with labels, from `seed`: what apps/bench trains on in place of real data.
data::Dataset random_dataset(int64_t n, uint64_t seed, int64_t channels = 1,
                             int64_t resolution = 28);

}  // namespace apps
