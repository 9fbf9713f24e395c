// libFuzzer harness for training checkpoints (nn/checkpoint.h): the input is
// the file, checked as sample and evaluate check it
// (check_training_checkpoint) and loaded as train_mnist --resume loads it
// (load_training_checkpoint), both against the tiny U-Net of fuzz_input.h.
// Every failure must be one std::runtime_error that leaves the run exactly as
// it was; the two must agree; a load must restore the file's counters.
// Anything else is a finding.
#include <stdexcept>
#include <vector>

#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// A fresh run, as a trainer builds one before --resume.
struct Run {
  nn::UNet model{fuzz::tiny_config(), 0};
  nn::Adam optimizer{model.parameters()};
  nn::EMA ema{model.named_parameters(), 0.999};
  ag::Generator data{7};
  nn::TrainingState state() { return {model, optimizer, ema, {{"data", &data}}, 0, {}}; }
};

std::vector<float> values(const nn::NamedTensors& tensors) {
  std::vector<float> out;
  for (const auto& [name, t] : tensors)
    for (float v : t.to_vector<float>()) out.push_back(v);
  return out;
}

// Everything a load may change, in one list.
std::vector<float> snapshot(Run& r) {
  const nn::NamedTensors params = r.model.named_parameters();
  std::vector<float> out = values(params);
  for (const auto& part : {r.ema.shadow(), r.optimizer.state(params)})
    for (float v : values(part)) out.push_back(v);
  for (uint64_t v :
       {r.data.seed(), r.data.offset(), r.model.dropout_rng.seed(), r.model.dropout_rng.offset()})
    out.push_back(static_cast<float>(v));
  out.push_back(static_cast<float>(r.optimizer.step_count()));
  out.push_back(static_cast<float>(r.ema.num_updates()));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("fuzz_checkpoint", data, size);
  Run run;
  bool checks = true;
  try {
    nn::check_training_checkpoint(io::load_safetensors(path), path, run.model);
  } catch (const std::runtime_error&) {
    checks = false;
  }
  const std::vector<float> before = snapshot(run);
  nn::TrainingState state = run.state();
  try {
    nn::load_training_checkpoint(path, state);
  } catch (const std::runtime_error&) {
    if (snapshot(run) != before) fuzz::broken("a refused checkpoint changed the run");
    if (state.step != 0) fuzz::broken("a refused checkpoint changed the step");
    return 0;
  }
  // The run's data generator is the only one check_training_checkpoint does
  // not require, so a file that loads must pass it.
  if (!checks) fuzz::broken("loaded a checkpoint that check_training_checkpoint refuses");
  if (std::to_string(state.step) != state.extra.at("step") ||
      std::to_string(run.optimizer.step_count()) != state.extra.at("adam_step") ||
      std::to_string(run.ema.num_updates()) != state.extra.at("ema_updates") ||
      std::to_string(run.data.seed()) + " " + std::to_string(run.data.offset()) !=
          state.extra.at("rng.data"))
    fuzz::broken("a loaded checkpoint's counters differ from its metadata");
  return 0;
}
