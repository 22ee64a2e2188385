// model_fuzz_support.hpp — what the model-file fuzz targets share: inputs made to pass the checksum, the
// rules a refusal must follow, and a small batch of a loaded model's feature layout.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "crosstune/core/expected.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/model/serialization.hpp"

namespace crosstune::fuzz {

/// The name the targets give their inputs; every refusal must name it.
inline const std::string model_file_name = "fuzz.bin";

/// The input with its last 8 bytes replaced by the FNV-1a checksum of the rest. Random mutations would
/// almost never pass the checksum, so without this the fuzzer would only ever test the checksum.
inline std::string with_valid_checksum(const std::uint8_t* data, std::size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.size() < 8) return bytes;
  bytes.resize(bytes.size() - 8);
  model::detail::put(bytes, model::detail::fnv1a(bytes));
  return bytes;
}

/// Aborts unless `error` is how a loader refuses a file: a parse or schema error that names the file and
/// says what is wrong.
inline void require_refusal(const Error& error) {
  if (error.message.empty() || error.file != model_file_name ||
      (error.kind != ErrorKind::parse && error.kind != ErrorKind::schema)) {
    std::abort();
  }
}

/// Whether a batch of `layout` is small enough to build for every input (a layout's max steps are bounded
/// by the loader, not tied to the weights the input holds).
[[nodiscard]] inline bool small_enough(const features::FeatureLayout& layout) {
  const std::size_t cells =
      layout.max_steps * (layout.step_dims + 1) + layout.workload_dims + layout.hardware_dims;
  return cells <= (std::size_t{1} << 18);
}

/// Three candidates of `layout`: no step, one step, and up to five, with varied values in every cell.
inline features::FeatureBatch small_batch(const features::FeatureLayout& layout) {
  features::FeatureBatch batch;
  batch.reset(3, layout);
  for (std::size_t b = 0; b < 3; ++b) {
    const std::size_t length = b == 0 ? 0 : b == 1 ? 1 : std::min<std::size_t>(layout.max_steps, 5);
    batch.lengths[b] = static_cast<std::uint32_t>(length);
    for (std::size_t t = 0; t < length; ++t) {
      batch.mask(b, t) = 1.0f;
      for (std::size_t k = 0; k < layout.step_dims; ++k)
        batch.steps(b, t, k) = 0.25f * static_cast<float>((b + 3 * t + 5 * k) % 9) - 1.0f;
    }
    for (std::size_t k = 0; k < layout.workload_dims; ++k)
      batch.workload(b, k) = 0.5f * static_cast<float>((b + k) % 4);
    for (std::size_t k = 0; k < layout.hardware_dims; ++k)
      batch.hardware(b, k) = 1.0f + static_cast<float>(k % 3);
  }
  return batch;
}

/// Writes a seed file for the seed makers (make_model_seeds.cpp, make_xgb_seeds.cpp) and says so.
inline bool write_seed(const std::filesystem::path& path, const std::string& bytes) {
  auto written = io::write_file_atomically(path, bytes);
  if (!written) {
    std::fprintf(stderr, "%s\n", written.error().describe().c_str());
    return false;
  }
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
  return true;
}

}  // namespace crosstune::fuzz
