// Safetensors checkpoints: bit-exact round trips (every dtype, 0-d, empty
// and strided tensors, a whole U-Net), the byte layout, one clear error per
// kind of corrupted file, load_into mismatches, and atomic saves.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "nn/checkpoint.h"
#include "nn/unet.h"
#include "tests/gradcheck.h"
#include "tests/scratch_dir.h"

namespace ag::test {

namespace {

namespace fs = std::filesystem;

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string le64(uint64_t n) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  return bytes;
}

// A file from a hand-written header and data section.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// The tensor's elements, contiguous, as raw bytes.
std::string raw_bytes(const Tensor& t) {
  const Tensor host = t.detach().to(Device::CPU).contiguous();
  const size_t n = static_cast<size_t>(host.numel()) * dtype_size(host.dtype());
  return n == 0 ? std::string() : std::string(static_cast<const char*>(host.data_ptr()), n);
}

float float_from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

double double_from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

::testing::AssertionResult same_tensors(const nn::NamedTensors& got, const nn::NamedTensors& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " tensors, expected " << want.size();
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& [name, t] = got[i];
    const auto& [want_name, w] = want[i];
    if (name != want_name || t.dtype() != w.dtype() || t.shape() != w.shape() ||
        raw_bytes(t) != raw_bytes(w))
      return ::testing::AssertionFailure() << "'" << name << "' " << dtype_name(t.dtype())
                                           << shape_str(t.shape()) << " differs from '" << want_name
                                           << "' " << dtype_name(w.dtype()) << shape_str(w.shape());
  }
  return ::testing::AssertionSuccess();
}

// `f` throws a one-line std::runtime_error starting with "<path>: " and
// containing every one of `parts`.
template <class F>
::testing::AssertionResult fails_with(F&& f, const std::string& path,
                                      const std::vector<std::string>& parts) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    if (msg.rfind(path + ": ", 0) != 0 || msg.find('\n') != std::string::npos)
      return ::testing::AssertionFailure() << "message does not lead with the path: " << msg;
    for (const std::string& part : parts)
      if (msg.find(part) == std::string::npos)
        return ::testing::AssertionFailure() << "'" << part << "' not in: " << msg;
    return ::testing::AssertionSuccess() << msg;
  }
  return ::testing::AssertionFailure() << "no error";
}

::testing::AssertionResult load_fails_with(const std::string& path,
                                           const std::vector<std::string>& parts) {
  return fails_with([&] { io::load_safetensors(path); }, path, parts);
}

// Tensors of every dtype, with bit patterns a lossy path would change.
nn::NamedTensors assorted_tensors() {
  const float nan_payload = float_from_bits(0x7fc01234u);
  const float denormal = float_from_bits(0x00000001u);
  const double nan64 = double_from_bits(0x7ff8000000abcdefull);
  const Tensor grid = arange(12, DType::F32) * 0.1;
  return {
      {"f32", from_vector(std::vector<float>{1.5f, -0.0f, nan_payload, denormal,
                                             std::numeric_limits<float>::infinity(), 3.14159f},
                          {2, 3})},
      {"f64", from_vector(std::vector<double>{nan64, -1e-310, 2.718281828459045}, {3})},
      {"i32", from_vector(std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -1, 0,
                                               std::numeric_limits<int32_t>::max()},
                          {2, 2})},
      {"scalar", full({}, 0.1, DType::F64)},
      {"empty", zeros({0, 3})},
      {"strided", transpose(reshape(grid, {3, 4}), 0, 1)},
      {"sliced", slice(reshape(grid, {3, 4}), 1, 1, 3)},
  };
}

nn::NamedTensors sorted_by_name(nn::NamedTensors tensors) {
  std::sort(tensors.begin(), tensors.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return tensors;
}

// A valid two-tensor file, to be damaged by the corruption tests.
std::string two_tensor_file(const std::string& path) {
  io::save_safetensors(path, {{"a", arange(3)}, {"b", arange(5, DType::F64)}});
  return read_file(path);
}

uint64_t header_size(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[i]);
  return n;
}

}  // namespace

using SafetensorsRoundTrip = ScratchDir;
using SafetensorsFormat = ScratchDir;
using SafetensorsCorrupt = ScratchDir;
using SafetensorsLoadInto = ScratchDir;
using SafetensorsSave = ScratchDir;

TEST_F(SafetensorsRoundTrip, EveryDtypeBitExact) {
  const nn::NamedTensors tensors = assorted_tensors();
  ASSERT_FALSE(tensors[5].second.is_contiguous());
  ASSERT_FALSE(tensors[6].second.is_contiguous());
  io::save_safetensors(path("x.safetensors"), tensors);
  const io::SafetensorsFile file = io::load_safetensors(path("x.safetensors"));
  EXPECT_TRUE(same_tensors(file.tensors, sorted_by_name(tensors)));
  for (const auto& [name, t] : file.tensors) {
    EXPECT_EQ(t.device(), Device::CPU) << name;
    EXPECT_TRUE(t.is_contiguous()) << name;
  }
  EXPECT_TRUE(file.metadata.empty());
}

TEST_F(SafetensorsRoundTrip, Metadata) {
  const io::Metadata metadata = {
      {"format", "pt"}, {"preset", "tiny"}, {"empty", ""}, {"unicode", "\xce\xb2_t \xe2\x86\x92"}};
  io::save_safetensors(path("m.safetensors"), {{"w", ones({2})}}, metadata);
  EXPECT_EQ(io::load_safetensors(path("m.safetensors")).metadata, metadata);
  io::save_safetensors(path("only.safetensors"), {}, metadata);
  const io::SafetensorsFile only = io::load_safetensors(path("only.safetensors"));
  EXPECT_TRUE(only.tensors.empty());
  EXPECT_EQ(only.metadata, metadata);
}

TEST_F(SafetensorsRoundTrip, TinyUNetIntoDifferentlySeededUNet) {
  nn::UNet saved(nn::unet_preset("tiny"), 1);
  nn::UNet loaded(nn::unet_preset("tiny"), 2);
  const nn::NamedTensors before = loaded.named_parameters();
  ASSERT_FALSE(same_tensors(before, saved.named_parameters()));
  nn::save_module(path("unet.safetensors"), saved, {{"preset", "tiny"}});
  nn::load_module(path("unet.safetensors"), loaded);
  const nn::NamedTensors after = loaded.named_parameters();
  EXPECT_TRUE(same_tensors(after, saved.named_parameters()));
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(after[i].second.same(before[i].second)) << "loaded in place: " << after[i].first;
    EXPECT_TRUE(after[i].second.requires_grad() && after[i].second.is_leaf());
  }
  EXPECT_EQ(io::load_safetensors(path("unet.safetensors")).metadata.at("preset"), "tiny");
}

TEST_F(SafetensorsFormat, ByteLayoutOfATinyFile) {
  io::save_safetensors(path("tiny.safetensors"),
                       {{"b", from_vector(std::vector<float>{1.0f, -2.0f}, {2})},
                        {"a", from_vector(std::vector<int32_t>{258}, {1, 1})}},
                       {{"k", "v"}});
  std::string header = R"({"__metadata__":{"k":"v"},)"
                       R"("a":{"data_offsets":[0,4],"dtype":"I32","shape":[1,1]},)"
                       R"("b":{"data_offsets":[4,12],"dtype":"F32","shape":[2]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string data(
      "\x02\x01\x00\x00"   // int32 258
      "\x00\x00\x80\x3f"   // float 1.0
      "\x00\x00\x00\xc0",  // float -2.0
      12);
  const std::string bytes = read_file(path("tiny.safetensors"));
  ASSERT_EQ(bytes.size(), 8 + header.size() + data.size());
  EXPECT_EQ(bytes.substr(0, 8), le64(header.size()));
  EXPECT_EQ(header.size() % 8, 0u);
  EXPECT_EQ(bytes.substr(8, header.size()), header);
  EXPECT_EQ(bytes.substr(8 + header.size()), data);
}

TEST_F(SafetensorsCorrupt, MissingFile) {
  EXPECT_TRUE(load_fails_with(path("absent.safetensors"), {"cannot open"}));
  EXPECT_TRUE(load_fails_with(dir_.string(), {"not a regular file"}));
}

TEST_F(SafetensorsCorrupt, ShorterThanTheLengthPrefix) {
  write_file(path("short.safetensors"), std::string("\x10\x00\x00", 3));
  EXPECT_TRUE(load_fails_with(path("short.safetensors"), {"3 bytes", "too short"}));
}

TEST_F(SafetensorsCorrupt, TruncatedDataSection) {
  const std::string bytes = two_tensor_file(path("x.safetensors"));
  write_file(path("x.safetensors"), bytes.substr(0, bytes.size() - 4));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"tensor 'b'", "beyond", "truncated"}));
}

TEST_F(SafetensorsCorrupt, TruncatedHeader) {
  const std::string bytes = two_tensor_file(path("x.safetensors"));
  write_file(path("x.safetensors"), bytes.substr(0, 8 + header_size(bytes) / 2));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"header length", "truncated"}));
}

TEST_F(SafetensorsCorrupt, HeaderLengthBeyondFile) {
  const std::string bytes = two_tensor_file(path("x.safetensors"));
  write_file(path("x.safetensors"), le64(bytes.size()) + bytes.substr(8));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"header length", "exceeds"}));
  write_file(path("x.safetensors"), le64(uint64_t{1} << 40) + bytes.substr(8));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"100 MB"}));
}

TEST_F(SafetensorsCorrupt, GarbageJson) {
  write_file(path("x.safetensors"), file_bytes("{\"a\": nonsense", ""));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"not valid JSON"}));
  write_file(path("x.safetensors"), file_bytes("[1, 2]", ""));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"not a JSON object"}));
}

TEST_F(SafetensorsCorrupt, BadDtype) {
  write_file(path("x.safetensors"),
             file_bytes(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
                        std::string(4, '\0')));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"tensor 'w'", "unsupported dtype \"BF16\""}));
}

TEST_F(SafetensorsCorrupt, OverlappingOffsets) {
  write_file(path("x.safetensors"),
             file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                        R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                        std::string(12, '\0')));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"tensor 'a'", "tensor 'b'", "overlap"}));
}

// The tensors must tile the data section, as in the reference loader: a hole
// or bytes past the last tensor (a header shifted against its data, say) are
// errors rather than tensors read from the wrong bytes.
TEST_F(SafetensorsCorrupt, DataNotCoveredExactly) {
  write_file(path("x.safetensors"),
             file_bytes(R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}})",
                        std::string(12, '\0')));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"bytes [4, 8)", "belong to no tensor"}));
  write_file(path("x.safetensors"),
             file_bytes(R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                        std::string(4, '\0') + "JUNK"));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"bytes [4, 8)", "belong to no tensor"}));
}

TEST_F(SafetensorsCorrupt, OffsetsOutOfBounds) {
  write_file(path("x.safetensors"),
             file_bytes(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}})",
                        std::string(16, '\0')));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"tensor 'w'", "[8, 24)", "16-byte"}));
}

TEST_F(SafetensorsCorrupt, ShapeSizeMismatch) {
  write_file(path("x.safetensors"),
             file_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                        std::string(8, '\0')));
  EXPECT_TRUE(load_fails_with(path("x.safetensors"), {"tensor 'w'", "8 bytes", "[3]", "12"}));
}

TEST_F(SafetensorsCorrupt, MalformedEntries) {
  const struct {
    std::string header;
    std::vector<std::string> parts;
  } cases[] = {
      {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", {"'w'", "non-negative"}},
      {R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", {"'w'", "non-negative"}},
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
       {"'w'", "too large"}},
      {R"({"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,0]}})",
       {"'w'", "non-negative"}},
      {R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", {"'w'", "not an array"}},
      {R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", {"'w'", "no \"shape\""}},
      {R"({"w":{"shape":[2],"data_offsets":[0,8]}})", {"'w'", "no \"dtype\""}},
      {R"({"w":{"dtype":"F32","shape":[2]}})", {"'w'", "no \"data_offsets\""}},
      {R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", {"'w'", "not a string"}},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", {"'w'", "two non-negative"}},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,"8"]}})", {"'w'", "two"}},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", {"'w'", "two"}},
      {R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", {"'w'", "begin > end"}},
      {R"({"w":[0,8]})", {"'w'", "not an object"}},
      {R"({"__metadata__":{"step":10}})", {"__metadata__", "'step'", "not a string"}},
      {R"({"__metadata__":"v1"})", {"__metadata__", "not an object"}},
      {R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
       R"("w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})",
       {"'w'", "twice"}},
  };
  for (const auto& c : cases) {
    write_file(path("x.safetensors"), file_bytes(c.header, std::string(16, '\0')));
    EXPECT_TRUE(load_fails_with(path("x.safetensors"), c.parts)) << c.header;
  }
}

TEST_F(SafetensorsFormat, ForeignLayoutsStillLoad) {
  // Unpadded header, data out of name order, and a shared empty range.
  write_file(path("x.safetensors"),
             file_bytes(R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},)"
                        R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
                        R"("c":{"dtype":"F32","shape":[0,2],"data_offsets":[4,4]}})",
                        std::string("\x07\x00\x00\x00\x09\x00\x00\x00", 8)));
  const io::SafetensorsFile file = io::load_safetensors(path("x.safetensors"));
  ASSERT_EQ(file.tensors.size(), 3u);
  EXPECT_EQ(file.tensors[0].second.to_vector<int32_t>(), std::vector<int32_t>{9});
  EXPECT_EQ(file.tensors[1].second.to_vector<int32_t>(), std::vector<int32_t>{7});
  EXPECT_EQ(file.tensors[2].second.shape(), (Shape{0, 2}));
}

TEST_F(SafetensorsLoadInto, MismatchesNameTheTensor) {
  const std::string p = path("x.safetensors");
  io::save_safetensors(p, {{"w", ones({2, 3})}, {"b", ones({3}, DType::F64)}});
  const io::SafetensorsFile file = io::load_safetensors(p);
  const Tensor w = zeros({2, 3});
  const Tensor b = zeros({3}, DType::F64);
  EXPECT_TRUE(fails_with(
      [&] {
        io::load_into({{"w", w}, {"b", b}, {"c", zeros({1})}}, file, p);
      },
      p, {"tensor 'c' missing"}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::load_into({{"w", zeros({3, 2})}, {"b", b}}, file, p);
      },
      p, {"tensor 'w' has shape [2, 3], the model expects [3, 2]"}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::load_into({{"w", w}, {"b", zeros({3})}}, file, p);
      },
      p, {"tensor 'b' has dtype F64, the model expects F32"}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::load_into({{"w", w}}, file, p);
      },
      p, {"unexpected tensor 'b'"}));
  EXPECT_EQ(raw_bytes(w), raw_bytes(zeros({2, 3}))) << "nothing copied before the checks pass";
}

TEST_F(SafetensorsLoadInto, PrefixSelectsOneGroup) {
  const std::string p = path("train.safetensors");
  io::save_safetensors(
      p, {{"model.w", full({2}, 1.0)}, {"ema.w", full({2}, 2.0)}, {"adam.m.w", full({2}, 3.0)}});
  const io::SafetensorsFile file = io::load_safetensors(p);
  const Tensor w = zeros({2});
  io::load_into({{"w", w}}, file, p, "ema.");
  EXPECT_TRUE(values_near(w, {2.0, 2.0}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::load_into({{"model.w", w}, {"ema.w", w}}, file, p);
      },
      p, {"unexpected tensor 'adam.m.w'"}));
}

TEST_F(SafetensorsSave, OverwritesAnExistingCheckpoint) {
  io::save_safetensors(path("x.safetensors"), {{"w", full({2}, 1.0)}});
  io::save_safetensors(path("x.safetensors"), {{"w", full({3}, 2.0)}});
  EXPECT_TRUE(values_near(io::load_safetensors(path("x.safetensors")).tensors.at(0).second,
                          {2.0, 2.0, 2.0}));
  EXPECT_EQ(files(), std::vector<std::string>{"x.safetensors"});
}

TEST_F(SafetensorsSave, FailedSaveLeavesTheExistingCheckpointUntouched) {
  const std::string p = path("x.safetensors");
  const std::string before = two_tensor_file(p);
  EXPECT_TRUE(fails_with(
      [&] {
        io::save_safetensors(p, {{"w", ones({1})}, {"w", ones({2})}});
      },
      p, {"duplicate tensor 'w'"}));
  EXPECT_TRUE(fails_with([&] { io::save_safetensors(p, {{"w", Tensor()}}); }, p, {"undefined"}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::save_safetensors(p, {{"__metadata__", ones({1})}});
      },
      p, {"reserved"}));
  EXPECT_TRUE(fails_with(
      [&] {
        io::save_safetensors(p, {}, {{"bad", "\xff"}});
      },
      p, {"cannot encode"}));
  EXPECT_EQ(read_file(p), before);
  EXPECT_EQ(files(), std::vector<std::string>{"x.safetensors"});
}

TEST_F(SafetensorsSave, MissingDirectory) {
  const std::string p = path("no/such/dir/x.safetensors");
  EXPECT_TRUE(fails_with(
      [&] {
        io::save_safetensors(p, {{"w", ones({1})}});
      },
      p, {"cannot save", "No such file or directory"}));
  EXPECT_TRUE(files().empty());
}

TEST_F(SafetensorsSave, FailedRenameRemovesTheTemporaryFile) {
  const std::string p = path("occupied");
  fs::create_directories(dir_ / "occupied" / "inside");
  EXPECT_TRUE(fails_with(
      [&] {
        io::save_safetensors(p, {{"w", ones({1})}});
      },
      p, {"cannot rename"}));
  EXPECT_EQ(files(), std::vector<std::string>{"occupied"});
  EXPECT_TRUE(fs::is_directory(dir_ / "occupied" / "inside"));
}

// The writer every saved file goes through: new bytes replace the old
// contents whole; a failure names the path and leaves nothing behind.
TEST_F(SafetensorsSave, WriteFileAtomicallyReplacesOrLeavesAlone) {
  const std::string p = path("notes.csv");
  io::write_file_atomically(p, "first version\n", 14);
  io::write_file_atomically(p, "second\n", 7);
  std::ifstream in(p);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "second\n");
  fs::create_directories(dir_ / "occupied" / "inside");
  EXPECT_TRUE(fails_with([&] { io::write_file_atomically(path("occupied"), "x", 1); },
                         path("occupied"), {"cannot rename"}));
  EXPECT_EQ(files(), (std::vector<std::string>{"notes.csv", "occupied"}));
}

}  // namespace ag::test
