// Scratch memory for a kernel's intermediates, from a backend's caching
// allocator and given back at scope exit (no heap churn per call). On CUDA,
// work queued on the stream may still use the block then: it is handed out
// again only to work queued later on the same stream.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "autograd/backend.h"

namespace ag {

template <class T>
class Scratch {
 public:
  Scratch(Backend& mem, int64_t count)
      : mem_(mem),
        nbytes_(static_cast<size_t>(std::max<int64_t>(count, 0)) * sizeof(T)),
        data_(static_cast<T*>(mem.allocate(nbytes_))) {}
  ~Scratch() { mem_.deallocate(data_, nbytes_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T* data() const { return data_; }

 private:
  Backend& mem_;
  size_t nbytes_;
  T* data_;
};

}  // namespace ag
