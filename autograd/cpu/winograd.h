// 3x3 convolutions with stride 1 and padding 1, the U-Net's most common op,
// through Winograd's minimal filtering F(4x4, 3x3) (Lavin & Gray 2016): 36
// multiplications per 4x4 output tile and channel pair instead of 144. See
// winograd.cpp.
#pragma once
#include "autograd/backend.h"
#include "autograd/kernels/conv_geometry.h"

namespace ag::cpu {

// 3x3 kernel, stride 1, padding 1 (so the output keeps the input's size).
bool winograd_applies(const ConvGeometry& g);

// y (N, K, H, W) = conv2d(x (N, C, H, W), w (K, C, 3, 3)) + bias (K, or null).
template <class T>
void winograd_forward(Backend& mem, const T* x, const T* w, const T* bias, const ConvGeometry& g,
                      T* y);

// dx (N, C, H, W) and dw (K, C, 3, 3) from dy (N, K, H, W); either may be null.
template <class T>
void winograd_backward(Backend& mem, const T* x, const T* w, const T* dy, const ConvGeometry& g,
                       T* dx, T* dw);

}  // namespace ag::cpu
