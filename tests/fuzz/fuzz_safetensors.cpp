// libFuzzer harness for the safetensors reader (io/safetensors.h). The input
// is the file. Every failure must be one std::runtime_error; a file that
// loads must save and load back to the same names, dtypes, shapes, bytes and
// metadata. Anything else (a crash, another exception, a hang, a leak, a
// round trip that changes something) is a finding.
#include <cstring>
#include <stdexcept>

#include "io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

bool same_tensor(const ag::Tensor& a, const ag::Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const size_t bytes = static_cast<size_t>(a.numel()) * ag::dtype_size(a.dtype());
  return bytes == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), bytes) == 0;
}

void check_round_trip(const io::SafetensorsFile& file) {
  const std::string path = fuzz::scratch_path("fuzz_safetensors.copy");
  io::SafetensorsFile copy;
  try {
    io::save_safetensors(path, file.tensors, file.metadata);
    copy = io::load_safetensors(path);
  } catch (const std::runtime_error& e) {
    fuzz::broken(std::string("a loaded file does not save and load back: ") + e.what());
  }
  if (copy.metadata != file.metadata) fuzz::broken("metadata changed in the round trip");
  if (copy.tensors.size() != file.tensors.size()) fuzz::broken("tensor count changed");
  for (size_t i = 0; i < file.tensors.size(); ++i)
    if (copy.tensors[i].first != file.tensors[i].first ||
        !same_tensor(copy.tensors[i].second, file.tensors[i].second))
      fuzz::broken("tensor '" + file.tensors[i].first + "' changed in the round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  io::SafetensorsFile file;
  try {
    file = io::load_safetensors(fuzz::write_input("fuzz_safetensors", data, size));
  } catch (const std::runtime_error&) {
    return 0;
  }
  check_round_trip(file);
  return 0;
}
