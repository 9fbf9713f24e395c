// libFuzzer harness for the IDX readers (apps/dataset/idx.h). The input is
// the file, read as images and as labels; an input that is not gzip is also
// read gzipped, which must give the same answer. Every failure must be one
// std::runtime_error; anything else (a crash, another exception, a hang, a
// leak, a gzip copy that reads differently) is a finding.
#include <zlib.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "apps/dataset/idx.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using Bytes = std::vector<uint8_t>;

// The images and labels a file holds (empty where it is not such a file).
struct Read {
  std::optional<data::Images> images;
  std::optional<data::Labels> labels;
};

Read read_both(const std::string& path) {
  Read r;
  try {
    r.images = data::read_idx_images(path);
  } catch (const std::runtime_error&) {
  }
  try {
    r.labels = data::read_idx_labels(path);
  } catch (const std::runtime_error&) {
  }
  if (r.images && r.images->pixels.size() !=
                      static_cast<size_t>(r.images->count * r.images->rows * r.images->cols))
    fuzz::broken("pixel count differs from the header's count x rows x cols");
  return r;
}

bool same(const Read& a, const Read& b) {
  if (a.images.has_value() != b.images.has_value() || a.labels.has_value() != b.labels.has_value())
    return false;
  if (a.images && (a.images->count != b.images->count || a.images->rows != b.images->rows ||
                   a.images->cols != b.images->cols || a.images->pixels != b.images->pixels))
    return false;
  return !a.labels || a.labels->labels == b.labels->labels;
}

// bytes as one gzip member (deflate with a gzip wrapper: windowBits 16 + 15).
Bytes gzip(const uint8_t* data, size_t size) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fuzz::broken("deflateInit2");
  Bytes out(deflateBound(&z, static_cast<uLong>(size)) + 32);
  z.next_in = const_cast<Bytef*>(data);
  z.avail_in = static_cast<uInt>(size);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) fuzz::broken("deflate");
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Read plain = read_both(fuzz::write_input("fuzz_idx", data, size));
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;  // already gzip
  const Bytes gz = gzip(data, size);
  if (!same(plain, read_both(fuzz::write_input("fuzz_idx.gz", gz.data(), gz.size()))))
    fuzz::broken("the file and its gzip copy read differently");
  return 0;
}
