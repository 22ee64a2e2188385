// Lowering a schedule state to a loop nest: structure (loops, tiles, initialisation, guards, buffers),
// refusals, and semantics — every random CPU candidate of every operator family, lowered and run by the
// loop-nest interpreter, matches ir/reference.hpp.
#include "crosstune/codegen/lower.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "crosstune/codegen/interpret.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using test::share;

namespace {
// Sanitizer builds run the interpreter ~10x slower: fewer candidates there.
#if defined(__SANITIZE_ADDRESS__)
constexpr int candidates_per_case = 30;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int candidates_per_case = 30;
#else
constexpr int candidates_per_case = 100;
#endif
#else
constexpr int candidates_per_case = 100;
#endif

/// Every statement of the nest in pre-order.
void walk(const std::vector<codegen::Stmt>& body, std::vector<const codegen::Stmt*>& out) {
  for (const auto& s : body) {
    out.push_back(&s);
    walk(s.body, out);
  }
}
std::vector<const codegen::Stmt*> statements(const codegen::LoopNest& nest) {
  std::vector<const codegen::Stmt*> out;
  walk(nest.body, out);
  return out;
}
std::vector<float> run(const codegen::LoopNest& nest, const std::vector<std::vector<float>>& inputs) {
  auto out = codegen::interpret(nest, inputs);
  REQUIRE_MESSAGE(out.has_value(), out.error().describe());
  REQUIRE(out->size() == 1);
  return std::move((*out)[0]);
}
}  // namespace

TEST_CASE("an unscheduled matmul lowers to three loops with the initialisation outside the reduction") {
  auto dag = share(ir::matmul(4, 3, 5));
  schedule::State state(dag);
  auto nest = codegen::lower(state).value();
  REQUIRE(nest.buffers.size() == 3);
  CHECK(nest.buffers[0].kind == codegen::BufferKind::input);
  CHECK(nest.buffers[1].kind == codegen::BufferKind::input);
  CHECK(nest.buffers[2].kind == codegen::BufferKind::output);
  CHECK(nest.params == std::vector<std::int32_t>{0, 1, 2});
  // x { y { init; k { update } } }: 3 loops (the init has no spatial loop inside the reduction)
  CHECK(nest.loops.size() == 3);
  REQUIRE(nest.body.size() == 1);
  const auto& y = nest.body[0].body.at(0);
  REQUIRE(y.body.size() == 2);
  CHECK(y.body[0].kind == codegen::StmtKind::store);
  CHECK(nest.pool[y.body[0].value].op == ir::ExprOp::float_const);
  CHECK(y.body[1].kind == codegen::StmtKind::loop);
  CHECK(nest.loops[static_cast<std::size_t>(y.body[1].loop)].kind == schedule::IteratorKind::reduction);
}

TEST_CASE("the initialisation repeats the spatial loops inside the first reduction loop") {
  auto dag = share(ir::matmul(4, 6, 5));
  schedule::State state(dag);
  const std::int64_t order[] = {0, 2, 1};  // x k y: y runs inside the reduction
  state.reorder(2, order).value();
  auto nest = codegen::lower(state).value();
  CHECK(nest.loops.size() == 4);
  int init_loops = 0;
  for (const auto& l : nest.loops) init_loops += l.init ? 1 : 0;
  CHECK(init_loops == 1);
  Rng rng(3);
  const std::vector<std::vector<float>> in = {test::random_values(24, rng), test::random_values(30, rng)};
  CHECK(test::worst_relative_error(run(nest, in), ir::evaluate(*dag, in).value()[0]) < 1e-5);
}

TEST_CASE("a stage computed at another's loop gets a local tile of the region read inside that loop") {
  auto dag = share(ir::matmul(8, 6, 10));
  schedule::State state(dag);
  state.cache_write(2, "local").value();           // 0 A, 1 B, 2 compute.local, 3 compute
  state.split(3, 0, {4}).value();                  // compute: x.0 (2) x.1 (4) y
  state.split(3, 2, {5}).value();                  // x.0 x.1 y.0 (2) y.1 (5)
  const std::int64_t order[] = {0, 2, 1, 3};
  state.reorder(3, order).value();                 // x.0 y.0 x.1 y.1
  state.compute_at(2, 3, 1).value();               // compute.local inside y.0: a 4x5 tile
  auto nest = codegen::lower(state).value();
  const codegen::Buffer* tile = nullptr;
  for (const auto& b : nest.buffers)
    if (b.kind == codegen::BufferKind::local) tile = &b;
  REQUIRE(tile != nullptr);
  CHECK(tile->name == "compute_local");
  CHECK(tile->shape == std::vector<std::int64_t>{4, 5});
  for (const auto* s : statements(nest)) CHECK(s->condition == ir::no_expr);  // every split divides
  Rng rng(5);
  const std::vector<std::vector<float>> in = {test::random_values(48, rng), test::random_values(60, rng)};
  CHECK(test::worst_relative_error(run(nest, in), ir::evaluate(*dag, in).value()[0]) < 1e-5);
}

TEST_CASE("a split that does not divide its loop guards the statements, and the result is still exact") {
  auto dag = share(ir::matmul(7, 5, 13));
  schedule::State state(dag);
  state.split(2, 0, {3}).value();  // 7 = 3·3 − 2: the last tile overruns
  state.split(2, 3, {2}).value();  // k: 5 = 3·2 − 1
  auto nest = codegen::lower(state).value();
  int guarded = 0;
  for (const auto* s : statements(nest)) guarded += s->condition != ir::no_expr ? 1 : 0;
  CHECK(guarded == 2);  // the initialisation and the update
  Rng rng(11);
  const std::vector<std::vector<float>> in = {test::random_values(35, rng), test::random_values(65, rng)};
  CHECK(test::worst_relative_error(run(nest, in), ir::evaluate(*dag, in).value()[0]) < 1e-5);
}

TEST_CASE("an inlined stage has no buffer and its body is substituted") {
  ir::Conv2dParams p{};
  p.in_channels = 2, p.in_height = 5, p.in_width = 5, p.out_channels = 3, p.kernel_h = 3, p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  auto dag = share(ir::conv2d(p));
  schedule::State state(dag);
  state.compute_inline(1).value();
  auto nest = codegen::lower(state).value();
  for (const auto& b : nest.buffers) CHECK(b.name != "pad_temp");
  Rng rng(2);
  const std::vector<std::vector<float>> in = {test::random_values(50, rng), test::random_values(54, rng)};
  CHECK(test::worst_relative_error(run(nest, in), ir::evaluate(*dag, in).value()[0]) < 1e-5);
}

TEST_CASE("a root intermediate stage becomes a whole temporary allocated once") {
  ir::Conv2dParams p{};
  p.in_channels = 2, p.in_height = 5, p.in_width = 5, p.out_channels = 3, p.kernel_h = 3, p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  auto dag = share(ir::conv2d(p));
  auto nest = codegen::lower(schedule::State(dag)).value();
  REQUIRE(nest.body.size() >= 1);
  CHECK(nest.body[0].kind == codegen::StmtKind::allocate);
  CHECK(nest.buffers[static_cast<std::size_t>(nest.body[0].buffer)].kind == codegen::BufferKind::temporary);
  CHECK(nest.buffers[static_cast<std::size_t>(nest.body[0].buffer)].shape == std::vector<std::int64_t>{1, 2, 7, 7});
}

TEST_CASE("auto_unroll_max_step marks the inner loops whose trip count fits") {
  auto dag = share(ir::matmul(8, 4, 4));
  schedule::State state(dag);
  state.pragma(2, 0, "auto_unroll_max_step$16").value();
  auto nest = codegen::lower(state).value();
  int unrolled = 0;
  for (const auto& l : nest.loops) unrolled += l.unroll ? 1 : 0;
  CHECK(unrolled == 2);  // k (4), then y·k (16); x·y·k = 128 is over the limit
}

TEST_CASE("lowering refuses a parallel reduction loop and a tile read by a stage it is not computed at") {
  auto dag = share(ir::matmul(4, 4, 4));
  schedule::State state(dag);
  state.annotate(2, 2, IteratorAnnotation::parallel).value();
  auto nest = codegen::lower(state);
  REQUIRE_FALSE(nest.has_value());
  CHECK(nest.error().kind == ErrorKind::unsupported);
  CHECK(nest.error().message.find("cannot run in parallel") != std::string::npos);

  // softmax: T_softmax_exp is read by both the sum and the normalisation
  auto soft = share(ir::softmax({3, 4}, 1));
  schedule::State s2(soft);
  s2.compute_at(2, 3, 0).value();  // exp inside expsum's loop, but norm reads it too
  auto refused = codegen::lower(s2);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("also read by") != std::string::npos);
}

TEST_CASE("every random CPU candidate of every operator family lowers to a nest that matches the reference") {
  Rng rng(2024);
  for (auto& c : test::operator_cases(rng)) {
    CAPTURE(c.name);
    auto space = schedule::CpuSketchSpace::make(c.dag, {.cores = 4}).value();
    std::unordered_set<std::uint64_t> seen;
    int checked = 0;
    for (int i = 0; i < 50 * candidates_per_case && checked < candidates_per_case; ++i) {
      auto candidate = space.sample(rng);
      if (i % 3 == 1) candidate = space.mutate(candidate, rng);
      if (!seen.insert(candidate.hash()).second) continue;
      auto state = space.apply(candidate);
      REQUIRE_MESSAGE(state.has_value(), state.error().describe());
      auto nest = codegen::lower(*state);
      REQUIRE_MESSAGE(nest.has_value(), nest.error().describe());
      auto out = codegen::interpret(*nest, c.inputs);
      REQUIRE_MESSAGE(out.has_value(), out.error().describe());
      const double error = test::worst_relative_error((*out)[0], c.expected);
      CHECK_MESSAGE(error < 1e-4, "candidate " << i << " of sketch " << space.sketches()[static_cast<std::size_t>(candidate.sketch)].name);
      ++checked;
    }
    CHECK(static_cast<std::uint64_t>(checked) == std::min<std::uint64_t>(candidates_per_case, space.size()));
  }
}

TEST_CASE("a tile computed at an inner tile level loops over that level only, without guards") {
  // compute.local tiled [2, 2, 2, 2] on x and y, computed at the reader's second level: its tile is
  // 2·2 = 4 wide, so its outer pieces run once (not twice, guarded), as TVM's bound inference gives.
  auto dag = share(ir::matmul(16, 4, 16));
  schedule::State s(dag);
  s.cache_write(2, "local").value();
  s.split(2, 0, {2, 2, 2}).value();
  const std::int64_t x_split = 1;
  s.split(2, 4, {2, 2, 2}).value();
  const std::int64_t y_split = 2;
  const std::int64_t order[] = {0, 4, 1, 5, 8, 2, 6, 3, 7};
  s.reorder(2, order).value();
  s.follow_split(3, 0, x_split, 2).value();
  s.follow_split(3, 3, y_split, 2).value();
  const std::int64_t reader_order[] = {0, 3, 1, 4, 2, 5};
  s.reorder(3, reader_order).value();
  s.compute_at(2, 3, 3).value();
  auto nest = codegen::lower(s).value();
  for (const auto* st : statements(nest)) CHECK(st->condition == ir::no_expr);
  for (const auto& b : nest.buffers)
    if (b.kind == codegen::BufferKind::local) CHECK(b.shape == std::vector<std::int64_t>{4, 4});
  std::int64_t local_trips = 1;  // iterations of compute.local's own loops per tile
  for (const auto& l : nest.loops)
    if (l.stage == 2 && !l.init) local_trips *= l.extent;
  CHECK(local_trips == 4 * 4 * 4);
  Rng rng(6);
  const std::vector<std::vector<float>> in = {test::random_values(64, rng), test::random_values(64, rng)};
  CHECK(test::worst_relative_error(run(nest, in), ir::evaluate(*dag, in).value()[0]) < 1e-5);
}

TEST_CASE("a reduction whose loop fuses spatial and reduction axes is refused at the root too") {
  auto dag = share(ir::matmul(4, 4, 4));
  schedule::State s(dag);
  const std::int64_t y_k[] = {1, 2};
  s.fuse(2, y_k).value();
  auto nest = codegen::lower(s);
  REQUIRE_FALSE(nest.has_value());
  CHECK(nest.error().message.find("fuses spatial and reduction loops") != std::string::npos);
}

TEST_CASE("a tile read through padding is guarded where it would leave its tensor") {
  ir::Conv2dParams p{};
  p.in_channels = 2, p.in_height = 6, p.in_width = 5, p.out_channels = 3, p.kernel_h = 3, p.kernel_w = 3;
  p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 1;
  auto dag = share(ir::conv2d(p));
  schedule::State s(dag);
  const std::int64_t readers[] = {1};
  s.cache_read(0, "local", readers).value();  // 0 data, 1 data.local, 2 pad_temp, 3 kernel, 4 compute
  s.compute_inline(2).value();
  s.compute_at(1, 4, 2).value();  // data.local per output row: rows yy-1 .. yy+1, off the edges at the borders
  auto nest = codegen::lower(s);
  REQUIRE_MESSAGE(nest.has_value(), nest.error().describe());
  Rng rng(7);
  const std::vector<std::vector<float>> in = {test::random_values(60, rng), test::random_values(54, rng)};
  auto out = codegen::interpret(*nest, in);
  REQUIRE_MESSAGE(out.has_value(), out.error().describe());
  CHECK(test::worst_relative_error((*out)[0], ir::evaluate(*dag, in).value()[0]) < 1e-5);
}
