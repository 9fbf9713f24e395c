// The processes of a data-parallel run: `mpirun -np N program ...` starts N
// copies of a program, each one a rank 0..N-1, and these functions let them
// agree. MPI launches and coordinates them; sums of CPU tensors go through
// MPI_Allreduce and sums of CUDA tensors through NCCL (each rank drives one
// GPU), as improved-diffusion and llm.c do. A program started without
// mpirun, or built without MPI (-DAG_MPI=OFF), is rank 0 of 1, and every
// function here is then the identity or a no-op.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace ag::dist {

// Joins the run when the program was started by mpirun (MPI_Init), and, with
// CUDA, points this rank at GPU (local rank) % (GPUs on its machine). Call it
// first thing in main; finalize() (or abort_run) at the end.
void init();
void finalize();

int rank();
int size();
inline bool is_main() { return rank() == 0; }
// Whether this build can run under mpirun (it was built with MPI).
bool built_with_mpi();

// Ends every rank of the run at once (MPI_Abort) after printing
// "[rank r] error: <message>" to stderr; exits with `code` alone.
[[noreturn]] void abort_run(const std::string& message, int code = 1);

// Rows [begin, end) of a batch of n rows that rank r of `ranks` takes: the
// batch split into contiguous slices as even as they can be, lower ranks
// taking one more row where n is not a multiple of ranks.
struct Rows {
  int64_t begin, end;
  int64_t count() const { return end - begin; }
};
Rows rows_of(int64_t n, int r, int ranks);
inline Rows my_rows(int64_t n) { return rows_of(n, rank(), size()); }

// In place, the element-wise sum over the ranks of a contiguous float32 or
// float64 tensor (on the CPU by MPI, on a GPU by NCCL).
void all_reduce_sum(const Tensor& t);
// The sum over the ranks of x (for every rank).
double sum(double x);
std::vector<double> sum(std::vector<double> x);
// Whether any rank passed true (for every rank).
bool any(bool flag);
// Returns when every rank has called it.
void barrier();
// In place: every rank's t becomes rank 0's.
void broadcast(const Tensor& t);
// The ranks' tensors of my_rows(n) rows each, concatenated in rank order: the
// whole batch of n rows, on every rank.
Tensor gather_rows(const Tensor& mine, int64_t n);

}  // namespace ag::dist
