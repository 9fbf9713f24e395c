// Autograd semantics as in PyTorch: accumulation, no-grad, detach, release
// of the graph after backward, and the version-counter check.
#include "tests/gradcheck.h"

namespace ag::test {

TEST(Autograd, ScalarBackwardAndChainRule) {
  Tensor x = from_vector(std::vector<double>{2.0}, {1}).set_requires_grad();
  Tensor y = sum(mul(square(x), x));  // x^3, dy/dx = 3x^2 = 12
  y.backward();
  EXPECT_TRUE(values_near(x.grad(), {12.0}));
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_EQ(y.grad_fn()->name, "sum");
}

TEST(Autograd, GradientsAccumulateUntilZeroed) {
  Tensor w = from_vector(std::vector<double>{1.0, 2.0}, {2}).set_requires_grad();
  sum(w * 3.0).backward();
  sum(w * 3.0).backward();
  EXPECT_TRUE(values_near(w.grad(), {6.0, 6.0}));
  w.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  sum(square(w)).backward();
  EXPECT_TRUE(values_near(w.grad(), {2.0, 4.0}));
}

TEST(Autograd, BackwardWithGivenGradient) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3}, {3}).set_requires_grad();
  Tensor y = x * 2.0;
  y.backward(from_vector(std::vector<double>{1, 0, -1}, {3}));
  EXPECT_TRUE(values_near(x.grad(), {2, 0, -2}));
  Tensor z = x * 2.0;
  EXPECT_THROW(z.backward(), std::runtime_error);  // not a scalar
  EXPECT_THROW(z.backward(ones({2}, DType::F64)), std::runtime_error);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = rand_leaf({3}, 1);
  {
    NoGradGuard guard;
    Tensor y = exp(x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(GradMode::enabled());
  EXPECT_TRUE(exp(x).requires_grad());
}

TEST(Autograd, OutputNeedsGradIffAnInputDoes) {
  Tensor a = rand_leaf({2}, 1);
  Tensor b = ones({2}, DType::F64);
  EXPECT_TRUE((a + b).requires_grad());
  EXPECT_FALSE((b + b).requires_grad());
  sum(a * b).backward();
  EXPECT_FALSE(b.grad().defined());
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = rand_leaf({3}, 2);
  Tensor d = exp(x).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  Tensor y = sum(mul(x, d));  // d is a constant: dy/dx = d
  y.backward();
  EXPECT_TRUE(values_near(x.grad(), d.to_vector<double>()));
}

TEST(Autograd, GraphIsReleasedAfterBackward) {
  Tensor x = rand_leaf({1000}, 3);
  Tensor y = exp(x);  // saves its output
  std::weak_ptr<Storage> saved = y.storage();
  Tensor loss = sum(y);
  y = Tensor();
  EXPECT_FALSE(saved.expired());  // kept alive by the graph only
  loss.backward();
  EXPECT_TRUE(saved.expired());  // released with the node
  try {
    loss.backward();
    FAIL() << "a second backward through a released graph";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("already released"), std::string::npos);
  }
}

TEST(Autograd, InPlaceChangeOfSavedTensorIsCaught) {
  Tensor x = rand_leaf({3}, 4);
  Tensor h = x * 1.0;
  Tensor loss;
  Tensor y = exp(h);  // exp saves its output y
  loss = sum(y);
  {
    NoGradGuard guard;
    y.detach().fill_(0.0);  // in-place write to the saved output's storage
  }
  try {
    loss.backward();
    FAIL() << "backward used a modified saved tensor";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("exp"), std::string::npos) << msg;
    EXPECT_NE(msg.find("modified in place"), std::string::npos) << msg;
  }
}

TEST(Autograd, InPlaceOnLeafRequiringGradNeedsNoGrad) {
  Tensor w = rand_leaf({2}, 5);
  EXPECT_THROW(w.fill_(1.0), std::runtime_error);
  NoGradGuard guard;
  w.fill_(1.0);
  EXPECT_TRUE(values_near(w, {1.0, 1.0}));
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  Tensor x = rand_leaf({4}, 6);
  EXPECT_TRUE(gradcheck(
      [](auto& v) {
        Tensor h = tanh(v[0]);
        return add(mul(h, sigmoid(h)), exp(h));  // h feeds three consumers
      },
      {x}));
}

TEST(Autograd, DeepChainRunsIteratively) {
  Tensor x = from_vector(std::vector<double>{0.5}, {1}).set_requires_grad();
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = y * 1.0;
  sum(y).backward();  // a recursive walk would overflow the stack here
  EXPECT_TRUE(values_near(x.grad(), {1.0}));
}

TEST(Autograd, MismatchedGradientsAreRejected) {
  Tensor x = from_vector(std::vector<float>{1, 2, 3}, {3}).set_requires_grad();
  EXPECT_THROW(exp(x).backward(ones({3}, DType::F64)), std::runtime_error);  // dtype
  EXPECT_THROW(x.set_grad(zeros({1})), std::runtime_error);                  // shape
  EXPECT_THROW(x.set_grad(zeros({3}, DType::F64)), std::runtime_error);      // dtype
  x.set_grad(ones({3}));
  sum(x * 2.0).backward();
  EXPECT_TRUE(values_near(x.grad(), {3, 3, 3}));
}

TEST(Autograd, CloneAndDtypeConversionKeepTheGraph) {
  Tensor x = rand_leaf({2, 3}, 7);
  EXPECT_TRUE(gradcheck([](auto& v) { return mul(v[0].clone(), v[0]); }, {x}));
  x.zero_grad();
  Tensor y = sum(x.to(DType::F32) * 3.0);  // float32 graph over a float64 leaf
  y.backward();
  ASSERT_EQ(x.grad().dtype(), DType::F64);
  EXPECT_TRUE(values_near(x.grad(), std::vector<double>(6, 3.0)));
}

// Negative controls of the gradient checks: functions whose backward is
// wrong on purpose must be rejected, or a check that passes says nothing.
// x + 0.01 x.detach() has the value 1.01 x but backward's derivative 1 (off
// by 1%); 2 x.detach() - x has the value x but backward's derivative -1. The
// same functions with an honest backward pass.
TEST(Gradcheck, RejectsABackwardOffByOnePercentOrOfTheWrongSign) {
  Tensor x = rand_leaf({6}, 3);
  const Fn honest = [](const std::vector<Tensor>& v) { return exp(v[0]) * 1.01; };
  const Fn scaled = [](const std::vector<Tensor>& v) {
    const Tensor y = exp(v[0]);
    return y + y.detach() * 0.01;
  };
  const Fn flipped = [](const std::vector<Tensor>& v) {
    const Tensor y = exp(v[0]);
    return y.detach() * 2.0 - y;
  };
  EXPECT_TRUE(gradcheck(honest, {x}));
  EXPECT_TRUE(gradcheck_directional(honest, {x}));
  for (const Fn& wrong : {scaled, flipped}) {
    const ::testing::AssertionResult full = gradcheck(wrong, {x});
    EXPECT_FALSE(full);
    EXPECT_NE(std::string(full.message()).find("central difference"), std::string::npos)
        << full.message();
    EXPECT_FALSE(gradcheck_directional(wrong, {x}));
  }
}

}  // namespace ag::test
