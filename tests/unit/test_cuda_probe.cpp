// Built twice: as unit.cuda_probe without CUDA (the "built without CUDA" path), and, where the CUDA
// toolkit is found, as cuda.probe linked to crosstune::cuda (real devices, or a clean "no CUDA device").
#include "crosstune/hw/cuda_probe.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace crosstune::hw;

TEST_CASE("the descriptor from CUDA device properties matches a V100's data sheet") {
  // Values cudaGetDeviceProperties reports for a Tesla V100-SXM2-16GB.
  const auto p = cuda_params_from_properties(70, 80, 1530000, 877000, 4096, 49152, 1024, 32, 6291456, 98304,
                                             2048, 16945512448);
  CHECK(p.compute_capability == 70);
  CHECK(p.peak_fp32_gflops == doctest::Approx(15667.2));
  CHECK(p.memory_bandwidth_gbps == doctest::Approx(898.0).epsilon(0.01));
  CHECK(p.recorded() == crosstune::RecordedHardwareParams{-1, 16, 64, 49152, 2147483647, 1024, 8, 32});
  CHECK(fp32_cores_per_sm(90) == 128);
  CHECK(fp32_cores_per_sm(80) == 64);
  CHECK(fp32_cores_per_sm(86) == 128);
  CHECK(fp32_cores_per_sm(37) == 192);
  CHECK(fp32_cores_per_sm(20) == 0);
}

TEST_CASE("probing CUDA devices gives devices or a clear status, never a crash") {
  auto devices = probe_cuda_devices();
#if defined(CROSSTUNE_WITH_CUDA)
  if (!devices) {
    MESSAGE("no GPU here: " << devices.error().describe());
    CHECK(devices.error().kind == crosstune::ErrorKind::unsupported);
    CHECK(devices.error().message.find("no CUDA device") != std::string::npos);
    return;
  }
  for (const auto& d : *devices) {
    MESSAGE(d.model << ": " << d.params.compute_units << " SMs, cc " << d.params.compute_capability);
    CHECK(d.params.compute_units > 0);
    CHECK(d.params.warp_size == 32);
    CHECK(d.params.max_threads_per_block >= 512);
    CHECK(d.params.max_shared_memory_per_block >= 16384);
    CHECK(d.params.clock_ghz > 0.3);
    CHECK(d.params.peak_fp32_gflops > 100);
    CHECK(d.params.memory_bandwidth_gbps > 50);
    CHECK(d.params.l2_bytes > 0);
  }
#else
  REQUIRE_FALSE(devices);
  CHECK(devices.error().message == "crosstune was built without CUDA");
#endif
}

#if defined(CROSSTUNE_WITH_CUDA)
crosstune::Expected<std::vector<CudaDeviceProbe>>
probe_compiled_without_cuda();  // cuda_probe_without_cuda.cpp

TEST_CASE("translation units that disagree on CROSSTUNE_WITH_CUDA each keep their own probe") {
  // One inline function with two bodies would let the linker keep either for both units.
  auto without = probe_compiled_without_cuda();
  REQUIRE_FALSE(without);
  CHECK(without.error().message == "crosstune was built without CUDA");
  auto with = probe_cuda_devices();
  CHECK((with || with.error().message != "crosstune was built without CUDA"));
}
#endif
