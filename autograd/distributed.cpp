#include "autograd/distributed.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#ifdef AG_WITH_MPI
#include <mpi.h>
#endif
#ifdef AG_WITH_NCCL
#include "autograd/cuda/nccl.h"
#endif

namespace ag::dist {

namespace {

int g_rank = 0, g_size = 1;

// Whether a launcher (mpirun, srun) started this process: only then does it
// join a run, so that programs and tests started alone never touch MPI.
bool launched_by_mpirun() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(var) != nullptr) return true;
  return false;
}

// This process's index among the ranks on its machine, and their number.
[[maybe_unused]] int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 0;
}
[[maybe_unused]] int local_size() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* v = std::getenv(var)) return std::atoi(v);
  return 1;
}

#ifdef AG_WITH_MPI
MPI_Datatype mpi_type(DType dtype, const char* what) {
  if (dtype == DType::F32) return MPI_FLOAT;
  if (dtype == DType::F64) return MPI_DOUBLE;
  throw std::runtime_error(std::string(what) + ": float32 or float64 tensors only");
}

// Runs an in-place MPI collective, mpi(data, type), on t's memory: a CPU
// tensor's own, a CUDA tensor's by way of a host copy (where NCCL is not
// there to take it).
template <typename F>
void on_host(const Tensor& t, const char* what, F&& mpi) {
  if (!t.is_contiguous()) throw std::runtime_error(std::string(what) + ": a contiguous tensor");
  const MPI_Datatype type = mpi_type(t.dtype(), what);
  if (t.device() == Device::CPU) return mpi(t.data_ptr(), type);
  Tensor host = t.to(Device::CPU);
  mpi(host.data_ptr(), type);
  backend(t.device())
      .copy_from_host(host.data_ptr(), t.data_ptr(),
                      static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
}
#endif

}  // namespace

void init() {
  if (!launched_by_mpirun()) return;
#ifdef AG_WITH_MPI
  MPI_Init(nullptr, nullptr);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (cuda_device_count() > 0) cuda_select_device(local_rank() % cuda_device_count());
#else
  std::fprintf(stderr,
               "error: started by mpirun, but this build has no MPI (configure with "
               "libopenmpi-dev installed, -DAG_MPI=ON)\n");
  std::exit(1);
#endif
}

void finalize() {
#ifdef AG_WITH_NCCL
  cuda::nccl_finalize();
#endif
#ifdef AG_WITH_MPI
  if (g_size > 1 || launched_by_mpirun()) MPI_Finalize();
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }

bool built_with_mpi() {
#ifdef AG_WITH_MPI
  return true;
#else
  return false;
#endif
}

void abort_run(const std::string& message, int code) {
  if (g_size > 1) {
    std::fprintf(stderr, "[rank %d] error: %s\n", g_rank, message.c_str());
    std::fflush(stderr);
#ifdef AG_WITH_MPI
    MPI_Abort(MPI_COMM_WORLD, code);
#endif
  } else {
    std::fprintf(stderr, "error: %s\n", message.c_str());
  }
  std::exit(code);
}

Rows rows_of(int64_t n, int r, int ranks) {
  const int64_t base = n / ranks, extra = n % ranks;
  const int64_t begin = r * base + std::min<int64_t>(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

void all_reduce_sum([[maybe_unused]] const Tensor& t) {
  if (g_size == 1) return;
#ifdef AG_WITH_NCCL
  if (t.device() == Device::CUDA) return cuda::nccl_all_reduce_sum(t, g_rank, g_size, local_size());
#endif
#ifdef AG_WITH_MPI
  on_host(t, "all_reduce_sum", [&](void* p, MPI_Datatype type) {
    MPI_Allreduce(MPI_IN_PLACE, p, static_cast<int>(t.numel()), type, MPI_SUM, MPI_COMM_WORLD);
  });
#endif
}

double sum(double x) { return sum(std::vector<double>{x})[0]; }

std::vector<double> sum(std::vector<double> x) {
#ifdef AG_WITH_MPI
  if (g_size > 1)
    MPI_Allreduce(MPI_IN_PLACE, x.data(), static_cast<int>(x.size()), MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
#endif
  return x;
}

bool any(bool flag) { return sum(flag ? 1.0 : 0.0) > 0; }

void barrier() {
#ifdef AG_WITH_MPI
  if (g_size > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void broadcast([[maybe_unused]] const Tensor& t) {
  if (g_size == 1) return;
#ifdef AG_WITH_NCCL
  if (t.device() == Device::CUDA) return cuda::nccl_broadcast(t, g_rank, g_size, local_size());
#endif
#ifdef AG_WITH_MPI
  on_host(t, "broadcast", [&](void* p, MPI_Datatype type) {
    MPI_Bcast(p, static_cast<int>(t.numel()), type, 0, MPI_COMM_WORLD);
  });
#endif
}

Tensor gather_rows(const Tensor& mine, int64_t n) {
  if (g_size == 1) return mine;
  Tensor all = empty(
      [&] {
        Shape s = mine.shape();
        s[0] = n;
        return s;
      }(),
      mine.dtype(), Device::CPU);
#ifdef AG_WITH_MPI
  const Tensor host = mine.contiguous().to(Device::CPU);
  const int64_t row_bytes = shape_numel(Shape(mine.shape().begin() + 1, mine.shape().end())) *
                            static_cast<int64_t>(dtype_size(mine.dtype()));
  std::vector<int> counts, displs;
  for (int r = 0; r < g_size; ++r) {
    const Rows rows = rows_of(n, r, g_size);
    counts.push_back(static_cast<int>(rows.count() * row_bytes));
    displs.push_back(static_cast<int>(rows.begin * row_bytes));
  }
  MPI_Allgatherv(host.data_ptr(), counts[g_rank], MPI_BYTE, all.data_ptr(), counts.data(),
                 displs.data(), MPI_BYTE, MPI_COMM_WORLD);
#endif
  return all.to(mine.device());
}

}  // namespace ag::dist
