// Mathematical constants, each written once for autograd and the libraries
// on it (C++17 has no std::numbers). constexpr, so CUDA device code uses them
// too.
#pragma once

namespace ag {

constexpr double kPi = 3.14159265358979323846;

}  // namespace ag
