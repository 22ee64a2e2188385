// CPU sketches: which sketches each operator family gets, and that sampling, mutation and crossover
// keep every candidate inside its space (perfect tilings, choices in range) and valid when applied.
#include "crosstune/schedule/cpu_sketch.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/workloads.hpp"
#include "operator_cases.hpp"
#include "test_support.hpp"

using namespace crosstune;
using test::share;
using schedule::CpuCandidate;
using schedule::CpuSketchSpace;

namespace {
CpuSketchSpace space_of(Expected<ir::ComputeDag> dag) {
  return CpuSketchSpace::make(share(std::move(dag)), {.cores = 8}).value();
}
std::vector<std::string> names(const CpuSketchSpace& space) {
  std::vector<std::string> out;
  for (const auto& s : space.sketches()) out.push_back(s.name);
  return out;
}
/// How many knob values differ between two candidates of the same sketch.
int knobs_changed(const CpuSketchSpace& space, const CpuCandidate& a, const CpuCandidate& b) {
  int changed = 0;
  for (const auto& k : space.sketches()[static_cast<std::size_t>(a.sketch)].knobs) {
    const std::size_t n = k.kind == schedule::Knob::Kind::tile ? static_cast<std::size_t>(k.parts) : 1;
    for (std::size_t i = 0; i < n; ++i)
      if (a.values[k.offset + i] != b.values[k.offset + i]) {
        ++changed;
        break;
      }
  }
  return changed;
}
}  // namespace

TEST_CASE("a matmul gets multi-level tiling with a cache_write stage or in place") {
  const auto space = space_of(ir::matmul(512, 512, 512));
  CHECK(names(space) == std::vector<std::string>{"compute: SSRSRS, cache_write", "compute: SSRSRS, in place"});
  const auto& knobs = space.sketches()[0].knobs;
  REQUIRE(knobs.size() == 3 + 4);  // x, y, k tiles; fusion level, parallel, vectorize, unroll
  CHECK(knobs[0].parts == 4);
  CHECK(knobs[2].parts == 2);
  CHECK(knobs[0].innermost_max == 64);
}

TEST_CASE("a dense layer with an epilogue fuses the tiled product into the activation") {
  const auto space = space_of(ir::dense(64, 32, 48, true, ir::Activation::relu));
  CHECK(names(space) == std::vector<std::string>{"T_matmul_NT: SSRSRS, fused with compute"});
  Rng rng(1);
  const auto state = space.apply(space.sample(rng)).value();
  int inlined = 0;
  for (const auto& stage : state.stages()) inlined += stage.compute_at == schedule::ComputeAtKind::inlined ? 1 : 0;
  CHECK(inlined == 1);  // the bias add
}

TEST_CASE("convolutions compute their padding apart; pooling computes the window sum inside the division") {
  ir::Conv2dParams p{};
  p.in_channels = 8, p.in_height = 14, p.in_width = 14, p.out_channels = 16, p.kernel_h = 3, p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  const auto conv = space_of(ir::conv2d(p));
  REQUIRE(conv.sketches().size() == 2);
  std::int32_t pad_id = -1;
  for (std::size_t s = 0; s < conv.dag().size(); ++s)
    if (conv.dag().op(s).name == "pad_temp") pad_id = conv.dag().op(s).id;
  REQUIRE(pad_id >= 0);
  for (const auto& sketch : conv.sketches()) {
    // the padding is an element-wise stage of its own (its bounds test stays out of the tiled loops)
    bool padding_apart = false;
    for (const auto& plan : sketch.plans) {
      CHECK(plan.kind != CpuSketchSpace::StagePlan::Kind::inline_stage);
      padding_apart = padding_apart || (plan.kind == CpuSketchSpace::StagePlan::Kind::elementwise && plan.tensor == pad_id);
    }
    CHECK(padding_apart);
  }
  // without padding there is no conditional stage to keep apart
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
  const auto unpadded = space_of(ir::conv2d(p));
  for (const auto& plan : unpadded.sketches()[0].plans) CHECK(plan.kind != CpuSketchSpace::StagePlan::Kind::elementwise);
  // a reader without reuse (pooling) still inlines its padding
  const auto pool = space_of(ir::dag_from_workload_key(R"(["pool_layer", "avg", 1, 8, 14, 14, 3, 3, 2, "SAME"])"));
  CHECK(names(pool) == std::vector<std::string>{"tensor: inside tensor"});
  const auto relu = space_of(ir::unary({7, 13}, ir::UnaryOp::relu));
  CHECK(names(relu) == std::vector<std::string>{"element-wise"});
  // exp is expensive: softmax keeps T_softmax_exp as a stage of its own rather than inlining it twice
  const auto soft = space_of(ir::softmax({4, 9}, 1));
  for (const auto& plan : soft.sketches()[0].plans) CHECK(plan.kind != CpuSketchSpace::StagePlan::Kind::inline_stage);
}

TEST_CASE("sampled candidates are perfect tilings within the innermost limit and apply without refusal") {
  const auto space = space_of(ir::matmul(96, 255, 7));
  Rng rng(42);
  for (int i = 0; i < 2000; ++i) {
    const auto c = space.sample(rng);
    REQUIRE(space.valid(c));
    for (const auto& k : space.sketches()[static_cast<std::size_t>(c.sketch)].knobs) {
      if (k.kind != schedule::Knob::Kind::tile) continue;
      std::int64_t product = 1;
      for (std::int32_t j = 0; j < k.parts; ++j) product *= c.values[k.offset + static_cast<std::size_t>(j)];
      CHECK(product == k.extent);
    }
    if (i % 10 == 0) {
      auto state = space.apply(c);
      REQUIRE_MESSAGE(state.has_value(), state.error().describe());
    }
  }
}

TEST_CASE("a mutation changes exactly one knob and keeps the candidate valid") {
  const auto space = space_of(ir::matmul(64, 64, 64));
  Rng rng(9);
  int unchanged = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto parent = space.sample(rng);
    const auto child = space.mutate(parent, rng);
    REQUIRE(space.valid(child));
    CHECK(child.sketch == parent.sketch);
    const int changed = knobs_changed(space, parent, child);
    CHECK(changed <= 1);
    unchanged += changed == 0 ? 1 : 0;
  }
  CHECK(unchanged < 50);  // only when eight attempts in a row found nothing to move
}

TEST_CASE("crossover takes every knob from one of the parents") {
  const auto space = space_of(ir::matmul(64, 48, 32));
  Rng rng(5);
  for (int i = 0; i < 500; ++i) {
    const auto a = space.sample(rng);
    auto c = space.sample(rng);
    while (c.sketch != a.sketch) c = space.sample(rng);
    const auto child = space.crossover(a, c, rng);
    REQUIRE(space.valid(child));
    for (const auto& k : space.sketches()[static_cast<std::size_t>(a.sketch)].knobs) {
      const std::size_t n = k.kind == schedule::Knob::Kind::tile ? static_cast<std::size_t>(k.parts) : 1;
      bool from_a = true, from_c = true;
      for (std::size_t j = 0; j < n; ++j) {
        from_a = from_a && child.values[k.offset + j] == a.values[k.offset + j];
        from_c = from_c && child.values[k.offset + j] == c.values[k.offset + j];
      }
      CHECK((from_a || from_c));
    }
  }
}

TEST_CASE("equal candidates hash equal and sampling is deterministic for a seed") {
  const auto space = space_of(ir::matmul(128, 128, 128));
  Rng r1(77), r2(77);
  std::unordered_set<std::uint64_t> hashes;
  for (int i = 0; i < 1000; ++i) {
    const auto a = space.sample(r1), b = space.sample(r2);
    CHECK(a == b);
    CHECK(a.hash() == b.hash());
    hashes.insert(a.hash());
  }
  CHECK(hashes.size() > 900);  // a large space: few repeats
}

TEST_CASE("candidates that do not fit the space are refused, not applied") {
  const auto space = space_of(ir::matmul(16, 16, 16));
  Rng rng(1);
  auto c = space.sample(rng);
  auto bad = c;
  bad.values[0] *= 2;  // the tile no longer multiplies to 16
  CHECK_FALSE(space.valid(bad));
  CHECK_FALSE(space.apply(bad).has_value());
  bad = c;
  bad.sketch = 99;
  CHECK_FALSE(space.valid(bad));
  bad = c;
  bad.values.pop_back();
  CHECK_FALSE(space.valid(bad));
  CHECK_FALSE(CpuSketchSpace::make(nullptr).has_value());
  CHECK_FALSE(CpuSketchSpace::make(share(ir::matmul(4, 4, 4)), {.cores = 0}).has_value());
  CHECK_FALSE(CpuSketchSpace::make(share(ir::matmul(4, 4, 4)), {.cores = 1, .prior = 1.5}).has_value());
  CHECK_FALSE(CpuSketchSpace::make(share(ir::matmul(4, 4, 4)), {.cores = 1, .vector_lanes = -1}).has_value());
}

TEST_CASE("sketch options follow the hardware descriptor") {
  hw::HardwareParams h{};
  h.num_cores = 16;
  h.vector_unit_bytes = 64;
  const auto o = schedule::CpuSketchOptions::from(h);
  CHECK(o.cores == 16);
  CHECK(o.vector_lanes == 16);
}

namespace {
struct Draws {
  int in_place = 0;       ///< candidates of an in-place sketch
  int narrow = 0;         ///< candidates whose contiguous innermost factor is below 16
  std::unordered_set<std::uint64_t> distinct;
};
/// `n` random matmul 64x64x64 candidates under `prior` with 16 lanes.
Draws draw(double prior, int n) {
  const auto space = CpuSketchSpace::make(share(ir::matmul(64, 64, 64)), {.cores = 2, .vector_lanes = 16, .prior = prior}).value();
  Rng rng(11);
  Draws d;
  for (int i = 0; i < n; ++i) {
    const auto c = space.sample(rng);
    const auto& sk = space.sketches()[static_cast<std::size_t>(c.sketch)];
    // the tiled stage's knobs come first: tile i, tile j (the contiguous output axis), tile k
    const auto& j = sk.knobs[1];
    REQUIRE(j.vector_lanes == 16);
    d.in_place += sk.in_place ? 1 : 0;
    d.narrow += c.values[j.offset + 3] < 16 ? 1 : 0;
    d.distinct.insert(c.hash());
  }
  return d;
}
}  // namespace

TEST_CASE("the sampling prior prefers vector-filling tiles and sketches that do not accumulate in place") {
  const auto space = CpuSketchSpace::make(share(ir::matmul(64, 64, 64)), {.cores = 2}).value();
  REQUIRE(space.sketches().size() == 2);
  CHECK(space.sketches()[0].in_place != space.sketches()[1].in_place);
  // Uniform: half the candidates in place, and 4 of the 7 innermost factors (1, 2, 4, 8 of 1..64) narrow.
  const Draws uniform = draw(0.0, 4000);
  CHECK(uniform.in_place == doctest::Approx(2000).epsilon(0.1));
  CHECK(uniform.narrow > 4000 * 4 / 7 * 9 / 10);
  // Prior 0.9: in place 0.5 x 0.1 of the time; narrow only in the uniform tenth (4/7 of it).
  const Draws prior = draw(0.9, 4000);
  CHECK(prior.in_place == doctest::Approx(200).epsilon(0.25));
  CHECK(prior.narrow == doctest::Approx(4000 * 0.1 * 4 / 7).epsilon(0.25));
  // Prior 1: never, and the other candidates are still all drawn.
  const Draws always = draw(1.0, 4000);
  CHECK(always.in_place == 0);
  CHECK(always.narrow == 0);
  CHECK(always.distinct.size() > 1000);
  // A contiguous axis shorter than a vector: its whole extent is the only prior pick.
  const auto small = CpuSketchSpace::make(share(ir::matmul(8, 8, 6)), {.cores = 2, .vector_lanes = 16, .prior = 1.0}).value();
  Rng rng(5);
  for (int i = 0; i < 200; ++i) {
    const auto c = small.sample(rng);
    const auto& j = small.sketches()[static_cast<std::size_t>(c.sketch)].knobs[1];
    CHECK(c.values[j.offset + 3] == 6);
  }
}

TEST_CASE("the space size counts every distinct candidate, and exhaustive sampling finds them all") {
  const auto relu = space_of(ir::unary({12}, ir::UnaryOp::relu));
  CHECK(relu.size() == 5 * 2 + 1);  // six ways to split 12 in two, vectorised or not unless the inner loop is 1
  Rng rng(3);
  std::unordered_set<std::uint64_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(relu.sample(rng).hash());
  CHECK(seen.size() == relu.size());
  // two axes 4 x 6: all fused (24 split in two: 7 ways) or by rows (6 split in two: 3 ways)
  const auto rows = space_of(ir::unary({4, 6}, ir::UnaryOp::relu));
  CHECK(rows.size() == (7 * 2 + 1) + (3 * 2 + 1));
  seen.clear();
  for (int i = 0; i < 4000; ++i) seen.insert(rows.sample(rng).hash());
  CHECK(seen.size() == rows.size());
  // 8 = 2·2·2 into 4 ordered parts: C(6, 3) = 20 tilings per spatial axis
  const auto mm = space_of(ir::matmul(8, 8, 8));
  const std::uint64_t per_sketch = 20 * 20 * 4 /* k in two parts */ * 2 * 2 * 2 * 4;
  // cache_write (2 fusion levels, 2 parallel choices) + in place (1 fusion level, 4 parallel choices: two levels)
  CHECK(mm.size() == per_sketch + 20 * 20 * 4 * 1 * 4 * 2 * 4);
}

TEST_CASE("a tile accumulating in place runs its second tile level in parallel when the first is too short") {
  // Nothing is computed inside an in-place tile's loops, so the parallel fusion may take the first two
  // spatial levels (they run before the first reduction loop); with the first level all 1, the kernel
  // would otherwise run on one core.
  const auto space = CpuSketchSpace::make(share(ir::matmul(64, 32, 64)), {.cores = 8}).value();
  REQUIRE(space.sketches()[1].in_place);
  const auto& sk = space.sketches()[1];
  CpuCandidate c;
  c.sketch = 1;
  c.values.assign(sk.value_count, 0);
  for (const auto& k : sk.knobs) {
    if (k.what == "tile x" || k.what == "tile y") {  // 64 = 1 * 4 * 4 * 4: the first level is one iteration
      c.values[k.offset] = 1;
      c.values[k.offset + 1] = c.values[k.offset + 2] = c.values[k.offset + 3] = 4;
    } else if (k.what == "tile k") {
      c.values[k.offset] = 8, c.values[k.offset + 1] = 4;
    } else if (k.what == "parallel") {
      CHECK(k.options == 4);
    }
  }
  const auto state = space.apply(c).value();
  const auto& stage = state.stage(static_cast<std::size_t>(state.stage_of(space.dag().outputs().front())));
  REQUIRE_FALSE(stage.iters.empty());
  CHECK(stage.iters[0].annotation == IteratorAnnotation::parallel);
  CHECK(stage.extent(0) == 4 * 4);  // x.0 y.0 x.1 y.1 fused: 1 * 1 * 4 * 4 iterations for 8 cores
  const std::string source = codegen::emit_cpp(codegen::lower(state).value());
  CHECK(test::contains(source, "#pragma omp parallel for"));
}

TEST_CASE("element-wise stages by rows keep the inner loop's indices affine") {
  const auto add = space_of(ir::unary({2, 16, 7, 56}, ir::UnaryOp::relu));
  const auto& sketch = add.sketches()[0];
  CpuCandidate c;
  c.sketch = 0;
  c.values.assign(sketch.value_count, 1);
  for (const auto& k : sketch.knobs) {
    if (k.what == "rows") c.values[k.offset] = 1;
    if (k.what == "vectorize") c.values[k.offset] = 1;
    if (k.what == "tile fused") c.values[k.offset] = k.extent;
    if (k.what.rfind("tile ", 0) == 0 && k.what != "tile fused") c.values[k.offset] = 7, c.values[k.offset + 1] = 8;
  }
  add.normalize(c);
  REQUIRE(add.valid(c));
  const auto state = add.apply(c).value();
  const auto nest = codegen::lower(state).value();
  const std::string code = codegen::emit_cpp(nest);
  // loops: the fused rows (2*16*7 = 224) in parallel, 56 = 7 x 8, the 8 in vector lanes
  CHECK(code.find("< 224") != std::string::npos);
  CHECK(code.find("#pragma omp simd") != std::string::npos);
  // the inner loop's variable appears without a division or remainder by the fused extents
  const auto body = code.substr(code.find("#pragma omp simd"));
  const auto store = body.substr(body.find('\n') + 1);
  const auto line = store.substr(store.find('\n') + 1, store.find(';', store.find('\n') + 1) - store.find('\n'));
  CHECK(line.find("% 56") == std::string::npos);
  CHECK(line.find("/ 56") == std::string::npos);
}
