// A save that runs out of room part way (a full disk, simulated with a
// file-size limit): the file it would replace stays byte for byte, no
// temporary file is left beside it, and the error is one line naming the file
// and the cause. The limit falls before the first byte and part way through
// (inside a checkpoint's header, inside its data).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "autograd/ops.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "tests/file_size_limit.h"
#include "tests/scratch_dir.h"

namespace ag::test {

namespace {

namespace fs = std::filesystem;

using FullDisk = ScratchDir;

// The message f throws, or "no error".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

const std::string kTooLarge = std::strerror(EFBIG);  // "File too large"

}  // namespace

TEST_F(FullDisk, WriteFileAtomicallyKeepsThePreviousFile) {
  const std::string p = path("notes.csv");
  const std::string previous = "step,loss\n1,0.5\n";
  io::write_file_atomically(p, previous.data(), previous.size());
  const std::string next(64 * 1024, 'x');
  for (const rlim_t limit : {rlim_t{0}, rlim_t{100}, rlim_t{32 * 1024}}) {
    {
      const FileSizeLimit disk(limit);
      EXPECT_EQ(error_of([&] { io::write_file_atomically(p, next.data(), next.size()); }),
                p + ": cannot write: " + kTooLarge)
          << "limit " << limit;
    }
    EXPECT_EQ(read_file(p), previous) << "limit " << limit;
    EXPECT_EQ(file_names(dir_), std::vector<std::string>{"notes.csv"}) << "limit " << limit;
  }
  io::write_file_atomically(p, next.data(), next.size());  // the same write, room enough
  EXPECT_EQ(read_file(p), next);
}

TEST_F(FullDisk, SaveSafetensorsKeepsThePreviousCheckpoint) {
  const std::string p = path("ckpt.safetensors");
  io::save_safetensors(p, {{"w", full({4}, 1.0)}});
  const std::string previous = read_file(p);
  const io::NamedTensors next = {{"w", full({16 * 1024}, 2.0)}};  // 64 KiB of data
  for (const rlim_t limit : {rlim_t{0}, rlim_t{20}, rlim_t{32 * 1024}}) {
    {
      const FileSizeLimit disk(limit);
      EXPECT_EQ(error_of([&] { io::save_safetensors(p, next); }),
                p + ": cannot save: cannot write: " + kTooLarge)
          << "limit " << limit;
    }
    EXPECT_EQ(read_file(p), previous) << "limit " << limit;
    EXPECT_EQ(file_names(dir_), std::vector<std::string>{"ckpt.safetensors"}) << "limit " << limit;
  }
  io::save_safetensors(p, next);  // the same save, room enough
  EXPECT_EQ(io::load_safetensors(p).tensors.at(0).second.shape(), (Shape{16 * 1024}));
}

}  // namespace ag::test
