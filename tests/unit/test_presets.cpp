#include "crosstune/hw/presets.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace crosstune::hw;

// Presets are compile-time values.
static_assert(presets::v100.warp_size == 32);
static_assert(presets::h100.compute_capability == 90);
static_assert(find_preset("a100") == &presets::a100);

TEST_CASE("every preset is complete and consistent") {
  std::set<std::string> names;
  for (const HardwareParams* p : presets::all) {
    const std::string name(p->name);
    CAPTURE(name);
    CHECK(names.insert(name).second);
    CHECK(find_preset(name) == p);
    CHECK(p->cache_line_bytes == 64);
    CHECK(p->compute_units > 0);
    CHECK(p->clock_ghz > 0);
    CHECK(p->l1_bytes > 0);
    CHECK(p->l2_bytes > 0);
    CHECK(p->peak_fp32_gflops > 0);
    CHECK(p->memory_bandwidth_gbps > 0);
    if (p->is_gpu()) {
      // Ansor's GPU conventions, as in the hardware_params of real logs.
      CHECK(p->num_cores == -1);
      CHECK(p->vector_unit_bytes == 16);
      CHECK(p->max_local_memory_per_block == 2147483647);
      CHECK(p->max_threads_per_block == 1024);
      CHECK(p->max_vthread_extent == p->warp_size / 4);
      CHECK(p->compute_capability > 0);
      CHECK(p->memory_bytes > 0);
    } else {
      CHECK(p->kind == DeviceKind::cpu);
      CHECK(p->num_cores == p->compute_units);
      CHECK(p->vector_unit_bytes == vector_bytes(p->isa));
      CHECK(p->warp_size == 0);
      CHECK(p->l3_bytes > 0);
    }
  }
  CHECK(names.size() == presets::all.size());
}

TEST_CASE("peak FLOP/s follow cores x clock x 2 for GPUs") {
  CHECK(presets::v100.peak_fp32_gflops == doctest::Approx(80 * 64 * 2 * 1.53));
  CHECK(presets::a100.peak_fp32_gflops == doctest::Approx(19500).epsilon(0.01));
  CHECK(presets::h100.peak_fp32_gflops == doctest::Approx(66900).epsilon(0.01));
  CHECK(presets::t4.peak_fp32_gflops == doctest::Approx(8100).epsilon(0.01));
}

TEST_CASE("the GPU presets match the hardware_params of the shipped logs") {
  const crosstune::RecordedHardwareParams logged{-1, 16, 64, 49152, 2147483647, 1024, 8, 32};
  for (const auto* p : {&presets::k80, &presets::v100, &presets::rtx2080ti, &presets::rtx3080})
    CHECK(p->recorded() == logged);
  const crosstune::RecordedHardwareParams icelake{32, 64, 64, 0, 0, 0, 0, 0};
  CHECK(presets::platinum_8358.recorded() == icelake);
}

TEST_CASE("presets are found by name and common aliases, unknown names give nullptr") {
  CHECK(find_preset("2080ti") == &presets::rtx2080ti);
  CHECK(find_preset("platinum-8272cl") == &presets::platinum_8272);
  CHECK(find_preset("tesla-k80") == &presets::k80);
  CHECK(find_preset("V100") == nullptr);  // names are lower case
  CHECK(find_preset("") == nullptr);
}

// The example of docs/policies/hardware-descriptor.md, as written there.
inline constexpr HardwareParams l4 = [] {
  auto p = crosstune::hw::make_cuda_gpu("l4");
  p.compute_units = 58;
  p.hardware_threads = 1536;
  p.clock_ghz = 2.04;
  p.l1_bytes = 128 * 1024;
  p.l2_bytes = 48LL << 20;
  p.memory_bytes = 24LL << 30;
  p.peak_fp32_gflops = 58 * 128 * 2 * 2.04;
  p.memory_bandwidth_gbps = 300;
  p.compute_capability = 89;
  return p;
}();

TEST_CASE("a device added as the policy page shows is a complete descriptor") {
  static_assert(l4.recorded() ==
                crosstune::RecordedHardwareParams{-1, 16, 64, 49152, 2147483647, 1024, 8, 32});
  CHECK(l4.peak_fp32_gflops == doctest::Approx(30289).epsilon(0.001));
  CHECK(make_cpu("my-cpu", 8, IsaLevel::avx2).vector_unit_bytes == 32);
}
