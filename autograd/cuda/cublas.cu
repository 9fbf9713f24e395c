// cuBLAS, opened with dlopen on first use instead of linked. Linking it makes
// every process pay for cuBLAS's start-up whether or not it touches a GPU:
// about 0.35 s and 210 MB of resident memory on a 2-core machine, measured on
// a program that only links libcublas.so.13. A CPU run of a CUDA build now
// pays nothing; a CUDA run pays once, at its first matrix product.
#include <dlfcn.h>
#include <link.h>

#include <stdexcept>
#include <string>

#include "autograd/cuda/runtime.h"
#include "autograd/device.h"

namespace ag {

namespace cuda {

namespace {

struct LoadedCublas {
  Cublas api;
  std::string path;  // the file the loader found
};

// The soname this build was compiled against, first where the loader looks
// (LD_LIBRARY_PATH, ld.so.cache), then where CMake found cuBLAS.
void* open_cublas() {
  const std::string soname = "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR);
  std::string errors;
  for (const std::string& file : {soname, std::string(AG_CUBLAS_DIR) + "/" + soname}) {
    if (void* lib = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) return lib;
    errors += (errors.empty() ? "" : "; ") + std::string(dlerror());
  }
  throw std::runtime_error("cannot load cuBLAS: " + errors);
}

std::string path_of(void* lib) {
  link_map* map = nullptr;
  if (dlinfo(lib, RTLD_DI_LINKMAP, &map) != 0 || map == nullptr) return "libcublas";
  return map->l_name;
}

template <class Fn>
void resolve(void* lib, const char* symbol, const std::string& path, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(lib, symbol));
  if (fn == nullptr) throw std::runtime_error("cuBLAS at " + path + " has no " + symbol);
}

LoadedCublas load() {
  LoadedCublas l;
  void* lib = open_cublas();
  l.path = path_of(lib);
  resolve(lib, "cublasCreate_v2", l.path, l.api.create);
  resolve(lib, "cublasSetStream_v2", l.path, l.api.set_stream);
  resolve(lib, "cublasSgemmStridedBatched", l.path, l.api.sgemm_strided_batched);
  resolve(lib, "cublasDgemmStridedBatched", l.path, l.api.dgemm_strided_batched);
  resolve(lib, "cublasGetStatusString", l.path, l.api.status_string);
  return l;
}

const LoadedCublas& loaded() {
  static const LoadedCublas l = load();
  return l;
}

}  // namespace

const Cublas& cublas() { return loaded().api; }

}  // namespace cuda

std::string load_cublas() { return cuda::loaded().path; }

}  // namespace ag
