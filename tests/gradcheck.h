// The one gradient-check helper every op test uses. It compares what
// backward() computes against central differences, in float64:
//   gradcheck             the full Jacobian, element by element (small shapes);
//   gradcheck_directional v^T J u for random directions u, v (large shapes,
//                         e.g. a U-Net's N=4, C=32, 28x28 activations).
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "autograd/ops.h"

namespace ag::test {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;  // finite-difference step, per op as needed
  double atol = 1e-6;
  double rtol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
};

// inputs: contiguous float64 CPU leaves; those with requires_grad are
// perturbed and differentiated, the others held fixed. f may return any shape.
::testing::AssertionResult gradcheck(const Fn& f, const std::vector<Tensor>& inputs,
                                     GradcheckOptions opt = {});
::testing::AssertionResult gradcheck_directional(const Fn& f, const std::vector<Tensor>& inputs,
                                                 int directions = 3, GradcheckOptions opt = {});

// A float64 leaf of standard normals (seeded), requiring grad.
Tensor rand_leaf(const Shape& shape, uint64_t seed, double scale = 1.0);
// Asserts every element of `t` equals `expected` within tol.
::testing::AssertionResult values_near(const Tensor& t, const std::vector<double>& expected,
                                       double tol = 1e-6);

}  // namespace ag::test
