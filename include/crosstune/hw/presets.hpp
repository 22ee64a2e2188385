// crosstune/hw/presets.hpp — descriptors of the platforms of TenSet, of the shipped logs, and of
// current hardware, as `inline constexpr HardwareParams` values.
//
// The TenSet fields follow what Ansor writes in the hardware_params of a log for that kind of device
// (GPU: [-1, 16, 64, 49152, 2147483647, 1024, 8, 32]; CPU: [cores, vector bytes, 64, 0, 0, 0, 0, 0]), so a
// preset matches real records. The other fields come from the vendor's data sheet or whitepaper named in the
// comment above each value; peak FLOP/s is cores × 2 (FMA) × SIMD lanes × FMA units × boost clock.
//
//   using namespace crosstune::hw;
//   constexpr HardwareParams gpu = presets::a100;
//   const HardwareParams* p = find_preset("v100");   // nullptr for an unknown name
//
// Adding a device: docs/policies/hardware-descriptor.md.
#pragma once

#include <array>
#include <string_view>

#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::hw {

/// A CUDA GPU with what Ansor records for every one (48 KiB shared memory per block): the base of the GPU
/// presets, to which the data-sheet fields are added.
constexpr HardwareParams make_cuda_gpu(std::string_view name) {
  HardwareParams p;
  p.name = name;
  p.kind = DeviceKind::cuda;
  p.num_cores = -1;
  p.vector_unit_bytes = 16;
  p.cache_line_bytes = 64;
  p.max_shared_memory_per_block = 49152;
  p.max_local_memory_per_block = 2147483647;
  p.max_threads_per_block = 1024;
  p.max_vthread_extent = 8;
  p.warp_size = 32;
  return p;
}
/// A CPU with `cores` cores and vector ISA `isa`, as Ansor records it: the base of the CPU presets.
constexpr HardwareParams make_cpu(std::string_view name, std::int64_t cores, IsaLevel isa) {
  HardwareParams p;
  p.name = name;
  p.kind = DeviceKind::cpu;
  p.num_cores = cores;
  p.compute_units = cores;
  p.hardware_threads = cores;
  p.vector_unit_bytes = vector_bytes(isa);
  p.cache_line_bytes = 64;
  p.isa = isa;
  return p;
}

}  // namespace crosstune::hw

namespace crosstune::hw::presets {

// ---- NVIDIA GPUs -------------------------------------------------------------------------------------

/// Tesla K80, one of its two GK210 GPUs (each is a CUDA device). NVIDIA Tesla K80 data sheet and Kepler
/// GK110/GK210 whitepaper: 13 SMX × 192 cores, 875 MHz boost, 4.37 TFLOP/s and 240 GB/s per GPU, 1.5 MB L2,
/// 128 KB L1/shared per SMX, 12 GB per GPU. The roller K80 logs record the generic CUDA parameters.
inline constexpr HardwareParams k80 = [] {
  auto p = make_cuda_gpu("k80");
  p.compute_units = 13;
  p.hardware_threads = 2048;
  p.clock_ghz = 0.875;
  p.l1_bytes = 128 * 1024;
  p.l2_bytes = 1536 * 1024;
  p.memory_bytes = 12LL << 30;
  p.peak_fp32_gflops = 13 * 192 * 2 * 0.875;  // 4368
  p.memory_bandwidth_gbps = 240;
  p.compute_capability = 37;
  return p;
}();

/// Tesla T4. NVIDIA T4 data sheet and Turing whitepaper: 40 SMs × 64 cores, 1590 MHz boost, 8.1 TFLOP/s,
/// 320 GB/s GDDR6, 4 MB L2, 96 KB L1/shared per SM, 16 GB.
inline constexpr HardwareParams t4 = [] {
  auto p = make_cuda_gpu("t4");
  p.compute_units = 40;
  p.hardware_threads = 1024;
  p.clock_ghz = 1.59;
  p.l1_bytes = 96 * 1024;
  p.l2_bytes = 4LL << 20;
  p.memory_bytes = 16LL << 30;
  p.peak_fp32_gflops = 40 * 64 * 2 * 1.59;  // 8141
  p.memory_bandwidth_gbps = 320;
  p.compute_capability = 75;
  return p;
}();

/// Tesla V100 SXM2. NVIDIA V100 data sheet and Volta whitepaper: 80 SMs × 64 cores, 1530 MHz boost,
/// 15.7 TFLOP/s, 900 GB/s HBM2, 6 MB L2, 128 KB L1/shared per SM, 16 GB.
inline constexpr HardwareParams v100 = [] {
  auto p = make_cuda_gpu("v100");
  p.compute_units = 80;
  p.hardware_threads = 2048;
  p.clock_ghz = 1.53;
  p.l1_bytes = 128 * 1024;
  p.l2_bytes = 6LL << 20;
  p.memory_bytes = 16LL << 30;
  p.peak_fp32_gflops = 80 * 64 * 2 * 1.53;  // 15667
  p.memory_bandwidth_gbps = 900;
  p.compute_capability = 70;
  return p;
}();

/// GeForce RTX 2080 Ti (sm_75, the "-model=2080ti" logs). NVIDIA Turing whitepaper (reference board):
/// 68 SMs × 64 cores, 1545 MHz boost, 13.4 TFLOP/s, 616 GB/s GDDR6, 5.5 MB L2, 96 KB L1/shared per SM, 11 GB.
inline constexpr HardwareParams rtx2080ti = [] {
  auto p = make_cuda_gpu("rtx2080ti");
  p.compute_units = 68;
  p.hardware_threads = 1024;
  p.clock_ghz = 1.545;
  p.l1_bytes = 96 * 1024;
  p.l2_bytes = 5632 * 1024;
  p.memory_bytes = 11LL << 30;
  p.peak_fp32_gflops = 68 * 64 * 2 * 1.545;  // 13448
  p.memory_bandwidth_gbps = 616;
  p.compute_capability = 75;
  return p;
}();

/// GeForce RTX 3080 (sm_86, the DropletSearch micro-kernel logs). NVIDIA Ampere GA102 whitepaper: 68 SMs
/// × 128 cores, 1710 MHz boost, 29.8 TFLOP/s, 760 GB/s GDDR6X, 5 MB L2, 128 KB L1/shared per SM, 10 GB.
inline constexpr HardwareParams rtx3080 = [] {
  auto p = make_cuda_gpu("rtx3080");
  p.compute_units = 68;
  p.hardware_threads = 1536;
  p.clock_ghz = 1.71;
  p.l1_bytes = 128 * 1024;
  p.l2_bytes = 5LL << 20;
  p.memory_bytes = 10LL << 30;
  p.peak_fp32_gflops = 68 * 128 * 2 * 1.71;  // 29768
  p.memory_bandwidth_gbps = 760;
  p.compute_capability = 86;
  return p;
}();

/// A100 SXM4 40 GB. NVIDIA A100 data sheet and Ampere GA100 whitepaper: 108 SMs × 64 cores, 1410 MHz boost,
/// 19.5 TFLOP/s, 1555 GB/s HBM2, 40 MB L2, 192 KB L1/shared per SM.
inline constexpr HardwareParams a100 = [] {
  auto p = make_cuda_gpu("a100");
  p.compute_units = 108;
  p.hardware_threads = 2048;
  p.clock_ghz = 1.41;
  p.l1_bytes = 192 * 1024;
  p.l2_bytes = 40LL << 20;
  p.memory_bytes = 40LL << 30;
  p.peak_fp32_gflops = 108 * 64 * 2 * 1.41;  // 19492
  p.memory_bandwidth_gbps = 1555;
  p.compute_capability = 80;
  return p;
}();

/// H100 SXM5 80 GB. NVIDIA H100 data sheet and Hopper whitepaper: 132 SMs × 128 cores, 1980 MHz boost,
/// 67 TFLOP/s, 3.35 TB/s HBM3, 50 MB L2, 256 KB L1/shared per SM.
inline constexpr HardwareParams h100 = [] {
  auto p = make_cuda_gpu("h100");
  p.compute_units = 132;
  p.hardware_threads = 2048;
  p.clock_ghz = 1.98;
  p.l1_bytes = 256 * 1024;
  p.l2_bytes = 50LL << 20;
  p.memory_bytes = 80LL << 30;
  p.peak_fp32_gflops = 132 * 128 * 2 * 1.98;  // 66908
  p.memory_bandwidth_gbps = 3350;
  p.compute_capability = 90;
  return p;
}();

// ---- AMD GPU -----------------------------------------------------------------------------------------

/// Radeon Instinct MI50 (gfx906). AMD MI50 data sheet: 60 CUs × 64 stream processors, 1725 MHz peak,
/// 13.3 TFLOP/s, 1024 GB/s HBM2, 4 MB L2, 64 KB LDS and 16 KB L1 per CU, 16 GB; wavefront 64. The TenSet
/// fields are those TVM's ROCm target uses (64 KB shared memory per block, 1024 threads, wavefront 64).
inline constexpr HardwareParams mi50 = [] {
  auto p = make_cuda_gpu("mi50");
  p.kind = DeviceKind::rocm;
  p.max_shared_memory_per_block = 65536;
  p.warp_size = 64;
  p.max_vthread_extent = 16;
  p.compute_units = 60;
  p.hardware_threads = 2560;
  p.clock_ghz = 1.725;
  p.l1_bytes = 16 * 1024;
  p.l2_bytes = 4LL << 20;
  p.memory_bytes = 16LL << 30;
  p.peak_fp32_gflops = 60 * 64 * 2 * 1.725;  // 13248
  p.memory_bandwidth_gbps = 1024;
  p.compute_capability = 906;
  return p;
}();

// ---- CPUs --------------------------------------------------------------------------------------------

/// Intel Xeon Platinum 8272CL (Cascade Lake, TenSet's CPU platform). Intel ARK: 26 cores, 52 threads,
/// 2.6 GHz base; AVX-512 with two FMA units (32 fp32 FMAs/cycle); 32 KB L1d and 1 MB L2 per core, 35.75 MB
/// L3; six DDR4-2933 channels (140.8 GB/s). Peak at base clock.
inline constexpr HardwareParams platinum_8272 = [] {
  auto p = make_cpu("platinum-8272", 26, IsaLevel::avx512);
  p.hardware_threads = 52;
  p.clock_ghz = 2.6;
  p.l1_bytes = 32 * 1024;
  p.l2_bytes = 1LL << 20;
  p.l3_bytes = 36608LL * 1024;
  p.peak_fp32_gflops = 26 * 2.6 * 64;  // 4326
  p.memory_bandwidth_gbps = 140.8;
  return p;
}();

/// Intel Xeon Platinum 8358 (Ice Lake, the "-model=platinum-8358" logs; their hardware_params record 32
/// cores and 64-byte vectors). Intel ARK: 32 cores, 64 threads, 2.6 GHz base, AVX-512 with two FMA units;
/// 48 KB L1d and 1.25 MB L2 per core, 48 MB L3; eight DDR4-3200 channels (204.8 GB/s).
inline constexpr HardwareParams platinum_8358 = [] {
  auto p = make_cpu("platinum-8358", 32, IsaLevel::avx512);
  p.hardware_threads = 64;
  p.clock_ghz = 2.6;
  p.l1_bytes = 48 * 1024;
  p.l2_bytes = 1280 * 1024;
  p.l3_bytes = 48LL << 20;
  p.peak_fp32_gflops = 32 * 2.6 * 64;  // 5325
  p.memory_bandwidth_gbps = 204.8;
  return p;
}();

/// AMD EPYC 7452 (Zen 2, TenSet's AMD platform). AMD product page: 32 cores, 64 threads, 2.35 GHz base;
/// AVX2 with two 256-bit FMA units (16 fp32 FMAs/cycle); 32 KB L1d and 512 KB L2 per core, 128 MB L3;
/// eight DDR4-3200 channels (204.8 GB/s).
inline constexpr HardwareParams epyc_7452 = [] {
  auto p = make_cpu("epyc-7452", 32, IsaLevel::avx2);
  p.hardware_threads = 64;
  p.clock_ghz = 2.35;
  p.l1_bytes = 32 * 1024;
  p.l2_bytes = 512 * 1024;
  p.l3_bytes = 128LL << 20;
  p.peak_fp32_gflops = 32 * 2.35 * 32;  // 2406
  p.memory_bandwidth_gbps = 204.8;
  return p;
}();

/// AWS Graviton2 (Neoverse N1, TenSet's ARM platform). AWS and Arm documentation: 64 cores at 2.5 GHz, two
/// 128-bit NEON FMA pipes (8 fp32 FMAs/cycle); 64 KB L1d and 1 MB L2 per core, 32 MB L3; eight DDR4-3200
/// channels (204.8 GB/s).
inline constexpr HardwareParams graviton2 = [] {
  auto p = make_cpu("graviton2", 64, IsaLevel::neon);
  p.clock_ghz = 2.5;
  p.l1_bytes = 64 * 1024;
  p.l2_bytes = 1LL << 20;
  p.l3_bytes = 32LL << 20;
  p.peak_fp32_gflops = 64 * 2.5 * 16;  // 2560
  p.memory_bandwidth_gbps = 204.8;
  return p;
}();

/// Every preset, for lookup by name and for listing.
inline constexpr std::array<const HardwareParams*, 12> all = {
    &k80,  &t4,   &v100,          &rtx2080ti,     &rtx3080,   &a100,
    &h100, &mi50, &platinum_8272, &platinum_8358, &epyc_7452, &graviton2};

}  // namespace crosstune::hw::presets

namespace crosstune::hw {

/// The preset called `name` (lower case, as in presets::all: "v100", "platinum-8272", ...), or nullptr.
/// A few common spellings are accepted too ("2080ti", "rtx-2080-ti", "platinum-8272cl", "xeon-8272").
[[nodiscard]] constexpr const HardwareParams* find_preset(std::string_view name) noexcept {
  struct Alias {
    std::string_view alias, preset;
  };
  constexpr Alias aliases[] = {{"2080ti", "rtx2080ti"},
                               {"rtx-2080-ti", "rtx2080ti"},
                               {"rtx-2080ti", "rtx2080ti"},
                               {"3080", "rtx3080"},
                               {"rtx-3080", "rtx3080"},
                               {"platinum-8272cl", "platinum-8272"},
                               {"xeon-8272", "platinum-8272"},
                               {"xeon-8358", "platinum-8358"},
                               {"tesla-k80", "k80"},
                               {"tesla-v100", "v100"},
                               {"tesla-t4", "t4"},
                               {"epyc7452", "epyc-7452"},
                               {"instinct-mi50", "mi50"}};
  for (const auto& a : aliases)
    if (a.alias == name) name = a.preset;
  for (const HardwareParams* p : presets::all)
    if (p->name == name) return p;
  return nullptr;
}

}  // namespace crosstune::hw
