// The worked example of docs/autograd.md, section 1 ("Our code, with
// numbers"): loss = sum(tanh(x * w + b)) in float64, its forward values, the
// gradients backward() stores in w and b, and a second forward and backward
// without zero_grad(), which adds to them. tests/test_examples.cpp checks the
// printed numbers against the doc's.
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
using namespace ag;

namespace {

std::string str(const Tensor& t) {
  if (t.dim() == 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6f", t.item());
    return buf;
  }
  std::string s = "[";
  for (double v : t.to_vector<double>()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.6f", s.size() > 1 ? ", " : "", v);
    s += buf;
  }
  return s + "]";
}

void print(const char* name, const Tensor& t) { std::printf("%-8s = %s\n", name, str(t).c_str()); }

}  // namespace

int main() {
  Tensor x = from_vector(std::vector<double>{1.0, 2.0}, {2});  // data: no grad
  Tensor w = from_vector(std::vector<double>{0.5, -1.0}, {2}).set_requires_grad();
  Tensor b = from_vector(std::vector<double>{0.25}, {}).set_requires_grad();  // shape []

  // The forward pass, one op at a time, as in the doc's table.
  Tensor z = x * w;      // mul
  Tensor u = z + b;      // add, b broadcast from [] to [2]
  Tensor t = tanh(u);    // tanh
  Tensor loss = sum(t);  // sum
  std::printf("forward:\n");
  print("z", z), print("u", u), print("t", t), print("loss", loss);

  loss.backward();
  std::printf("backward:\n");
  print("w.grad()", w.grad()), print("b.grad()", b.grad());

  // The whole example again, without zero_grad(): the gradients add up.
  Tensor loss2 = sum(tanh(x * w + b));
  loss2.backward();
  std::printf("second forward and backward, without zero_grad():\n");
  print("loss", loss2), print("w.grad()", w.grad()), print("b.grad()", b.grad());
  return 0;
}
