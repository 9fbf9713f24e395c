// Fused in-place updates for optimizers and weight averages: each is one pass
// of one backend kernel over whole tensors, runs outside the tape (no
// gradient flows through an optimizer step), and bumps the version counter of
// every tensor it writes, so a backward that saved one of them notices.
// nn's Adam, EMA and clip_grad_norm are written with these.
#pragma once
#include "autograd/tensor.h"

namespace ag::fused {

// One Adam step in place (AdamStepArgs, backend.h): m and v are updated from
// grad, then param from m and v. All four contiguous, of one shape and
// device; param, m and v of one floating dtype.
void adam_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
               const AdamStepArgs& args);
// ema = decay * ema + (1 - decay) * param, in place.
void ema_update(const Tensor& ema, const Tensor& param, double decay);
// x *= s, in place.
void scale_(const Tensor& x, double s);
// acc (one float64 element, on x's device) += sum of x^2, accumulated in
// double: the squared L2 norm of many tensors, summed without a host read
// per tensor.
void add_sum_squares(const Tensor& x, const Tensor& acc);

}  // namespace ag::fused
