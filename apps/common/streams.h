// The random streams of the programs, as offsets from --seed: each draw of a
// run comes from one generator seeded seed + offset, so the streams are
// independent of one another and a run is reproducible from its one seed.
// Changing an offset changes every result drawn from that stream.
//
//   seed + 0  the model's initial weights (nn::UNet)
//   seed + 1  the model's dropout masks (nn::kDropoutStream, nn/unet.h)
//   seed + 2  train_mnist's data: batch indices, timesteps, noise eps
//   seed + 3  train_mnist's sample grids: x_T and the sampling noise
//
// In evaluate, sample and the classifier, --seed itself draws the sampling
// (or the bound's) noise, and seed + 1 the one other stream each has.
#pragma once
#include <cstdint>

namespace apps {

// nn::kDropoutStream is 1; the others of train_mnist follow it.
constexpr uint64_t kDataStream = 2;
constexpr uint64_t kGridStream = 3;
// evaluate --quality: the uniform-noise row scored beside the samples.
constexpr uint64_t kNoiseRowStream = 1;
// The evaluation classifier's training: the order of its batches.
constexpr uint64_t kClassifierOrderStream = 1;

}  // namespace apps
