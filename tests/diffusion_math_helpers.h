// What the diffusion math tests share: float64 tensors from values, the
// official code's tanh approximation of the normal CDF, and the 256 data
// levels of Eq. 13.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "autograd/math_constants.h"
#include "diffusion/diffusion.h"
#include "diffusion/schedule.h"

namespace diffusion::test {

using ag::kPi;

inline Tensor steps(const std::vector<int32_t>& t) {  // timestep indices i = t - 1, shape (N)
  return ag::from_vector(t, {static_cast<int64_t>(t.size())});
}

inline Tensor f64(const std::vector<double>& v, const ag::Shape& shape) {
  return ag::from_vector(v, shape);
}

inline std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

// 0.5 (1 + tanh(sqrt(2 / pi) (u + 0.044715 u^3))), the official code's CDF.
inline double tanh_cdf(double u) {
  return 0.5 * (1 + std::tanh(std::sqrt(2 / kPi) * (u + 0.044715 * u * u * u)));
}

// Level k of the 256 on which Eq. 13 puts the data: k / 127.5 - 1.
inline double level(int k) { return k / 127.5 - 1; }

// The paper's schedule: beta linear from 1e-4 to 0.02 over T = 1000.
inline const Schedule& linear1000() {
  static const Schedule s = make_schedule(ScheduleKind::Linear, 1000);
  return s;
}

}  // namespace diffusion::test
