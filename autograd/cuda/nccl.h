// Sums and broadcasts of CUDA tensors across the ranks of a data-parallel run
// by NCCL (autograd/distributed.h): one communicator over all ranks, set up
// on first use with rank 0's id sent by MPI, its collectives queued on the
// backend's stream.
#pragma once
#include "autograd/tensor.h"

namespace ag::cuda {

// In place: the element-wise sum over the ranks of a contiguous float32 or
// float64 CUDA tensor. local_ranks: the ranks on this machine, each of which
// needs a GPU of its own (NCCL refuses two ranks on one GPU).
void nccl_all_reduce_sum(const Tensor& t, int rank, int ranks, int local_ranks);
// In place: every rank's t becomes rank 0's.
void nccl_broadcast(const Tensor& t, int rank, int ranks, int local_ranks);
// Frees the communicator, if one was made; before MPI_Finalize.
void nccl_finalize();

}  // namespace ag::cuda
