#include "nn/checkpoint.h"

#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>

namespace nn {

using json = nlohmann::json;

std::string unet_config_to_json(const UNetConfig& c) {
  return json{{"in_ch", c.in_ch},
              {"ch", c.ch},
              {"ch_mult", c.ch_mult},
              {"num_res_blocks", c.num_res_blocks},
              {"attn_resolutions", c.attn_resolutions},
              {"dropout", c.dropout},
              {"num_groups", c.num_groups},
              {"resolution", c.resolution},
              {"learn_sigma", c.learn_sigma},
              {"num_classes", c.num_classes}}
      .dump();
}

namespace {

// A JSON integer (32.5 would otherwise be read as 32).
int64_t integer(const json& j, const char* key) {
  const json& v = j.at(key);
  if (!v.is_number_integer())
    throw std::runtime_error(std::string("'") + key + "' is not an integer: " + v.dump());
  return v.get<int64_t>();
}

std::vector<int64_t> integers(const json& j, const char* key) {
  const json& list = j.at(key);
  if (!list.is_array())
    throw std::runtime_error(std::string("'") + key + "' is not a list: " + list.dump());
  std::vector<int64_t> out;
  for (const json& v : list) {
    if (!v.is_number_integer())
      throw std::runtime_error(std::string("'") + key + "' holds a non-integer: " + v.dump());
    out.push_back(v.get<int64_t>());
  }
  return out;
}

}  // namespace

UNetConfig unet_config_from_json(const std::string& text, const std::string& what) {
  try {
    const json j = json::parse(text);
    UNetConfig c;
    c.in_ch = integer(j, "in_ch");
    c.ch = integer(j, "ch");
    c.ch_mult = integers(j, "ch_mult");
    c.num_res_blocks = integer(j, "num_res_blocks");
    c.attn_resolutions = integers(j, "attn_resolutions");
    c.dropout = j.at("dropout").get<double>();
    c.num_groups = integer(j, "num_groups");
    c.resolution = integer(j, "resolution");
    if (j.contains("learn_sigma")) {  // absent in checkpoints from before learned variances
      if (!j.at("learn_sigma").is_boolean())
        throw std::runtime_error("'learn_sigma' is not true or false: " +
                                 j.at("learn_sigma").dump());
      c.learn_sigma = j.at("learn_sigma").get<bool>();
    }
    if (j.contains("num_classes")) c.num_classes = integer(j, "num_classes");  // else unconditional
    check_unet_config(c);
    return c;
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": bad model config: " + e.what());
  }
}

namespace {

constexpr const char* kGeneratorPrefix = "rng.";

NamedTensors prefixed(const std::string& prefix, const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(prefix + name, t);
  return out;
}

// The file's tensors under `prefix`, with the prefix removed.
NamedTensors group(const io::SafetensorsFile& file, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0)
      out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

const std::string& field(const io::Metadata& md, const std::string& key, const std::string& path) {
  auto it = md.find(key);
  if (it == md.end())
    throw std::runtime_error(path + ": not a training checkpoint (metadata '" + key + "' missing)");
  return it->second;
}

// All of `text` as an unsigned decimal number, as std::to_string writes it
// (no sign, no spaces).
template <class T>
bool parse_whole(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  const auto [stop, err] = std::from_chars(text.data(), end, out);
  return !text.empty() && text[0] != '-' && err == std::errc() && stop == end;
}

int64_t integer_field(const io::Metadata& md, const std::string& key, const std::string& path) {
  const std::string& text = field(md, key, path);
  int64_t v = 0;
  if (!parse_whole(text, v))
    throw std::runtime_error(path + ": metadata '" + key + "' is not a count: '" + text + "'");
  return v;
}

struct GeneratorState {
  uint64_t seed = 0, offset = 0;
};

GeneratorState generator_state(const std::string& key, const std::string& text,
                               const std::string& path) {
  const size_t space = text.find(' ');
  GeneratorState g;
  if (space == std::string::npos || !parse_whole(std::string_view(text).substr(0, space), g.seed) ||
      !parse_whole(std::string_view(text).substr(space + 1), g.offset))
    throw std::runtime_error(path + ": metadata '" + key + "' is not '<seed> <offset>': '" + text +
                             "'");
  return g;
}

// The counters and generator states of a training checkpoint's metadata.
struct Counters {
  int64_t step = 0, adam_step = 0, ema_updates = 0;
  std::map<std::string, GeneratorState> generators;  // by name, without "rng."
};

Counters read_counters(const io::Metadata& md, const std::string& path) {
  Counters c;
  c.step = integer_field(md, "step", path);
  c.adam_step = integer_field(md, "adam_step", path);
  c.ema_updates = integer_field(md, "ema_updates", path);
  const std::string prefix = kGeneratorPrefix;
  for (const auto& [key, text] : md)
    if (key.compare(0, prefix.size(), prefix) == 0)
      c.generators[key.substr(prefix.size())] = generator_state(key, text, path);
  return c;
}

const GeneratorState& generator(const Counters& c, const std::string& name,
                                const std::string& path) {
  const auto it = c.generators.find(name);
  if (it == c.generators.end())
    throw std::runtime_error(path + ": not a training checkpoint (metadata '" + kGeneratorPrefix +
                             name + "' missing)");
  return it->second;
}

// The tensors save_training_checkpoint writes for parameters `params`: each
// parameter as it is, its EMA shadow, and Adam's two moments (the names
// Adam::state gives them), all of the parameter's shape and dtype.
NamedTensors training_tensors(const NamedTensors& params) {
  NamedTensors out = prefixed("model.", params);
  for (const char* group : {"ema.", "adam.m.", "adam.v."})
    for (auto& t : prefixed(group, params)) out.push_back(t);
  return out;
}

// Throws unless `file` holds exactly `expected`'s names with their shapes and
// dtypes (checked before anything is loaded, so a bad file changes nothing).
void check_tensors(const NamedTensors& expected, const io::SafetensorsFile& file,
                   const std::string& path) {
  std::map<std::string, ag::Tensor> by_name(file.tensors.begin(), file.tensors.end());
  for (const auto& [name, t] : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end()) throw std::runtime_error(path + ": tensor '" + name + "' missing");
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
      throw std::runtime_error(path + ": tensor '" + name + "' is " +
                               ag::dtype_name(it->second.dtype()) + " " +
                               ag::shape_str(it->second.shape()) + ", expected " +
                               ag::dtype_name(t.dtype()) + " " + ag::shape_str(t.shape()));
    by_name.erase(it);
  }
  if (!by_name.empty())
    throw std::runtime_error(path + ": unexpected tensor '" + by_name.begin()->first +
                             "', a training checkpoint of this model has no such tensor");
}

// Does what check_training_checkpoint says; returns the counters it read.
Counters checked_counters(const io::SafetensorsFile& file, const std::string& path,
                          const UNet& model) {
  const io::Metadata& md = file.metadata;
  const UNetConfig config = unet_config_from_json(field(md, "config", path), path);
  if (unet_config_to_json(config) != unet_config_to_json(model.config))
    throw std::runtime_error(path + ": checkpoint model config " + unet_config_to_json(config) +
                             " differs from this model's " + unet_config_to_json(model.config));
  Counters counters = read_counters(md, path);
  generator(counters, "dropout", path);  // the model's own, in every training checkpoint
  check_tensors(training_tensors(model.named_parameters()), file, path);
  return counters;
}

// Throws unless every value of every tensor is finite: a checkpoint holding
// NaN or inf would pass the damage on to every run resumed from it.
void check_finite(const NamedTensors& tensors, const std::string& path) {
  for (const auto& [name, t] : tensors)
    for (double v : t.to_vector<double>())
      if (!std::isfinite(v))
        throw std::runtime_error(path + ": not written: tensor '" + name + "' holds " +
                                 std::to_string(v) + " (the last checkpoint is kept)");
}

std::vector<std::pair<std::string, ag::Generator*>> all_generators(const TrainingState& s) {
  auto gens = s.generators;
  gens.emplace_back("dropout", &s.model.dropout_rng);
  return gens;
}

}  // namespace

void save_training_checkpoint(const std::string& path, const TrainingState& s) {
  const NamedTensors params = s.model.named_parameters();
  NamedTensors tensors = prefixed("model.", params);
  for (auto& t : prefixed("ema.", s.ema.shadow())) tensors.push_back(t);
  for (auto& t : prefixed("adam.", s.optimizer.state(params))) tensors.push_back(t);
  check_finite(tensors, path);
  io::Metadata md = s.extra;
  md["config"] = unet_config_to_json(s.model.config);
  md["step"] = std::to_string(s.step);
  md["adam_step"] = std::to_string(s.optimizer.step_count());
  md["ema_updates"] = std::to_string(s.ema.num_updates());
  for (const auto& [name, gen] : all_generators(s))
    md[kGeneratorPrefix + name] = std::to_string(gen->seed()) + " " + std::to_string(gen->offset());
  io::save_safetensors(path, tensors, md);
}

void check_training_checkpoint(const io::SafetensorsFile& file, const std::string& path,
                               const UNet& model) {
  checked_counters(file, path, model);
}

void load_training_checkpoint(const std::string& path, TrainingState& s) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  const Counters counters = checked_counters(file, path, s.model);
  std::vector<std::pair<ag::Generator*, GeneratorState>> rng_states;
  for (const auto& [name, gen] : all_generators(s))
    rng_states.emplace_back(gen, generator(counters, name, path));

  const NamedTensors params = s.model.named_parameters();
  io::load_into(params, file, path, "model.");
  s.ema.load_shadow(group(file, "ema."));
  s.optimizer.load_state(params, group(file, "adam."));
  s.optimizer.set_step_count(counters.adam_step);
  s.ema.set_num_updates(counters.ema_updates);
  for (const auto& [gen, state] : rng_states) gen->set_state(state.seed, state.offset);
  s.step = counters.step;
  s.extra = file.metadata;
}

void save_module(const std::string& path, const Module& m, const io::Metadata& metadata) {
  io::save_safetensors(path, m.named_parameters(), metadata);
}

void load_module(const std::string& path, Module& m) {
  io::load_into(m.named_parameters(), io::load_safetensors(path), path);
}

UNetConfig checkpoint_config(const std::string& path) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  return unet_config_from_json(field(file.metadata, "config", path), path);
}

}  // namespace nn
