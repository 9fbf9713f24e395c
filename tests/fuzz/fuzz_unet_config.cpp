// libFuzzer harness for the model config a checkpoint carries
// (nn::unet_config_from_json). The input is the JSON text. Every failure
// must be one std::runtime_error; a config that parses must write and parse
// back to itself, and a small one must build a U-Net that runs a forward
// pass (a config check_unet_config lets through must be one the network
// handles). Anything else is a finding.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "nn/checkpoint.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

// Small enough to build and run in a millisecond or so: at most 16 channels
// on any level and a 16 x 16 image.
bool small(const nn::UNetConfig& c) {
  const int64_t widest = *std::max_element(c.ch_mult.begin(), c.ch_mult.end());
  return c.ch * widest <= 16 && c.resolution <= 16 && c.in_ch <= 4;
}

void run_forward(const nn::UNetConfig& c) {
  ag::NoGradGuard no_grad;
  nn::UNet model(c, 0);
  model.eval();
  const ag::Tensor x = ag::zeros({1, c.in_ch, c.resolution, c.resolution});
  const ag::Tensor y = model.forward(x, ag::from_vector(std::vector<int32_t>{0}, {1}));
  const ag::Shape want{1, c.out_ch(), c.resolution, c.resolution};  // 2 in_ch with learn_sigma
  if (y.shape() != want) fuzz::broken("the U-Net's output shape is not (1, out_ch, H, W)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nn::UNetConfig c;
  try {
    c = nn::unet_config_from_json(text, "fuzz");
  } catch (const std::runtime_error&) {
    return 0;
  }
  const std::string written = nn::unet_config_to_json(c);
  try {
    if (nn::unet_config_to_json(nn::unet_config_from_json(written, "fuzz")) != written)
      fuzz::broken("the config does not parse back to itself: " + written);
  } catch (const std::runtime_error& e) {
    fuzz::broken(std::string("a written config does not parse: ") + e.what());
  }
  if (!small(c)) return 0;
  try {
    run_forward(c);
  } catch (const std::runtime_error& e) {
    fuzz::broken("a config that passes the check fails in the U-Net: " + written + ": " + e.what());
  }
  return 0;
}
