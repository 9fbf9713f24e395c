// Classifier-free guidance (Ho & Salimans 2022): a class-conditional network
// trained with its label dropped to "no label" part of the time predicts both
// eps(x_t, y) and eps(x_t, no label); sampling with
//   eps~ = (1 + w) eps(x_t, y) - w eps(x_t, no label)
// trades diversity for agreement with y as the guidance weight w grows
// (w = 0: the conditional model alone).
#pragma once
#include <functional>

#include "diffusion/diffusion.h"

namespace diffusion {

// A class-conditional network: x_t (N, C, H, W), timestep indices t (N) and
// int32 labels y (N), the null label meaning "no label".
using ConditionalDenoiser =
    std::function<Tensor(const Tensor& x, const Tensor& t, const Tensor& y)>;

// The Denoiser that samplers call for labels `y` (N) and weight w: both
// predictions in one batch of 2N (x and t twice, y then N null labels), then
// (1 + w) times the first half minus w times the second. With learned
// variances (2C output channels) only the first C channels are guided; the
// variance channels are the conditional half's, as in GLIDE.
Denoiser classifier_free_guidance(const ConditionalDenoiser& model, const Tensor& y,
                                  int64_t null_label, double w);

}  // namespace diffusion
