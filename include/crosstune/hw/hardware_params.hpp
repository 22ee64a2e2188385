// crosstune/hw/hardware_params.hpp — a device described by the numbers a cost model needs.
//
// Hardware features are what lets one cost model serve many targets (Verma et al., Table 2): the eight
// TenSet / Ansor parameters that logs carry, plus the fields a modern model needs — cache sizes, clock,
// compute units, peak FLOP/s, memory bandwidth, ISA or compute capability. HardwareParams is a constexpr
// value type: presets are `inline constexpr` values (hw/presets.hpp), probes fill one at run time, and
// to_features() turns one into a fixed-length, normalised vector.
//
// Zero in a field means "unknown" (a probe that could not read it, a log that did not say). The TenSet
// fields keep Ansor's conventions, so a preset compares equal to the hardware_params of a real log:
// GPUs have num_cores = -1 and max_local_memory_per_block = 2^31 - 1, CPUs zeros for the GPU-only fields.
//
//   constexpr auto gpu = crosstune::hw::presets::v100;
//   static_assert(gpu.warp_size == 32);
//   auto features = gpu.to_features();  // std::array<float, hardware_feature_count>
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "crosstune/core/task.hpp"

namespace crosstune::hw {

enum class DeviceKind : std::uint8_t { unknown, cpu, cuda, rocm, opencl };

inline constexpr std::array<std::string_view, 5> device_kind_names = {"unknown", "cpu", "cuda", "rocm",
                                                                      "opencl"};

[[nodiscard]] constexpr std::string_view to_string(DeviceKind kind) noexcept {
  return device_kind_names[static_cast<std::size_t>(kind)];
}

/// The widest vector instruction set a CPU descriptor may use (also the -march level of the CPU measurer).
enum class IsaLevel : std::uint8_t { unknown, sse4_2, avx2, avx512, neon, sve };

inline constexpr std::array<std::string_view, 6> isa_level_names = {"unknown", "sse4.2", "avx2",
                                                                    "avx512",  "neon",   "sve"};

[[nodiscard]] constexpr std::string_view to_string(IsaLevel isa) noexcept {
  return isa_level_names[static_cast<std::size_t>(isa)];
}

/// Bytes of one vector register at an ISA level (SVE: the 128-bit minimum; the probe reads the real one).
[[nodiscard]] constexpr int vector_bytes(IsaLevel isa) noexcept {
  switch (isa) {
    case IsaLevel::sse4_2: return 16;
    case IsaLevel::avx2: return 32;
    case IsaLevel::avx512: return 64;
    case IsaLevel::neon: return 16;
    case IsaLevel::sve: return 16;
    case IsaLevel::unknown: return 0;
  }
  return 0;
}

struct HardwareParams {
  std::string_view name;  ///< preset name ("v100") or a probe's model string
  DeviceKind kind = DeviceKind::unknown;

  // The eight TenSet / Ansor parameters (Ansor's HardwareParams, in log order).
  std::int64_t num_cores = 0;                    ///< CPU: cores the schedule may use; GPU: -1 (Ansor)
  std::int64_t vector_unit_bytes = 0;            ///< widest vector register, bytes
  std::int64_t cache_line_bytes = 0;             ///< bytes
  std::int64_t max_shared_memory_per_block = 0;  ///< GPU, bytes
  std::int64_t max_local_memory_per_block = 0;   ///< GPU, bytes (Ansor writes 2^31 - 1: no limit)
  std::int64_t max_threads_per_block = 0;        ///< GPU
  std::int64_t max_vthread_extent = 0;           ///< GPU, virtual-thread extent Ansor may use
  std::int64_t warp_size = 0;                    ///< GPU: threads per warp / wavefront

  // What a model that transfers across devices needs besides.
  std::int64_t compute_units = 0;     ///< GPU: SMs / CUs; CPU: physical cores of the device
  std::int64_t hardware_threads = 0;  ///< CPU: logical cores; GPU: max resident threads per SM
  double clock_ghz = 0;               ///< sustained (boost) clock of the compute units
  std::int64_t l1_bytes = 0;          ///< per core / per SM (data cache, or L1+shared on GPUs)
  std::int64_t l2_bytes = 0;          ///< CPU: per core; GPU: whole device
  std::int64_t l3_bytes = 0;          ///< CPU: whole package; GPU: 0 (none)
  std::int64_t memory_bytes = 0;      ///< device (GPU) or installed (CPU) memory, 0 if unknown
  double peak_fp32_gflops = 0;        ///< vendor peak (FMA = 2 FLOPs) at clock_ghz
  double memory_bandwidth_gbps = 0;   ///< peak DRAM / HBM bandwidth, GB/s (1e9 bytes)
  int compute_capability = 0;         ///< CUDA: major * 10 + minor (70 for sm_70); AMD: gfx number
  IsaLevel isa = IsaLevel::unknown;   ///< CPU vector ISA

  /// Satisfies HardwareDescriptor: a HardwareParams describes itself.
  [[nodiscard]] constexpr const HardwareParams& params() const noexcept { return *this; }

  [[nodiscard]] constexpr bool is_gpu() const noexcept {
    return kind == DeviceKind::cuda || kind == DeviceKind::rocm || kind == DeviceKind::opencl;
  }

  /// The eight parameters as a log stores them.
  [[nodiscard]] constexpr RecordedHardwareParams recorded() const noexcept {
    return {num_cores,
            vector_unit_bytes,
            cache_line_bytes,
            max_shared_memory_per_block,
            max_local_memory_per_block,
            max_threads_per_block,
            max_vthread_extent,
            warp_size};
  }

  /// Sets the eight TenSet fields to what a log recorded (the search ran with exactly these).
  constexpr void assign_recorded(const RecordedHardwareParams& r) noexcept {
    num_cores = r.num_cores;
    vector_unit_bytes = r.vector_unit_bytes;
    cache_line_bytes = r.cache_line_bytes;
    max_shared_memory_per_block = r.max_shared_memory_per_block;
    max_local_memory_per_block = r.max_local_memory_per_block;
    max_threads_per_block = r.max_threads_per_block;
    max_vthread_extent = r.max_vthread_extent;
    warp_size = r.warp_size;
  }

  /// Peak FLOPs per byte of memory traffic (the ridge point of the roofline); 0 when unknown.
  [[nodiscard]] constexpr double ridge_flops_per_byte() const noexcept {
    return memory_bandwidth_gbps > 0 ? peak_fp32_gflops / memory_bandwidth_gbps : 0.0;
  }

  /// Equal in every number (names are labels and are not compared).
  [[nodiscard]] constexpr bool same_hardware(const HardwareParams& o) const noexcept {
    return kind == o.kind && num_cores == o.num_cores && vector_unit_bytes == o.vector_unit_bytes &&
           cache_line_bytes == o.cache_line_bytes &&
           max_shared_memory_per_block == o.max_shared_memory_per_block &&
           max_local_memory_per_block == o.max_local_memory_per_block &&
           max_threads_per_block == o.max_threads_per_block && max_vthread_extent == o.max_vthread_extent &&
           warp_size == o.warp_size && compute_units == o.compute_units &&
           hardware_threads == o.hardware_threads && clock_ghz == o.clock_ghz && l1_bytes == o.l1_bytes &&
           l2_bytes == o.l2_bytes && l3_bytes == o.l3_bytes && memory_bytes == o.memory_bytes &&
           peak_fp32_gflops == o.peak_fp32_gflops && memory_bandwidth_gbps == o.memory_bandwidth_gbps &&
           compute_capability == o.compute_capability && isa == o.isa;
  }

  /// Length of to_features(); bumped with hardware_feature_version when the layout changes.
  static constexpr std::size_t feature_count = 20;

  /// A fixed-length feature vector, every entry roughly in [0, 1] (0 = unknown). Layout (stable, versioned
  /// by hardware_feature_version; documented in docs/hardware.md):
  ///  0 is_cpu            1 is_gpu              2 log2(1+num_cores)/8        3 log2(1+vector_unit_bytes)/8
  ///  4 log2(1+cache_line)/8  5 log2(1+max_shared_memory_per_block)/24     6 log2(1+max_threads_per_block)/12
  ///  7 log2(1+max_vthread_extent)/6   8 log2(1+warp_size)/7   9 log2(1+compute_units)/10
  /// 10 log2(1+hardware_threads)/12   11 clock_ghz/5   12 log2(1+l1_bytes)/24   13 log2(1+l2_bytes)/28
  /// 14 log2(1+l3_bytes)/30   15 log2(1+peak_fp32_gflops)/18   16 log2(1+memory_bandwidth_gbps)/14
  /// 17 log2(1+ridge_flops_per_byte)/8   18 compute_capability/100 (CUDA; ROCm: gfx number/1200)
  /// 19 isa level/5
  [[nodiscard]] std::array<float, feature_count> to_features() const noexcept {
    auto lg = [](double v, double scale) {
      return v > 0 ? static_cast<float>(std::log2(1.0 + v) / scale) : 0.0f;
    };
    const auto d = [](std::int64_t v) { return static_cast<double>(v); };
    return {kind == DeviceKind::cpu ? 1.0f : 0.0f,
            is_gpu() ? 1.0f : 0.0f,
            lg(d(num_cores), 8),
            lg(d(vector_unit_bytes), 8),
            lg(d(cache_line_bytes), 8),
            lg(d(max_shared_memory_per_block), 24),
            lg(d(max_threads_per_block), 12),
            lg(d(max_vthread_extent), 6),
            lg(d(warp_size), 7),
            lg(d(compute_units), 10),
            lg(d(hardware_threads), 12),
            static_cast<float>(clock_ghz / 5.0),
            lg(d(l1_bytes), 24),
            lg(d(l2_bytes), 28),
            lg(d(l3_bytes), 30),
            lg(peak_fp32_gflops, 18),
            lg(memory_bandwidth_gbps, 14),
            lg(ridge_flops_per_byte(), 8),
            static_cast<float>(compute_capability) / (kind == DeviceKind::rocm ? 1200.0f : 100.0f),
            static_cast<float>(static_cast<int>(isa)) / 5.0f};
  }
};

/// Version of the to_features() layout; a model file records it and refuses another.
inline constexpr int hardware_feature_version = 1;

/// A descriptor with only what a log records (the eight TenSet parameters), kind guessed from them:
/// GPUs are the records with a warp size.
[[nodiscard]] constexpr HardwareParams from_recorded(const RecordedHardwareParams& r,
                                                     std::string_view name = {}) noexcept {
  HardwareParams p;
  p.name = name;
  p.kind = r.warp_size > 0 ? DeviceKind::cuda : DeviceKind::cpu;
  p.assign_recorded(r);
  return p;
}

}  // namespace crosstune::hw
