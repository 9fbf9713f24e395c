// Named tensors in the safetensors format (https://github.com/huggingface/safetensors):
// an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data. Files open
// directly in Python (numpy, torch, the safetensors package). Layout, names
// and validation in docs/checkpoints.md.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace io {

// The same type as nn::NamedTensors, so a module's parameters pass as they are.
using NamedTensors = std::vector<std::pair<std::string, ag::Tensor>>;
using Metadata = std::map<std::string, std::string>;

// Writes `tensors` (any device, any strides; F32, F64 or I32) and `metadata`
// to `path` atomically: a temporary file in the same directory is written,
// flushed to disk and renamed over `path`. On any error (duplicate or
// reserved names, I/O failure) the temporary file is removed, an existing
// file at `path` is left as it was, and std::runtime_error names `path`.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});

struct SafetensorsFile {
  NamedTensors tensors;  // CPU, contiguous, sorted by name
  Metadata metadata;
};

// Reads and validates a whole file; every defect (truncation, malformed
// header, unknown dtype, bad shapes or offsets, overlapping tensors, data
// bytes that belong to no tensor) throws std::runtime_error with a one-line
// message naming the file and, where there is one, the tensor.
SafetensorsFile load_safetensors(const std::string& path);

// Copies file tensor prefix + name into each target, in place and without
// recording history. Everything is checked before anything is copied: every
// target must be present with the same dtype and shape, and the file must
// hold no other tensor whose name starts with `prefix`. `path` is only used
// in error messages.
void load_into(const NamedTensors& targets, const SafetensorsFile& file, const std::string& path,
               const std::string& prefix = "");

}  // namespace io
