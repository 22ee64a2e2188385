// crosstune/hw/cuda_probe.hpp — describe the CUDA GPUs of this machine through the CUDA runtime.
//
// Plain C++ (no nvcc needed): it calls the CUDA runtime API, so a program using it links
// `crosstune::cuda`, which defines CROSSTUNE_WITH_CUDA. Without that target the probe still compiles and
// reports that crosstune was built without CUDA, so the CPU-only build never links CUDA. With no GPU or
// no driver the result is an Error saying so (ErrorKind::unsupported), not a crash.
//
//   auto gpus = crosstune::hw::probe_cuda_devices();
//   if (!gpus) std::cerr << gpus.error().describe() << '\n';   // "no CUDA device: ..."
//   else for (const auto& gpu : *gpus) std::cout << gpu.model << ' ' << gpu.params.compute_units << " SMs\n";
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/hw/hardware_params.hpp"

#if defined(CROSSTUNE_WITH_CUDA)
#include <cuda_runtime_api.h>
#endif

namespace crosstune::hw {

struct CudaDeviceProbe {
  int ordinal = 0;
  std::string model;      ///< e.g. "NVIDIA H100 80GB HBM3"
  HardwareParams params;  ///< name "cuda-device"; TenSet fields as Ansor would record them
  std::int64_t max_shared_memory_per_block_optin = 0;  ///< with cudaFuncAttributeMaxDynamicSharedMemorySize
  std::int64_t registers_per_block = 0;
};

/// FP32 cores per SM for a compute capability (CUDA C Programming Guide, arithmetic-instruction table).
[[nodiscard]] constexpr int fp32_cores_per_sm(int compute_capability) noexcept {
  const int major = compute_capability / 10, minor = compute_capability % 10;
  switch (major) {
    case 3: return 192;
    case 5: return 128;
    case 6: return minor == 0 ? 64 : 128;
    case 7: return 64;
    case 8: return minor == 0 ? 64 : 128;
    case 9: return 128;
    case 10:
    case 11:
    case 12: return 128;
    default: return 0;
  }
}

/// A descriptor from the numbers the CUDA runtime reports (kept separate from the runtime so that the CPU
/// tests check it): clock in kHz, memory clock in kHz and bus width in bits give peak FLOP/s and bandwidth.
[[nodiscard]] constexpr HardwareParams cuda_params_from_properties(
    int compute_capability, int sm_count, int clock_khz, int memory_clock_khz, int memory_bus_bits,
    std::int64_t shared_per_block, int max_threads_per_block, int warp_size, std::int64_t l2_bytes,
    std::int64_t l1_shared_per_sm, int threads_per_sm, std::int64_t memory_bytes) noexcept {
  HardwareParams p;
  p.name = "cuda-device";
  p.kind = DeviceKind::cuda;
  p.num_cores = -1;
  p.vector_unit_bytes = 16;
  p.cache_line_bytes = 64;
  p.max_shared_memory_per_block = shared_per_block;
  p.max_local_memory_per_block = 2147483647;
  p.max_threads_per_block = max_threads_per_block;
  p.max_vthread_extent = warp_size / 4;
  p.warp_size = warp_size;
  p.compute_units = sm_count;
  p.hardware_threads = threads_per_sm;
  p.clock_ghz = clock_khz / 1e6;
  p.l1_bytes = l1_shared_per_sm;
  p.l2_bytes = l2_bytes;
  p.memory_bytes = memory_bytes;
  p.peak_fp32_gflops =
      static_cast<double>(sm_count) * fp32_cores_per_sm(compute_capability) * 2.0 * p.clock_ghz;
  // Double data rate: two transfers per memory clock.
  p.memory_bandwidth_gbps = 2.0 * (memory_clock_khz * 1e3) * (memory_bus_bits / 8.0) / 1e9;
  p.compute_capability = compute_capability;
  return p;
}

// probe_cuda_devices() has two bodies, chosen by CROSSTUNE_WITH_CUDA. Each lives in its own inline
// namespace, so a program whose translation units disagree on the macro (one links crosstune::cuda, a
// library it uses does not) gets two distinct functions instead of two bodies of one inline function,
// which would break the one-definition rule and leave the linker to pick either.
#if defined(CROSSTUNE_WITH_CUDA)
inline namespace with_cuda_runtime {
#else
inline namespace without_cuda_runtime {
#endif

/// Every CUDA device of this machine. Errors: built without crosstune::cuda, no driver, no device.
[[nodiscard]] inline Expected<std::vector<CudaDeviceProbe>> probe_cuda_devices() {
#if !defined(CROSSTUNE_WITH_CUDA)
  return unexpected(Error(ErrorKind::unsupported, "crosstune was built without CUDA", {}, 0, 0,
                          "link the crosstune::cuda CMake target (needs the CUDA toolkit)"));
#else
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0) {
    std::string why = status == cudaSuccess ? "the driver reports 0 devices" : cudaGetErrorString(status);
    cudaGetLastError();  // clear the sticky error
    return unexpected(
        Error(ErrorKind::unsupported, "no CUDA device: " + why, {}, 0, 0,
              "run on a machine with an NVIDIA GPU and driver, or use a preset (crosstune hw --preset)"));
  }
  std::vector<CudaDeviceProbe> devices;
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    int clock_khz = 0, memory_clock_khz = 0, bus_bits = 0, optin = 0;
    cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, d);
    cudaDeviceGetAttribute(&memory_clock_khz, cudaDevAttrMemoryClockRate, d);
    cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, d);
    cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, d);
    CudaDeviceProbe probe;
    probe.ordinal = d;
    probe.model = prop.name;
    probe.params = cuda_params_from_properties(
        prop.major * 10 + prop.minor, prop.multiProcessorCount, clock_khz, memory_clock_khz, bus_bits,
        static_cast<std::int64_t>(prop.sharedMemPerBlock), prop.maxThreadsPerBlock, prop.warpSize,
        prop.l2CacheSize, static_cast<std::int64_t>(prop.sharedMemPerMultiprocessor),
        prop.maxThreadsPerMultiProcessor, static_cast<std::int64_t>(prop.totalGlobalMem));
    probe.max_shared_memory_per_block_optin = optin;
    probe.registers_per_block = prop.regsPerBlock;
    devices.push_back(std::move(probe));
  }
  cudaGetLastError();
  if (devices.empty()) {
    return unexpected(Error(ErrorKind::unsupported, "no CUDA device could be queried"));
  }
  return devices;
#endif
}

}  // inline namespace with_cuda_runtime / without_cuda_runtime

}  // namespace crosstune::hw
