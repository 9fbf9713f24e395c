// What the harnesses share: the fuzzer's input as a file (the readers take
// paths), the tiny U-Net the checkpoint harnesses load into, and the one way
// a harness reports a broken invariant.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "nn/unet.h"

namespace fuzz {

// <tmp>/<name>.<pid>: one file per process, so that fuzzers running side by
// side never share one.
inline std::string scratch_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + "." + std::to_string(::getpid())))
      .string();
}

// Writes bytes to scratch_path(name) and returns that path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = scratch_path(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// A finding: the reader returned, or failed, in a way it must not.
[[noreturn]] inline void broken(const std::string& what) {
  std::fprintf(stderr, "fuzz: invariant broken: %s\n", what.c_str());
  std::abort();
}

// The smallest U-Net with every kind of block (a single level, so no
// resampling): a checkpoint of it is under 100 kilobytes.
inline nn::UNetConfig tiny_config() {
  nn::UNetConfig c;
  c.in_ch = 1;
  c.ch = 4;
  c.ch_mult = {1};
  c.num_res_blocks = 1;
  c.attn_resolutions = {4};
  c.dropout = 0.1;
  c.num_groups = 1;
  c.resolution = 4;
  return c;
}

}  // namespace fuzz
