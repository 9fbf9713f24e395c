// The DDPM U-Net: parameter counts against the paper's architecture, output
// shapes for every preset at MNIST's and CIFAR-10's shapes, names as
// checkpoints use them, and a whole-model gradient check in colour.
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <string>

#include "nn/optim.h"
#include "nn/unet.h"
#include "tests/gradcheck.h"
#include "tests/nn_helpers.h"

namespace ag::test {

TEST(UNet, ParameterCountsMatchThePaperArchitecture) {
  EXPECT_EQ(nn::UNet(nn::unet_preset("tiny")).num_parameters(), 1112801);
  EXPECT_EQ(nn::UNet(nn::unet_preset("small")).num_parameters(), 1623169);
  EXPECT_EQ(nn::UNet(nn::unet_preset("base")).num_parameters(), 6469889);
  EXPECT_EQ(nn::UNet(nn::unet_preset("paper")).num_parameters(), 25833985);
  EXPECT_EQ(nn::UNet(nn::unet_preset("cifar10", 3, 32)).num_parameters(), 35746307);
}

// The paper's CIFAR-10 model field by field (Ho et al. 2020, Appendix B).
TEST(UNet, Cifar10PresetIsThePapersModel) {
  const nn::UNetConfig c = nn::unet_preset("cifar10", 3, 32);
  EXPECT_EQ(c.in_ch, 3);
  EXPECT_EQ(c.resolution, 32);
  EXPECT_EQ(c.ch, 128);
  EXPECT_EQ(c.ch_mult, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(c.num_res_blocks, 2);
  EXPECT_EQ(c.attn_resolutions, (std::vector<int64_t>{16}));
  EXPECT_EQ(c.dropout, 0.1);
  EXPECT_EQ(c.num_groups, 32);
  const std::vector<std::string> names = nn::unet_preset_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "cifar10"), names.end());
}

// Checkpoints store the MNIST presets' configs: at (1, 28) they stay as they
// were before the presets took a shape.
TEST(UNet, MnistPresetsKeepTheirConfigs) {
  auto expect = [](const std::string& name, int64_t ch, int64_t blocks, int64_t attn,
                   int64_t groups) {
    SCOPED_TRACE(name);
    const nn::UNetConfig c = nn::unet_preset(name);
    EXPECT_EQ(c.in_ch, 1);
    EXPECT_EQ(c.resolution, 28);
    EXPECT_EQ(c.ch, ch);
    EXPECT_EQ(c.ch_mult, (std::vector<int64_t>{1, 2, 2}));
    EXPECT_EQ(c.num_res_blocks, blocks);
    EXPECT_EQ(c.attn_resolutions, (std::vector<int64_t>{attn}));
    EXPECT_EQ(c.dropout, 0.1);
    EXPECT_EQ(c.num_groups, groups);
  };
  expect("tiny", 32, 1, 7, 8);
  expect("small", 32, 2, 14, 8);
  expect("base", 64, 2, 14, 32);
  expect("paper", 128, 2, 14, 32);
}

// Attention stays at the same fraction of the image: a quarter for tiny, half
// for the others, as the paper's 16x16 of 32x32.
TEST(UNet, PresetAttentionScalesWithTheResolution) {
  EXPECT_EQ(nn::unet_preset("tiny", 3, 32).attn_resolutions, (std::vector<int64_t>{8}));
  EXPECT_EQ(nn::unet_preset("small", 3, 64).attn_resolutions, (std::vector<int64_t>{32}));
  EXPECT_EQ(nn::unet_preset("paper", 1, 32).attn_resolutions, (std::vector<int64_t>{16}));
  EXPECT_EQ(nn::unet_preset("cifar10", 3, 64).attn_resolutions, (std::vector<int64_t>{32}));
  EXPECT_EQ(nn::unet_preset("tiny", 3, 32).in_ch, 3);
}

// A resolution the levels cannot halve evenly (the four-level cifar10 preset
// at MNIST's 28) is refused at once, with the sizes that would fit.
TEST(UNet, PresetRefusesAResolutionItsLevelsCannotHalve) {
  auto message = [](const std::string& name, int64_t resolution) {
    try {
      nn::unet_preset(name, 3, resolution);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("cifar10", 28),
            "UNet config: resolution = 28 is not a multiple of 2^(levels - 1) = 8, so the 4 "
            "levels cannot halve it evenly; 24 or 32 would fit");
  EXPECT_EQ(message("tiny", 30),
            "UNet config: resolution = 30 is not a multiple of 2^(levels - 1) = 4, so the 3 "
            "levels cannot halve it evenly; 28 or 32 would fit");
  EXPECT_EQ(message("cifar10", 4),
            "UNet config: resolution = 4 is not a multiple of 2^(levels - 1) = 8, so the 4 "
            "levels cannot halve it evenly; 8 would fit");
  EXPECT_EQ(message("cifar10", 24), "no error");
}

// At MNIST's 1x28x28 (all but cifar10, which cannot halve 28 three times)
// and at CIFAR-10's 3x32x32.
TEST(UNet, EveryPresetMapsImagesToImages) {
  NoGradGuard no_grad;
  auto check = [](const std::string& name, const Shape& shape) {
    SCOPED_TRACE(name + " at " + shape_str(shape));
    nn::UNet model(nn::unet_preset(name, shape[1], shape[2]));
    const Tensor x = randn(shape);
    std::vector<int32_t> t{0, 999};
    t.resize(static_cast<size_t>(shape[0]));
    const Tensor y = model.forward(x, from_vector(t, {shape[0]}));
    EXPECT_EQ(y.shape(), x.shape());
    EXPECT_EQ(y.dtype(), DType::F32);
  };
  for (const std::string& name : nn::unet_preset_names()) {
    if (name != "cifar10") check(name, {2, 1, 28, 28});
    check(name, {name == "cifar10" ? 1 : 2, 3, 32, 32});  // the 35.7M model at batch 1: fast
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
            "UNet config: resolution = 7 is not a multiple of 2^(levels - 1) = 2, so the 2 levels "
            "cannot halve it evenly; 6 or 8 would fit");
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

// The whole U-Net's backward in colour (3x8x8), against central differences
// as tests/test_layers.cpp checks the grey one: one random direction per
// parameter tensor, and the input's Jacobian element by element, so that a
// channel mixed up in conv_in or conv_out shows.
TEST(UNet, WholeColourUNetGradcheck) {
  nn::UNetConfig c = small_test_unet();
  c.in_ch = 3;
  nn::UNet model(c, 1);
  randomize_f64(model, 30);
  const Tensor x = rand_leaf({1, 3, 8, 8}, 31), t = from_vector(std::vector<int32_t>{17}, {1});
  const Fn f = [&](const std::vector<Tensor>&) { return model.forward(x, t); };
  const nn::NamedTensors named = model.named_parameters();
  EXPECT_GT(named.size(), 50u);
  for (const auto& [name, p] : named) EXPECT_TRUE(gradcheck_directional(f, {p}, 1)) << name;
  EXPECT_TRUE(gradcheck(f, {x}));
}

}  // namespace ag::test

namespace ag::test {

// Class-conditional: the label embedding (num_classes + 1 rows, the last "no
// label") is added to the timestep embedding. Its gradient, and the whole
// model's w.r.t. it, against central differences in float64; the other
// weights equal an unconditional model's of the same seed; no labels means
// the null label; labels out of range or for an unconditional model refused.
TEST(UNet, ClassConditionalEmbedding) {
  nn::UNetConfig c = small_test_unet();
  c.num_classes = 3;
  nn::UNet model(c, 1);
  const nn::UNet plain(small_test_unet(), 1);
  const nn::NamedTensors named = model.named_parameters(), plain_named = plain.named_parameters();
  ASSERT_EQ(named.size(), plain_named.size() + 1);
  for (size_t i = 0; i < plain_named.size(); ++i) {
    ASSERT_EQ(named[i].first, plain_named[i].first);
    EXPECT_EQ(named[i].second.to_vector<float>(), plain_named[i].second.to_vector<float>())
        << named[i].first;
  }
  EXPECT_EQ(named.back().first, "label_emb.weight");
  EXPECT_EQ(named.back().second.shape(), (Shape{4, 32}));  // 3 classes + no label, 4 ch

  randomize_f64(model, 40);
  const Tensor x = rand_leaf({2, 1, 8, 8}, 41).detach(),
               t = from_vector(std::vector<int32_t>{3, 17}, {2});
  const Tensor y = from_vector(std::vector<int32_t>{2, 0}, {2});
  const Fn f = [&](const std::vector<Tensor>&) { return model.forward(x, t, y); };
  EXPECT_TRUE(gradcheck_directional(f, {named.back().second}, 2));
  const Fn g = [&](const std::vector<Tensor>& in) { return ag::gather(in[0], y); };
  EXPECT_TRUE(gradcheck(g, {rand_leaf({4, 5}, 42)}));

  NoGradGuard no_grad;
  const Tensor none = from_vector(std::vector<int32_t>{3, 3}, {2});
  const std::vector<double> a = model.forward(x, t).to_vector<double>(),
                            b = model.forward(x, t, none).to_vector<double>(),
                            d = model.forward(x, t, y).to_vector<double>();
  EXPECT_EQ(a, b);  // without labels: the null label
  EXPECT_NE(a, d);  // a label changes the output
  EXPECT_THROW(model.forward(x, t, from_vector(std::vector<int32_t>{4, 0}, {2})),
               std::runtime_error);
  EXPECT_THROW(model.forward(x, t, from_vector(std::vector<int32_t>{-1, 0}, {2})),
               std::runtime_error);
  EXPECT_THROW(model.forward(x, t, from_vector(std::vector<int32_t>{1}, {1})), std::runtime_error);
  nn::UNet unconditional(small_test_unet(), 1);
  unconditional.to(DType::F64);
  EXPECT_THROW(unconditional.forward(x, t, y), std::runtime_error);
}

}  // namespace ag::test
