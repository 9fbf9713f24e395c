#include "tests/gradcheck.h"

#include <algorithm>
#include <cmath>

namespace ag::test {

namespace {

double* host_data(const Tensor& t) { return static_cast<double*>(t.data_ptr()); }

void check_input(const Tensor& t) {
  if (t.dtype() != DType::F64 || !t.is_contiguous() || t.device() != Device::CPU)
    throw std::runtime_error("gradcheck inputs must be contiguous float64 CPU tensors");
}

std::vector<double> eval(const Fn& f, const std::vector<Tensor>& inputs) {
  NoGradGuard no_grad;
  return f(inputs).to_vector<double>();
}

bool close(double analytic, double numeric, const GradcheckOptions& opt) {
  return std::abs(analytic - numeric) <= opt.atol + opt.rtol * std::abs(numeric);
}

}  // namespace

Tensor rand_leaf(const Shape& shape, uint64_t seed, double scale) {
  Generator gen(seed);
  Tensor t = randn(shape, &gen, DType::F64);
  if (scale != 1.0) t = t * scale;
  return t.set_requires_grad(true);
}

::testing::AssertionResult gradcheck(const Fn& f, const std::vector<Tensor>& inputs,
                                     GradcheckOptions opt) {
  for (const Tensor& t : inputs) check_input(t);
  const int64_t out_n = static_cast<int64_t>(eval(f, inputs).size());

  // Analytic Jacobian, one row per output element: backward of f . e_j.
  std::vector<std::vector<std::vector<double>>> rows(inputs.size());
  for (int64_t j = 0; j < out_n; ++j) {
    for (const Tensor& t : inputs) t.zero_grad();
    Tensor y = f(inputs);
    if (!y.requires_grad()) return ::testing::AssertionFailure() << "output does not require grad";
    std::vector<double> onehot(static_cast<size_t>(out_n), 0.0);
    onehot[j] = 1.0;
    y.backward(from_vector(onehot, y.shape()));
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].requires_grad()) continue;
      Tensor g = inputs[i].grad();
      rows[i].push_back(g.defined() ? g.to_vector<double>()
                                    : std::vector<double>(inputs[i].numel(), 0.0));
    }
  }

  // Numeric Jacobian, one column per input element, compared as it comes.
  double max_err = 0.0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].requires_grad()) continue;
    double* x = host_data(inputs[i]);
    for (int64_t k = 0; k < inputs[i].numel(); ++k) {
      const double saved = x[k];
      x[k] = saved + opt.eps;
      std::vector<double> plus = eval(f, inputs);
      x[k] = saved - opt.eps;
      std::vector<double> minus = eval(f, inputs);
      x[k] = saved;
      for (int64_t j = 0; j < out_n; ++j) {
        double numeric = (plus[j] - minus[j]) / (2 * opt.eps);
        double analytic = rows[i][j][k];
        max_err = std::max(max_err, std::abs(analytic - numeric));
        if (!close(analytic, numeric, opt))
          return ::testing::AssertionFailure()
                 << "d out[" << j << "] / d input" << i << "[" << k << "]: backward " << analytic
                 << ", central difference " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess() << "max abs error " << max_err;
}

::testing::AssertionResult gradcheck_directional(const Fn& f, const std::vector<Tensor>& inputs,
                                                 int directions, GradcheckOptions opt) {
  for (const Tensor& t : inputs) check_input(t);
  for (int d = 0; d < directions; ++d) {
    Generator gen(1000 + d);
    std::vector<Tensor> u;
    for (const Tensor& t : inputs) u.push_back(randn(t.shape(), &gen, DType::F64));
    Tensor v = randn(f(inputs).detach().shape(), &gen, DType::F64);

    for (const Tensor& t : inputs) t.zero_grad();
    sum(mul(f(inputs), v)).backward();
    double analytic = 0.0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].requires_grad()) continue;
      Tensor g = inputs[i].grad();
      if (g.defined()) analytic += sum(mul(g, u[i])).item();
    }

    auto shifted = [&](double sign) {
      NoGradGuard no_grad;
      std::vector<Tensor> saved;
      for (size_t i = 0; i < inputs.size(); ++i) {
        saved.push_back(inputs[i].clone());
        if (inputs[i].requires_grad()) inputs[i].copy_(add(inputs[i], u[i] * (sign * opt.eps)));
      }
      double value = sum(mul(f(inputs), v)).item();
      for (size_t i = 0; i < inputs.size(); ++i) inputs[i].copy_(saved[i]);
      return value;
    };
    double numeric = (shifted(1.0) - shifted(-1.0)) / (2 * opt.eps);
    if (!close(analytic, numeric, opt))
      return ::testing::AssertionFailure() << "direction " << d << ": backward " << analytic
                                           << ", central difference " << numeric;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult values_near(const Tensor& t, const std::vector<double>& expected,
                                       double tol) {
  std::vector<double> got = t.to_vector<double>();
  if (got.size() != expected.size())
    return ::testing::AssertionFailure() << got.size() << " values, expected " << expected.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(got[i] - expected[i]) <= tol))
      return ::testing::AssertionFailure()
             << "element " << i << ": got " << got[i] << ", expected " << expected[i];
  return ::testing::AssertionSuccess();
}

}  // namespace ag::test
