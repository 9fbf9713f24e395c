#include "apps/dataset/idx.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <utility>

namespace data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxSide = 4096;  // bound on every dimension after the first
// Bound on the data a header may announce (MNIST's training images: 47 MB),
// so that a small gzip file cannot claim, and inflate to, far more.
constexpr size_t kMaxDataBytes = size_t{2} << 30;

// What an IDX file announces in its header: magic number and dimension count.
struct IdxKind {
  uint32_t magic;
  size_t ndims;
  const char* name;
};
constexpr IdxKind kImages{0x00000803, 3, "images"};
constexpr IdxKind kLabels{0x00000801, 1, "labels"};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error("IDX file " + path + ": " + what);
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t big_endian32(const std::vector<uint8_t>& bytes, size_t at) {
  return uint32_t{bytes[at]} << 24 | uint32_t{bytes[at + 1]} << 16 | uint32_t{bytes[at + 2]} << 8 |
         uint32_t{bytes[at + 3]};
}

[[noreturn]] void fail_open(const std::string& path) {
  fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) fail_open(path);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) fail(path, "not a regular file");
  std::vector<uint8_t> bytes(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())))
    fail(path, "read error");
  return bytes;
}

bool is_gzip(const std::vector<uint8_t>& file) {
  return file.size() >= 2 && file[0] == 0x1f && file[1] == 0x8b;
}

// The first `limit` bytes the gzip file `file` inflates to (fewer if it
// ends), so that a small file cannot inflate to more than the header
// announces. Members may follow one another (gzip's concatenation); anything
// else after the last one, which gzread would silently skip, is an error.
std::vector<uint8_t> inflate_gzip(const std::string& path, const std::vector<uint8_t>& file,
                                  size_t limit) {
  if (file.size() > std::numeric_limits<uInt>::max()) fail(path, "gzip file over 4 GiB");
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) fail(path, "cannot start zlib");  // 16: gzip only
  const std::unique_ptr<z_stream, decltype(&inflateEnd)> end(&z, &inflateEnd);
  z.next_in = const_cast<Bytef*>(file.data());  // zlib's API is not const; it only reads
  z.avail_in = static_cast<uInt>(file.size());
  std::vector<uint8_t> bytes;
  while (bytes.size() < limit) {
    const size_t have = bytes.size();
    bytes.resize(have + std::min<size_t>(size_t{1} << 20, limit - have));
    z.next_out = bytes.data() + have;
    z.avail_out = static_cast<uInt>(bytes.size() - have);
    const int ret = inflate(&z, Z_NO_FLUSH);
    bytes.resize(bytes.size() - z.avail_out);
    if (ret == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      if (z.avail_in < 2 || z.next_in[0] != 0x1f || z.next_in[1] != 0x8b)
        fail(path, std::to_string(z.avail_in) + " bytes of junk after the gzip stream");
      inflateReset(&z);  // the next member
    } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
      fail(path, std::string("corrupt gzip stream (") + (z.msg ? z.msg : "zlib error") + ")");
    } else if (z.avail_in == 0 && z.avail_out != 0) {
      fail(path, "corrupt or truncated gzip stream (unexpected end of file)");
    }
  }
  return bytes;
}

// The header's dimensions, after checking the magic number and that each
// dimension is non-zero and, past the first, at most kMaxSide.
std::vector<int64_t> header_dims(const std::string& path, const std::vector<uint8_t>& bytes,
                                 const IdxKind& want, const IdxKind& other) {
  const size_t header = 4 + 4 * want.ndims;
  if (bytes.size() < 4) fail(path, "truncated header (" + std::to_string(bytes.size()) + " bytes)");
  const uint32_t magic = big_endian32(bytes, 0);
  if (magic == other.magic)
    fail(path, std::string("is an IDX ") + other.name + " file (magic " + hex(magic) +
                   "), expected " + want.name + " (" + hex(want.magic) + ")");
  if (magic != want.magic)
    fail(path,
         "bad magic " + hex(magic) + ", expected " + hex(want.magic) + " (IDX " + want.name + ")");
  if (bytes.size() < header)
    fail(path, "truncated header (" + std::to_string(bytes.size()) + " bytes, expected " +
                   std::to_string(header) + ")");
  std::vector<int64_t> dims;
  for (size_t i = 0; i < want.ndims; ++i) {
    dims.push_back(big_endian32(bytes, 4 + 4 * i));
    if (dims.back() == 0 || (i > 0 && dims.back() > kMaxSide))
      fail(path, "bad dimension " + std::to_string(i) + " = " + std::to_string(dims.back()) +
                     " (must be 1.." + (i > 0 ? std::to_string(kMaxSide) : "2^32-1") + ")");
  }
  return dims;
}

void check_data_size(const std::string& path, size_t have, size_t want) {
  if (have < want)
    fail(path, "truncated data (" + std::to_string(have) + " bytes, the header announces " +
                   std::to_string(want) + ")");
  if (have > want)
    fail(path,
         "the data continues past the " + std::to_string(want) + " bytes the header announces");
}

struct IdxData {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // the data after the header
};

// An IDX file of kind `want` (`other` being the kind it may be mistaken for).
// A gzipped one is inflated twice: its header, then as many bytes as the
// header announces and one more, to tell whether the data goes on.
IdxData read_idx(const std::string& path, const IdxKind& want, const IdxKind& other) {
  const size_t header = 4 + 4 * want.ndims;
  const std::vector<uint8_t> file = read_file(path);
  const bool gzipped = is_gzip(file);
  IdxData idx{{}, gzipped ? inflate_gzip(path, file, header) : file};
  idx.dims = header_dims(path, idx.bytes, want, other);
  size_t want_bytes = 1;
  for (int64_t d : idx.dims) want_bytes *= static_cast<size_t>(d);
  if (want_bytes > kMaxDataBytes)
    fail(path, "the header announces " + std::to_string(want_bytes) + " bytes of data, more than " +
                   std::to_string(kMaxDataBytes >> 30) + " GiB");
  if (gzipped) idx.bytes = inflate_gzip(path, file, header + want_bytes + 1);
  check_data_size(path, idx.bytes.size() - header, want_bytes);
  idx.bytes.erase(idx.bytes.begin(), idx.bytes.begin() + static_cast<std::ptrdiff_t>(header));
  return idx;
}

// dir/stem or dir/stem.gz, whichever exists (the plain file first).
std::string find_split_file(const std::string& dir, const std::string& stem) {
  const std::string plain = (fs::path(dir) / stem).string();
  std::error_code ec;
  for (const std::string& path : {plain, plain + ".gz"})
    if (fs::is_regular_file(path, ec)) return path;
  throw std::runtime_error("load_split: found neither " + plain + " nor " + plain +
                           ".gz (scripts/get_mnist.sh fetches MNIST)");
}

}  // namespace

Images read_idx_images(const std::string& path) {
  IdxData idx = read_idx(path, kImages, kLabels);
  return Images{idx.dims[0], 1, idx.dims[1], idx.dims[2], std::move(idx.bytes)};
}

Labels read_idx_labels(const std::string& path) {
  return Labels{read_idx(path, kLabels, kImages).bytes};
}

bool has_idx_split(const std::string& dir) {
  std::error_code ec;
  for (const char* stem : {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte"})
    for (const char* ext : {"", ".gz"})
      if (fs::is_regular_file(fs::path(dir) / (std::string(stem) + ext), ec)) return true;
  return false;
}

Dataset load_idx_split(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  const std::string images_path = find_split_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_split_file(dir, prefix + "-labels-idx1-ubyte");
  Dataset split{read_idx_images(images_path), read_idx_labels(labels_path)};
  const auto labels = static_cast<int64_t>(split.labels.labels.size());
  if (split.images.count != labels)
    throw std::runtime_error(images_path + " holds " +
                             std::to_string(split.images.count) + " images but " + labels_path +
                             " holds " + std::to_string(labels) + " labels");
  return split;
}

}  // namespace data
