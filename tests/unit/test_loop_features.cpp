// Loop-statistics features: hand-computed values for a naive matmul, footprints against a brute-force
// walk of the iteration space for random candidates, the hardware-relative columns, records that do not
// replay, and the extractor's batch (layout, masks, serial = parallel).
#include "crosstune/features/loop_features.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <set>
#include <vector>

#include "crosstune/features/feature_extractor.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using features::access_column::per_access;
namespace col = features::loop_column;
namespace acc = features::access_column;
constexpr std::size_t access0 = col::access;  // the first access slot's first column

namespace {

float log2p(double x) { return static_cast<float>(std::log2(1.0 + x)); }

hw::HardwareParams cpu(std::int64_t vector_bytes = 64) {
  hw::HardwareParams p;
  p.kind = hw::DeviceKind::cpu;
  p.num_cores = 2;
  p.vector_unit_bytes = vector_bytes;
  p.cache_line_bytes = 64;
  p.l1_bytes = 32 * 1024;
  p.l2_bytes = 1024 * 1024;
  return p;
}

ir::ComputeDag conv(std::int64_t channels, std::int64_t size, std::int64_t filters) {
  ir::Conv2dParams p;
  p.in_channels = channels;
  p.in_height = p.in_width = size;
  p.out_channels = filters;
  p.kernel_h = p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  return ir::conv2d(p).value();
}

Record record_of(const ir::ComputeDag& dag, const StepSequence& steps) {
  auto task = std::make_shared<Task>();
  task->workload_key = dag.workload_key();
  Record r;
  r.task = task;
  r.steps = steps;
  return r;
}

/// Elements of buffer `store.buffer` the store touches, by walking every iteration of `loops`.
std::size_t touched_by_walk(const codegen::LoopNest& nest, const codegen::Stmt& store, const std::vector<std::int32_t>& loops) {
  std::set<std::vector<std::int64_t>> seen;
  std::vector<std::int64_t> vars(nest.loops.size(), 0);
  auto walk = [&](auto&& self, std::size_t level) -> void {
    if (level == loops.size()) {
      if (store.condition != ir::no_expr && features::loop_features_detail::eval_index(nest.pool, store.condition, vars) == 0) return;
      std::vector<std::int64_t> at;
      for (auto e : store.index) at.push_back(features::loop_features_detail::eval_index(nest.pool, e, vars));
      seen.insert(at);
      return;
    }
    const auto loop = static_cast<std::size_t>(loops[level]);
    for (std::int64_t v = 0; v < nest.loops[loop].extent; ++v) {
      vars[loop] = v;
      self(self, level + 1);
    }
    vars[loop] = 0;
  };
  walk(walk, 0);
  return seen.size();
}

void stores_with_loops(const std::vector<codegen::Stmt>& body, std::vector<std::int32_t>& loops,
                       std::vector<std::pair<const codegen::Stmt*, std::vector<std::int32_t>>>& out) {
  for (const auto& s : body) {
    if (s.kind == codegen::StmtKind::loop) {
      loops.push_back(s.loop);
      stores_with_loops(s.body, loops, out);
      loops.pop_back();
    } else if (s.kind == codegen::StmtKind::store) {
      out.emplace_back(&s, loops);
    }
  }
}

}  // namespace

TEST_CASE("a naive 64x64x64 matmul: every column against its hand-computed value") {
  const auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(64, 64, 64).value());
  const schedule::State state(dag);
  const auto nest = codegen::lower(state).value();
  const auto stores = features::loop_features(nest, cpu());
  REQUIRE(stores.size() == 2);  // the update C[i, j] += A[i, k] * B[k, j] first, then C's initialisation
  const auto& f = stores[0];
  CHECK(f[col::trip] == doctest::Approx(log2p(64.0 * 64 * 64)));
  CHECK(f[col::ops] == 2);  // a multiply and an add
  CHECK(f[col::flops] == doctest::Approx(log2p(2.0 * 64 * 64 * 64)));
  CHECK(f[col::reduction] == 1);
  CHECK(f[col::init] == 0);
  CHECK(f[col::loops] == 3);
  CHECK(f[col::parallel] == 1);  // log2(1 + 1): no parallel loop, one thread
  CHECK(f[col::parallel_balance] == doctest::Approx(0.5));  // one thread's work on two cores
  CHECK(f[col::vector] == 0);
  CHECK(f[col::inner] == doctest::Approx(log2p(64)));
  CHECK(f[col::inner_reduction] == 1);
  CHECK(f[col::tile] == doctest::Approx(1.0));  // no spatial loop inside k: a tile of one element
  // Working sets: all three 16 KiB matrices (48 KiB) exceed the 32 KiB L1; inside i, C's row, A's row
  // and all of B: (64 + 64 + 4096) * 4 bytes fit, for 64 * 64 iterations.
  CHECK(f[col::l1_trip] == doctest::Approx(log2p(64.0 * 64)));
  CHECK(f[col::l1_intensity] == doctest::Approx(log2p(2.0 * 64 * 64 / ((64 + 64 + 4096) * 4.0))));
  CHECK(f[col::l2_trip] == doctest::Approx(log2p(64.0 * 64 * 64)));
  CHECK(f[col::footprint] == doctest::Approx(log2p(3 * 4096 * 4.0)));
  const float* c = f.data() + col::access;  // C: stride 64 along i, 1 along j, 0 along k
  CHECK(c[acc::present] == 1);
  CHECK(c[acc::inner_stride] == 0);
  CHECK(c[acc::invariant] == 1);
  CHECK(c[acc::contiguous] == 0);
  CHECK(c[acc::bytes] == doctest::Approx(log2p(4096 * 4.0)));
  CHECK(c[acc::reuse] == doctest::Approx(log2p(64)));
  CHECK(c[acc::reuse_distance] == doctest::Approx(log2p(4)));  // reused at the next k: one element apart
  const float* a = c + per_access;  // A[i, k]: the larger read ties with B, A's buffer comes first
  CHECK(a[acc::present] == 1);
  CHECK(a[acc::inner_stride] == 1);  // log2(1 + 1)
  CHECK(a[acc::contiguous] == 1);
  CHECK(a[acc::reuse_distance] == doctest::Approx(log2p(64 * 4.0)));  // reused at the next j: a row of A
  const float* b = a + per_access;  // B[k, j]: stride 64 along k
  CHECK(b[acc::inner_stride] == doctest::Approx(log2p(64)));
  CHECK(b[acc::contiguous] == 0);
  CHECK(b[acc::reuse_distance] == doctest::Approx(log2p(4096 * 4.0)));  // reused at the next i: all of B
  CHECK(b[per_access + acc::present] == 0);  // no fourth access
  // The initialisation: C[i, j] = 0, no reads.
  CHECK(stores[1][col::init] == 1);
  CHECK(stores[1][col::ops] == 0);
  CHECK(stores[1][col::trip] == doctest::Approx(log2p(4096)));
}

TEST_CASE("footprints of random candidates bound the elements a brute-force walk touches") {
  Rng rng(5);
  for (const auto& dag : {std::make_shared<const ir::ComputeDag>(ir::matmul(12, 20, 8).value()),
                          std::make_shared<const ir::ComputeDag>(conv(3, 9, 4))}) {
    auto space = schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
    int checked = 0;
    for (int i = 0; i < 40; ++i) {
      auto state = space.apply(space.sample(rng));
      if (!state) continue;
      auto nest = codegen::lower(*state);
      if (!nest) continue;
      std::vector<std::pair<const codegen::Stmt*, std::vector<std::int32_t>>> stores;
      std::vector<std::int32_t> loops;
      stores_with_loops(nest->body, loops, stores);
      std::vector<std::int64_t> vars(nest->loops.size(), 0);
      for (const auto& [store, around] : stores) {
        const auto f = features::loop_features_detail::store_features(*nest, *store, around, cpu(), vars);
        const auto& buffer = nest->buffers[static_cast<std::size_t>(store->buffer)];
        const double walked = static_cast<double>(touched_by_walk(*nest, *store, around));
        CAPTURE(dag->workload_key());
        CAPTURE(buffer.name);
        CHECK(f[access0 + acc::bytes] >= log2p(4 * walked) - 1e-4f);
        CHECK(f[access0 + acc::bytes] <= log2p(4.0 * static_cast<double>(buffer.elements())) + 1e-4f);
        if (store->condition == ir::no_expr && buffer.kind != codegen::BufferKind::local)
          CHECK(f[access0 + acc::bytes] == doctest::Approx(log2p(4 * walked)));  // dense and unguarded: exact
        for (float v : f) CHECK(std::isfinite(v));
        ++checked;
      }
    }
    CHECK(checked >= 40);
  }
}

TEST_CASE("hardware-relative columns follow the hardware") {
  Rng rng(8);
  const auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(64, 64, 64).value());
  auto space = schedule::CpuSketchSpace::make(dag, {.cores = 2, .vector_lanes = 16}).value();
  int vectorised = 0;
  for (int i = 0; i < 40 && vectorised < 5; ++i) {
    auto state = space.apply(space.sample(rng));
    REQUIRE(state.has_value());
    const auto nest = codegen::lower(*state).value();
    const auto wide = features::loop_features(nest, cpu(64))[0];
    const auto narrow = features::loop_features(nest, cpu(32))[0];
    if (wide[col::vector] == 0) continue;
    ++vectorised;
    CHECK(narrow[col::vector_fill] == doctest::Approx(2 * wide[col::vector_fill]));
    CHECK(narrow[col::vector] == wide[col::vector]);
    CHECK(narrow[col::trip] == wide[col::trip]);
  }
  CHECK(vectorised > 0);
  // Four cores share a parallel extent of 2 less evenly than two.
  auto two = cpu(), four = cpu();
  four.num_cores = 4;
  const schedule::State naive(dag);
  const auto nest = codegen::lower(naive).value();
  CHECK(features::loop_features(nest, four)[0][col::parallel_balance] == doctest::Approx(0.25));
  CHECK(features::loop_features(nest, two)[0][col::parallel_balance] == doctest::Approx(0.5));
}

TEST_CASE("LoopFeatureExtractor: a FeatureExtractor whose batch holds stores, workload and hardware") {
  static_assert(FeatureExtractor<features::LoopFeatureExtractor>);
  static_assert(MixedHardwareFeatureExtractor<features::LoopFeatureExtractor>);
  Rng rng(11);
  const auto dag = std::make_shared<const ir::ComputeDag>(conv(8, 14, 16));
  auto space = schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
  std::vector<Record> records;
  for (int i = 0; i < 100; ++i) records.push_back(record_of(*dag, space.apply(space.sample(rng)).value().steps()));
  // A record whose key names no DAG crosstune can build: one zero store vector, counted.
  Record hashed = records[0];
  auto task = std::make_shared<Task>(*hashed.task);
  task->workload_key = "[\"0123456789abcdef0123456789abcdef\", [1, 8, 14, 14], [16, 8, 3, 3]]";
  hashed.task = task;
  records.push_back(hashed);

  features::LoopFeatureExtractor parallel_extractor, serial_extractor({.parallel = false});
  const auto layout = parallel_extractor.layout();
  CHECK(layout.name == "loops");
  CHECK(layout.step_dims == features::loop_store_dims);
  CHECK(layout.workload_dims == features::loop_workload_dims);
  features::FeatureBatch batch, serial;
  REQUIRE(parallel_extractor.extract(records, cpu(), batch).has_value());
  REQUIRE(serial_extractor.extract(records, cpu(), serial).has_value());
  CHECK(parallel_extractor.unreplayed() == 1);
  CHECK(batch.steps == serial.steps);
  CHECK(batch.workload == serial.workload);
  CHECK(batch.mask == serial.mask);
  for (std::size_t i = 0; i + 1 < records.size(); ++i) {
    CAPTURE(i);
    CHECK(batch.lengths[i] >= 1);
    CHECK(batch.mask(i, 0) == 1);
    // The workload vector ends with the largest store's vector.
    for (std::size_t d = 0; d < features::loop_store_dims; ++d) CHECK(batch.workload(i, features::workload_dims + d) == batch.steps(i, 0, d));
  }
  const std::size_t last = records.size() - 1;
  CHECK(batch.lengths[last] == 1);
  for (std::size_t d = 0; d < features::loop_store_dims; ++d) CHECK(batch.steps(last, 0, d) == 0);
  // Joined with the step sequence: the steps as StepSequenceExtractor encodes them, the same workload.
  features::LoopFeatureExtractor joined({.with_steps = true});
  features::StepSequenceExtractor steps_only;
  CHECK(joined.layout().name == "steps+loops");
  CHECK(joined.layout().step_dims == steps_only.layout().step_dims);
  features::FeatureBatch joined_batch, steps_batch;
  REQUIRE(joined.extract(records, cpu(), joined_batch).has_value());
  REQUIRE(steps_only.extract(records, cpu(), steps_batch).has_value());
  CHECK(joined_batch.steps == steps_batch.steps);
  CHECK(joined_batch.mask == steps_batch.mask);
  CHECK(joined_batch.workload == batch.workload);
  CHECK(joined.unreplayed() == 1);
  // Candidates differ: the stores' vectors are not all alike.
  std::set<std::vector<float>> distinct;
  for (std::size_t i = 0; i + 1 < records.size(); ++i) {
    std::vector<float> row(features::loop_store_dims);
    for (std::size_t d = 0; d < row.size(); ++d) row[d] = batch.steps(i, 0, d);
    distinct.insert(row);
  }
  CHECK(distinct.size() > 50);
}
