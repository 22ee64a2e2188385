#include "crosstune/hw/host_probe.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <thread>

using namespace crosstune::hw;

TEST_CASE("the host probe gives sane values on this machine") {
  const HostProbe host = probe_host();
  const HardwareParams& p = host.params;
  CHECK(p.kind == DeviceKind::cpu);
  CHECK(p.num_cores >= 1);
  CHECK(host.logical_cores >= host.physical_cores);
  CHECK(host.logical_cores == static_cast<std::int64_t>(std::thread::hardware_concurrency()));
  CHECK(p.vector_unit_bytes == vector_bytes(p.isa));
#if defined(__x86_64__)
  CHECK(host.architecture == "x86_64");
  CHECK(p.cache_line_bytes == 64);
  CHECK(p.isa != IsaLevel::unknown);  // every x86-64 CPU of the last decade has SSE4.2
  // The ISA level follows the flags cpuid reported.
  if (host.x86.avx512f) CHECK(p.isa == IsaLevel::avx512);
  if (!host.x86.avx512f && host.x86.avx2) CHECK(p.isa == IsaLevel::avx2);
  if (host.x86.avx512f) CHECK(host.x86.avx2);
#endif
  if (p.l1_bytes > 0) CHECK(p.l1_bytes <= p.l2_bytes);
  if (p.clock_ghz > 0) {
    CHECK(p.clock_ghz > 0.2);
    CHECK(p.clock_ghz < 7.0);
    CHECK(p.peak_fp32_gflops > 0);
  }
  // Fields left unknown are listed, never a crash.
  for (const auto& field : host.unknown_fields)
    CHECK_FALSE(field.empty());
  CHECK(std::find(host.unknown_fields.begin(), host.unknown_fields.end(), "memory_bandwidth_gbps") !=
        host.unknown_fields.end());
}

TEST_CASE("simulated CPU targets restrict the host's ISA and cores") {
  HardwareParams host;
  host.kind = DeviceKind::cpu;
  host.isa = IsaLevel::avx512;
  host.vector_unit_bytes = 64;
  host.num_cores = 8;
  host.clock_ghz = 2.0;
  host.peak_fp32_gflops = 8 * 2.0 * 16 * 4;  // a full 64-byte datapath
  auto avx2 = simulate_cpu(host, IsaLevel::avx2, 1);
  REQUIRE(avx2);
  CHECK(avx2->name == "host-avx2");
  CHECK(avx2->vector_unit_bytes == 32);
  CHECK(avx2->num_cores == 1);
  CHECK(avx2->peak_fp32_gflops == doctest::Approx(1 * 2.0 * 8 * 4));
  auto sse = simulate_cpu(host, IsaLevel::sse4_2, 8);
  REQUIRE(sse);
  CHECK(sse->vector_unit_bytes == 16);
  // A double-pumped host (32-byte datapath) gains nothing from AVX-512 over AVX2.
  HardwareParams zen4 = host;
  zen4.peak_fp32_gflops = 8 * 2.0 * 8 * 4;
  CHECK(simulate_cpu(zen4, IsaLevel::avx512, 8)->peak_fp32_gflops == doctest::Approx(zen4.peak_fp32_gflops));
  CHECK(simulate_cpu(zen4, IsaLevel::avx2, 8)->peak_fp32_gflops == doctest::Approx(zen4.peak_fp32_gflops));
  CHECK(march_flag(IsaLevel::avx2) == "-march=x86-64-v3");
  CHECK(march_flag(IsaLevel::avx512) == "-march=x86-64-v4");
}

TEST_CASE("simulating what the host cannot do is refused") {
  HardwareParams host;
  host.kind = DeviceKind::cpu;
  host.isa = IsaLevel::avx2;
  host.num_cores = 2;
  CHECK_FALSE(simulate_cpu(host, IsaLevel::avx512, 1));
  CHECK_FALSE(simulate_cpu(host, IsaLevel::avx2, 3));
  CHECK_FALSE(simulate_cpu(host, IsaLevel::avx2, 0));
  CHECK_FALSE(simulate_cpu(host, IsaLevel::neon, 1));
  HardwareParams gpu;
  gpu.kind = DeviceKind::cuda;
  CHECK_FALSE(simulate_cpu(gpu, IsaLevel::avx2, 1));
  auto real = simulate_cpu(probe_host().params, IsaLevel::sse4_2, 1);
#if defined(__x86_64__)
  CHECK(real);
#endif
}

TEST_CASE("cpuid's cache sizes agree with sysfs where both can be read") {
#if defined(__x86_64__)
  const auto c = crosstune::hw::detail::probe_x86_caches();
  CHECK(c.line == 64);
  const auto sysfs_l2 =
      crosstune::hw::detail::parse_size(crosstune::hw::detail::read_text("/sys/devices/system/cpu/cpu0/cache/index2/size"));
  if (sysfs_l2 > 0) CHECK(c.l2 == sysfs_l2);
  if (c.l1d > 0) CHECK(c.l1d <= c.l2);
#endif
  CHECK(crosstune::hw::detail::parse_size("32K") == 32768);
  CHECK(crosstune::hw::detail::parse_size("36608K") == 36608 * 1024);
  CHECK(crosstune::hw::detail::parse_size("2M") == 2 * 1024 * 1024);
  CHECK(crosstune::hw::detail::parse_size("") == 0);
}
