// Optimizers, gradient clipping, the warm-up schedule and the EMA. Expected
// values come from the textbook formulas, recomputed here in plain double.
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "nn/ema.h"
#include "nn/optim.h"
#include "tests/gradcheck.h"

namespace {

using ag::DType;
using ag::Tensor;
using ag::test::values_near;

const std::vector<double> kP0 = {0.5, -1.25, 2.0};

// The gradient fed at step t (1-based) in the hand-computed sequences.
std::vector<double> grad_at(int t) { return {0.1 * t, -0.3, 1.5 / t}; }

Tensor leaf(const std::vector<double>& v, DType dtype = DType::F64) {
  Tensor t = ag::from_vector(v, {static_cast<int64_t>(v.size())}).to(dtype);
  t.set_requires_grad();
  return t;
}

void set_grad(const Tensor& p, const std::vector<double>& dp) {
  p.set_grad(ag::from_vector(dp, p.shape()).to(p.dtype()));
}

// Textbook Adam (Kingma & Ba, Algorithm 1) with PyTorch's two weight decays,
// element by element: param, m, v after `steps` updates with grad_at(t).
struct Reference {
  std::vector<double> p, m, v;
};

Reference textbook_adam(const nn::AdamConfig& c, double lr, int steps) {
  Reference r{kP0, std::vector<double>(kP0.size(), 0.0), std::vector<double>(kP0.size(), 0.0)};
  for (int t = 1; t <= steps; ++t) {
    const std::vector<double> dp = grad_at(t);
    for (size_t i = 0; i < r.p.size(); ++i) {
      double g = dp[i];
      if (c.decoupled)
        r.p[i] -= lr * c.weight_decay * r.p[i];
      else
        g += c.weight_decay * r.p[i];
      r.m[i] = c.beta1 * r.m[i] + (1 - c.beta1) * g;
      r.v[i] = c.beta2 * r.v[i] + (1 - c.beta2) * g * g;
      const double m_hat = r.m[i] / (1 - std::pow(c.beta1, t));
      const double v_hat = r.v[i] / (1 - std::pow(c.beta2, t));
      r.p[i] -= lr * m_hat / (std::sqrt(v_hat) + c.eps);
    }
  }
  return r;
}

// Runs `steps` updates of opt on p with grad_at(t).
void run_steps(nn::Adam& opt, const Tensor& p, double lr, int steps) {
  for (int t = 1; t <= steps; ++t) {
    set_grad(p, grad_at(t));
    opt.step(lr);
  }
}

void expect_matches_textbook(const nn::AdamConfig& c, bool adamw) {
  Tensor p = leaf(kP0);
  std::unique_ptr<nn::Adam> opt = adamw ? std::make_unique<nn::AdamW>(std::vector<Tensor>{p}, c)
                                        : std::make_unique<nn::Adam>(std::vector<Tensor>{p}, c);
  nn::AdamConfig expected = c;
  expected.decoupled = c.decoupled || adamw;
  for (int steps = 1; steps <= 4; ++steps) {
    set_grad(p, grad_at(steps));
    opt->step(1e-2);
    const Reference r = textbook_adam(expected, 1e-2, steps);
    EXPECT_TRUE(values_near(p, r.p, 1e-14)) << "step " << steps;
    EXPECT_TRUE(values_near(opt->exp_avg()[0], r.m, 1e-15)) << "step " << steps;
    EXPECT_TRUE(values_near(opt->exp_avg_sq()[0], r.v, 1e-15)) << "step " << steps;
  }
  EXPECT_EQ(opt->step_count(), 4);
}

TEST(Adam, MatchesTextbookUpdatesInDouble) { expect_matches_textbook({}, false); }

TEST(Adam, L2WeightDecayAddsToTheGradient) {
  nn::AdamConfig c;
  c.weight_decay = 0.1;
  expect_matches_textbook(c, false);
}

TEST(AdamW, DecoupledWeightDecayShrinksTheParameter) {
  nn::AdamConfig c;
  c.weight_decay = 0.1;
  expect_matches_textbook(c, true);
}

TEST(AdamW, ForcesDecoupledDecay) {
  Tensor p = leaf(kP0);
  nn::AdamW opt({p});
  EXPECT_TRUE(opt.config().decoupled);
  EXPECT_DOUBLE_EQ(opt.config().lr, 2e-4);
  EXPECT_DOUBLE_EQ(opt.config().beta2, 0.999);
}

// Reference values from PyTorch 1.13.0 (Debian python3-torch), produced by:
//   p = torch.tensor([0.5, -1.25, 2.0], dtype=dt, requires_grad=True)
//   opt = cls([p], lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=wd, foreach=False)
//   for t in 1, 2, 3: p.grad = torch.tensor([0.1 * t, -0.3, 1.5 / t], dtype=dt); opt.step()
//   print([repr(float(x)) for x in p.detach()])
// for cls, wd in (Adam, 0), (Adam, 0.1), (AdamW, 0.1) and dt float64, float32.
struct TorchCase {
  bool adamw;
  double weight_decay;
  DType dtype;
  std::vector<double> expected;
};

const std::vector<TorchCase> kTorchCases = {
    {false, 0.0, DType::F64, {0.47076816955448425, -1.220000001, 1.9719466185602235}},
    {false, 0.0, DType::F32, {0.47076818346977234, -1.2200000286102295, 1.9719465970993042}},
    {false, 0.1, DType::F64, {0.4703945842442005, -1.220002277986691, 1.9714674587922267}},
    {false, 0.1, DType::F32, {0.4703945815563202, -1.220002293586731, 1.97146737575531}},
    {true, 0.1, DType::F64, {0.4692993108721331, -1.2162837397490005, 1.9659819283563997}},
    {true, 0.1, DType::F32, {0.4692993462085724, -1.2162837982177734, 1.9659820795059204}},
};

TEST(Adam, MatchesPyTorchInFloat64AndFloat32) {
  for (const TorchCase& tc : kTorchCases) {
    Tensor p = leaf(kP0, tc.dtype);
    nn::AdamConfig c;
    c.weight_decay = tc.weight_decay;
    c.decoupled = tc.adamw;
    nn::Adam opt({p}, c);
    run_steps(opt, p, 1e-2, 3);
    EXPECT_EQ(p.dtype(), tc.dtype);
    const double tol = tc.dtype == DType::F64 ? 1e-15 : 2e-7;
    EXPECT_TRUE(values_near(p, tc.expected, tol))
        << (tc.adamw ? "AdamW" : "Adam") << " wd " << tc.weight_decay << " "
        << ag::dtype_name(tc.dtype);
  }
}

TEST(Adam, Float32AgreesWithDoubleTextbook) {
  Tensor p = leaf(kP0, DType::F32);
  nn::AdamConfig c;
  c.weight_decay = 0.05;
  nn::Adam opt({p}, c);
  run_steps(opt, p, 1e-2, 5);
  EXPECT_EQ(opt.exp_avg()[0].dtype(), DType::F32);
  EXPECT_TRUE(values_near(p, textbook_adam(c, 1e-2, 5).p, 1e-6));
}

// Large enough to take the OpenMP path of the kernels.
TEST(Adam, MinimizesAQuadratic) {
  const int64_t n = 40000;
  Tensor target = ag::randn({n}, nullptr, DType::F32);
  Tensor x = ag::zeros({n}, DType::F32).set_requires_grad();
  nn::Adam opt({x});
  auto loss_fn = [&] { return ag::mean(ag::square(x - target)); };
  const double initial = loss_fn().item();
  for (int t = 0; t < 300; ++t) {
    opt.zero_grad();
    loss_fn().backward();
    opt.step(5e-2);
  }
  const double final_loss = loss_fn().item();
  EXPECT_LT(final_loss, 1e-3 * initial) << "initial " << initial << ", final " << final_loss;
}

TEST(Adam, SkipsParametersWithoutGradient) {
  Tensor a = leaf(kP0), b = leaf(kP0);
  nn::Adam opt({a, b});
  set_grad(a, grad_at(1));
  const uint64_t version_b = b.version();
  opt.step(1e-2);
  EXPECT_TRUE(values_near(b, kP0, 0.0));
  EXPECT_EQ(b.version(), version_b);
  EXPECT_TRUE(values_near(a, textbook_adam({}, 1e-2, 1).p, 1e-14));
  EXPECT_TRUE(values_near(opt.exp_avg_sq()[1], {0, 0, 0}, 0.0));
}

TEST(Adam, ZeroGradDropsGradients) {
  Tensor p = leaf(kP0);
  nn::Adam opt({p});
  set_grad(p, grad_at(1));
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
}

TEST(Adam, StepBumpsVersionsSoSavedTensorsAreCaught) {
  Tensor p = leaf(kP0);
  nn::Adam opt({p});
  Tensor y = ag::square(p);  // saves p for backward
  set_grad(p, grad_at(1));
  const uint64_t version = p.version();
  opt.step(1e-2);
  EXPECT_GT(p.version(), version);
  EXPECT_THROW(ag::sum(y).backward(), std::runtime_error);
}

TEST(Adam, StateRoundTripContinuesIdentically) {
  Tensor a = leaf(kP0), b = leaf({1.0, 2.0});
  nn::Adam opt({a, b});
  const nn::NamedTensors named = {{"w", a}, {"b", b}};
  for (int t = 1; t <= 3; ++t) {
    set_grad(a, grad_at(t));
    set_grad(b, {0.5 * t, -0.25});
    opt.step(1e-2);
  }
  const nn::NamedTensors state = opt.state(named);
  ASSERT_EQ(state.size(), 4u);
  EXPECT_EQ(state[0].first, "m.w");
  EXPECT_EQ(state[1].first, "m.b");
  EXPECT_EQ(state[2].first, "v.w");
  EXPECT_EQ(state[3].first, "v.b");

  Tensor a2 = leaf(a.to_vector<double>()), b2 = leaf(b.to_vector<double>());
  nn::Adam resumed({a2, b2});
  resumed.load_state({{"w", a2}, {"b", b2}}, state);
  resumed.set_step_count(opt.step_count());
  for (const Tensor& p : {a, a2}) set_grad(p, grad_at(4));
  for (const Tensor& p : {b, b2}) set_grad(p, {0.1, 0.2});
  opt.step(1e-2);
  resumed.step(1e-2);
  EXPECT_TRUE(values_near(a2, a.to_vector<double>(), 0.0));
  EXPECT_TRUE(values_near(b2, b.to_vector<double>(), 0.0));
  EXPECT_TRUE(values_near(state[0].second, textbook_adam({}, 1e-2, 3).m, 1e-15))
      << "state() must be a snapshot, unaffected by later steps";
}

TEST(Adam, StateRejectsForeignParameters) {
  Tensor p = leaf(kP0);
  nn::Adam opt({p});
  EXPECT_THROW(opt.state({{"x", leaf(kP0)}}), std::runtime_error);
  EXPECT_THROW(opt.load_state({{"p", p}}, {{"m.p", ag::zeros({3}, DType::F64)}}),
               std::runtime_error);
}

// sqrt(3^2 + 4^2 + 12^2) = 13.
std::vector<Tensor> grads_with_norm_13(DType dtype) {
  Tensor a = leaf({3.0, 4.0}, dtype), b = leaf({12.0}, dtype), c = leaf({7.0}, dtype);
  set_grad(a, {3.0, 4.0});
  set_grad(b, {12.0});
  return {a, b, c};  // c has no gradient
}

TEST(ClipGradNorm, ReturnsTheGlobalNormAndRescalesToMaxNorm) {
  for (DType dtype : {DType::F64, DType::F32}) {
    std::vector<Tensor> params = grads_with_norm_13(dtype);
    const uint64_t version = params[0].grad().version();
    EXPECT_NEAR(nn::clip_grad_norm(params, 1.0), 13.0, 1e-12);
    const double coef = 1.0 / (13.0 + 1e-6);  // max_norm / (norm + 1e-6)
    const double tol = dtype == DType::F64 ? 1e-15 : 1e-7;
    EXPECT_TRUE(values_near(params[0].grad(), {3 * coef, 4 * coef}, tol));
    EXPECT_TRUE(values_near(params[1].grad(), {12 * coef}, tol));
    EXPECT_FALSE(params[2].grad().defined());
    EXPECT_GT(params[0].grad().version(), version);
    EXPECT_NEAR(nn::clip_grad_norm(params, 1.0), 1.0, 1e-6);
  }
}

TEST(ClipGradNorm, LeavesSmallGradientsAlone) {
  std::vector<Tensor> params = grads_with_norm_13(DType::F64);
  EXPECT_DOUBLE_EQ(nn::clip_grad_norm(params, 20.0), 13.0);
  EXPECT_TRUE(values_near(params[0].grad(), {3.0, 4.0}, 0.0));
  EXPECT_TRUE(values_near(params[1].grad(), {12.0}, 0.0));
}

TEST(ClipGradNorm, SumsLargeGradientsInDouble) {
  const int64_t n = 100000;  // the parallel reduction
  Tensor p = ag::zeros({n}, DType::F32).set_requires_grad();
  p.set_grad(ag::full({n}, 0.5, DType::F32));
  EXPECT_NEAR(nn::clip_grad_norm({p}, 1e9), 0.5 * std::sqrt(static_cast<double>(n)), 1e-9);
}

// grad_norm is clip_grad_norm's norm without the clipping; a norm that is
// not finite is returned with the gradients left as they were, for the
// caller to skip the step (apps/common/training).
TEST(ClipGradNorm, GradNormAndNonFiniteNorms) {
  std::vector<Tensor> params = grads_with_norm_13(DType::F64);
  EXPECT_DOUBLE_EQ(nn::grad_norm(params), 13.0);
  EXPECT_TRUE(values_near(params[0].grad(), {3.0, 4.0}, 0.0));
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    set_grad(params[1], {bad});
    EXPECT_FALSE(std::isfinite(nn::clip_grad_norm(params, 1.0)));
    EXPECT_TRUE(values_near(params[0].grad(), {3.0, 4.0}, 0.0));  // not scaled by 0 or NaN
    EXPECT_FALSE(std::isfinite(nn::grad_norm(params)));
  }
}

TEST(ClipGradNorm, NoGradientsGiveZero) { EXPECT_EQ(nn::clip_grad_norm({leaf(kP0)}, 1.0), 0.0); }

TEST(WarmupLr, RampsLinearlyFromTheFirstUpdate) {
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 1, 5000), 2e-4 / 5000);
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 2500, 5000), 1e-4);
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 5000, 5000), 2e-4);
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 123456, 5000), 2e-4);
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 0, 5000), 0.0);
}

TEST(WarmupLr, NoWarmupIsTheBaseRate) {
  EXPECT_DOUBLE_EQ(nn::warmup_lr(2e-4, 1, 0), 2e-4);
  EXPECT_THROW(nn::warmup_lr(2e-4, -1, 10), std::runtime_error);
}

// Hand-computed EMA of kP0 followed by params p_k = kP0 * (k + 2).
std::vector<double> ema_reference(const std::vector<double>& decays) {
  std::vector<double> s = kP0;
  for (size_t k = 0; k < decays.size(); ++k)
    for (size_t i = 0; i < s.size(); ++i)
      s[i] = decays[k] * s[i] + (1 - decays[k]) * kP0[i] * (k + 2.0);
  return s;
}

void run_ema(nn::EMA& ema, const Tensor& p, int updates) {
  for (int k = 0; k < updates; ++k) {
    ag::NoGradGuard no_grad;
    p.copy_(ag::from_vector(kP0, {3}).to(p.dtype()) * (k + 2.0));
    ema.update({{"w", p}});
  }
}

TEST(Ema, WithoutWarmupUsesTheFixedDecay) {
  Tensor p = leaf(kP0);
  nn::EMA ema({{"w", p}}, 0.9, false);
  run_ema(ema, p, 3);
  EXPECT_EQ(ema.num_updates(), 3);
  EXPECT_TRUE(values_near(ema.shadow()[0].second, ema_reference({0.9, 0.9, 0.9}), 1e-14));
}

TEST(Ema, WarmupRampsTheDecay) {
  Tensor p = leaf(kP0);
  nn::EMA ema({{"w", p}}, 0.9999);
  EXPECT_DOUBLE_EQ(ema.current_decay(), 0.1);  // (1 + 0) / (10 + 0)
  run_ema(ema, p, 3);
  EXPECT_TRUE(
      values_near(ema.shadow()[0].second, ema_reference({1 / 10.0, 2 / 11.0, 3 / 12.0}), 1e-14));
  ema.set_num_updates(1000000);
  EXPECT_DOUBLE_EQ(ema.current_decay(), 0.9999);
}

TEST(Ema, Float32Path) {
  Tensor p = leaf(kP0, DType::F32);
  nn::EMA ema({{"w", p}}, 0.5, false);
  run_ema(ema, p, 2);
  EXPECT_EQ(ema.shadow()[0].second.dtype(), DType::F32);
  EXPECT_TRUE(values_near(ema.shadow()[0].second, ema_reference({0.5, 0.5}), 1e-6));
}

TEST(Ema, ShadowIsACopyAndCopyToLoadsIt) {
  Tensor p = leaf(kP0);
  nn::EMA ema({{"w", p}}, 0.9, false);
  run_ema(ema, p, 1);
  const nn::NamedTensors snapshot = ema.shadow();
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot[0].first, "w");
  EXPECT_FALSE(snapshot[0].second.requires_grad());
  run_ema(ema, p, 1);
  const std::vector<double> expected = ema_reference({0.9});
  EXPECT_TRUE(values_near(snapshot[0].second, expected, 1e-14));

  nn::EMA restored({{"w", p}}, 0.9, false);
  restored.load_shadow(snapshot);
  restored.copy_to({{"w", p}});
  EXPECT_TRUE(values_near(p, expected, 1e-14));
}

TEST(Ema, RejectsMismatchedParameters) {
  Tensor p = leaf(kP0);
  nn::EMA ema({{"w", p}}, 0.9);
  EXPECT_THROW(ema.update({{"other", p}}), std::runtime_error);
  EXPECT_THROW(ema.update({{"w", leaf({1.0})}}), std::runtime_error);
  EXPECT_THROW(ema.update({}), std::runtime_error);
  EXPECT_THROW(nn::EMA({{"w", p}}, 1.5), std::runtime_error);
}

}  // namespace
