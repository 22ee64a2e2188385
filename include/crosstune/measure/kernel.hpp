// crosstune/measure/kernel.hpp — what the measurers are handed: a kernel's C++ source with a declared
// entry point, and the buffers it reads and writes.
//
// measure/ knows nothing of crosstune's IR: any code generator (crosstune's own, a DSL backend's) hands
// it source text whose entry point has the packed signature
//
//     extern "C" void ENTRY(float* const* args);     // args[i] is buffer i of the KernelSignature
//
// and declares each buffer's element count and whether the kernel writes it. Inputs are filled from a
// seed by fill_input() (the same values in every process, so a caller can compute a reference on its
// side), outputs are checked against a reference kernel's outputs or the caller's values.
//
//   measure::KernelSignature gemm{{{"A", 512 * 512}, {"B", 512 * 512}, {"C", 512 * 512, true}}};
//   measure::KernelSource k{.preamble = preamble, .body = source, .entry = "k0_packed"};
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::measure {

/// One float buffer the kernel takes, in argument order.
struct BufferSpec {
  std::string name{};
  std::int64_t elements = 0;
  bool output = false;  ///< written by the kernel (and checked); inputs are read only
  friend bool operator==(const BufferSpec&, const BufferSpec&) = default;
};

/// The buffers of a kernel, in the order of `args`.
struct KernelSignature {
  std::vector<BufferSpec> buffers{};

  [[nodiscard]] std::int64_t total_elements() const noexcept {
    std::int64_t n = 0;
    for (const auto& b : buffers) n += b.elements;
    return n;
  }
  /// At least one output, every count at least 1, at most 2^36 floats (256 GiB) in all.
  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](const std::string& what) {
      return unexpected(Error(ErrorKind::invalid_argument, "measure::KernelSignature: " + what, {}, 0, 0,
                              "declare every buffer of the kernel's args with its element count"));
    };
    if (buffers.empty()) return bad("no buffers");
    bool any_output = false;
    std::int64_t total = 0;
    for (const auto& b : buffers) {
      if (b.elements < 1) return bad("buffer '" + b.name + "' has " + std::to_string(b.elements) + " elements");
      if (b.elements > (std::int64_t{1} << 36) || (total += b.elements) > (std::int64_t{1} << 36))
        return bad("the buffers hold more than 2^36 floats");
      any_output = any_output || b.output;
    }
    if (!any_output) return bad("no buffer is marked as an output");
    return {};
  }
  friend bool operator==(const KernelSignature&, const KernelSignature&) = default;
};

/// A kernel to build: source text and the name of its packed entry point. Kernels whose `preamble`s
/// are equal (includes, helpers) and whose bodies define distinct names can share a translation unit;
/// the Builder puts the preamble once at the top of it.
struct KernelSource {
  std::string preamble{};  ///< shared definitions; may be empty
  std::string body{};      ///< the kernel's own definitions
  std::string entry{};     ///< `extern "C" void entry(float* const* args)`
};

/// The value of element `index` of input buffer `buffer` under `seed`: uniform in [-1, 1), the same on
/// every machine and in every process (a SplitMix64 hash of the three, so any element can be computed
/// on its own).
[[nodiscard]] constexpr float input_value(std::uint64_t seed, std::uint64_t buffer, std::uint64_t index) noexcept {
  std::uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (buffer + 1) * 0xD1B54A32D192ED03ULL + index * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  // 24 random bits → [0, 1) exactly representable, then [-1, 1).
  return static_cast<float>(z >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/// Fills input buffer number `buffer` (its position in the signature) under `seed`.
inline void fill_input(std::span<float> data, std::uint64_t seed, std::uint64_t buffer) noexcept {
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = input_value(seed, buffer, i);
}

}  // namespace crosstune::measure
