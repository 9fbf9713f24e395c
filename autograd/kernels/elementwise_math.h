// The scalar math of the elementwise kernels, defined once for both backends:
// each op's value, each unary op's derivative and where's select, with the op
// a template argument so every kernel instance is straight-line code. `Exp` is the
// backend's exponential: the CPU's vectorizable cpu::vexp, CUDA's exp.
#pragma once
#include <cmath>
#include <type_traits>

#include "autograd/backend.h"
#include "autograd/host_device.h"

namespace ag {

template <BinaryOp OP, class T>
AG_HOST_DEVICE inline T binary_value(T a, T b) {
  if constexpr (OP == BinaryOp::Add) return a + b;
  if constexpr (OP == BinaryOp::Sub) return a - b;
  if constexpr (OP == BinaryOp::Mul) return a * b;
  if constexpr (OP == BinaryOp::Div) return a / b;
  if constexpr (OP == BinaryOp::Greater) return a > b ? T(1) : T(0);
  if constexpr (OP == BinaryOp::Less) return a < b ? T(1) : T(0);
}

// where's select: a where cond is nonzero, else b. The branch not taken is
// never read into the result, so an inf or NaN there stays out of it.
template <class T>
AG_HOST_DEVICE inline T select_value(T cond, T a, T b) {
  return cond != T(0) ? a : b;
}

template <class Exp, class T>
AG_HOST_DEVICE inline T sigmoid_value(T v) {
  return T(1) / (T(1) + Exp{}(-v));
}

template <UnaryOp OP, class Exp, class T>
AG_HOST_DEVICE inline T unary_value(T v, T alpha, T beta) {
  if constexpr (OP == UnaryOp::Neg) return -v;
  if constexpr (OP == UnaryOp::Exp) return Exp{}(v);
  if constexpr (OP == UnaryOp::Log) return std::log(v);
  if constexpr (OP == UnaryOp::Sqrt) return std::sqrt(v);
  if constexpr (OP == UnaryOp::Pow) return std::pow(v, alpha);
  if constexpr (OP == UnaryOp::Square) return v * v;
  if constexpr (OP == UnaryOp::Sigmoid) return sigmoid_value<Exp>(v);
  if constexpr (OP == UnaryOp::Silu) return v * sigmoid_value<Exp>(v);
  if constexpr (OP == UnaryOp::Tanh) return std::tanh(v);
  if constexpr (OP == UnaryOp::Affine) return alpha * v + beta;
  if constexpr (OP == UnaryOp::Clamp) {
    const T low = v < alpha ? alpha : v;
    return low > beta ? beta : low;
  }
}

// dy * f'(u), given the input u, the output v = f(u) and g = dy; each
// derivative reads whichever of u and v it is cheaper from.
template <UnaryOp OP, class Exp, class T>
AG_HOST_DEVICE inline T unary_grad(T u, T v, T g, T alpha) {
  if constexpr (OP == UnaryOp::Neg) return -g;
  if constexpr (OP == UnaryOp::Exp) return g * v;
  if constexpr (OP == UnaryOp::Log) return g / u;
  if constexpr (OP == UnaryOp::Sqrt) return g * T(0.5) / v;
  if constexpr (OP == UnaryOp::Pow)
    return alpha == T(0) ? T(0) : g * alpha * std::pow(u, alpha - T(1));
  if constexpr (OP == UnaryOp::Square) return T(2) * u * g;
  if constexpr (OP == UnaryOp::Sigmoid) return g * v * (T(1) - v);
  if constexpr (OP == UnaryOp::Silu) {  // d/du u s(u) = s(u) (1 + u (1 - s(u)))
    const T s = sigmoid_value<Exp>(u);
    return g * s * (T(1) + u * (T(1) - s));
  }
  if constexpr (OP == UnaryOp::Tanh) return g * (T(1) - v * v);
  if constexpr (OP == UnaryOp::Affine) return alpha * g;
  if constexpr (OP == UnaryOp::Clamp) return u == v ? g : T(0);  // x was inside [alpha, beta]
}

template <BinaryOp OP>
using BinaryTag = std::integral_constant<BinaryOp, OP>;

// Calls f(BinaryTag<op>{}), turning the runtime op into a template argument.
template <class F>
void with_binary_op(BinaryOp op, F&& f) {
  switch (op) {
    case BinaryOp::Add:
      return f(BinaryTag<BinaryOp::Add>{});
    case BinaryOp::Sub:
      return f(BinaryTag<BinaryOp::Sub>{});
    case BinaryOp::Mul:
      return f(BinaryTag<BinaryOp::Mul>{});
    case BinaryOp::Div:
      return f(BinaryTag<BinaryOp::Div>{});
    case BinaryOp::Greater:
      return f(BinaryTag<BinaryOp::Greater>{});
    case BinaryOp::Less:
      return f(BinaryTag<BinaryOp::Less>{});
  }
}

template <UnaryOp OP>
using UnaryTag = std::integral_constant<UnaryOp, OP>;

// Calls f(UnaryTag<op>{}), turning the runtime op into a template argument.
template <class F>
void with_unary_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::Neg:
      return f(UnaryTag<UnaryOp::Neg>{});
    case UnaryOp::Exp:
      return f(UnaryTag<UnaryOp::Exp>{});
    case UnaryOp::Log:
      return f(UnaryTag<UnaryOp::Log>{});
    case UnaryOp::Sqrt:
      return f(UnaryTag<UnaryOp::Sqrt>{});
    case UnaryOp::Pow:
      return f(UnaryTag<UnaryOp::Pow>{});
    case UnaryOp::Square:
      return f(UnaryTag<UnaryOp::Square>{});
    case UnaryOp::Sigmoid:
      return f(UnaryTag<UnaryOp::Sigmoid>{});
    case UnaryOp::Silu:
      return f(UnaryTag<UnaryOp::Silu>{});
    case UnaryOp::Tanh:
      return f(UnaryTag<UnaryOp::Tanh>{});
    case UnaryOp::Affine:
      return f(UnaryTag<UnaryOp::Affine>{});
    case UnaryOp::Clamp:
      return f(UnaryTag<UnaryOp::Clamp>{});
  }
}

}  // namespace ag
