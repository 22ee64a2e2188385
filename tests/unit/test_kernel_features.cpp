// Kernel features: a real K80 matmul schedule against its hand-derived launch configuration, shared tiles,
// registers, reduction tiling and occupancy; the device-relative columns across devices; CPU nests; and
// invariants over every schedule of the sample logs.
#include "crosstune/features/kernel_features.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <memory>

#include "crosstune/features/loop_features.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/replay.hpp"
#include "gpu_samples.hpp"
#include "test_support.hpp"

using namespace crosstune;
namespace kc = features::kernel_column;

namespace {

float lg(double x) { return static_cast<float>(std::log2(1.0 + x)); }
double unlog(float v) { return std::exp2(static_cast<double>(v)) - 1.0; }

/// The first record of a sample log, replayed and lowered.
codegen::LoopNest first_nest(const std::filesystem::path& log) {
  const Record record = test::first_record(log);
  schedule::Replayer replayer;
  auto state = replayer.replay(record);
  REQUIRE(state);
  auto nest = codegen::lower(*state);
  REQUIRE(nest);
  return std::move(*nest);
}

}  // namespace

// The record: matmul 128x4032 by 4032x1000 on a K80, x split [1, 4, 1, 2] (16 outer), y split
// [1, 10, 2, 2] (25 outer), k split [2, 24] (84 outer); blockIdx = x.0 y.0, vthread = x.1 y.1,
// threadIdx = x.2 y.2; A and B read into shared memory at k.0, each fetch fused and bound to threadIdx;
// auto_unroll_max_step 512.
TEST_CASE("a K80 matmul schedule: its launch configuration, derived by hand") {
  const auto nest = first_nest(test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz");
  const auto f = features::kernel_features(nest, hw::presets::k80);
  CHECK(f[kc::gpu] == 1.0f);
  CHECK(f[kc::grid] == doctest::Approx(lg(16 * 25)));
  CHECK(f[kc::threads] == doctest::Approx(lg(4 * 10)));
  CHECK(f[kc::vthreads] == doctest::Approx(lg(1)));
  // Per thread: 2 x 4 outputs, each over all 4032 k.
  CHECK(f[kc::work_per_thread] == doctest::Approx(lg(8.0 * 4032)));
  CHECK(f[kc::flops_per_thread] == doctest::Approx(lg(8.0 * 4032 * 2)));
  CHECK(f[kc::register_bytes] == doctest::Approx(lg(8 * 4)));  // the 2x4 accumulator tile
  CHECK(f[kc::reduction_outer] == doctest::Approx(lg(84)));
  CHECK(f[kc::reduction_inner] == doctest::Approx(lg(48)));
  CHECK(f[kc::unroll] == doctest::Approx(lg(2 * 2 * 24 * 2 * 2)));  // k.1, y.3, k.2, x.4, y.4
  // A block's tiles: A 8 rows x 48 k, B 48 k x 40 columns = 2304 floats. The footprints are bounding
  // boxes of fused, guarded fetch loops: never below the tile, here within 12% above it.
  const double shared = unlog(f[kc::shared_bytes]);
  CHECK(shared >= 2304 * 4 * 0.999);
  CHECK(shared <= 2304 * 4 * 1.15);
  // Each thread loads 3 (A: 96 / 40 rounded up) + 5 (B: 192 / 40) elements a refill.
  CHECK(f[kc::fetch_per_thread] == doctest::Approx(lg(8)));
  // Global traffic: the tiles once per block and k.0 iteration, and the output.
  const double global = unlog(f[kc::global_bytes]);
  CHECK(global >= (400.0 * 84 * 2304 + 128 * 1000) * 4 * 0.999);
  CHECK(global <= (400.0 * 84 * 2304 + 128 * 1000) * 4 * 1.15);

  // Against the K80: 40 threads = 2 warps, the second one a quarter full; 12 blocks resident per SM
  // (128 KB of shared memory per SM / ~10 KB a block), 13 SMs: 156 slots, 3 waves for 400 blocks.
  CHECK(f[kc::threads_fill] == doctest::Approx(40.0 / 1024));
  CHECK(f[kc::warps] == doctest::Approx(lg(2)));
  CHECK(f[kc::warp_fill] == doctest::Approx(40.0 / 64));
  CHECK(f[kc::shared_fill] == doctest::Approx(shared / 49152).epsilon(1e-4));
  CHECK(f[kc::vthread_fill] == doctest::Approx(1.0 / 8));
  const double resident = std::floor(128.0 * 1024 / shared);
  CHECK(f[kc::resident_blocks] == doctest::Approx(lg(resident)));
  CHECK(f[kc::occupancy] == doctest::Approx(resident * 40 / 2048));
  const double waves = std::ceil(400 / (resident * 13));
  CHECK(f[kc::waves] == doctest::Approx(lg(waves)));
  CHECK(f[kc::wave_efficiency] == doctest::Approx(400 / (waves * resident * 13)));
  CHECK(f[kc::blocks_per_unit] == doctest::Approx(lg(400.0 / 13)));
  CHECK(f[kc::register_fill] == doctest::Approx((8.0 + 16) / 255));
  const double flops = 128.0 * 1000 * 4032 * 2;
  CHECK(f[kc::compute_time] == doctest::Approx(lg(flops / (hw::presets::k80.peak_fp32_gflops * 1e3))));
  CHECK(f[kc::memory_time] == doctest::Approx(lg(global / (240.0 * 1e3))).epsilon(1e-4));
  const double compute_us = flops / (hw::presets::k80.peak_fp32_gflops * 1e3), memory_us = global / 240e3;
  CHECK(f[kc::compute_share] == doctest::Approx(compute_us / (compute_us + memory_us)).epsilon(1e-4));
}

TEST_CASE("the schedule's columns stay, the device's columns follow the device") {
  const auto nest = first_nest(test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz");
  const auto k80 = features::kernel_features(nest, hw::presets::k80);
  const auto v100 = features::kernel_features(nest, hw::presets::v100);
  for (std::size_t c = kc::gpu; c <= kc::unroll; ++c) CHECK(k80[c] == v100[c]);
  // 80 SMs against 13: 400 blocks fit in one wave of 80 x 12 slots.
  CHECK(v100[kc::waves] == doctest::Approx(lg(1)));
  CHECK(v100[kc::wave_efficiency] < k80[kc::wave_efficiency]);
  CHECK(v100[kc::compute_time] < k80[kc::compute_time]);
  CHECK(v100[kc::memory_time] < k80[kc::memory_time]);
  // A descriptor without limits leaves its columns at zero rather than dividing by zero.
  hw::HardwareParams bare;
  const auto none = features::kernel_features(nest, bare);
  for (float v : none) CHECK(std::isfinite(v));
  CHECK(none[kc::threads_fill] == 0.0f);
  CHECK(none[kc::occupancy] == 0.0f);
  CHECK(none[kc::compute_time] == 0.0f);
}

TEST_CASE("a CPU schedule has no kernel vector") {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(32, 32, 32).value());
  schedule::State state(dag);
  REQUIRE(state.split(2, 0, {8}));
  REQUIRE(state.annotate(2, 0, IteratorAnnotation::parallel));
  auto nest = codegen::lower(state);
  REQUIRE(nest);
  const auto f = features::kernel_features(*nest, hw::presets::k80);
  for (float v : f) CHECK(v == 0.0f);
}

TEST_CASE("every GPU schedule of the sample logs: finite columns within their ranges") {
  std::size_t checked = 0;
  test::for_each_gpu_sample(40, [&](const hw::HardwareParams& hardware, const Record&, const codegen::LoopNest& nest) {
    const auto f = features::kernel_features(nest, hardware);
    for (float v : f) REQUIRE(std::isfinite(v));
    CHECK(f[kc::gpu] == 1.0f);
    CHECK(unlog(f[kc::threads]) <= 1024.5);
    CHECK(f[kc::warp_fill] > 0.0f);
    CHECK(f[kc::warp_fill] <= 1.0f);
    CHECK(f[kc::occupancy] > 0.0f);
    CHECK(f[kc::occupancy] <= 1.0f);
    CHECK(f[kc::wave_efficiency] > 0.0f);
    CHECK(f[kc::wave_efficiency] <= 1.0f);
    CHECK(f[kc::compute_share] >= 0.0f);
    CHECK(f[kc::compute_share] <= 1.0f);
    ++checked;
  });
  CHECK(checked >= 200);
}

TEST_CASE("the loop extractors join the kernel vector, scaled, after the largest store's") {
  auto reader = io::LogReader::open(test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz");
  REQUIRE(reader);
  std::vector<Record> records(1);
  auto more = reader->next(records[0]);
  REQUIRE(more);
  REQUIRE(*more);
  features::LoopFeatureExtractor extractor({.with_steps = true});
  CHECK(extractor.layout().workload_dims == features::workload_dims + features::loop_store_dims + features::kernel_dims);
  features::FeatureBatch batch;
  REQUIRE(extractor.extract(records, hw::presets::k80, batch));
  CHECK(extractor.unreplayed() == 0);
  const auto nest = first_nest(test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz");
  const auto expected = features::kernel_features(nest, hw::presets::k80);
  for (std::size_t c = 0; c < features::kernel_dims; ++c)
    CHECK(batch.workload(0, features::workload_dims + features::loop_store_dims + c) == features::scaled_input(expected[c], features::kernel_input_scale[c]));
}
