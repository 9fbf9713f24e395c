// Gradient checks in float64 for every nn layer and for a whole small U-Net,
// plus the module machinery (names, train/eval, dtype moves).
#include <cmath>

#include "nn/unet.h"
#include "tests/gradcheck.h"
#include "tests/nn_helpers.h"

namespace ag::test {

namespace {

// The module's parameters followed by `extra`, as gradcheck inputs.
std::vector<Tensor> with_params(const nn::Module& m, std::vector<Tensor> extra) {
  std::vector<Tensor> all = m.parameters();
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

Tensor timesteps(std::vector<int32_t> t) {
  const int64_t n = static_cast<int64_t>(t.size());
  return from_vector(t, {n});
}

}  // namespace

TEST(Layers, LinearConvNormGradcheck) {
  Generator gen(1);
  nn::Linear lin(3, 2, gen);
  randomize_f64(lin, 2);
  Tensor x = rand_leaf({4, 3}, 3);
  EXPECT_TRUE(gradcheck([&](auto& v) { return lin.forward(v.back()); }, with_params(lin, {x})));
  nn::Conv2d conv(2, 3, 3, 2, 1, gen);
  randomize_f64(conv, 4);
  Tensor img = rand_leaf({2, 2, 5, 5}, 5);
  EXPECT_TRUE(gradcheck([&](auto& v) { return conv.forward(v.back()); }, with_params(conv, {img})));
  nn::GroupNorm norm(2, 4);
  randomize_f64(norm, 6);
  Tensor h = rand_leaf({2, 4, 3, 3}, 7);
  EXPECT_TRUE(gradcheck([&](auto& v) { return norm.forward(v.back()); }, with_params(norm, {h})));
}

TEST(Layers, LinearMatchesDefinition) {
  Generator gen(1);
  nn::Linear lin(2, 1, gen);
  NoGradGuard no_grad;
  lin.weight.copy_(from_vector(std::vector<float>{2, -1}, {1, 2}));
  lin.bias.copy_(from_vector(std::vector<float>{0.5}, {1}));
  EXPECT_TRUE(values_near(lin.forward(from_vector(std::vector<float>{3, 4}, {1, 2})), {2.5}));
}

// SiLU(x) = x sigmoid(x): 0 at 0, 1 / (1 + e^-1) at 1, -2 / (1 + e^2) at -2.
TEST(Layers, SiLUMatchesDefinition) {
  const Tensor y = nn::SiLU().forward(from_vector(std::vector<double>{0, 1, -2}, {3}));
  EXPECT_TRUE(values_near(y, {0.0, 1 / (1 + std::exp(-1.0)), -2 / (1 + std::exp(2.0))}, 1e-15));
  EXPECT_TRUE(nn::SiLU().named_parameters().empty());
}

TEST(Layers, DropoutFollowsTrainMode) {
  Generator gen(3);
  nn::Dropout drop(0.5, &gen);
  Tensor x = ones({1000});
  drop.eval();
  EXPECT_TRUE(drop.forward(x).same(x));
  drop.train();
  double zeros_seen = 0;
  for (float v : drop.forward(x).to_vector<float>()) zeros_seen += v == 0.0f;
  EXPECT_NEAR(zeros_seen / 1000, 0.5, 0.06);
}

TEST(Layers, ResamplersGradcheck) {
  Generator gen(2);
  nn::Downsample down(2, gen);
  randomize_f64(down, 8);
  Tensor x = rand_leaf({1, 2, 5, 5}, 9);
  EXPECT_EQ(down.forward(x).shape(), (Shape{1, 2, 3, 3}));
  EXPECT_TRUE(gradcheck([&](auto& v) { return down.forward(v.back()); }, with_params(down, {x})));
  nn::Upsample up(2, gen);
  randomize_f64(up, 10);
  Tensor y = rand_leaf({1, 2, 2, 2}, 11);
  EXPECT_EQ(up.forward(y).shape(), (Shape{1, 2, 4, 4}));
  EXPECT_TRUE(gradcheck([&](auto& v) { return up.forward(v.back()); }, with_params(up, {y})));
}

TEST(Layers, AttentionBlockGradcheck) {
  Generator gen(3);
  nn::AttentionBlock attn(4, 2, gen);
  randomize_f64(attn, 12);
  Tensor x = rand_leaf({2, 4, 2, 3}, 13);
  EXPECT_TRUE(gradcheck([&](auto& v) { return attn.forward(v.back()); }, with_params(attn, {x})));
}

TEST(Layers, ResBlockGradcheck) {
  Generator gen(4), drop_gen(5);
  nn::ResBlock block(2, 4, 6, 2, 0.0, gen, &drop_gen);  // channel change: 1x1 shortcut
  randomize_f64(block, 14);
  Tensor x = rand_leaf({2, 2, 3, 3}, 15), temb = rand_leaf({2, 6}, 16);
  EXPECT_TRUE(gradcheck([&](auto& v) { return block.forward(v[v.size() - 2], v.back()); },
                        with_params(block, {x, temb})));
}

TEST(Layers, ResBlockWithDropoutGradcheck) {
  Generator gen(4), drop_gen(5);
  nn::ResBlock block(4, 4, 6, 2, 0.3, gen, &drop_gen);  // identity shortcut
  randomize_f64(block, 17);
  Tensor x = rand_leaf({2, 4, 3, 3}, 18), temb = rand_leaf({2, 6}, 19);
  EXPECT_TRUE(gradcheck(
      [&](auto& v) {
        drop_gen.set_state(5, 0);  // the same mask at every evaluation
        return block.forward(v[v.size() - 2], v.back());
      },
      with_params(block, {x, temb})));
}

TEST(Layers, TimestepEmbeddingValues) {
  // dim 4: frequencies 1 and 10000^-1; [sin(t), sin(t/1e4), cos(t), cos(t/1e4)]
  Tensor e = nn::timestep_embedding(timesteps({0, 2}), 4, DType::F64, Device::CPU);
  EXPECT_TRUE(values_near(
      e, {0, 0, 1, 1, std::sin(2.0), std::sin(2e-4), std::cos(2.0), std::cos(2e-4)}, 1e-12));
  // dim 2 or 3 has one frequency, 10000^(-0 / 0): NaN, once returned as is.
  for (int64_t dim : {2, 3})
    EXPECT_THROW(nn::timestep_embedding(timesteps({0, 2}), dim, DType::F64, Device::CPU),
                 std::runtime_error);
}

// The whole U-Net's backward against central differences: one random
// direction per parameter tensor (so that an error confined to one small
// tensor, a bias of 8, cannot hide behind the large gradients of the others,
// as it could in one direction over all of them), and the input's Jacobian
// element by element.
class UNetGrad : public ::testing::Test {
 protected:
  UNetGrad() : model(small_test_unet(), 1) { randomize_f64(model, 20); }
  Tensor forward() const { return model.forward(x, t); }

  nn::UNet model;
  Tensor x = rand_leaf({1, 1, 8, 8}, 21), t = timesteps({17});
};

TEST_F(UNetGrad, WholeSmallUNetGradcheck) {
  const Fn f = [this](const std::vector<Tensor>&) { return forward(); };
  const nn::NamedTensors named = model.named_parameters();
  EXPECT_GT(named.size(), 50u);
  for (const auto& [name, p] : named) EXPECT_TRUE(gradcheck_directional(f, {p}, 1)) << name;
  EXPECT_TRUE(gradcheck(f, {x}));
}

// Negative control: a dependence on one parameter tensor that backward does
// not see (a detached term) fails that tensor's check and no other's.
TEST_F(UNetGrad, AMissingGradientOfOneTensorFailsOnlyItsCheck) {
  const nn::NamedTensors named = model.named_parameters();
  ASSERT_EQ(named.back().first, "conv_out.bias");  // one element
  const Tensor bias = named.back().second;
  const Fn wrong = [&](const std::vector<Tensor>&) { return forward() + bias.detach() * 3.0; };
  for (const auto& [name, p] : named)
    EXPECT_EQ(static_cast<bool>(gradcheck_directional(wrong, {p}, 1)), name != "conv_out.bias")
        << name;
}

}  // namespace ag::test
