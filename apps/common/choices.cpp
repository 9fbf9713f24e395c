#include "apps/common/choices.h"

namespace apps {

namespace {

template <typename E>
Choices<E> named(const std::vector<std::string>& names, E (*parse)(const std::string&)) {
  Choices<E> c;
  for (const std::string& n : names) c.emplace_back(n, parse(n));
  return c;
}

}  // namespace

const Choices<diffusion::LossType>& loss_choices() {
  static const auto c = named({"simple", "vlb", "hybrid"}, diffusion::parse_loss_type);
  return c;
}

const Choices<diffusion::ModelMeanType>& param_choices() {
  static const auto c = named({"eps", "x0", "xprev"}, diffusion::parse_mean_type);
  return c;
}

const Choices<diffusion::ModelVarType>& var_choices() {
  static const auto c = named({"large", "small", "learned"}, diffusion::parse_var_type);
  return c;
}

const Choices<diffusion::ScheduleKind>& schedule_choices() {
  static const auto c = named({"linear", "cosine"}, diffusion::parse_schedule);
  return c;
}

const Choices<diffusion::TimestepSampling>& t_sampler_choices() {
  static const auto c = named({"uniform", "importance"}, diffusion::parse_timestep_sampling);
  return c;
}

const Choices<Sampler>& sampler_choices() {
  static const Choices<Sampler> c{{"ddpm", Sampler::Ancestral}, {"ddim", Sampler::Ddim}};
  return c;
}

}  // namespace apps
