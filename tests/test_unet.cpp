// The DDPM U-Net: parameter counts against the paper's architecture, output
// shapes for every preset, names as checkpoints use them.
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <string>

#include "nn/optim.h"
#include "nn/unet.h"
#include "tests/gradcheck.h"

namespace ag::test {

TEST(UNet, ParameterCountsMatchThePaperArchitecture) {
  EXPECT_EQ(nn::UNet(nn::unet_preset("tiny")).num_parameters(), 1112801);
  EXPECT_EQ(nn::UNet(nn::unet_preset("small")).num_parameters(), 1623169);
  EXPECT_EQ(nn::UNet(nn::unet_preset("base")).num_parameters(), 6469889);
  EXPECT_EQ(nn::UNet(nn::unet_preset("paper")).num_parameters(), 25833985);
  nn::UNetConfig cifar;
  cifar.in_ch = 3;
  cifar.resolution = 32;
  cifar.ch = 128;
  cifar.ch_mult = {1, 2, 2, 2};
  cifar.num_res_blocks = 2;
  cifar.attn_resolutions = {16};
  cifar.num_groups = 32;
  EXPECT_EQ(nn::UNet(cifar).num_parameters(), 35746307);
}

TEST(UNet, EveryPresetMapsImagesToImages) {
  for (const std::string& name : nn::unet_preset_names()) {
    SCOPED_TRACE(name);
    nn::UNet model(nn::unet_preset(name));
    NoGradGuard no_grad;
    Tensor x = randn({2, 1, 28, 28});
    Tensor y = model.forward(x, from_vector(std::vector<int32_t>{0, 999}, {2}));
    EXPECT_EQ(y.shape(), x.shape());
    EXPECT_EQ(y.dtype(), DType::F32);
  }
  EXPECT_THROW(nn::unet_preset("huge"), std::runtime_error);
}

// A config out of range (as from a corrupt checkpoint) is refused before any
// module is built; 10^9 ResBlocks once grew memory until the process died.
TEST(UNet, RejectsConfigsOutOfRange) {
  auto message = [](const std::function<void(nn::UNetConfig&)>& edit) {
    nn::UNetConfig c = nn::unet_preset("tiny");
    edit(c);
    try {
      nn::UNet model(c);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([](auto& c) { c.num_res_blocks = 1000000000; }),
            "UNet config: num_res_blocks = 1000000000 outside [1, 4]");
  EXPECT_EQ(message([](auto& c) { c.ch = 1024; }),
            "UNet config: channels of a level (ch * ch_mult entry) = 2048 outside [1, 1024]");
  EXPECT_EQ(message([](auto& c) { c.ch = 0; }), "UNet config: ch = 0 outside [4, 1024]");
  // ch 2 or 3 once passed and gave a timestep embedding of NaN (found by
  // tests/fuzz/fuzz_unet_config).
  EXPECT_EQ(message([](auto& c) {
              c.ch = 2;
              c.num_groups = 1;
            }),
            "UNet config: ch = 2 outside [4, 1024]");
  EXPECT_EQ(message([](auto& c) { c.ch_mult = {}; }),
            "UNet config: number of levels (ch_mult) = 0 outside [1, 8]");
  EXPECT_EQ(message([](auto& c) {
              c.ch_mult = {1, 100};
            }),
            "UNet config: ch_mult entry = 100 outside [1, 16]");
  EXPECT_EQ(message([](auto& c) { c.dropout = 1; }), "UNet config: dropout = 1 outside [0, 0.999]");
  // In range but unfit for the network's shapes, found by
  // tests/fuzz/fuzz_unet_config: they built, then failed in GroupNorm or at
  // the first forward pass (7 -> 4 -> 8 meets no skip connection of 7).
  EXPECT_EQ(message([](auto& c) { c.num_groups = 3; }),
            "UNet config: num_groups = 3 does not divide a level's 32 channels");
  EXPECT_EQ(message([](auto& c) {
              c.ch_mult = {1, 2};
              c.resolution = 7;
            }),
            "UNet config: resolution = 7 is not a multiple of 2^(levels - 1) = 2");
  EXPECT_EQ(message([](auto& c) { c.resolution = -28; }),
            "UNet config: resolution = -28 outside [1, 1024]");
  EXPECT_EQ(message([](auto&) {}), "no error");
}

// An empty batch runs through every op, forward and backward, without
// touching memory it does not have: the output is empty and every parameter's
// gradient is zero.
TEST(UNet, EmptyBatchGivesEmptyOutputAndZeroGradients) {
  nn::UNet model(nn::unet_preset("tiny"));
  model.train();
  Tensor y = model.forward(zeros({0, 1, 28, 28}), from_vector(std::vector<int32_t>{}, {0}));
  EXPECT_EQ(y.shape(), (Shape{0, 1, 28, 28}));
  sum(y).backward();
  for (const auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(p.grad().defined());
    for (float g : p.grad().to_vector<float>()) ASSERT_EQ(g, 0.0f);
  }
}

TEST(UNet, ParameterNamesFollowModulePaths) {
  nn::UNet model(nn::unet_preset("small"));
  std::vector<std::string> names;
  for (auto& [name, t] : model.named_parameters()) names.push_back(name);
  auto has = [&](const std::string& n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  EXPECT_TRUE(has("temb.dense0.weight"));
  EXPECT_TRUE(has("conv_in.weight"));
  EXPECT_TRUE(has("down.1.res.0.conv1.weight"));
  EXPECT_TRUE(has("down.1.res.0.nin_shortcut.weight"));  // 32 -> 64 channels
  EXPECT_TRUE(has("down.1.attn.1.proj_out.weight"));     // attention at 14x14
  EXPECT_TRUE(has("down.0.downsample.conv.weight"));
  EXPECT_TRUE(has("mid.attn.q.weight"));
  EXPECT_TRUE(has("up.2.res.2.temb_proj.bias"));
  EXPECT_TRUE(has("up.1.upsample.conv.weight"));
  EXPECT_TRUE(has("norm_out.weight"));
  EXPECT_FALSE(has("down.2.downsample.conv.weight"));  // no downsample after the last level
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
}

TEST(UNet, InitFollowsDdpm) {
  nn::UNet model(nn::unet_preset("tiny"));
  for (auto& [name, t] : model.named_parameters()) {
    const std::vector<float> v = t.to_vector<float>();
    const float max_abs = std::abs(*std::max_element(
        v.begin(), v.end(), [](float a, float b) { return std::abs(a) < std::abs(b); }));
    const bool zero_branch = name.find("conv2.weight") != std::string::npos ||
                             name.find("proj_out.weight") != std::string::npos ||
                             name == "conv_out.weight";
    if (zero_branch) {
      EXPECT_LT(max_abs, 1e-4) << name;
    }
    if (name == "conv_in.weight") {  // fan_avg = (1*9 + 32*9) / 2: limit sqrt(3 / 148.5)
      EXPECT_LE(max_abs, std::sqrt(3.0 / 148.5));
      EXPECT_GT(max_abs, 0.9 * std::sqrt(3.0 / 148.5));
    }
  }
}

TEST(UNet, RejectsWrongInputs) {
  nn::UNet model(nn::unet_preset("tiny"));
  NoGradGuard no_grad;
  Tensor t = from_vector(std::vector<int32_t>{1}, {1});
  EXPECT_THROW(model.forward(zeros({1, 1, 32, 32}), t), std::runtime_error);
  EXPECT_THROW(model.forward(zeros({1, 3, 28, 28}), t), std::runtime_error);
  EXPECT_THROW(model.forward(zeros({2, 1, 28, 28}), t), std::runtime_error);
}

// L_simple-style training on one fixed batch: the tiny U-Net fits it.
TEST(UNet, OverfitsOneBatch) {
  nn::UNet model(nn::unet_preset("tiny"), 3);
  Generator gen(4);
  Tensor x = randn({4, 1, 28, 28}, &gen), target = randn({4, 1, 28, 28}, &gen);
  Tensor t = from_vector(std::vector<int32_t>{10, 200, 500, 900}, {4});
  nn::Adam adam(model.parameters(), {});  // betas 0.9 / 0.999, eps 1e-8
  double first = 0, last = 0;
  for (int step = 1; step <= 60; ++step) {
    Tensor loss = mse_loss(model.forward(x, t), target);
    loss.backward();
    (step == 1 ? first : last) = loss.item();
    adam.step(2e-3);
    adam.zero_grad();
  }
  EXPECT_NEAR(first, 1.0, 0.15) << first;  // near-zero output: the loss starts at E[target^2]
  EXPECT_LT(last, 0.2 * first) << "first " << first << ", last " << last;
}

}  // namespace ag::test
