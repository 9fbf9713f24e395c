#include "nn/checkpoint.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

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
              {"resolution", c.resolution}}
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
    check_unet_config(c);
    return c;
  } catch (const std::exception& e) {
    throw std::runtime_error(what + ": bad model config: " + e.what());
  }
}

namespace {

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

int64_t integer_field(const io::Metadata& md, const std::string& key, const std::string& path) {
  const std::string& text = field(md, key, path);
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(path + ": metadata '" + key + "' is not a count: '" + text + "'");
}

std::pair<uint64_t, uint64_t> generator_field(const io::Metadata& md, const std::string& key,
                                              const std::string& path) {
  const std::string& text = field(md, key, path);
  unsigned long long seed = 0, offset = 0;
  char rest = 0;
  if (std::sscanf(text.c_str(), "%llu %llu%c", &seed, &offset, &rest) != 2)
    throw std::runtime_error(path + ": metadata '" + key + "' is not '<seed> <offset>'");
  return {seed, offset};
}

// Throws unless `found` holds exactly `expected`'s names with their shapes and
// dtypes (checked before anything is loaded, so a bad file changes nothing).
void check_group(const NamedTensors& expected, const NamedTensors& found, const std::string& prefix,
                 const std::string& path) {
  std::map<std::string, ag::Tensor> by_name(found.begin(), found.end());
  for (const auto& [name, t] : expected) {
    auto it = by_name.find(name);
    if (it == by_name.end())
      throw std::runtime_error(path + ": tensor '" + prefix + name + "' missing");
    if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype())
      throw std::runtime_error(path + ": tensor '" + prefix + name + "' is " +
                               ag::dtype_name(it->second.dtype()) + " " +
                               ag::shape_str(it->second.shape()) + ", expected " +
                               ag::dtype_name(t.dtype()) + " " + ag::shape_str(t.shape()));
  }
  if (found.size() != expected.size())
    throw std::runtime_error(path + ": " + std::to_string(found.size()) + " '" + prefix +
                             "' tensors, expected " + std::to_string(expected.size()));
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
    md["rng." + name] = std::to_string(gen->seed()) + " " + std::to_string(gen->offset());
  io::save_safetensors(path, tensors, md);
}

void load_training_checkpoint(const std::string& path, TrainingState& s) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  const io::Metadata& md = file.metadata;
  const UNetConfig config = unet_config_from_json(field(md, "config", path), path);
  if (unet_config_to_json(config) != unet_config_to_json(s.model.config))
    throw std::runtime_error(path + ": checkpoint model config " + unet_config_to_json(config) +
                             " differs from this model's " + unet_config_to_json(s.model.config));
  const int64_t step = integer_field(md, "step", path);
  const int64_t adam_step = integer_field(md, "adam_step", path);
  const int64_t ema_updates = integer_field(md, "ema_updates", path);
  std::vector<std::pair<ag::Generator*, std::pair<uint64_t, uint64_t>>> rng_states;
  for (const auto& [name, gen] : all_generators(s))
    rng_states.emplace_back(gen, generator_field(md, "rng." + name, path));

  const NamedTensors params = s.model.named_parameters();
  check_group(params, group(file, "model."), "model.", path);
  check_group(params, group(file, "ema."), "ema.", path);
  check_group(s.optimizer.state(params), group(file, "adam."), "adam.", path);
  io::load_into(params, file, path, "model.");
  s.ema.load_shadow(group(file, "ema."));
  s.optimizer.load_state(params, group(file, "adam."));
  s.optimizer.set_step_count(adam_step);
  s.ema.set_num_updates(ema_updates);
  for (const auto& [gen, state] : rng_states) gen->set_state(state.first, state.second);
  s.step = step;
  s.extra = md;
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
