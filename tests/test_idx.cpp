// IDX datasets: small files, plain and gzipped, written to a scratch
// directory and read back; one clear error naming the file for each kind of
// bad or missing file; split loading; the [-1, 1] scaling of to_tensor.
// Never reads data/mnist: the suite passes on a fresh clone.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/dataset/dataset.h"
#include "apps/dataset/idx.h"

namespace data {
namespace {

namespace fs = std::filesystem;

using Bytes = std::vector<uint8_t>;

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX file: magic, big-endian dimensions, then the data.
Bytes idx_file(uint32_t magic, const std::vector<uint32_t>& dims, const Bytes& data) {
  Bytes out;
  put_be32(out, magic);
  for (uint32_t d : dims) put_be32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

Bytes images_file(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels) {
  return idx_file(0x00000803, {count, rows, cols}, pixels);
}

Bytes labels_file(const Bytes& labels) {
  return idx_file(0x00000801, {static_cast<uint32_t>(labels.size())}, labels);
}

Bytes iota_bytes(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(i * 7 % 256);
  return out;
}

void write_plain(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_bytes(const std::string& path) {
  Bytes bytes(fs::file_size(path));
  std::ifstream(path, std::ios::binary)
      .read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

// bytes, then `zero_mib` MiB of zeros, written a MiB at a time.
void write_gzip(const std::string& path, const Bytes& bytes, int zero_mib = 0) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  const Bytes zeros(1 << 20, 0);
  for (int i = 0; i < zero_mib; ++i) EXPECT_EQ(gzwrite(file, zeros.data(), 1u << 20), 1 << 20);
  ASSERT_EQ(gzclose(file), Z_OK) << path;
}

// `read` throws a runtime_error whose message names `path` and says `what`.
void expect_error(const std::function<void()>& read, const std::string& path,
                  const std::string& what) {
  try {
    read();
    ADD_FAILURE() << "no error for " << path;
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(what), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

// A fresh directory per test, removed afterwards.
class IdxScratch : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / ("idx_" + std::to_string(::getpid()) + "_" +
                                             info->test_suite_name() + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir() const { return dir_.string(); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

using IdxRead = IdxScratch;
using IdxErrors = IdxScratch;
using IdxLoadSplit = IdxScratch;

TEST_F(IdxRead, PlainImages) {
  const Bytes pixels = iota_bytes(3 * 2 * 5);
  write_plain(path("img"), images_file(3, 2, 5, pixels));
  const Images images = read_idx_images(path("img"));
  EXPECT_EQ(images.count, 3);
  EXPECT_EQ(images.rows, 2);
  EXPECT_EQ(images.cols, 5);
  EXPECT_EQ(images.pixels, pixels);
}

TEST_F(IdxRead, GzippedImages) {
  const Bytes pixels = iota_bytes(4 * 28 * 28);
  write_gzip(path("img.gz"), images_file(4, 28, 28, pixels));
  const Images images = read_idx_images(path("img.gz"));
  EXPECT_EQ(images.count, 4);
  EXPECT_EQ(images.rows, 28);
  EXPECT_EQ(images.cols, 28);
  EXPECT_EQ(images.pixels, pixels);
}

TEST_F(IdxRead, LargeDimensionsAreBigEndian) {
  // 300 = 0x012c: a little-endian reader would see a different shape.
  write_plain(path("img"), images_file(1, 300, 2, iota_bytes(600)));
  const Images images = read_idx_images(path("img"));
  EXPECT_EQ(images.rows, 300);
  EXPECT_EQ(images.cols, 2);
}

TEST_F(IdxRead, PlainAndGzippedLabels) {
  const Bytes labels = {7, 2, 1, 0, 4, 1, 4, 9};
  write_plain(path("lab"), labels_file(labels));
  write_gzip(path("lab.gz"), labels_file(labels));
  EXPECT_EQ(read_idx_labels(path("lab")).labels, labels);
  EXPECT_EQ(read_idx_labels(path("lab.gz")).labels, labels);
}

TEST_F(IdxErrors, MissingFile) {
  const std::string missing = path("absent-images-idx3-ubyte");
  expect_error([&] { read_idx_images(missing); }, missing, "cannot open");
  expect_error([&] { read_idx_labels(missing); }, missing, "cannot open");
}

TEST_F(IdxErrors, DirectoryGivenAsFile) {
  expect_error([&] { read_idx_images(dir()); }, dir(), "not a regular file");
}

TEST_F(IdxErrors, TruncatedImageData) {
  Bytes bytes = images_file(2, 3, 3, iota_bytes(18));
  bytes.pop_back();
  write_plain(path("img"), bytes);
  write_gzip(path("img.gz"), bytes);
  expect_error([&] { read_idx_images(path("img")); }, path("img"), "truncated data");
  expect_error([&] { read_idx_images(path("img.gz")); }, path("img.gz"), "truncated data");
}

TEST_F(IdxErrors, TruncatedLabelData) {
  Bytes bytes = labels_file({1, 2, 3});
  bytes.pop_back();
  write_plain(path("lab"), bytes);
  expect_error([&] { read_idx_labels(path("lab")); }, path("lab"), "truncated data");
}

TEST_F(IdxErrors, TruncatedHeader) {
  const Bytes bytes = images_file(2, 3, 3, {});
  write_plain(path("short"), Bytes(bytes.begin(), bytes.begin() + 10));
  write_plain(path("tiny"), Bytes(bytes.begin(), bytes.begin() + 2));
  write_plain(path("empty"), {});
  for (const char* name : {"short", "tiny", "empty"})
    expect_error([&] { read_idx_images(path(name)); }, path(name), "truncated header");
}

TEST_F(IdxErrors, TruncatedGzipStream) {
  write_gzip(path("img.gz"), images_file(2, 8, 8, iota_bytes(128)));
  Bytes gz = read_bytes(path("img.gz"));
  gz.resize(gz.size() - 12);  // cut into the deflate stream and drop the trailer
  write_plain(path("cut.gz"), gz);
  expect_error([&] { read_idx_images(path("cut.gz")); }, path("cut.gz"), "gzip");
}

// gzread skipped whatever followed the gzip stream: bytes appended to a .gz
// file (or a file written over a longer one) went unnoticed. A second gzip
// member is part of the file, as gzip itself reads it.
TEST_F(IdxErrors, JunkAfterTheGzipStream) {
  write_gzip(path("img.gz"), images_file(2, 2, 2, iota_bytes(8)));
  const Bytes gz = read_bytes(path("img.gz"));
  for (const Bytes& junk : {Bytes{'x', 'y', 'z'}, Bytes{0}, Bytes{0x1f}}) {
    Bytes file = gz;
    file.insert(file.end(), junk.begin(), junk.end());
    write_plain(path("junk.gz"), file);
    expect_error([&] { read_idx_images(path("junk.gz")); }, path("junk.gz"),
                 std::to_string(junk.size()) + " bytes of junk after the gzip stream");
  }
  write_gzip(path("head.gz"), images_file(4, 2, 2, iota_bytes(8)));
  write_gzip(path("tail.gz"), iota_bytes(8));  // the other 8 pixels, as a second member
  Bytes members = read_bytes(path("head.gz"));
  const Bytes tail = read_bytes(path("tail.gz"));
  members.insert(members.end(), tail.begin(), tail.end());
  write_plain(path("members.gz"), members);
  const Images images = read_idx_images(path("members.gz"));
  EXPECT_EQ(images.count, 4);
  Bytes pixels = iota_bytes(8);
  pixels.insert(pixels.end(), pixels.begin(), pixels.end());
  EXPECT_EQ(images.pixels, pixels);
}

TEST_F(IdxErrors, WrongMagic) {
  write_plain(path("img"), idx_file(0x00000c03, {1, 2, 2}, iota_bytes(4)));
  expect_error([&] { read_idx_images(path("img")); }, path("img"), "bad magic 0x00000c03");
  expect_error([&] { read_idx_labels(path("img")); }, path("img"), "bad magic 0x00000c03");
}

TEST_F(IdxErrors, LabelsGivenAsImages) {
  write_plain(path("lab"), labels_file({1, 2, 3}));
  write_gzip(path("lab.gz"), labels_file({1, 2, 3}));
  expect_error([&] { read_idx_images(path("lab")); }, path("lab"), "is an IDX labels file");
  expect_error([&] { read_idx_images(path("lab.gz")); }, path("lab.gz"), "is an IDX labels file");
}

TEST_F(IdxErrors, ImagesGivenAsLabels) {
  write_plain(path("img"), images_file(1, 2, 2, iota_bytes(4)));
  expect_error([&] { read_idx_labels(path("img")); }, path("img"), "is an IDX images file");
}

TEST_F(IdxErrors, TrailingBytes) {
  Bytes images = images_file(2, 2, 2, iota_bytes(8));
  images.push_back(0);
  Bytes labels = labels_file({1, 2});
  labels.insert(labels.end(), {9, 9, 9});
  write_plain(path("img"), images);
  write_gzip(path("lab.gz"), labels);
  const std::string past = "the data continues past the ";
  expect_error([&] { read_idx_images(path("img")); }, path("img"), past + "8 bytes");
  expect_error([&] { read_idx_labels(path("lab.gz")); }, path("lab.gz"), past + "2 bytes");
}

// A small gzip file whose stream goes on far past what its header announces
// (here 48 MB of zeros after one 2x2 image) is refused after reading one byte
// more than announced; it was once inflated whole, gigabytes for a bomb.
TEST_F(IdxErrors, GzipIsReadOnlyAsFarAsAnnounced) {
  write_gzip(path("img.gz"), images_file(1, 2, 2, iota_bytes(4)), 48);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  expect_error([&] { read_idx_images(path("img.gz")); }, path("img.gz"),
               "the data continues past the 4 bytes");
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 16 << 10);  // KiB: under 16 MB more at peak
}

TEST_F(IdxErrors, BadDimensions) {
  write_plain(path("zero"), images_file(0, 2, 2, {}));
  write_plain(path("wide"), images_file(1, 1, 4097, iota_bytes(4097)));
  expect_error([&] { read_idx_images(path("zero")); }, path("zero"), "bad dimension 0 = 0");
  expect_error([&] { read_idx_images(path("wide")); }, path("wide"), "bad dimension 2 = 4097");
  // 2^32 - 1 images of 28 x 28: more than the 2 GiB a header may announce, so
  // a small gzip file cannot inflate to that much before failing.
  write_gzip(path("huge.gz"), images_file(0xFFFFFFFFu, 28, 28, {}), 4);
  expect_error([&] { read_idx_images(path("huge.gz")); }, path("huge.gz"),
               "the header announces 3367254359280 bytes of data, more than 2 GiB");
}

TEST_F(IdxLoadSplit, FindsPlainAndGzippedFiles) {
  write_plain(path("train-images-idx3-ubyte"), images_file(3, 2, 2, iota_bytes(12)));
  write_gzip(path("train-labels-idx1-ubyte.gz"), labels_file({5, 0, 4}));
  write_gzip(path("t10k-images-idx3-ubyte.gz"), images_file(2, 2, 2, iota_bytes(8)));
  write_plain(path("t10k-labels-idx1-ubyte"), labels_file({7, 2}));
  const Dataset train = load_idx_split(dir(), true);
  EXPECT_EQ(train.images.count, 3);
  EXPECT_EQ(train.images.pixels, iota_bytes(12));
  EXPECT_EQ(train.labels.labels, (Bytes{5, 0, 4}));
  const Dataset test = load_idx_split(dir(), false);
  EXPECT_EQ(test.images.count, 2);
  EXPECT_EQ(test.labels.labels, (Bytes{7, 2}));
}

TEST_F(IdxLoadSplit, CountMismatch) {
  write_plain(path("train-images-idx3-ubyte"), images_file(3, 2, 2, iota_bytes(12)));
  write_plain(path("train-labels-idx1-ubyte"), labels_file({5, 0}));
  try {
    load_idx_split(dir(), true);
    ADD_FAILURE() << "no error for 3 images and 2 labels";
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path("train-images-idx3-ubyte") + " holds 3 images"), std::string::npos)
        << message;
    EXPECT_NE(message.find(path("train-labels-idx1-ubyte") + " holds 2 labels"), std::string::npos)
        << message;
  }
}

TEST_F(IdxLoadSplit, MissingFilesListWhatWasLookedFor) {
  const std::string images = path("t10k-images-idx3-ubyte");
  expect_error([&] { load_idx_split(dir(), false); }, images + " nor " + images + ".gz", "neither");
  write_plain(images, images_file(1, 1, 1, {0}));
  const std::string labels = path("t10k-labels-idx1-ubyte");
  expect_error([&] { load_idx_split(dir(), false); }, labels + " nor " + labels + ".gz", "neither");
}

TEST_F(IdxLoadSplit, BadFileInSplitIsNamed) {
  write_plain(path("train-images-idx3-ubyte"), labels_file({1}));
  write_plain(path("train-labels-idx1-ubyte"), labels_file({1}));
  expect_error([&] { load_idx_split(dir(), true); }, path("train-images-idx3-ubyte"),
               "is an IDX labels file");
}

TEST(IdxToTensor, ScalesPixelsToMinusOneOne) {
  Images images{2, 1, 1, 3, {0, 255, 128, 1, 2, 254}};
  const ag::Tensor t = to_tensor(images, {0});
  EXPECT_EQ(t.dtype(), ag::DType::F32);
  EXPECT_EQ(t.shape(), (ag::Shape{1, 1, 1, 3}));
  const std::vector<float> v = t.to_vector<float>();
  EXPECT_EQ(v[0], -1.0f);
  EXPECT_EQ(v[1], 1.0f);
  EXPECT_EQ(v[2], static_cast<float>(128 / 127.5 - 1.0));
}

TEST(IdxToTensor, AllLevelsAreExact) {
  Images images{256, 1, 1, 1, {}};
  std::vector<int64_t> indices;
  for (int k = 0; k < 256; ++k) {
    images.pixels.push_back(static_cast<uint8_t>(k));
    indices.push_back(k);
  }
  const std::vector<float> v = to_tensor(images, indices).to_vector<float>();
  for (int k = 0; k < 256; ++k) EXPECT_EQ(v[k], static_cast<float>(k / 127.5 - 1.0)) << k;
}

TEST(IdxToTensor, GathersIndicesInOrder) {
  Images images{3, 1, 2, 2, iota_bytes(12)};
  const ag::Tensor t = to_tensor(images, {2, 0, 2});
  EXPECT_EQ(t.shape(), (ag::Shape{3, 1, 2, 2}));
  const std::vector<float> v = t.to_vector<float>();
  const Bytes pixels = iota_bytes(12);
  const int64_t order[] = {2, 0, 2};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      EXPECT_EQ(v[i * 4 + j], static_cast<float>(pixels[order[i] * 4 + j] / 127.5 - 1.0));
}

// --flip's mirror: each row of each channel reversed, the other images as
// they are.
TEST(IdxToTensor, FlipMirrorsEachRowOfEachChannel) {
  const Bytes pixels = iota_bytes(24);  // 2 images of 2 channels of 2 rows of 3
  Images images{2, 2, 2, 3, pixels};
  const std::vector<float> v = to_tensor(images, {1, 0}, {true, false}).to_vector<float>();
  auto level = [&](int k) { return static_cast<float>(pixels[k] / 127.5 - 1.0); };
  const int mirrored[] = {14, 13, 12, 17, 16, 15, 20, 19, 18, 23, 22, 21};
  for (int j = 0; j < 12; ++j) EXPECT_EQ(v[j], level(mirrored[j])) << j;
  for (int j = 0; j < 12; ++j) EXPECT_EQ(v[12 + j], level(j)) << j;
  EXPECT_THROW(to_tensor(images, {0, 1}, {true}), std::invalid_argument);
}

TEST(IdxToTensor, RejectsIndexOutOfRange) {
  Images images{2, 1, 1, 1, {0, 1}};
  EXPECT_THROW(to_tensor(images, {2}), std::runtime_error);
  EXPECT_THROW(to_tensor(images, {-1}), std::runtime_error);
}

TEST(IdxResolve, NamesAndPaths) {
  EXPECT_EQ(resolve_dataset_dir("fashion"), "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(resolve_dataset_dir("/some/dir"), "/some/dir");
  // "mnist": ./data/mnist where the working directory has one, else the
  // checkout's data/mnist (an absolute path).
  const fs::path cwd = fs::current_path();
  const fs::path tmp = fs::path(::testing::TempDir()) / "resolve_cwd";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::current_path(tmp);
  const std::string elsewhere = resolve_dataset_dir("mnist");
  fs::create_directories(tmp / "data" / "mnist");
  const std::string here = resolve_dataset_dir("mnist");
  fs::current_path(cwd);
  EXPECT_EQ(here, "data/mnist");
  EXPECT_EQ(elsewhere.front(), '/');
  EXPECT_EQ(elsewhere.substr(elsewhere.size() - 11), "/data/mnist");
  EXPECT_TRUE(fs::exists(fs::path(elsewhere).parent_path().parent_path() / "autograd"))
      << elsewhere;  // the checkout
}

}  // namespace
}  // namespace data
