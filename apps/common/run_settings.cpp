#include "apps/common/run_settings.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "apps/common/choices.h"
#include "apps/common/trained_model.h"

namespace apps {

namespace {

// std::stod / stoll / stoull, refusing trailing text and (for unsigned) a sign.
template <typename T>
T parse_number(const std::string& text) {
  size_t used = 0;
  T v{};
  if constexpr (std::is_same_v<T, double>) {
    v = std::stod(text, &used);
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (text.find('-') != std::string::npos) throw std::invalid_argument("negative");
    v = std::stoull(text, &used);
  } else {
    v = std::stoll(text, &used);
  }
  if (used != text.size()) throw std::invalid_argument("trailing text");
  return v;
}

template <typename T>
RunSetting number(const char* flag, const char* key, T TrainOptions::*member, bool budget = false) {
  return {
      flag, key, budget,
      [member](const TrainOptions& o) {
        if constexpr (std::is_same_v<T, double>)
          return exact_text(o.*member);
        else
          return std::to_string(o.*member);
      },
      [member](TrainOptions& o, const std::string& text) { o.*member = parse_number<T>(text); }};
}

RunSetting text(const char* flag, const char* key, std::string TrainOptions::*member,
                bool budget = false) {
  return {flag, key, budget, [member](const TrainOptions& o) { return o.*member; },
          [member](TrainOptions& o, const std::string& value) { o.*member = value; }};
}

RunSetting boolean(const char* flag, const char* key, bool TrainOptions::*member) {
  return {flag, key, false,
          [member](const TrainOptions& o) { return o.*member ? "true" : "false"; },
          [member](TrainOptions& o, const std::string& text) {
            if (text != "true" && text != "false") throw std::invalid_argument("not true or false");
            o.*member = text == "true";
          }};
}

template <typename E>
RunSetting choice(const char* flag, const char* key, E TrainOptions::*member,
                  const Choices<E>& choices) {
  return {flag, key, false,
          [member, &choices](const TrainOptions& o) { return name_of(choices, o.*member); },
          [member, &choices](TrainOptions& o, const std::string& name) {
            for (const auto& [n, v] : choices)
              if (n == name) return void(o.*member = v);
            throw std::invalid_argument("not a choice");
          }};
}

// "--steps, --minutes, ... --threads and --out".
std::string budget_flags() {
  std::string s;
  for (const RunSetting& r : run_settings())
    if (r.budget) s += (s.empty() ? "" : ", ") + r.flag;
  return s + " and --out";
}

}  // namespace

std::string exact_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  if (!std::isnan(v) && std::stod(buf) != v) std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

double parse_exact(const std::string& text, const std::string& what) {
  try {
    return parse_number<double>(text);
  } catch (const std::exception&) {
    throw std::runtime_error(what + " is not a number: '" + text + "'");
  }
}

const std::vector<RunSetting>& run_settings() {
  using O = TrainOptions;
  static const std::vector<RunSetting> settings{
      text("--preset", "preset", &O::preset),
      text("--data", "dataset", &O::data),
      number("--subset", "subset", &O::subset),
      number("--resolution", "resolution", &O::resolution),
      number("--channels", "channels", &O::channels),
      boolean("--flip", "flip", &O::flip),
      boolean("--cond", "cond", &O::cond),
      number("--p-uncond", "p_uncond", &O::p_uncond),
      number("--batch", "batch", &O::batch),
      number("--lr", "lr", &O::lr),
      number("--warmup", "warmup", &O::warmup),
      number("--clip", "clip", &O::clip),
      number("--ema", "ema", &O::ema),
      choice("--loss", "loss", &O::loss, loss_choices()),
      choice("--param", "param", &O::param, param_choices()),
      choice("--var", "var", &O::var, var_choices()),
      number("--hybrid-lambda", "hybrid_lambda", &O::hybrid_lambda),
      choice("--t-sampler", "t_sampler", &O::t_sampler, t_sampler_choices()),
      choice("--schedule", "schedule", &O::schedule, schedule_choices()),
      number("--T", "T", &O::T),
      number("--seed", "seed", &O::seed),
      number("--sample-n", "sample_n", &O::sample_n),
      choice("--final-sampler", "final_sampler", &O::final_sampler, sampler_choices()),
      number("--sample-steps", "sample_steps", &O::sample_steps),
      number("--steps", "steps", &O::steps, true),
      number("--minutes", "minutes", &O::minutes, true),
      number("--ckpt-every", "ckpt_every", &O::ckpt_every, true),
      number("--sample-every", "sample_every", &O::sample_every, true),
      text("--device", "device", &O::device, true),
      number("--threads", "threads", &O::threads, true),
  };
  return settings;
}

io::Metadata settings_metadata(const TrainOptions& o) {
  io::Metadata md;
  for (const RunSetting& r : run_settings()) md[r.key] = r.get(o);
  md[kLinearBetasKey] = o.scale_linear ? "scaled" : "unscaled";
  return md;
}

std::vector<std::string> restore_settings(TrainOptions& o, const io::Metadata& md,
                                          const std::function<bool(const std::string&)>& given,
                                          const std::string& ckpt) {
  std::vector<std::string> missing;
  o.scale_linear = linear_betas_scaled(md, ckpt);
  TrainOptions stored = o;
  for (const RunSetting& r : run_settings()) {
    auto it = md.find(r.key);
    if (it == md.end()) {
      missing.push_back(r.flag);
      continue;
    }
    try {
      r.set(stored, it->second);
    } catch (const std::exception&) {
      throw std::runtime_error(ckpt + ": metadata '" + r.key + "' is not a value of " + r.flag +
                               ": '" + it->second + "'");
    }
    if (!given(r.flag)) {
      r.set(o, it->second);
    } else if (!r.budget && r.get(o) != r.get(stored)) {
      throw std::runtime_error(r.flag + " " + r.get(o) + " conflicts with " + ckpt +
                               ", trained with " + r.flag + " " + r.get(stored) + " (on --resume " +
                               "only " + budget_flags() + " may change)");
    }
  }
  return missing;
}

}  // namespace apps
