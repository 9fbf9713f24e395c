// The settings that pick one of a few ways (loss, parameterization, reverse
// variance, schedule, timestep sampling, sampler) as enums, read once at the command line, and
// their names as the flags, the help and the checkpoints' metadata spell them.
#pragma once
#include <CLI/CLI.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "apps/common/sampling.h"
#include "diffusion/diffusion.h"
#include "diffusion/schedule.h"
#include "diffusion/timestep_sampler.h"

namespace apps {

template <typename E>
using Choices = std::vector<std::pair<std::string, E>>;

// Built from diffusion's own parse_* functions, so the names agree with what
// checkpoints hold and apps/common/trained_model reads back.
const Choices<diffusion::LossType>& loss_choices();               // simple, vlb, hybrid
const Choices<diffusion::ModelMeanType>& param_choices();         // eps, x0, xprev
const Choices<diffusion::ModelVarType>& var_choices();            // large, small, learned
const Choices<diffusion::ScheduleKind>& schedule_choices();       // linear, cosine
const Choices<diffusion::TimestepSampling>& t_sampler_choices();  // uniform, importance
const Choices<Sampler>& sampler_choices();                        // ddpm, ddim

template <typename E>
const std::string& name_of(const Choices<E>& choices, E value) {
  for (const auto& [name, v] : choices)
    if (v == value) return name;
  throw std::logic_error("name_of: a value without a name");
}

// --flag NAME, one of `choices`, stored in `value` as its enum; the default
// (value's name) shows in --help, and any other name fails with
// "<flag>: <name> not in {a,b}".
template <typename E>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, E& value, const Choices<E>& choices,
                        const std::string& help) {
  std::vector<std::string> names;
  for (const auto& c : choices) names.push_back(c.first);
  return app
      .add_option_function<std::string>(
          flag,
          [&value, &choices](const std::string& name) {
            for (const auto& [n, v] : choices)
              if (n == name) value = v;
          },
          help)
      ->check(CLI::IsMember(names))
      ->default_str(name_of(choices, value));
}

}  // namespace apps
