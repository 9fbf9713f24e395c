// Data-parallel training (`mpirun -np N`, autograd/distributed.h): every rank
// holds the whole model and takes the gradient of its rows of each batch;
// these two calls make the N models step as one.
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/tensor.h"

namespace nn {

// Every rank's parameters become rank 0's: the run starts from one model.
void broadcast_parameters(const std::vector<ag::Tensor>& params);

// Replaces each parameter's gradient by its sum over the ranks, reduced in
// flat buckets of about bucket_bytes (one all-reduce each rather than one a
// tensor; 25 MiB as PyTorch's DistributedDataParallel). A parameter with a
// gradient on some ranks only gets zeros on the others, so that the buckets
// line up; one with none on any rank keeps none (an optimizer skips it, as
// in one process). One process: does nothing.
constexpr int64_t kBucketBytes = 25 << 20;
void all_reduce_gradients(const std::vector<ag::Tensor>& params,
                          int64_t bucket_bytes = kBucketBytes);

}  // namespace nn
