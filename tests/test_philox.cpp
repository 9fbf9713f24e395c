// The generator against the Random123 known-answer vectors, and the
// properties the rest of the engine relies on: (seed, offset) defines the
// stream, and uniform/normal draws have the right moments.
#include <cmath>

#include "autograd/philox.h"
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Philox, KnownAnswerVectors) {
  philox::Block zero = philox::philox4x32_10({{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(zero.v[0], 0x6627e8d5u);
  EXPECT_EQ(zero.v[1], 0xe169c58du);
  EXPECT_EQ(zero.v[2], 0xbc57ac4cu);
  EXPECT_EQ(zero.v[3], 0x9b00dbd8u);
  philox::Block ones = philox::philox4x32_10({{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}},
                                             0xffffffffu, 0xffffffffu);
  EXPECT_EQ(ones.v[0], 0x408f276du);
  EXPECT_EQ(ones.v[1], 0x41c83b0eu);
  EXPECT_EQ(ones.v[2], 0xa20bc7c6u);
  EXPECT_EQ(ones.v[3], 0x6d5451fdu);
  philox::Block pi = philox::philox4x32_10({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                                           0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(pi.v[0], 0xd16cfe09u);
  EXPECT_EQ(pi.v[1], 0x94fdccebu);
  EXPECT_EQ(pi.v[2], 0x5001e420u);
  EXPECT_EQ(pi.v[3], 0x24126ea1u);
}

TEST(Philox, StreamIsDefinedBySeedAndOffset) {
  Generator a(42), b(42);
  std::vector<float> first = randn({10}, &a).to_vector<float>();
  std::vector<float> second = randn({7}, &a).to_vector<float>();
  EXPECT_EQ(a.offset(), 3u + 2u);  // 10 numbers use 3 blocks, 7 use 2
  EXPECT_EQ(randn({10}, &b).to_vector<float>(), first);
  Generator c(42);
  c.set_state(42, 3);
  EXPECT_EQ(randn({7}, &c).to_vector<float>(), second);
  Generator other(43);
  EXPECT_NE(randn({10}, &other).to_vector<float>(), first);
}

TEST(Philox, ElementDependsOnlyOnItsIndex) {
  Generator a(7), b(7);
  std::vector<double> big = rand({1000}, &a, DType::F64).to_vector<double>();
  std::vector<double> small = rand({5}, &b, DType::F64).to_vector<double>();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(big[i], small[i]);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_GT(big[i], 0.0);
    EXPECT_LT(big[i], 1.0);
  }
}

TEST(Philox, NormalAndUniformMoments) {
  Generator gen(123);
  const int n = 1 << 20;
  std::vector<double> z = randn({n}, &gen, DType::F64).to_vector<double>();
  std::vector<double> u = rand({n}, &gen, DType::F64).to_vector<double>();
  double mz = 0, vz = 0, mu = 0, vu = 0;
  for (int i = 0; i < n; ++i) {
    mz += z[i];
    vz += z[i] * z[i];
    mu += u[i];
    vu += (u[i] - 0.5) * (u[i] - 0.5);
  }
  mz /= n, vz /= n, mu /= n, vu /= n;
  // Standard errors at n = 2^20 are about 0.001; allow five of them.
  EXPECT_NEAR(mz, 0.0, 0.005);
  EXPECT_NEAR(vz, 1.0, 0.007);
  EXPECT_NEAR(mu, 0.5, 0.002);
  EXPECT_NEAR(vu, 1.0 / 12.0, 0.001);
}

}  // namespace ag::test
