// Files written in full or not at all. The data go to a new file beside the
// target, which commit() flushes to disk and renames over the target; until
// then the target keeps its old contents, and an uncommitted temporary file
// is removed. Checkpoints, PNGs and evaluate's CSV go through here, so a
// crash or a full disk never leaves half of one behind.
//
// Errors read "<step>: <reason>" ("cannot write: No space left on device");
// callers put the target's path in front, as write_file_atomically does.
#pragma once
#include <cstddef>
#include <string>

namespace io {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& target);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  // fsync, close, rename over the target, then fsync the target's folder.
  void commit();

 private:
  std::string target_;
  std::string name_;
  int fd_ = -1;
  bool committed_ = false;
};

// `size` bytes into `path` through an AtomicFile; throws "<path>: <reason>".
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace io
