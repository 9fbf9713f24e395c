// CIFAR-10 batches, folders of images and the fitting of images to a shape:
// small files written by the tests to a scratch directory and read back, with
// pixel values worked out by hand; one clear error naming the file or folder
// for each kind of bad input; load_split's choice of reader.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/dataset/cifar10.h"
#include "apps/dataset/dataset.h"
#include "apps/dataset/fit.h"
#include "apps/dataset/image_folder.h"
#include "tests/scratch_dir.h"

// Named, not anonymous: the unity build of the sanitized suite compiles this
// file together with test_idx.cpp, whose helpers share some names.
namespace data {
namespace datasets_test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

constexpr size_t kRecord = 3073, kPlane = 1024;

void write_bytes(const std::string& path, const Bytes& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// A CIFAR-10 record: the label, then pixel k of the three planes = (k + seed)
// mod 256.
Bytes record(uint8_t label, int seed) {
  Bytes r{label};
  for (size_t k = 0; k < 3 * kPlane; ++k) r.push_back(static_cast<uint8_t>((k + seed) % 256));
  return r;
}

Bytes records(const std::vector<uint8_t>& labels) {
  Bytes out;
  for (size_t i = 0; i < labels.size(); ++i) {
    const Bytes r = record(labels[i], static_cast<int>(i) * 11);
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

// The five training batches (one record each, labelled 0..4) and the test
// batch (labelled 9) in dir, less the batch named `skip`.
void write_cifar(const fs::path& dir, const std::string& skip = "") {
  for (int k = 1; k <= 5; ++k) {
    const std::string name = "data_batch_" + std::to_string(k) + ".bin";
    if (name != skip) write_bytes((dir / name).string(), records({static_cast<uint8_t>(k - 1)}));
  }
  write_bytes((dir / "test_batch.bin").string(), records({9}));
}

// An image file: `comp` interleaved bytes per pixel, rows top to bottom.
void write_image(const std::string& path, int w, int h, int comp, const Bytes& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  const bool jpeg = fs::path(path).extension() == ".jpg";
  const int ok = jpeg ? stbi_write_jpg(path.c_str(), w, h, comp, pixels.data(), 100)
                      : stbi_write_png(path.c_str(), w, h, comp, pixels.data(), w * comp);
  ASSERT_NE(ok, 0) << path;
}

// A w x h image, every pixel `pixel` (comp bytes).
void write_flat(const std::string& path, int w, int h, const Bytes& pixel) {
  Bytes pixels;
  for (int k = 0; k < w * h; ++k) pixels.insert(pixels.end(), pixel.begin(), pixel.end());
  write_image(path, w, h, static_cast<int>(pixel.size()), pixels);
}

void put_be32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// An IDX split of one 28x28 image, labelled 7, under the standard names.
void write_idx(const fs::path& dir, const std::string& prefix, const Bytes& pixels) {
  Bytes images, labels;
  for (uint32_t v : {0x803u, 1u, 28u, 28u}) put_be32(images, v);
  images.insert(images.end(), pixels.begin(), pixels.end());
  for (uint32_t v : {0x801u, 1u}) put_be32(labels, v);
  labels.push_back(7);
  write_bytes((dir / (prefix + "-images-idx3-ubyte")).string(), images);
  write_bytes((dir / (prefix + "-labels-idx1-ubyte")).string(), labels);
}

// `read` throws a runtime_error whose one-line message holds each of `parts`.
void expect_error(const std::function<void()>& read, const std::vector<std::string>& parts) {
  try {
    read();
    ADD_FAILURE() << "no error; expected " << parts.front();
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

Images grey(int64_t rows, int64_t cols, const Bytes& pixels) {
  return Images{1, 1, rows, cols, pixels};
}

using Cifar10 = ag::test::ScratchDir;
using ImageFolder = ag::test::ScratchDir;
using LoadSplit = ag::test::ScratchDir;

TEST_F(Cifar10, RecordsLandInNchwOrder) {
  Bytes bytes = records({3, 9});
  bytes[kRecord + 1 + kPlane + 1 * 32 + 2] = 200;  // record 2, G, row 1, column 2
  write_bytes(path("b.bin"), bytes);
  const Dataset d = read_cifar10_batch(path("b.bin"));
  EXPECT_EQ(d.images.count, 2);
  EXPECT_EQ(d.images.channels, 3);
  EXPECT_EQ(d.images.rows, 32);
  EXPECT_EQ(d.images.cols, 32);
  EXPECT_EQ(d.labels.labels, (Bytes{3, 9}));
  ASSERT_EQ(d.images.pixels.size(), 2 * 3 * kPlane);
  EXPECT_EQ(d.images.pixels[3 * kPlane + kPlane + 1 * 32 + 2], 200);
  EXPECT_EQ(d.images.pixels[0], 0);                                         // record 1, R, (0, 0)
  EXPECT_EQ(d.images.pixels[2 * kPlane + 5 * 32 + 7], (2048 + 167) % 256);  // B, (5, 7)
  EXPECT_EQ(d.images.pixels[3 * kPlane], 11);                               // record 2: seed 11
}

TEST_F(Cifar10, PartialRecordIsAnError) {
  Bytes bytes = records({1, 2});
  bytes.pop_back();
  write_bytes(path("cut.bin"), bytes);
  write_bytes(path("empty.bin"), {});
  expect_error([&] { read_cifar10_batch(path("cut.bin")); },
               {path("cut.bin"), "6145 bytes is not a whole number of 3073-byte records"});
  expect_error([&] { read_cifar10_batch(path("empty.bin")); }, {path("empty.bin"), "0 bytes"});
}

TEST_F(Cifar10, LabelOverNineIsAnError) {
  write_bytes(path("b.bin"), records({4, 10}));
  expect_error([&] { read_cifar10_batch(path("b.bin")); },
               {path("b.bin"), "record 2 of 2 has label 10"});
}

TEST_F(Cifar10, MissingTrainingBatchIsNamed) {
  write_cifar(dir_, "data_batch_3.bin");
  EXPECT_TRUE(has_cifar10(dir_.string()));
  expect_error([&] { load_cifar10_split(dir_.string(), true); },
               {path("data_batch_3.bin"), "not found"});
  EXPECT_EQ(load_cifar10_split(dir_.string(), false).labels.labels, Bytes{9});
}

TEST_F(Cifar10, SplitsFromTheTarballsFolder) {
  EXPECT_FALSE(has_cifar10(dir_.string()));
  write_cifar(dir_ / "cifar-10-batches-bin");
  EXPECT_TRUE(has_cifar10(dir_.string()));
  const Dataset train = load_cifar10_split(dir_.string(), true);
  EXPECT_EQ(train.images.count, 5);
  EXPECT_EQ(train.labels.labels, (Bytes{0, 1, 2, 3, 4}));
  ASSERT_EQ(train.images.pixels.size(), 5 * 3 * kPlane);
  EXPECT_EQ(train.images.pixels[4 * 3 * kPlane + 100], 100);  // batch 5's record
  const Dataset test = load_cifar10_split(dir_.string(), false);
  EXPECT_EQ(test.images.count, 1);
  EXPECT_EQ(test.labels.labels, Bytes{9});
}

TEST(FitImages, BoxAveragesWhenShrinking) {
  Bytes pixels;  // pixel (y, x) = 16 y + 4 x
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) pixels.push_back(static_cast<uint8_t>(16 * y + 4 * x));
  const Images fitted = fit_images(grey(4, 4, pixels), {2, 0});
  EXPECT_EQ(fitted.rows, 2);
  EXPECT_EQ(fitted.cols, 2);
  EXPECT_EQ(fitted.pixels, (Bytes{10, 18, 42, 50}));  // e.g. (0 + 4 + 16 + 20) / 4
}

TEST(FitImages, AreaWeightsForAFractionalRatio) {
  // 3 -> 2: output 0 is 2/3 of input 0 and 1/3 of input 1; output 1 the mirror.
  const Images fitted = fit_images(grey(3, 3, {0, 30, 90, 0, 30, 90, 0, 30, 90}), {2, 0});
  EXPECT_EQ(fitted.pixels, (Bytes{10, 70, 10, 70}));
}

TEST(FitImages, BilinearWhenEnlarging) {
  // 2 -> 4 with pixel centers aligned: samples at -0.25 (clamped), 0.25,
  // 0.75 and 1.25 (clamped).
  const Images fitted = fit_images(grey(2, 2, {0, 100, 100, 200}), {4, 0});
  EXPECT_EQ(fitted.pixels, (Bytes{0, 25, 75, 100,     //
                                  25, 50, 100, 125,   //
                                  75, 100, 150, 175,  //
                                  100, 125, 175, 200}));
}

TEST(FitImages, CentreCropsToTheShorterSide) {
  const Images wide = fit_images(grey(2, 4, {1, 2, 3, 4, 5, 6, 7, 8}), {2, 0});
  EXPECT_EQ(wide.pixels, (Bytes{2, 3, 6, 7}));
  const Images tall = fit_images(grey(4, 2, {1, 2, 3, 4, 5, 6, 7, 8}), {2, 0});
  EXPECT_EQ(tall.pixels, (Bytes{3, 4, 5, 6}));
}

TEST(FitImages, ChannelConversions) {
  // Planes R, G, B of four pixels: red, green, blue, (10, 20, 30).
  const Images rgb{1, 3, 1, 4, {255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30}};
  const Images luma = fit_images(rgb, {0, 1});
  EXPECT_EQ(luma.channels, 1);
  EXPECT_EQ(luma.pixels, (Bytes{76, 150, 29, 18}));  // round(0.299 R + 0.587 G + 0.114 B)
  const Images copied = fit_images(Images{2, 1, 1, 2, {1, 2, 3, 4}}, {0, 3});
  EXPECT_EQ(copied.channels, 3);
  EXPECT_EQ(copied.pixels, (Bytes{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
}

TEST(FitImages, LeavesFittingImagesAndRejectsBadShapes) {
  const Images images{2, 3, 2, 2, Bytes(24, 9)};
  const Images same = fit_images(images, {2, 3});
  EXPECT_EQ(same.pixels, images.pixels);
  EXPECT_EQ(fit_images(images, {}).pixels, images.pixels);
  EXPECT_THROW(fit_images(images, {0, 2}), std::invalid_argument);
  EXPECT_THROW(fit_images(images, {-1, 0}), std::invalid_argument);
}

TEST_F(ImageFolder, RecursiveSortedAndColourIfAnyHasColour) {
  write_flat(path("b.png"), 2, 2, {10});
  write_flat(path("a.PNG"), 2, 2, {20});
  write_flat(path("sub/c.jpg"), 2, 2, {200, 100, 50});
  write_bytes(path("notes.txt"), {1, 2, 3});
  const Dataset d = load_image_folder(dir_.string());
  EXPECT_TRUE(d.labels.labels.empty());
  ASSERT_EQ(d.images.count, 3);
  EXPECT_EQ(d.images.channels, 3);
  EXPECT_EQ(d.images.rows, 2);
  EXPECT_EQ(d.images.cols, 2);
  const Bytes& p = d.images.pixels;
  EXPECT_EQ(Bytes(p.begin(), p.begin() + 12), Bytes(12, 20));  // a.PNG, grey copied
  EXPECT_EQ(Bytes(p.begin() + 12, p.begin() + 24), Bytes(12, 10));
  const int colour[] = {200, 100, 50};  // sub/c.jpg, JPEG (lossy even at quality 100)
  for (int k = 0; k < 12; ++k) EXPECT_NEAR(p[24 + k], colour[k / 4], 3) << k;
}

TEST_F(ImageFolder, GreyWhereNoneHasColourAndAlphaDropped) {
  write_flat(path("g.png"), 1, 1, {40, 255});  // grey + alpha
  EXPECT_EQ(load_image_folder(dir_.string()).images.pixels, Bytes{40});
  write_flat(path("rgba.png"), 1, 1, {10, 20, 30, 0});
  const Dataset d = load_image_folder(dir_.string());
  EXPECT_EQ(d.images.channels, 3);
  EXPECT_EQ(d.images.pixels, (Bytes{40, 40, 40, 10, 20, 30}));
}

TEST_F(ImageFolder, FittedToTheShapeAsked) {
  Bytes square, wide;  // 4x4 grey as in BoxAveragesWhenShrinking; 4 wide, 2 tall RGB
  for (int k = 0; k < 16; ++k) square.push_back(static_cast<uint8_t>(16 * (k / 4) + 4 * (k % 4)));
  for (int k = 0; k < 8; ++k) wide.insert(wide.end(), {static_cast<uint8_t>(k), 0, 0});
  write_image(path("a.png"), 4, 4, 1, square);
  write_image(path("b.png"), 4, 2, 3, wide);
  const Dataset as_grey = load_image_folder(dir_.string(), {2, 1});
  EXPECT_EQ(as_grey.images.pixels,
            (Bytes{10, 18, 42, 50, 0, 1, 1, 2}));  // 0.299 R: 1->0, 2->1, 5->1, 6->2
  const Dataset rgb = load_image_folder(dir_.string(), {2, 3});
  EXPECT_EQ(Bytes(rgb.images.pixels.begin() + 12, rgb.images.pixels.begin() + 16),
            (Bytes{1, 2, 5, 6}));  // b.png's red plane, center-cropped
}

TEST_F(ImageFolder, Errors) {
  expect_error([&] { load_image_folder(path("absent")); }, {path("absent"), "no such directory"});
  write_bytes(path("notes.txt"), {1});
  expect_error([&] { load_image_folder(path("notes.txt")); },
               {path("notes.txt"), "not a directory"});
  expect_error([&] { load_image_folder(dir_.string()); },
               {dir_.string(), "no PNG or JPEG images (searched recursively)"});
  write_flat(path("a.png"), 40, 30, {1});
  write_flat(path("b.png"), 32, 32, {1});
  expect_error([&] { load_image_folder(dir_.string()); },
               {"images differ in size (" + path("a.png") + " is 40x30, " + path("b.png") +
                " is 32x32): give --resolution"});
  fs::remove(path("b.png"));
  expect_error([&] { load_image_folder(dir_.string()); },
               {path("a.png") + " is 40x30", "not square", "give --resolution"});
  EXPECT_EQ(load_image_folder(dir_.string(), {8, 0}).images.count, 1);
}

TEST_F(ImageFolder, CorruptAndTruncatedFilesAreNamed) {
  write_flat(path("a.png"), 8, 8, {1, 2, 3});
  const std::string png = ag::test::read_file(path("a.png"));
  write_bytes(path("b.png"),
              Bytes(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2)));
  expect_error([&] { load_image_folder(dir_.string()); },
               {path("b.png"), "cannot read as an image: "});
  write_bytes(path("b.png"), {'n', 'o', 't', ' ', 'a', 'n', ' ', 'i', 'm', 'a', 'g', 'e'});
  expect_error([&] { load_image_folder(dir_.string()); },
               {path("b.png"), "cannot read as an image: "});
}

TEST_F(LoadSplit, ChoosesTheReaderByWhatTheFolderHolds) {
  write_idx(path("idx"), "train", Bytes(28 * 28, 77));
  write_cifar(path("cifar"));
  write_flat(path("folder/x.png"), 3, 3, {5});
  const Dataset idx = load_split(path("idx"), true);
  EXPECT_EQ(idx.images.channels, 1);
  EXPECT_EQ(idx.labels.labels, Bytes{7});
  const Dataset cifar = load_split(path("cifar"), false);
  EXPECT_EQ(cifar.images.channels, 3);
  EXPECT_EQ(cifar.labels.labels, Bytes{9});
  for (bool train : {true, false}) {
    const Dataset folder = load_split(path("folder"), train);
    EXPECT_EQ(folder.images.pixels, Bytes(9, 5));
    EXPECT_TRUE(folder.labels.labels.empty());
  }
  expect_error([&] { load_split(path("absent"), true); }, {"load_split: ", path("absent")});
}

TEST_F(LoadSplit, FitsIdxAndCifarToTheShape) {
  Bytes pixels(28 * 28, 77);
  pixels[0] = 255;  // (0, 0) stays a corner sample when enlarged
  write_idx(path("idx"), "t10k", pixels);
  const Dataset idx = load_split(path("idx"), false, {32, 3});
  EXPECT_EQ(idx.images.count, 1);
  EXPECT_EQ(idx.images.channels, 3);
  EXPECT_EQ(idx.images.rows, 32);
  EXPECT_EQ(idx.images.cols, 32);
  const Bytes& p = idx.images.pixels;
  ASSERT_EQ(p.size(), 3u * 32 * 32);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(p[c * 1024], 255) << c;
    EXPECT_EQ(p[c * 1024 + 31 * 32 + 31], 77) << c;
    EXPECT_EQ(Bytes(p.begin() + 1024 * c, p.begin() + 1024 * (c + 1)),
              Bytes(p.begin(), p.begin() + 1024));
  }
  write_cifar(path("cifar"));
  const Dataset cifar = load_split(path("cifar"), true, {16, 1});
  EXPECT_EQ(cifar.images.count, 5);
  EXPECT_EQ(cifar.images.channels, 1);
  EXPECT_EQ(cifar.images.rows, 16);
}

TEST(ResolveDatasetDir, Cifar10IsUnderData) {
  const std::string dir = resolve_dataset_dir("cifar10");
  EXPECT_EQ(dir.substr(dir.size() - 12), "data/cifar10") << dir;
}

}  // namespace datasets_test
}  // namespace data
