// model_file_surgery.hpp — edits to the fields of a model file that keep its checksum valid, for the tests
// of the loaders (test_serialization.cpp, test_mlp.cpp): a crafted file passes the checksum, so these
// tests reach the checks that come after it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "crosstune/model/serialization.hpp"

namespace crosstune::test {

/// `bytes` with its last 8 bytes replaced by the FNV-1a checksum of the rest, as a crafted file has.
inline std::string with_valid_checksum(std::string bytes) {
  bytes.resize(bytes.size() - 8);
  model::detail::put(bytes, model::detail::fnv1a(bytes));
  return bytes;
}

/// Overwrites the value of type T at `offset` (the checksum is not updated: see with_valid_checksum).
template <class T>
void overwrite(std::string& bytes, std::size_t offset, T value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

template <class T>
[[nodiscard]] T read_at(const std::string& bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

/// Where the fields of a model file are: magic and version, `architecture_fields` u64 fields, the
/// feature layout (its name `layout_name_bytes` long), the parameters, the checksum.
struct ModelFileOffsets {
  std::size_t architecture_fields;
  std::size_t layout_name_bytes;

  [[nodiscard]] std::size_t architecture(std::size_t i) const { return 12 + 8 * i; }
  [[nodiscard]] std::size_t layout_name_length() const { return architecture(architecture_fields); }
  /// Layout dimension i: 0 step dims, 1 max steps, 2 workload dims, 3 hardware dims.
  [[nodiscard]] std::size_t layout_dim(std::size_t i) const {
    return layout_name_length() + 4 + layout_name_bytes + 4 + 8 * i;
  }
  [[nodiscard]] std::size_t parameter_count() const { return layout_dim(4); }
  /// The rows field of parameter k (cols follow, then the values), found by walking the shapes.
  [[nodiscard]] std::size_t parameter(const std::string& bytes, std::size_t k) const {
    std::size_t at = parameter_count() + 8;
    for (std::size_t i = 0; i < k; ++i)
      at += 16 + read_at<std::uint64_t>(bytes, at) * read_at<std::uint64_t>(bytes, at + 8) * sizeof(float);
    return at;
  }
};

}  // namespace crosstune::test
