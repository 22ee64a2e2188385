#include "crosstune/hw/hardware_params.hpp"

#include <doctest/doctest.h>

#include <cmath>

#include "crosstune/hw/presets.hpp"

using namespace crosstune::hw;

TEST_CASE("the recorded TenSet parameters round-trip through a descriptor") {
  const crosstune::RecordedHardwareParams gpu{-1, 16, 64, 49152, 2147483647, 1024, 8, 32};
  const HardwareParams p = from_recorded(gpu, "from-log");
  CHECK(p.kind == DeviceKind::cuda);
  CHECK(p.recorded() == gpu);
  const crosstune::RecordedHardwareParams cpu{32, 64, 64, 0, 0, 0, 0, 0};
  CHECK(from_recorded(cpu).kind == DeviceKind::cpu);
  CHECK(from_recorded(cpu).recorded() == cpu);
}

TEST_CASE("features have a fixed length, stay in [0, 1] and separate devices") {
  static_assert(HardwareParams::feature_count == 20);
  for (const HardwareParams* p : presets::all) {
    CAPTURE(std::string(p->name));
    const auto f = p->to_features();
    for (float v : f) {
      CHECK(std::isfinite(v));
      CHECK(v >= 0.0f);
      CHECK(v <= 1.0f);
    }
    CHECK(f[0] + f[1] == 1.0f);  // exactly one of cpu / gpu
  }
  // Hand-computed entries for the V100.
  const auto v = presets::v100.to_features();
  CHECK(v[1] == 1.0f);
  CHECK(v[5] == doctest::Approx(std::log2(1.0 + 49152) / 24));
  CHECK(v[8] == doctest::Approx(std::log2(33.0) / 7));
  CHECK(v[9] == doctest::Approx(std::log2(81.0) / 10));
  CHECK(v[18] == doctest::Approx(0.70));
  CHECK(presets::v100.to_features() != presets::a100.to_features());
  CHECK(presets::k80.to_features() != presets::v100.to_features());
}

TEST_CASE("unknown fields give zero features, and the ridge point is FLOPs per byte") {
  HardwareParams unknown;
  for (float v : unknown.to_features())
    CHECK(v == 0.0f);
  CHECK(presets::v100.ridge_flops_per_byte() == doctest::Approx(15667.2 / 900));
  CHECK(unknown.ridge_flops_per_byte() == 0.0);
}

TEST_CASE("same_hardware compares numbers, not names") {
  HardwareParams a = presets::t4;
  a.name = "renamed";
  CHECK(a.same_hardware(presets::t4));
  a.l2_bytes += 1;
  CHECK_FALSE(a.same_hardware(presets::t4));
  CHECK(to_string(DeviceKind::rocm) == "rocm");
  CHECK(to_string(IsaLevel::avx512) == "avx512");
  CHECK(vector_bytes(IsaLevel::avx2) == 32);
}
