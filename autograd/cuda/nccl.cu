// NCCL for the CUDA tensors of a data-parallel run (see nccl.h). Compiled
// where CMake finds both MPI and NCCL beside nvcc.
#include <mpi.h>
#include <nccl.h>

#include <stdexcept>
#include <string>

#include "autograd/cuda/nccl.h"
#include "autograd/cuda/runtime.h"
#include "autograd/device.h"

namespace ag::cuda {

namespace {

void check_nccl(ncclResult_t r, const char* call) {
  if (r != ncclSuccess)
    throw std::runtime_error(std::string(call) + " failed: " + ncclGetErrorString(r));
}

ncclComm_t g_comm = nullptr;

// The communicator of all ranks, made on first use: rank 0 makes the id and
// MPI hands it out.
ncclComm_t communicator(int rank, int ranks, int local_ranks) {
  if (g_comm != nullptr) return g_comm;
  if (local_ranks > cuda_device_count())
    throw std::runtime_error(std::to_string(local_ranks) + " processes on this machine share its " +
                             std::to_string(cuda_device_count()) +
                             " GPU(s); run one process per GPU");
  ncclUniqueId id;
  if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD);
  check_nccl(ncclCommInitRank(&g_comm, ranks, id, rank), "ncclCommInitRank");
  return g_comm;
}

ncclDataType_t nccl_type(const Tensor& t, const char* what) {
  if (t.device() != Device::CUDA || !t.is_contiguous())
    throw std::runtime_error(std::string(what) + ": a contiguous CUDA tensor");
  if (t.dtype() == DType::F32) return ncclFloat32;
  if (t.dtype() == DType::F64) return ncclFloat64;
  throw std::runtime_error(std::string(what) + ": float32 or float64 tensors only");
}

}  // namespace

void nccl_all_reduce_sum(const Tensor& t, int rank, int ranks, int local_ranks) {
  const ncclDataType_t type = nccl_type(t, "nccl_all_reduce_sum");
  check_nccl(ncclAllReduce(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), type,
                           ncclSum, communicator(rank, ranks, local_ranks), stream()),
             "ncclAllReduce");
}

void nccl_broadcast(const Tensor& t, int rank, int ranks, int local_ranks) {
  const ncclDataType_t type = nccl_type(t, "nccl_broadcast");
  check_nccl(ncclBroadcast(t.data_ptr(), t.data_ptr(), static_cast<size_t>(t.numel()), type, 0,
                           communicator(rank, ranks, local_ranks), stream()),
             "ncclBroadcast");
}

void nccl_finalize() {
  if (g_comm != nullptr) ncclCommDestroy(g_comm);
  g_comm = nullptr;
}

}  // namespace ag::cuda
