// Launch features from the steps alone: a real K80 matmul schedule against its hand-derived launch
// configuration; agreement with the kernel vector of the lowered nest (an independent derivation, through
// the compute DAG) over the sample logs; a CPU schedule built by hand; unknown extents and malformed
// steps.
#include "crosstune/features/launch_features.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>

#include "crosstune/features/kernel_features.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "gpu_samples.hpp"
#include "test_support.hpp"

using namespace crosstune;
namespace lc = features::launch_column;
namespace kc = features::kernel_column;

namespace {
double launch_unlog(float v) { return std::exp2(static_cast<double>(v)) - 1.0; }
float launch_lg(double x, double scale) { return static_cast<float>(std::log2(1.0 + x) / scale); }
}  // namespace

// The record of test_kernel_features: matmul 128x4032 by 4032x1000 on a K80, x split [1, 4, 1, 2] (16
// outer), y split [1, 10, 2, 2] (25 outer), k split [2, 24] (84 outer); blockIdx = x.0 y.0, vthread =
// x.1 y.1, threadIdx = x.2 y.2; auto_unroll_max_step 512.
TEST_CASE("a K80 matmul schedule: the launch configuration read off its steps") {
  const auto record = test::first_record(test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz");
  const auto s = features::launch_summary(record.steps);
  CHECK(s.gpu);
  CHECK(s.grid == 16 * 25);
  CHECK(s.threads == 4 * 10);
  CHECK(s.vthreads == 1);
  CHECK(s.unroll == 512);
  CHECK(s.register_tile == 2 * 4);  // x: 1 x 2, y: 2 x 2
  CHECK(s.reduction_outer == 84);
  CHECK(s.reduction_inner == 48);
  CHECK(s.parallel == 0);

  std::array<float, features::launch_dims> f{};
  features::launch_features(record.steps, hw::presets::k80, f);
  CHECK(f[lc::gpu] == 1.0f);
  CHECK(f[lc::launch_known] == 1.0f);
  CHECK(f[lc::grid] == doctest::Approx(launch_lg(400, 24)));
  CHECK(f[lc::threads] == doctest::Approx(launch_lg(40, 11)));
  CHECK(f[lc::threads_fill] == doctest::Approx(40.0 / 1024));
  CHECK(f[lc::warp_fill] == doctest::Approx(40.0 / 64));
  CHECK(f[lc::blocks_per_unit] == doctest::Approx(launch_lg(400.0 / 13, 4)));
  // K80: 2048 resident threads per SM, so 32 blocks of 40 threads (the block limit) a SM, 13 SMs.
  const double wave = 32.0 * 13;
  CHECK(f[lc::wave_efficiency] == doctest::Approx(400 / (std::ceil(400 / wave) * wave)));
  CHECK(f[lc::vthread_fill] == doctest::Approx(1.0 / 8));
  CHECK(f[lc::unroll] == doctest::Approx(launch_lg(512, 11)));
  CHECK(f[lc::register_tile] == doctest::Approx(launch_lg(8, 10)));
  CHECK(f[lc::reduction_outer] == doctest::Approx(launch_lg(84, 16)));
  CHECK(f[lc::reduction_inner] == doctest::Approx(launch_lg(48, 10)));
  CHECK(f[lc::tiling_known] == 1.0f);
  CHECK(f[lc::parallel] == 0.0f);

  // The device-relative columns follow the device, the schedule's stay.
  std::array<float, features::launch_dims> g{};
  features::launch_features(record.steps, hw::presets::v100, g);
  CHECK(g[lc::grid] == f[lc::grid]);
  CHECK(g[lc::register_tile] == f[lc::register_tile]);
  CHECK(g[lc::blocks_per_unit] == doctest::Approx(launch_lg(400.0 / 80, 4)));
  CHECK(g[lc::blocks_per_unit] < f[lc::blocks_per_unit]);
}

TEST_CASE("grid and block agree with the lowered nest's kernel vector over the sample logs") {
  std::size_t checked = 0, grid_unknown = 0, grid_equal = 0, threads_equal = 0, vthreads_equal = 0;
  test::for_each_gpu_sample(40, [&](const hw::HardwareParams& hardware, const Record& record, const codegen::LoopNest& nest) {
    const auto k = features::kernel_features(nest, hardware);
    const auto s = features::launch_summary(record.steps);
    std::array<float, features::launch_dims> f{};
    features::launch_features(record.steps, hardware, f);
    for (float v : f)
      REQUIRE(std::isfinite(v));
    CHECK(s.gpu);
    ++checked;
    // The kernel vector stores log2(1 + x) as a float: equal within its rounding.
    auto same = [](double steps, float from_nest) { return std::abs(steps - launch_unlog(from_nest)) <= 0.5 + 1e-5 * steps; };
    if (s.grid == 0) {
      ++grid_unknown;  // a fused loop the steps never sized
    } else {
      grid_equal += same(s.grid, k[kc::grid]);
    }
    threads_equal += same(s.threads, k[kc::threads]);
    vthreads_equal += same(s.vthreads, k[kc::vthreads]);
  });
  MESSAGE("launch vs kernel vector over ", checked, " records: grid ", grid_equal, " equal and ", grid_unknown,
          " unknown, threads ", threads_equal, ", vthreads ", vthreads_equal, " equal");
  CHECK(checked >= 200);
  CHECK(grid_unknown <= checked / 10);  // the reduction log's fused, unsplit outer loops
  CHECK(grid_equal == checked - grid_unknown);
  CHECK(threads_equal == checked);
  CHECK(vthreads_equal == checked);
}

TEST_CASE("a CPU schedule: parallel extent, vector lanes and its tiling against the cores") {
  // A CPU matmul sketch (SSRSRS): i and j split into four levels, k into three; the outer i.0 j.0 fused
  // and parallel, the innermost j vectorised.
  StepSequence steps;
  steps.add_split(0, 0, 512, std::array<std::int64_t, 3>{4, 8, 2}, true);   // i: 8 x 4 x 8 x 2
  steps.add_split(0, 4, 1024, std::array<std::int64_t, 3>{2, 4, 16}, true);  // j: 8 x 2 x 4 x 16
  steps.add_split(0, 8, 256, std::array<std::int64_t, 2>{8, 4}, true);       // k: 8 x 8 x 4
  steps.add_fuse(0, std::array<std::int64_t, 2>{0, 1});                       // i.0 i.1: 32
  steps.add_annotation(0, 0, IteratorAnnotation::parallel);
  steps.add_annotation(0, 6, IteratorAnnotation::vectorize);                  // j.3, after the fuse
  steps.add_pragma(0, 0, "auto_unroll_max_step$64");
  const auto s = features::launch_summary(steps);
  CHECK_FALSE(s.gpu);
  CHECK(s.parallel == 8 * 4);
  CHECK(s.vector_lanes == 16);
  CHECK(s.unroll == 64);
  CHECK(s.register_tile == (8 * 2) * (4 * 16));
  CHECK(s.reduction_outer == 8);
  CHECK(s.reduction_inner == 32);
  std::array<float, features::launch_dims> f{};
  auto cpu = hw::presets::v100;  // any descriptor with cores and a vector unit; set them by hand
  cpu.num_cores = 6;
  cpu.vector_unit_bytes = 64;
  features::launch_features(steps, cpu, f);
  CHECK(f[lc::gpu] == 0.0f);
  CHECK(f[lc::grid] == 0.0f);
  CHECK(f[lc::parallel] == doctest::Approx(launch_lg(32, 16)));
  CHECK(f[lc::parallel_per_core] == doctest::Approx(launch_lg(32.0 / 6, 4)));
  CHECK(f[lc::parallel_balance] == doctest::Approx(32.0 / 36));
  CHECK(f[lc::vector_fill] == doctest::Approx(launch_lg(4.0 * 16 / 64, 4)));
}

TEST_CASE("unknown extents leave their columns unknown; malformed steps do not crash") {
  StepSequence steps;
  steps.add_fuse(0, std::array<std::int64_t, 2>{0, 1});  // iterators the log never sized
  steps.add_annotation(0, 0, IteratorAnnotation::block_x);
  steps.add_split(1, 0, 0, std::array<std::int64_t, 4>{1, 2, 3, 4}, true);  // extent unknown
  steps.add_annotation(1, 2, IteratorAnnotation::thread_x);
  auto s = features::launch_summary(steps);
  CHECK(s.gpu);
  std::array<float, features::launch_dims> f{};
  features::launch_features(steps, hw::presets::v100, f);
  CHECK(f[lc::gpu] == 1.0f);
  CHECK(f[lc::launch_known] == 0.0f);
  CHECK(f[lc::wave_efficiency] == 0.0f);

  StepSequence bad;
  bad.add_follow_split(3, 7, 99, 4);  // a followed step that does not exist
  bad.add_follow_fused_split(2, 1, std::array<std::int64_t, 2>{0, 50}, 1, true);
  bad.add_reorder(5, std::array<std::int64_t, 3>{9, 0, 4});
  bad.add_cache_write(8, "local");
  bad.add_rfactor(0, 3, 1);
  bad.add_annotation(-1, -3, IteratorAnnotation::thread_x);
  bad.add_split(1000000000000, 2, 64, std::array<std::int64_t, 1>{8}, true);  // ids far past any stage
  bad.add_fuse(0, std::array<std::int64_t, 2>{0, 1000000000000});
  features::launch_features(bad, hw::presets::v100, f);
  for (float v : f)
    CHECK(std::isfinite(v));
}
