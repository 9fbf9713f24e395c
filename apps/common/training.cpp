#include "apps/common/training.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

#include "apps/common/run_settings.h"
#include "apps/common/streams.h"
#include "autograd/distributed.h"
#include "diffusion/samplers.h"
#include "nn/data_parallel.h"

namespace apps {

namespace {

constexpr const char* kHistoryKey = "t_sampler_history";

}  // namespace

nn::UNetConfig model_config(const std::string& preset, const data::Images& images, bool learn_sigma,
                            int64_t num_classes) {
  if (images.rows != images.cols)
    throw std::runtime_error("the U-Net takes square images; these are " +
                             std::to_string(images.rows) + "x" + std::to_string(images.cols) +
                             " (give --resolution)");
  nn::UNetConfig c = nn::unet_preset(preset, images.channels, images.rows);
  c.learn_sigma = learn_sigma;
  c.num_classes = num_classes;
  return c;
}

int64_t num_classes_of(const data::Dataset& data, const std::string& name) {
  if (data.labels.labels.empty())
    throw std::runtime_error("--cond trains on labels, and " + name +
                             " has none (a folder of images): train without --cond");
  return 1 + *std::max_element(data.labels.labels.begin(), data.labels.labels.end());
}

std::vector<int32_t> drop_labels(std::vector<int32_t> labels, double p_uncond, int64_t null_label,
                                 ag::Generator& gen) {
  const int64_t n = static_cast<int64_t>(labels.size());
  const std::vector<double> u = ag::rand({n}, &gen, ag::DType::F64).to_vector<double>();
  for (int64_t i = 0; i < n; ++i)
    if (u[i] < p_uncond) labels[i] = static_cast<int32_t>(null_label);
  return labels;
}

Trainer::Trainer(const TrainOptions& o, ag::Device device, data::Dataset data)
    : opt(o),
      device(device),
      train(std::move(data)),
      model(model_config(o.preset, train.images, o.var == diffusion::ModelVarType::Learned,
                         o.cond ? num_classes_of(train, o.data) : 0),
            o.seed),
      ema_model(model.config, o.seed),
      adam(model.parameters(), nn::AdamConfig{o.lr}),
      ema(model.named_parameters(), o.ema),
      diffusion(diffusion::make_schedule(o.schedule, o.T, o.scale_linear), o.param, o.var,
                ag::DType::F32, device),
      data_gen(o.seed + kDataStream),
      t_sampler(o.T) {
  model.to(device);
  ema_model.to(device);
  nn::broadcast_parameters(model.parameters());
}

nn::TrainingState Trainer::state() {
  io::Metadata extra = settings_metadata(opt);
  extra["smoothed_loss"] = exact_text(smoothed_loss);
  if (opt.t_sampler == diffusion::TimestepSampling::Importance)
    extra[kHistoryKey] = t_sampler.to_text();
  return {model, adam, ema, {{"data", &data_gen}}, step, extra};
}

void Trainer::resume(const std::string& path) {
  nn::TrainingState s = state();
  nn::load_training_checkpoint(path, s);
  step = s.step;
  auto it = s.extra.find("smoothed_loss");
  smoothed_loss =
      it == s.extra.end() ? NAN : parse_exact(it->second, path + ": metadata 'smoothed_loss'");
  if (opt.t_sampler != diffusion::TimestepSampling::Importance) return;
  it = s.extra.find(kHistoryKey);
  if (it == s.extra.end())
    throw std::runtime_error(path + ": no metadata '" + kHistoryKey +
                             "' (the importance sampler's history)");
  try {
    t_sampler.from_text(it->second);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": metadata '" + kHistoryKey + "': " + e.what());
  }
}

StepResult Trainer::train_step() {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  const Clock::time_point start = Clock::now();
  ++times.steps;
  const int64_t n = train.images.count, B = opt.batch;
  // The whole batch is drawn on every rank, each taking its rows of it
  // (one process: all of them), so any number of ranks trains on the same
  // images, labels, t and noise.
  const ag::dist::Rows rows = ag::dist::my_rows(B);
  std::vector<int64_t> idx;
  for (double u : ag::rand({B}, &data_gen, ag::DType::F64).to_vector<double>())
    idx.push_back(std::min(n - 1, static_cast<int64_t>(u * n)));
  std::vector<bool> flip;
  if (opt.flip)
    for (double u : ag::rand({B}, &data_gen, ag::DType::F64).to_vector<double>())
      flip.push_back(u < 0.5);
  ag::Tensor y;  // labels with --cond, drawn only then: unconditional runs stay as they were
  if (opt.cond) {
    std::vector<int32_t> labels;
    for (int64_t i : idx) labels.push_back(train.labels.labels[static_cast<size_t>(i)]);
    y = ag::from_vector(
        part_of(drop_labels(labels, opt.p_uncond, model.config.null_label(), data_gen), rows),
        {rows.count()});
  }
  const bool importance = opt.t_sampler == diffusion::TimestepSampling::Importance;
  diffusion::ImportanceSampler::Draw draw;
  if (importance) draw = t_sampler.sample(B, data_gen);
  const ag::Tensor all_t = importance ? draw.t : diffusion::sample_timesteps(B, opt.T, data_gen);
  const ag::Tensor t = ag::slice(all_t, 0, rows.begin, rows.end).contiguous();
  ag::Tensor x0 = data::to_tensor(train.images, part_of(idx, rows), part_of(flip, rows)).to(device);
  ag::RowsGuard noise_rows(data_gen, rows.begin, B), dropout_rows(model.dropout_rng, rows.begin, B);
  ag::Tensor noise = ag::randn(x0.shape(), &data_gen, ag::DType::F32, device);
  auto net = [&](const ag::Tensor& x, const ag::Tensor& tt) { return model.forward(x, tt, y); };
  const ag::Tensor losses =
      diffusion.training_losses(net, x0, t, noise, opt.loss, opt.hybrid_lambda);
  // The batch mean as a sum over the ranks' rows: sum_i w_i L_i / B, with
  // w_i = 1 / (T p_t) under importance sampling, as E_{t ~ p}[L_t / (T p_t)]
  // = (1 / T) sum_t L_t, as under uniform t.
  const ag::Tensor weighted =
      importance ? losses * ag::from_vector(part_of(draw.weights, rows), {rows.count()})
                                .to(ag::DType::F32)
                                .to(device)
                 : losses;
  ag::Tensor loss = ag::sum(weighted) * (1.0 / static_cast<double>(B));
  const double mine = loss.item();
  const Clock::time_point forward_done = Clock::now();
  const double value = ag::dist::sum(mine);
  const Clock::time_point summed = Clock::now();
  times.compute += seconds(start, forward_done);
  times.wait += seconds(forward_done, summed);
  ++step;
  if (!std::isfinite(value)) return skip(value, NAN);
  if (importance)
    t_sampler.update(
        all_t.to_vector<int32_t>(),
        ag::dist::gather_rows(losses.detach().to(ag::DType::F64).to(ag::Device::CPU), B)
            .to_vector<double>());
  loss.backward();
  const Clock::time_point backward_done = Clock::now();
  ag::dist::barrier();  // to time the all-reduce alone
  const Clock::time_point all_there = Clock::now();
  nn::all_reduce_gradients(model.parameters());
  const Clock::time_point reduced = Clock::now();
  times.compute += seconds(summed, backward_done);
  times.wait += seconds(backward_done, all_there);
  times.all_reduce += seconds(all_there, reduced);
  const double norm = opt.clip > 0 ? nn::clip_grad_norm(model.parameters(), opt.clip)
                                   : nn::grad_norm(model.parameters());
  if (!std::isfinite(norm)) return skip(value, norm);
  adam.step(nn::warmup_lr(opt.lr, adam.step_count() + 1, opt.warmup));
  adam.zero_grad();
  ema.update(model.named_parameters());
  times.compute += seconds(reduced, Clock::now());
  skipped_in_a_row = 0;
  smoothed_loss = std::isnan(smoothed_loss) ? value : 0.98 * smoothed_loss + 0.02 * value;
  return {value, norm, false};
}

StepResult Trainer::skip(double loss, double grad_norm) {
  adam.zero_grad();
  ++skipped_in_a_row;
  ++skipped;
  return {loss, grad_norm, true};
}

data::Dataset random_dataset(int64_t n, uint64_t seed, int64_t channels, int64_t resolution) {
  ag::Generator gen(seed);
  data::Dataset d;
  d.images = {n, channels, resolution, resolution, {}};
  for (float u : ag::rand({n * d.images.image_bytes()}, &gen).to_vector<float>())
    d.images.pixels.push_back(static_cast<uint8_t>(u * 255.999f));
  for (int64_t i = 0; i < n; ++i) d.labels.labels.push_back(static_cast<uint8_t>(i % 10));
  return d;
}

}  // namespace apps
