// Element types and shapes: a tensor's bytes are interpreted through DType
// (where they live is its Device, device.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ag {

enum class DType { F32, F64, I32 };  // I32 only indexes (gather), never has grad

using Shape = std::vector<int64_t>;

inline size_t dtype_size(DType t) { return t == DType::F64 ? 8 : 4; }
inline bool is_floating(DType t) { return t != DType::I32; }
const char* dtype_name(DType t);
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

}  // namespace ag
