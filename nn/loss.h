// Classification loss for the small evaluation classifier (the DDPM losses
// live in diffusion/).
#pragma once
#include "nn/module.h"

namespace nn {

// Mean over n of -log softmax(logits[n])[labels[n]]: logits (N, K), labels
// (N) int32 in [0, K). Computed as log-sum-exp minus the picked logit, with
// each row shifted by its (constant) maximum so exp never overflows.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace nn
