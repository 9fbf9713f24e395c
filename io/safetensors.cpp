#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "autograd/ops.h"
#include "io/atomic_file.h"

#if defined(__BYTE_ORDER__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and is copied as is");
#endif

namespace io {
namespace {

using ag::DType;
using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

std::string tensor_ref(const std::string& name) { return "tensor '" + name + "'"; }

const char* format_dtype(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
    case DType::I32:
      return "I32";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
  for (DType t : {DType::F32, DType::F64, DType::I32}) {
    if (s == format_dtype(t)) {
      out = t;
      return true;
    }
  }
  return false;
}

uint64_t nbytes(const ag::Tensor& t) {
  return static_cast<uint64_t>(t.numel()) * ag::dtype_size(t.dtype());
}

// ---- saving ----

struct Record {
  std::string name;
  ag::Tensor host;  // CPU, contiguous
  uint64_t begin = 0;
  uint64_t end = 0;
};

// Host copies sorted by name, laid out back to back.
std::vector<Record> host_records(const std::string& path, const NamedTensors& tensors) {
  ag::NoGradGuard no_grad;
  std::vector<Record> records;
  for (const auto& [name, t] : tensors) {
    if (name == kMetadataKey) fail(path, "'" + name + "' is reserved and cannot name a tensor");
    if (!t.defined()) fail(path, tensor_ref(name) + " is undefined");
    records.push_back({name, t.detach().to(ag::Device::CPU).contiguous()});
  }
  std::sort(records.begin(), records.end(),
            [](const Record& a, const Record& b) { return a.name < b.name; });
  for (size_t i = 1; i < records.size(); ++i)
    if (records[i].name == records[i - 1].name)
      fail(path, "duplicate " + tensor_ref(records[i].name));
  uint64_t offset = 0;
  for (Record& r : records) {
    r.begin = offset;
    offset += nbytes(r.host);
    r.end = offset;
  }
  return records;
}

// The JSON header, padded with spaces to a multiple of 8 bytes so the data
// section starts aligned (as the reference implementation does).
std::string header_text(const std::string& path, const std::vector<Record>& records,
                        const Metadata& metadata) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  for (const Record& r : records)
    header[r.name] = {{"dtype", format_dtype(r.host.dtype())},
                      {"shape", r.host.shape()},
                      {"data_offsets", json::array({r.begin, r.end})}};
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    fail(path, std::string("cannot encode the header: ") + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

void write_file(const std::string& path, const std::string& header,
                const std::vector<Record>& records) {
  AtomicFile file(path);
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  file.write(length, sizeof(length));
  file.write(header.data(), header.size());
  for (const Record& r : records) file.write(r.host.data_ptr(), r.end - r.begin);
  file.commit();
}

// ---- loading ----

struct Entry {
  std::string name;
  DType dtype = DType::F32;
  ag::Shape shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

uint64_t regular_file_size(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  if (!std::filesystem::is_regular_file(status)) fail(path, "not a regular file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot read the size: " + ec.message());
  return size;
}

std::string read_bytes(std::ifstream& in, uint64_t n, const std::string& path, const char* what) {
  std::string bytes(n, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(n)))
    fail(path, std::string("cannot read the ") + what);
  return bytes;
}

uint64_t header_length(std::ifstream& in, const std::string& path, uint64_t size) {
  if (size < 8)
    fail(path, "file is " + std::to_string(size) +
                   " bytes, too short for the 8-byte header length (not a safetensors file?)");
  const std::string prefix = read_bytes(in, 8, path, "header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(prefix[i]);
  if (n > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(n) +
                   " exceeds the 100 MB limit (not a safetensors file?)");
  if (n > size - 8)
    fail(path, "header length " + std::to_string(n) + " exceeds the " + std::to_string(size - 8) +
                   " bytes after the length prefix (truncated file?)");
  return n;
}

// Parses the header, rejecting duplicate top-level names (which a plain
// parse would silently collapse to the last one).
json parse_header(const std::string& text, const std::string& path) {
  std::set<std::string> names;
  std::string duplicate;
  const json::parser_callback_t note_keys = [&](int depth, json::parse_event_t event,
                                                json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 &&
        !names.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(text, note_keys);
  } catch (const json::exception& e) {
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  if (!duplicate.empty()) fail(path, "header names '" + duplicate + "' twice");
  return header;
}

Metadata parse_metadata(const json& j, const std::string& path) {
  if (!j.is_object()) fail(path, std::string(kMetadataKey) + " is not an object");
  Metadata metadata;
  for (const auto& [key, value] : j.items()) {
    if (!value.is_string())
      fail(path, std::string(kMetadataKey) + " value '" + key + "' is not a string");
    metadata[key] = value.get<std::string>();
  }
  return metadata;
}

const json& field(const json& entry, const char* key, const std::string& path,
                  const std::string& name) {
  const auto it = entry.find(key);
  if (it == entry.end()) fail(path, tensor_ref(name) + " has no \"" + key + "\"");
  return *it;
}

DType entry_dtype(const json& j, const std::string& path, const std::string& name) {
  DType dtype = DType::F32;
  if (!j.is_string()) fail(path, tensor_ref(name) + " has dtype " + j.dump() + ", not a string");
  if (!parse_dtype(j.get<std::string>(), dtype))
    fail(path,
         tensor_ref(name) + " has unsupported dtype " + j.dump() + " (supported: F32, F64, I32)");
  return dtype;
}

// Dimensions must be non-negative and small enough that every stride and the
// byte size fit in int64.
ag::Shape entry_shape(const json& j, DType dtype, const std::string& path,
                      const std::string& name) {
  const std::string bad = tensor_ref(name) + " has shape " + j.dump() + ": ";
  if (!j.is_array()) fail(path, bad + "not an array");
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t extent = ag::dtype_size(dtype);
  ag::Shape shape;
  for (const json& d : j) {
    if (!d.is_number_unsigned()) fail(path, bad + "dimensions must be non-negative integers");
    const uint64_t v = std::max<uint64_t>(d.get<uint64_t>(), 1);
    if (v > limit / extent) fail(path, bad + "too large");
    extent *= v;
    shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
  }
  return shape;
}

void parse_offsets(const json& j, uint64_t data_size, const std::string& path, Entry& e) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_number_unsigned() || !j[1].is_number_unsigned())
    fail(path, tensor_ref(e.name) + " has data_offsets " + j.dump() +
                   ", expected two non-negative integers");
  e.begin = j[0].get<uint64_t>();
  e.end = j[1].get<uint64_t>();
  const std::string range = "[" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ")";
  if (e.begin > e.end)
    fail(path, tensor_ref(e.name) + " has data_offsets " + range + " with begin > end");
  if (e.end > data_size)
    fail(path, tensor_ref(e.name) + " has data_offsets " + range + " beyond the " +
                   std::to_string(data_size) + "-byte data section (truncated file?)");
  const uint64_t expected =
      static_cast<uint64_t>(ag::shape_numel(e.shape)) * ag::dtype_size(e.dtype);
  if (e.end - e.begin != expected)
    fail(path, tensor_ref(e.name) + " holds " + std::to_string(e.end - e.begin) +
                   " bytes, but shape " + ag::shape_str(e.shape) + " of " + format_dtype(e.dtype) +
                   " needs " + std::to_string(expected));
}

Entry parse_entry(const std::string& name, const json& j, uint64_t data_size,
                  const std::string& path) {
  if (!j.is_object())
    fail(path, tensor_ref(name) + " is described by " + j.dump() + ", not an object");
  Entry e;
  e.name = name;
  e.dtype = entry_dtype(field(j, "dtype", path, name), path, name);
  e.shape = entry_shape(field(j, "shape", path, name), e.dtype, path, name);
  parse_offsets(field(j, "data_offsets", path, name), data_size, path, e);
  return e;
}

// The tensors tile the data section, as the format requires: in offset order
// each begins where the one before ends, from byte 0 to the last. A header
// shifted against its data, or bytes appended, are errors, not a misread.
void check_layout(std::vector<Entry> entries, uint64_t data_size, const std::string& path) {
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const Entry& e) { return e.begin == e.end; }),
                entries.end());
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  auto unclaimed = [&](uint64_t from, uint64_t to) {
    fail(path, "bytes [" + std::to_string(from) + ", " + std::to_string(to) +
                   ") of the data section belong to no tensor");
  };
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].begin < covered)
      fail(path, tensor_ref(entries[i - 1].name) + " and " + tensor_ref(entries[i].name) +
                     " overlap in the data section");
    if (entries[i].begin > covered) unclaimed(covered, entries[i].begin);
    covered = entries[i].end;
  }
  if (covered != data_size) unclaimed(covered, data_size);
}

ag::Tensor make_tensor(const Entry& e, const std::string& data) {
  ag::Tensor t = ag::empty(e.shape, e.dtype);
  if (e.end > e.begin) std::memcpy(t.data_ptr(), data.data() + e.begin, e.end - e.begin);
  return t;
}

void check_compatible(const ag::Tensor& stored, const ag::Tensor& target, const std::string& name,
                      const std::string& path) {
  if (stored.dtype() != target.dtype())
    fail(path, tensor_ref(name) + " has dtype " + format_dtype(stored.dtype()) +
                   ", the model expects " + format_dtype(target.dtype()));
  if (stored.shape() != target.shape())
    fail(path, tensor_ref(name) + " has shape " + ag::shape_str(stored.shape()) +
                   ", the model expects " + ag::shape_str(target.shape()));
}

}  // namespace

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const Metadata& metadata) {
  const std::vector<Record> records = host_records(path, tensors);
  const std::string header = header_text(path, records, metadata);
  try {
    write_file(path, header, records);
  } catch (const std::exception& e) {
    fail(path, std::string("cannot save: ") + e.what());
  }
}

SafetensorsFile load_safetensors(const std::string& path) {
  const uint64_t size = regular_file_size(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open for reading");
  const uint64_t length = header_length(in, path, size);
  const json header = parse_header(read_bytes(in, length, path, "header"), path);
  const uint64_t data_size = size - 8 - length;
  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey)
      file.metadata = parse_metadata(value, path);
    else
      entries.push_back(parse_entry(key, value, data_size, path));
  }
  check_layout(entries, data_size, path);
  const std::string data = read_bytes(in, data_size, path, "data section");
  for (const Entry& e : entries) file.tensors.emplace_back(e.name, make_tensor(e, data));
  return file;
}

void load_into(const NamedTensors& targets, const SafetensorsFile& file, const std::string& path,
               const std::string& prefix) {
  std::map<std::string, ag::Tensor> stored(file.tensors.begin(), file.tensors.end());
  std::set<std::string> expected;
  for (const auto& [name, target] : targets) {
    const std::string key = prefix + name;
    const auto it = stored.find(key);
    if (it == stored.end()) fail(path, tensor_ref(key) + " missing");
    check_compatible(it->second, target, key, path);
    expected.insert(key);
  }
  for (const auto& [name, t] : file.tensors)
    if (name.compare(0, prefix.size(), prefix) == 0 && expected.count(name) == 0)
      fail(path, "unexpected " + tensor_ref(name) + ", the model has no such tensor");
  ag::NoGradGuard no_grad;
  for (const auto& [name, target] : targets) target.copy_(stored.at(prefix + name));
}

}  // namespace io
