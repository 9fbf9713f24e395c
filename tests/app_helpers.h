// What the app tests share: a synthetic IDX dataset, running a program with
// its output captured, and reading files back.
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace apps_test {

namespace fs = std::filesystem;

// train_mnist's flags for a run of a few quick steps: a short process, tiny
// grids, one thread.
constexpr const char* kSmall =
    " --T 20 --batch 4 --sample-n 4 --sample-steps 2 --sample-every 0 --threads 1";

inline void put_u32(std::ofstream& f, uint32_t v) {
  const unsigned char b[4] = {static_cast<unsigned char>(v >> 24),
                              static_cast<unsigned char>(v >> 16),
                              static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
  f.write(reinterpret_cast<const char*>(b), 4);
}

// n images of 28x28 under the training and test names: a bright square whose
// height encodes the label i % 10 (so a classifier can learn it).
inline fs::path make_dataset(const std::string& name, int n) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::create_directories(dir);
  for (const char* split : {"train", "t10k"}) {
    std::ofstream img(dir / (std::string(split) + "-images-idx3-ubyte"), std::ios::binary);
    put_u32(img, 0x803), put_u32(img, n), put_u32(img, 28), put_u32(img, 28);
    for (int i = 0; i < n; ++i)
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
          img.put(std::abs(y - 5 - 2 * (i % 10)) < 3 && std::abs(x - 14) < 6 ? char(255) : 0);
    std::ofstream lab(dir / (std::string(split) + "-labels-idx1-ubyte"), std::ios::binary);
    put_u32(lab, 0x801), put_u32(lab, n);
    for (int i = 0; i < n; ++i) lab.put(static_cast<char>(i % 10));
  }
  return dir;
}

inline std::string read(const fs::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// The exit code scripts/sanitize.sh gives a sanitizer's finding: a test that
// expects a program to fail (any non-zero exit) would otherwise pass on one.
constexpr int kSanitizerExit = 66;

inline int run_exe(const char* exe, const std::string& args, const fs::path& log) {
  const std::string cmd = std::string(exe) + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  EXPECT_NE(code, kSanitizerExit) << exe << " " << args << " stopped on a sanitizer finding:\n"
                                  << read(log);
  return code;
}

// Width and height from a PNG's IHDR chunk.
inline std::pair<int, int> png_size(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  unsigned char h[24] = {};
  f.read(reinterpret_cast<char*>(h), 24);
  EXPECT_EQ(h[1], 'P');
  EXPECT_EQ(h[12], 'I');
  auto u32 = [&](int at) {
    return (h[at] << 24) | (h[at + 1] << 16) | (h[at + 2] << 8) | h[at + 3];
  };
  return {u32(16), u32(20)};
}

inline int64_t lines(const fs::path& p) {
  const std::string s = read(p);
  return std::count(s.begin(), s.end(), '\n');
}

}  // namespace apps_test
