// The loop state against Ansor's: every one of the 14 step kinds changes the stages exactly as
// auto_scheduler's loop state does (docs/notes/tenset-workloads.md, section 3), every refusal names its
// step and leaves the state as it was, and the operations cache_read, cache_write and rfactor rewrite
// still compute what the original DAG computes (both evaluated by ir/evaluate.hpp).
#include "crosstune/schedule/state.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using schedule::ComputeAtKind;
using schedule::IteratorKind;
using schedule::LoopVar;
using schedule::State;

namespace {
using Ids = std::vector<std::int64_t>;
using DagPtr = std::shared_ptr<const ir::ComputeDag>;

using crosstune::test::share;
/// A, B, compute(x 64, y 128; k 48).
DagPtr matmul_dag() { return share(ir::matmul(64, 48, 128)); }
/// data, pad_temp, kernel, compute(nn 1, ff 3, yy 5, xx 5; rc 2, ry 3, rx 3): padded by one on every side.
DagPtr conv2d_dag() {
  return share(ir::conv2d({.batch = 1, .in_channels = 2, .in_height = 5, .in_width = 5, .out_channels = 3,
                           .kernel_h = 3, .kernel_w = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
                           .pad_right = 1}));
}
/// data, T_softmax_maxelem(i0; k), T_softmax_exp(i0, i1), T_softmax_expsum(i0; k), T_softmax_norm(i0, i1).
DagPtr softmax_dag() { return share(ir::softmax({4, 6}, 1)); }
/// data, data_red(ax0 4; k1 6, k2 5).
DagPtr reduce_dag(ir::ReduceOp op = ir::ReduceOp::sum) { return share(ir::reduce({4, 6, 5}, {1, 2}, false, op)); }

/// `values` written with spaces between them.
template <class Values, class Write>
std::string spaced(const Values& values, Write&& write) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ' ';
    write(out, v);
  }
  return out;
}
std::string iter_names(const schedule::Stage& s) {
  return spaced(s.iters, [](std::string& out, const schedule::Iterator& it) { out += it.name; });
}
std::string extents(const schedule::Stage& s) {
  return spaced(s.iters, [&](std::string& out, const schedule::Iterator& it) {
    out += std::to_string(s.vars[static_cast<std::size_t>(it.var)].extent);
  });
}
std::string kinds(const schedule::Stage& s) {
  std::string out;
  for (std::size_t i = 0; i < s.iters.size(); ++i) {
    const auto k = s.kind(i);
    out += k == IteratorKind::spatial ? 's' : k == IteratorKind::reduction ? 'r' : 'm';
  }
  return out;
}
std::string stage_names(const State& state) {
  return spaced(state.stages(), [](std::string& out, const schedule::Stage& s) { out += s.name(); });
}
std::string join(std::span<const std::int64_t> values) {
  return spaced(values, [](std::string& out, std::int64_t v) { out += std::to_string(v); });
}

/// Everything a step can change, as text (op pointers included unless `with_ops` is false).
std::string snapshot(const State& state, bool with_ops = true) {
  std::ostringstream o;
  for (const auto& s : state.stages()) {
    o << s.name() << " id=" << s.op->id;
    if (with_ops) o << " op=" << static_cast<const void*>(s.op.get());
    o << " at=" << static_cast<int>(s.compute_at) << ',' << s.attach_stage << ',' << s.attach_var
      << " unroll=" << s.auto_unroll_max_step << " align=" << s.storage_align_var << ',' << s.storage_align_factor
      << ',' << s.storage_align_offset << "\n  iters:";
    for (const auto& it : s.iters) o << ' ' << it.name << '/' << it.var << '/' << static_cast<int>(it.annotation);
    o << "\n  vars:";
    for (const auto& v : s.vars)
      o << " [" << v.extent << ',' << v.factor << ',' << static_cast<int>(v.kind) << ',' << static_cast<int>(v.fate)
        << ',' << v.link << ',' << v.count << ',' << v.parts_offset << ',' << v.parts_count << ']';
    o << "\n  parts:";
    for (auto p : s.fused_parts) o << ' ' << p;
    o << "\n  pragmas:";
    for (const auto& p : s.pragmas) o << ' ' << p.first << '=' << p.second;
    o << '\n';
  }
  return o.str();
}

/// Runs a step that must be refused: the message starts with "step N (KIND): " (N the index the step
/// would have had), and neither the stages nor steps() change. Returns the message.
std::string refused(State& state, std::string_view kind, const std::function<Expected<void>(State&)>& step) {
  const std::string before = snapshot(state);
  const StepSequence steps_before = state.steps();
  const std::string prefix = "step " + std::to_string(steps_before.size()) + " (" + std::string(kind) + "): ";
  auto ok = step(state);
  REQUIRE_FALSE(ok);
  const std::string message = ok.error().message;
  INFO(message);
  CHECK(message.starts_with(prefix));
  CHECK(ok.error().kind == ErrorKind::invalid_argument);
  CHECK(snapshot(state) == before);
  CHECK(state.steps() == steps_before);
  return message;
}

/// The DAG of the state's operations, in stage order, with the original outputs.
ir::ComputeDag scheduled_dag(const State& state) {
  std::vector<ir::OperationPtr> ops;
  for (const auto& s : state.stages()) ops.push_back(s.op);
  const auto outputs = state.dag().outputs();
  return ir::ComputeDag(std::move(ops), std::vector<std::int32_t>(outputs.begin(), outputs.end()),
                        state.dag().workload_key());
}

/// The state's operations compute what the original DAG computes, on random inputs, within 1e-5.
void check_same_results(const State& state) {
  Rng rng(17);
  std::vector<std::vector<float>> inputs;
  for (const auto& op : state.dag().ops()) {
    if (!op->placeholder) continue;
    auto& v = inputs.emplace_back(static_cast<std::size_t>(op->element_count()));
    for (auto& x : v) x = static_cast<float>(rng.uniform_real(-1.0, 1.0));
  }
  const auto want = ir::evaluate(state.dag(), inputs);
  REQUIRE(want);
  const auto got = ir::evaluate(scheduled_dag(state), inputs);
  if (!got) FAIL(got.error().describe());
  REQUIRE(got->size() == want->size());
  for (std::size_t o = 0; o < want->size(); ++o) {
    REQUIRE((*got)[o].size() == (*want)[o].size());
    std::size_t bad = 0;
    for (std::size_t i = 0; i < (*want)[o].size(); ++i) {
      const double w = (*want)[o][i], g = (*got)[o][i];
      bad += std::abs(g - w) <= 1e-5 * std::max(1.0, std::abs(w)) ? 0 : 1;
    }
    CHECK(bad == 0);
  }
}

const LoopVar& var_of(const schedule::Stage& s, std::size_t iter) {
  return s.vars[static_cast<std::size_t>(s.iters[iter].var)];
}
}  // namespace

// ---- split --------------------------------------------------------------------------------------------

TEST_CASE("split replaces x by x.0, x.1, x.2 with the remainder outermost when inner_to_outer") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {8, 4}));
  const auto& s = state.stage(2);
  CHECK(iter_names(s) == "x.0 x.1 x.2 y k");
  CHECK(extents(s) == "2 8 4 128 48");
  CHECK(kinds(s) == "ssssr");
  // The axis x (variable 0) is split into the variables 3, 4, 5, which are the loops.
  REQUIRE(s.vars.size() == 6);
  CHECK(s.vars[0].fate == LoopVar::Fate::split);
  CHECK(s.vars[0].link == 3);
  CHECK(s.vars[0].count == 3);
  CHECK(s.vars[0].extent == 64);
  CHECK(s.vars[3].factor == 0);  // the remainder
  CHECK(s.vars[4].factor == 8);
  CHECK(s.vars[5].factor == 4);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(s.iters[i].var == static_cast<std::int32_t>(3 + i));
    CHECK(s.vars[3 + i].fate == LoopVar::Fate::leaf);
  }
  // The builder records the step with the loop's extent.
  REQUIRE(state.steps().size() == 1);
  const StepView step = state.steps()[0];
  CHECK(step.kind() == StepKind::split);
  CHECK(step.stage_id() == 2);
  CHECK(step.iter_id() == 0);
  CHECK(step.extent() == 64);
  CHECK(join(step.lengths()) == "8 4");
  CHECK(step.inner_to_outer());
}

TEST_CASE("split with inner_to_outer false puts the lengths outermost and the remainder innermost") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {8, 4}, false));
  const auto& s = state.stage(2);
  CHECK(iter_names(s) == "x.0 x.1 x.2 y k");
  CHECK(extents(s) == "8 4 2 128 48");
  CHECK(s.vars[3].factor == 8);
  CHECK(s.vars[4].factor == 4);
  CHECK(s.vars[5].factor == 0);
  CHECK_FALSE(state.steps()[0].inner_to_outer());
}

TEST_CASE("a split that does not divide the extent rounds the remainder up") {
  State state(matmul_dag());
  SUBCASE("inner_to_outer") {
    REQUIRE(state.split(2, 1, {3, 5}));  // y = 128 = 9·15 − 7
    CHECK(iter_names(state.stage(2)) == "x y.0 y.1 y.2 k");
    CHECK(extents(state.stage(2)) == "64 9 3 5 48");
  }
  SUBCASE("outer to inner") {
    REQUIRE(state.split(2, 1, {3, 5}, false));
    CHECK(extents(state.stage(2)) == "64 3 5 9 48");
  }
  SUBCASE("lengths beyond the extent leave an outer loop of 1") {
    REQUIRE(state.split(2, 0, {128}));
    CHECK(extents(state.stage(2)) == "1 128 128 48");
  }
}

TEST_CASE("splitting a reduction loop gives reduction pieces, and a piece splits again into x.1.0, x.1.1") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 2, {6}));
  CHECK(iter_names(state.stage(2)) == "x y k.0 k.1");
  CHECK(kinds(state.stage(2)) == "ssrr");
  CHECK(extents(state.stage(2)) == "64 128 8 6");
  REQUIRE(state.split(2, 0, {8, 4}));
  REQUIRE(state.split(2, 1, {2}));
  const auto& s = state.stage(2);
  CHECK(iter_names(s) == "x.0 x.1.0 x.1.1 x.2 y k.0 k.1");
  CHECK(extents(s) == "2 4 2 4 128 8 6");
  // x.1 is variable 6 (after k.0, k.1 = 3, 4 and x.0 = 5); its pieces are 8 and 9.
  CHECK(s.vars[6].fate == LoopVar::Fate::split);
  CHECK(s.vars[6].link == 8);
  CHECK(s.vars[6].count == 2);
  CHECK(s.iters[1].var == 8);
  CHECK(s.iters[2].var == 9);
}

TEST_CASE("split refuses bad stages, iterators, lengths and a logged extent that is not the loop's") {
  State state(matmul_dag());
  REQUIRE(state.annotate(2, 0, IteratorAnnotation::parallel));  // so that refusals are step 1
  CHECK(refused(state, "SP", [](State& s) { return s.split(9, 0, {2}); }).find("stage 9 does not exist") !=
        std::string::npos);
  CHECK(refused(state, "SP", [](State& s) { return s.split(-1, 0, {2}); }).find("does not exist") != std::string::npos);
  CHECK(refused(state, "SP", [](State& s) { return s.split(0, 0, {2}); }).find("placeholder") != std::string::npos);
  CHECK(refused(state, "SP", [](State& s) { return s.split(2, 3, {2}); }).find("no iterator 3") != std::string::npos);
  refused(state, "SP", [](State& s) { return s.split(2, -1, {2}); });
  refused(state, "SP", [](State& s) { return s.split(2, 0, std::span<const std::int64_t>{}); });
  refused(state, "SP", [](State& s) { return s.split(2, 0, {4, 0}); });
  refused(state, "SP", [](State& s) { return s.split(2, 0, {-2}); });
  // A logged extent other than the loop's means the steps were made for another DAG.
  StepSequence log;
  log.add_split(2, 0, 63, Ids{8}, true);
  CHECK(refused(state, "SP", [&](State& s) { return s.apply(log[0]); }).find("extent 63") != std::string::npos);
  // 0 means the log did not know the extent.
  StepSequence unknown;
  unknown.add_split(2, 0, 0, Ids{8}, true);
  REQUIRE(state.apply(unknown[0]));
  CHECK(extents(state.stage(2)) == "8 8 128 48");
  CHECK(state.steps()[1].extent() == 0);  // recorded as given
}

// ---- follow_split and follow_fused_split --------------------------------------------------------------

TEST_CASE("follow_split takes the first n_split-1 lengths of the followed split, then the product of the rest") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {2, 4, 8}));  // step 0: x → x.0 x.1 x.2 x.3; y is iterator 4
  CHECK(extents(state.stage(2)) == "1 2 4 8 128 48");
  SUBCASE("n_split 1: one length, the product of all") {
    REQUIRE(state.follow_split(2, 4, 0, 1));
    CHECK(iter_names(state.stage(2)) == "x.0 x.1 x.2 x.3 y.0 y.1 k");
    CHECK(extents(state.stage(2)) == "1 2 4 8 2 64 48");
  }
  SUBCASE("n_split 2: 2, then 4·8") {
    REQUIRE(state.follow_split(2, 4, 0, 2));
    CHECK(iter_names(state.stage(2)) == "x.0 x.1 x.2 x.3 y.0 y.1 y.2 k");
    CHECK(extents(state.stage(2)) == "1 2 4 8 2 2 32 48");
    const auto& s = state.stage(2);
    CHECK(var_of(s, 4).factor == 0);
    CHECK(var_of(s, 5).factor == 2);
    CHECK(var_of(s, 6).factor == 32);
  }
  SUBCASE("n_split 3: the same lengths") {
    REQUIRE(state.follow_split(2, 4, 0, 3));
    CHECK(extents(state.stage(2)) == "1 2 4 8 2 2 4 8 48");
  }
  SUBCASE("n_split 4: the same lengths and an innermost 1") {
    REQUIRE(state.follow_split(2, 4, 0, 4));
    CHECK(iter_names(state.stage(2)) == "x.0 x.1 x.2 x.3 y.0 y.1 y.2 y.3 y.4 k");
    CHECK(extents(state.stage(2)) == "1 2 4 8 2 2 4 8 1 48");
  }
  const StepView last = state.steps()[state.steps().size() - 1];
  CHECK(last.kind() == StepKind::follow_split);
  CHECK(last.src_step_id() == 0);
}

TEST_CASE("follow_split refuses a source that is not an earlier split and an n_split it cannot give") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {2, 4, 8}));
  REQUIRE(state.annotate(2, 0, IteratorAnnotation::parallel));  // step 1
  CHECK(refused(state, "FSP", [](State& s) { return s.follow_split(2, 4, 1, 2); }).find("AN step") !=
        std::string::npos);
  CHECK(refused(state, "FSP", [](State& s) { return s.follow_split(2, 4, 2, 2); }).find("not an earlier step") !=
        std::string::npos);
  refused(state, "FSP", [](State& s) { return s.follow_split(2, 4, -1, 2); });
  refused(state, "FSP", [](State& s) { return s.follow_split(2, 4, 0, 0); });
  refused(state, "FSP", [](State& s) { return s.follow_split(2, 4, 0, 5); });
  refused(state, "FSP", [](State& s) { return s.follow_split(2, 6, 0, 2); });
  refused(state, "FSP", [](State& s) { return s.follow_split(1, 0, 0, 2); });
}

TEST_CASE("follow_fused_split splits by the product of the lengths at one level across its source splits") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {2, 4}));  // step 0: x.0 x.1 x.2
  REQUIRE(state.split(2, 3, {8, 2}));  // step 1: y.0 y.1 y.2; k is iterator 6
  SUBCASE("level 1 as a factor: 4·2 innermost") {
    REQUIRE(state.follow_fused_split(2, 6, Ids{0, 1}, 1, true));
    CHECK(iter_names(state.stage(2)) == "x.0 x.1 x.2 y.0 y.1 y.2 k.0 k.1");
    CHECK(extents(state.stage(2)) == "8 2 4 8 8 2 6 8");
    CHECK(kinds(state.stage(2)) == "ssssssrr");
  }
  SUBCASE("level 0 as nparts: 2·8 outermost") {
    REQUIRE(state.follow_fused_split(2, 6, Ids{0, 1}, 0, false));
    CHECK(extents(state.stage(2)) == "8 2 4 8 8 2 16 3");
    CHECK(var_of(state.stage(2), 6).factor == 16);
    CHECK(var_of(state.stage(2), 7).factor == 0);
  }
  SUBCASE("refusals") {
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 6, Ids{0, 1}, 2, true); });
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 6, Ids{0, 1}, -1, true); });
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 6, Ids{0, 2}, 0, true); });
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 6, Ids{}, 0, true); });
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 7, Ids{0}, 0, true); });
    REQUIRE(state.annotate(2, 0, IteratorAnnotation::parallel));  // step 2, not a split
    refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 6, Ids{0, 2}, 0, true); });
  }
}

// ---- fuse -----------------------------------------------------------------------------------------------

TEST_CASE("fuse names the loop a@b@, multiplies the extents, and is mixed across spatial and reduction") {
  State state(matmul_dag());
  SUBCASE("spatial") {
    REQUIRE(state.fuse(2, Ids{0, 1}));
    const auto& s = state.stage(2);
    CHECK(iter_names(s) == "x@y@ k");
    CHECK(extents(s) == "8192 48");
    CHECK(kinds(s) == "sr");
    REQUIRE(s.vars.size() == 4);
    CHECK(s.iters[0].var == 3);
    CHECK(s.vars[0].fate == LoopVar::Fate::fused);
    CHECK(s.vars[0].link == 3);
    CHECK(s.vars[1].fate == LoopVar::Fate::fused);
    CHECK(s.vars[1].link == 3);
    CHECK(s.vars[3].parts_count == 2);
    CHECK(join(std::vector<std::int64_t>(s.fused_parts.begin(), s.fused_parts.end())) == "0 1");
  }
  SUBCASE("spatial and reduction") {
    REQUIRE(state.fuse(2, Ids{1, 2}));
    CHECK(iter_names(state.stage(2)) == "x y@k@");
    CHECK(extents(state.stage(2)) == "64 6144");
    CHECK(kinds(state.stage(2)) == "sm");
    REQUIRE(state.fuse(2, Ids{0, 1}));  // mixed stays mixed
    CHECK(iter_names(state.stage(2)) == "x@y@k@@");
    CHECK(kinds(state.stage(2)) == "m");
  }
  SUBCASE("all three, then split pieces fused back") {
    REQUIRE(state.fuse(2, Ids{0, 1, 2}));
    CHECK(iter_names(state.stage(2)) == "x@y@k@");
    CHECK(extents(state.stage(2)) == "393216");
    REQUIRE(state.split(2, 0, {8}));
    REQUIRE(state.fuse(2, Ids{0, 1}));
    CHECK(iter_names(state.stage(2)) == "x@y@k@.0@x@y@k@.1@");
    CHECK(extents(state.stage(2)) == "393216");
  }
  CHECK(state.steps()[0].kind() == StepKind::fuse);
}

TEST_CASE("fuse refuses iterators that are not consecutive or do not exist, and nothing at all") {
  State state(matmul_dag());
  CHECK(refused(state, "FU", [](State& s) { return s.fuse(2, Ids{0, 2}); }).find("consecutive") != std::string::npos);
  refused(state, "FU", [](State& s) { return s.fuse(2, Ids{1, 0}); });
  refused(state, "FU", [](State& s) { return s.fuse(2, Ids{1, 1}); });
  refused(state, "FU", [](State& s) { return s.fuse(2, Ids{2, 3}); });
  refused(state, "FU", [](State& s) { return s.fuse(2, Ids{-1, 0}); });
  refused(state, "FU", [](State& s) { return s.fuse(2, Ids{}); });
  refused(state, "FU", [](State& s) { return s.fuse(0, Ids{0, 1}); });
}

TEST_CASE("fusing a loop another stage is computed at is refused unless it is the last one fused") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 1));  // pad_temp at compute's ff
  CHECK(state.stage(1).attach_var == 1);
  CHECK(refused(state, "FU", [](State& s) { return s.fuse(3, Ids{1, 2}); }).find("computed at iterator 1") !=
        std::string::npos);
  REQUIRE(state.fuse(3, Ids{0, 1}));
  CHECK(iter_names(state.stage(3)) == "nn@ff@ yy xx rc ry rx");
  // The attachment moves to the fusion.
  CHECK(state.stage(1).attach_stage == 3);
  CHECK(state.stage(1).attach_var == state.stage(3).iters[0].var);
  CHECK(state.stage(1).attach_var == 7);
}

// ---- reorder, annotate, pragma, storage_align -------------------------------------------------------------

TEST_CASE("reorder permutes the loops and must list every iterator once") {
  State state(matmul_dag());
  REQUIRE(state.reorder(2, Ids{2, 0, 1}));
  CHECK(iter_names(state.stage(2)) == "k x y");
  CHECK(extents(state.stage(2)) == "48 64 128");
  CHECK(state.stage(2).iters[0].var == 2);
  CHECK(refused(state, "RE", [](State& s) { return s.reorder(2, Ids{0, 1}); }).find("lists 2 iterators") !=
        std::string::npos);
  CHECK(refused(state, "RE", [](State& s) { return s.reorder(2, Ids{0, 0, 1}); }).find("twice") != std::string::npos);
  refused(state, "RE", [](State& s) { return s.reorder(2, Ids{0, 1, 3}); });
  refused(state, "RE", [](State& s) { return s.reorder(2, Ids{-1, 0, 1}); });
  refused(state, "RE", [](State& s) { return s.reorder(2, Ids{0, 1, 2, 3}); });
  refused(state, "RE", [](State& s) { return s.reorder(1, Ids{}); });
}

TEST_CASE("an attachment follows its loop through a reorder, not the position") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 1));
  REQUIRE(state.reorder(3, Ids{1, 0, 2, 3, 4, 5, 6}));
  CHECK(iter_names(state.stage(3)) == "ff nn yy xx rc ry rx");
  CHECK(state.stage(1).attach_var == 1);
  CHECK(state.stage(3).position(1) == 0);
}

TEST_CASE("annotate marks one loop, and the pieces of a split start unannotated") {
  State state(matmul_dag());
  REQUIRE(state.annotate(2, 1, IteratorAnnotation::vectorize));
  REQUIRE(state.annotate(2, 0, IteratorAnnotation::block_x));
  CHECK(state.stage(2).iters[0].annotation == IteratorAnnotation::block_x);
  CHECK(state.stage(2).iters[1].annotation == IteratorAnnotation::vectorize);
  CHECK(state.stage(2).iters[2].annotation == IteratorAnnotation::none);
  CHECK(state.steps()[0].annotation() == IteratorAnnotation::vectorize);
  REQUIRE(state.split(2, 0, {4}));
  CHECK(state.stage(2).iters[0].annotation == IteratorAnnotation::none);
  CHECK(state.stage(2).iters[1].annotation == IteratorAnnotation::none);
  CHECK(state.stage(2).iters[2].annotation == IteratorAnnotation::vectorize);
  refused(state, "AN", [](State& s) { return s.annotate(2, 4, IteratorAnnotation::unroll); });
  refused(state, "AN", [](State& s) { return s.annotate(0, 0, IteratorAnnotation::unroll); });
  refused(state, "AN", [](State& s) { return s.annotate(3, 0, IteratorAnnotation::unroll); });
}

TEST_CASE("pragma auto_unroll_max_step$N sets the stage's unroll limit; other pragmas are kept by loop") {
  State state(matmul_dag());
  REQUIRE(state.pragma(2, 0, "auto_unroll_max_step$16"));
  CHECK(state.stage(2).auto_unroll_max_step == 16);
  CHECK(state.stage(2).pragmas.empty());
  REQUIRE(state.pragma(2, 0, "auto_unroll_max_step$0"));
  CHECK(state.stage(2).auto_unroll_max_step == 0);
  REQUIRE(state.pragma(2, 0, "auto_unroll_max_step$1024"));
  CHECK(state.stage(2).auto_unroll_max_step == 1024);
  REQUIRE(state.pragma(2, 1, "debug_skip_region"));
  REQUIRE(state.stage(2).pragmas.size() == 1);
  CHECK(state.stage(2).pragmas[0].first == 1);
  CHECK(state.stage(2).pragmas[0].second == "debug_skip_region");
  CHECK(state.steps()[0].pragma_type() == "auto_unroll_max_step$16");
  for (const char* bad : {"auto_unroll_max_step", "auto_unroll_max_step$", "auto_unroll_max_step$x",
                          "auto_unroll_max_step$-1", "auto_unroll_max_step$16x", "auto_unroll_max_step$ 16",
                          "auto_unroll_max_step$99999999999999999999"}) {
    CAPTURE(bad);
    refused(state, "PR", [&](State& s) { return s.pragma(2, 0, bad); });
  }
  CHECK(state.stage(2).auto_unroll_max_step == 1024);
  refused(state, "PR", [](State& s) { return s.pragma(2, 3, "auto_unroll_max_step$16"); });
}

TEST_CASE("storage_align records the loop, factor and offset, and refuses a factor below 1 or a negative offset") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {4}));
  REQUIRE(state.storage_align(2, 1, 32, 4));
  CHECK(state.stage(2).storage_align_var == 4);  // x.1
  CHECK(state.stage(2).storage_align_factor == 32);
  CHECK(state.stage(2).storage_align_offset == 4);
  CHECK(state.steps()[1].factor() == 32);
  refused(state, "SA", [](State& s) { return s.storage_align(2, 1, 0, 4); });
  refused(state, "SA", [](State& s) { return s.storage_align(2, 1, 32, -1); });
  refused(state, "SA", [](State& s) { return s.storage_align(2, 4, 32, 0); });
  refused(state, "SA", [](State& s) { return s.storage_align(1, 0, 32, 0); });
}

// ---- compute_at, compute_inline, compute_root -------------------------------------------------------------

TEST_CASE("compute_at attaches a stage to a loop variable and drops its extents, keeping names and annotations") {
  State state(conv2d_dag());
  REQUIRE(state.annotate(1, 0, IteratorAnnotation::unroll));
  REQUIRE(state.compute_at(1, 3, 2));  // pad_temp at compute's yy
  const auto& pad = state.stage(1);
  CHECK(pad.compute_at == ComputeAtKind::iter);
  CHECK(pad.attach_stage == 3);
  CHECK(pad.attach_var == 2);
  CHECK(iter_names(pad) == "i0 i1 i2 i3");
  CHECK(extents(pad) == "-1 -1 -1 -1");
  CHECK(pad.iters[0].annotation == IteratorAnnotation::unroll);
  CHECK(state.steps()[1].target_stage_id() == 3);
  CHECK(state.steps()[1].target_iter_id() == 2);
  // A split of the attached stage's loops leaves every piece unknown, as in Ansor (the lengths stay in
  // the relation: LoopVar::factor).
  REQUIRE(state.split(1, 3, {2}));
  CHECK(extents(state.stage(1)) == "-1 -1 -1 -1 -1");
  CHECK(state.stage(1).vars[static_cast<std::size_t>(state.stage(1).iters[4].var)].factor == 2);
}

TEST_CASE("an attachment moves to the innermost piece when its loop is split, and to the fusion when fused") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 2));
  SUBCASE("inner_to_outer") {
    REQUIRE(state.split(3, 2, {2}));
    CHECK(iter_names(state.stage(3)) == "nn ff yy.0 yy.1 xx rc ry rx");
    CHECK(state.stage(1).attach_var == state.stage(3).iters[3].var);
  }
  SUBCASE("outer to inner") {
    REQUIRE(state.split(3, 2, {2, 1}, false));
    CHECK(state.stage(1).attach_var == state.stage(3).iters[4].var);
  }
  SUBCASE("split, then the pieces fused") {
    REQUIRE(state.split(3, 2, {2}));
    REQUIRE(state.fuse(3, Ids{2, 3}));
    CHECK(iter_names(state.stage(3)) == "nn ff yy.0@yy.1@ xx rc ry rx");
    CHECK(state.stage(1).attach_var == state.stage(3).iters[2].var);
  }
  SUBCASE("re-attached elsewhere") {
    REQUIRE(state.compute_at(1, 3, 0));
    CHECK(state.stage(1).attach_var == 0);
  }
}

TEST_CASE("compute_at is refused at a stage that does not read it, at itself, and at an inlined stage") {
  State state(softmax_dag());
  CHECK(stage_names(state) == "data T_softmax_maxelem T_softmax_exp T_softmax_expsum T_softmax_norm");
  CHECK(refused(state, "CA", [](State& s) { return s.compute_at(3, 2, 0); }).find("does not read") !=
        std::string::npos);
  CHECK(refused(state, "CA", [](State& s) { return s.compute_at(2, 2, 0); }).find("itself") != std::string::npos);
  refused(state, "CA", [](State& s) { return s.compute_at(0, 2, 0); });  // a placeholder
  refused(state, "CA", [](State& s) { return s.compute_at(1, 2, 2); });  // no iterator 2
  refused(state, "CA", [](State& s) { return s.compute_at(1, 0, 0); });  // at a placeholder
  refused(state, "CA", [](State& s) { return s.compute_at(1, 5, 0); });
  // Reading through another stage is reading: the norm reads the exp, which reads the maxelem.
  REQUIRE(state.compute_at(1, 4, 1));
  REQUIRE(state.compute_root(1));
  REQUIRE(state.compute_inline(2));
  CHECK(refused(state, "CA", [](State& s) { return s.compute_at(1, 2, 0); }).find("inlined") != std::string::npos);
}

TEST_CASE("compute_inline inlines an element-wise stage, but not an output, a reduction, or a stage with attachments") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 2));
  REQUIRE(state.compute_inline(1));
  CHECK(state.stage(1).compute_at == ComputeAtKind::inlined);
  CHECK(state.stage(1).attach_stage == -1);
  CHECK(state.stage(1).attach_var == -1);
  CHECK(state.steps()[1].kind() == StepKind::compute_inline);
  CHECK(refused(state, "CI", [](State& s) { return s.compute_inline(3); }).find("output") != std::string::npos);
  refused(state, "CI", [](State& s) { return s.compute_inline(0); });
  refused(state, "CI", [](State& s) { return s.compute_inline(4); });

  State softmax(softmax_dag());
  CHECK(refused(softmax, "CI", [](State& s) { return s.compute_inline(1); }).find("reduction") != std::string::npos);
  REQUIRE(softmax.compute_at(1, 2, 0));
  CHECK(refused(softmax, "CI", [](State& s) { return s.compute_inline(2); }).find("computed at") != std::string::npos);
}

TEST_CASE("compute_root returns a stage to the root and drops its extents") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 2));
  REQUIRE(state.compute_root(1));
  CHECK(state.stage(1).compute_at == ComputeAtKind::root);
  CHECK(state.stage(1).attach_stage == -1);
  CHECK(state.stage(1).attach_var == -1);
  CHECK(extents(state.stage(1)) == "-1 -1 -1 -1");
  REQUIRE(state.compute_root(3));  // as in Ansor, even a stage already at the root loses its extents
  CHECK(extents(state.stage(3)) == "-1 -1 -1 -1 -1 -1 -1");
  refused(state, "CR", [](State& s) { return s.compute_root(0); });
  refused(state, "CR", [](State& s) { return s.compute_root(4); });
}

// ---- cache_read -----------------------------------------------------------------------------------------

TEST_CASE("cache_read inserts <name>.<scope> after the source, and the readers load the cache") {
  auto dag = matmul_dag();
  State state(dag);
  REQUIRE(state.cache_read(0, "shared", Ids{2}));
  CHECK(stage_names(state) == "A A.shared B compute");
  const auto& cache = state.stage(1);
  CHECK(iter_names(cache) == "ax0 ax1");
  CHECK(extents(cache) == "64 48");
  CHECK(kinds(cache) == "ss");
  CHECK(cache.compute_at == ComputeAtKind::root);
  CHECK(cache.op->id == dag->next_tensor_id());
  CHECK(cache.op->inputs == std::vector<std::int32_t>{dag->op(0).id});
  CHECK(state.reads(3, 1));
  CHECK_FALSE(state.reads(3, 0));
  CHECK(state.reads(3, 2));
  CHECK(state.stage(0).op == dag->ops()[0]);  // the source and the other stages keep their operations
  CHECK(state.stage(2).op == dag->ops()[1]);
  CHECK(state.stage(3).op != dag->ops()[2]);
  CHECK(state.stage(3).op->id == dag->op(2).id);
  CHECK(iter_names(state.stage(3)) == "x y k");  // a reader keeps its loops
  const StepView step = state.steps()[0];
  CHECK(step.kind() == StepKind::cache_read);
  CHECK(step.scope_name() == "shared");
  CHECK(join(step.reader_stage_ids()) == "2");
  check_same_results(state);

  REQUIRE(state.cache_read(2, "shared", Ids{3}));
  CHECK(stage_names(state) == "A A.shared B B.shared compute");
  // A second cache of A (read by A.shared, the only stage still reading A) is A.d.shared.
  REQUIRE(state.cache_read(0, "shared", Ids{1}));
  CHECK(stage_names(state) == "A A.d.shared A.shared B B.shared compute");
  CHECK(state.reads(2, 1));
  CHECK_FALSE(state.reads(2, 0));
  check_same_results(state);
}

TEST_CASE("cache_read shifts the attachments to later stages, and keeps their loops") {
  State state(conv2d_dag());
  REQUIRE(state.compute_at(1, 3, 2));
  REQUIRE(state.split(3, 0, {1}));
  REQUIRE(state.cache_read(2, "shared", Ids{3}));
  CHECK(stage_names(state) == "data pad_temp kernel kernel.shared compute");
  CHECK(state.stage(1).attach_stage == 4);
  CHECK(state.stage(1).attach_var == 2);
  CHECK(iter_names(state.stage(4)) == "nn.0 nn.1 ff yy xx rc ry rx");
  REQUIRE(state.cache_read(1, "shared", Ids{4}));
  CHECK(stage_names(state) == "data pad_temp pad_temp.shared kernel kernel.shared compute");
  CHECK(state.stage(1).attach_stage == 5);
  CHECK(iter_names(state.stage(2)) == "ax0 ax1 ax2 ax3");
  CHECK(extents(state.stage(2)) == "1 2 7 7");
  check_same_results(state);
}

TEST_CASE("cache_read refuses readers that do not read the source, and an empty scope or reader list") {
  State state(matmul_dag());
  CHECK(refused(state, "CHR", [](State& s) { return s.cache_read(0, "shared", Ids{1}); }).find("does not read") !=
        std::string::npos);
  refused(state, "CHR", [](State& s) { return s.cache_read(0, "shared", Ids{2, 1}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(0, "shared", Ids{3}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(0, "shared", Ids{-1}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(0, "shared", Ids{}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(0, "", Ids{2}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(3, "shared", Ids{2}); });
  refused(state, "CHR", [](State& s) { return s.cache_read(2, "shared", Ids{2}); });
}

// ---- cache_write ----------------------------------------------------------------------------------------

TEST_CASE("cache_write inserts <name>.<scope> at the stage, with x_c, y_c and the reduction unchanged") {
  auto dag = matmul_dag();
  State state(dag);
  REQUIRE(state.split(2, 0, {8}));  // undone: the stage is rebuilt
  REQUIRE(state.cache_write(2, "local"));
  CHECK(stage_names(state) == "A B compute.local compute");
  const auto& cache = state.stage(2);
  CHECK(iter_names(cache) == "x_c y_c k");
  CHECK(extents(cache) == "64 128 48");
  CHECK(kinds(cache) == "ssr");
  CHECK(cache.op->id == dag->next_tensor_id());
  CHECK(cache.op->inputs == dag->op(2).inputs);
  const auto& copy = state.stage(3);
  CHECK(iter_names(copy) == "x y");
  CHECK(extents(copy) == "64 128");
  CHECK(kinds(copy) == "ss");
  CHECK(copy.op->id == dag->op(2).id);
  CHECK(copy.op->reduce == ir::ReduceKind::none);
  CHECK(copy.compute_at == ComputeAtKind::root);
  CHECK(copy.vars.size() == 2);
  CHECK(state.reads(3, 2));
  CHECK(state.steps()[1].scope_name() == "local");
  check_same_results(state);
  // A second cache of the same stage.
  REQUIRE(state.cache_write(3, "local"));
  CHECK(stage_names(state) == "A B compute.local compute.d.local compute");
  CHECK(iter_names(state.stage(3)) == "x_c y_c");
  check_same_results(state);
}

TEST_CASE("cache_write on conv2d gives nn_c ff_c yy_c xx_c rc ry rx and shifts later attachments") {
  State state(conv2d_dag());
  REQUIRE(state.cache_write(3, "local"));
  CHECK(stage_names(state) == "data pad_temp kernel compute.local compute");
  CHECK(iter_names(state.stage(3)) == "nn_c ff_c yy_c xx_c rc ry rx");
  CHECK(kinds(state.stage(3)) == "ssssrrr");
  CHECK(iter_names(state.stage(4)) == "nn ff yy xx");
  check_same_results(state);

  State softmax(softmax_dag());
  REQUIRE(softmax.compute_at(1, 4, 0));
  REQUIRE(softmax.cache_write(3, "local"));
  CHECK(stage_names(softmax) == "data T_softmax_maxelem T_softmax_exp T_softmax_expsum.local T_softmax_expsum T_softmax_norm");
  CHECK(softmax.stage(1).attach_stage == 5);
  check_same_results(softmax);
}

TEST_CASE("cache_write refuses placeholders, inlined stages, stages with attachments and an empty scope") {
  State state(conv2d_dag());
  refused(state, "CHW", [](State& s) { return s.cache_write(0, "local"); });
  refused(state, "CHW", [](State& s) { return s.cache_write(4, "local"); });
  refused(state, "CHW", [](State& s) { return s.cache_write(3, ""); });
  REQUIRE(state.compute_at(1, 3, 2));
  CHECK(refused(state, "CHW", [](State& s) { return s.cache_write(3, "local"); }).find("computed at") !=
        std::string::npos);
  REQUIRE(state.compute_inline(1));
  CHECK(refused(state, "CHW", [](State& s) { return s.cache_write(1, "local"); }).find("inlined") != std::string::npos);
}

TEST_CASE("a refused cache_write takes no tensor id: the next cache gets the DAG's next id") {
  auto dag = conv2d_dag();
  State state(dag);
  REQUIRE(state.compute_at(1, 3, 2));
  refused(state, "CHW", [](State& s) { return s.cache_write(3, "local"); });
  REQUIRE(state.compute_root(1));
  REQUIRE(state.cache_write(3, "local"));
  CHECK(state.stage(3).op->id == dag->next_tensor_id());
  // Replaying the applied steps gives the same tensor ids.
  State again(dag);
  REQUIRE(again.apply(state.steps()));
  CHECK(snapshot(again, false) == snapshot(state, false));
}

// ---- extents near the int64 range -------------------------------------------------------------------------

TEST_CASE("splits, fusions and rfactor whose extents or strides would pass the int64 range are refused") {
  constexpr std::int64_t big = std::int64_t{1} << 31;
  State state(matmul_dag());
  CHECK(refused(state, "SP", [](State& s) { return s.split(2, 0, {big, big, big}); }).find("int64") !=
        std::string::npos);
  REQUIRE(state.split(2, 0, {big, big}));  // 2^62 fits: x.0 1, x.1 2^31, x.2 2^31
  CHECK(extents(state.stage(2)) == "1 2147483648 2147483648 128 48");
  REQUIRE(state.split(2, 3, {std::int64_t{1} << 40}));  // y.0 1, y.1 2^40
  REQUIRE(state.fuse(2, Ids{1, 2}));                     // 2^62
  CHECK(refused(state, "FU", [](State& s) { return s.fuse(2, Ids{1, 2, 3}); }).find("int64") != std::string::npos);
  refused(state, "FFSP", [](State& s) { return s.follow_fused_split(2, 4, Ids{0, 0, 0}, 0, true); });

  // A fused reduction of 3·2^61 split by 3·2^61 − 1: pieces 2 and 3·2^61 − 1, whose stride product is past 2^63.
  State reduce(reduce_dag());
  REQUIRE(reduce.split(1, 1, {std::int64_t{1} << 61}));  // ax0 k1.0 (1) k1.1 (2^61) k2
  REQUIRE(reduce.split(1, 3, {3}));                      // ... k2.0 (2) k2.1 (3)
  REQUIRE(reduce.reorder(1, Ids{0, 1, 3, 2, 4}));         // ax0 k1.0 k2.0 k1.1 k2.1
  REQUIRE(reduce.fuse(1, Ids{3, 4}));
  CHECK(extents(reduce.stage(1)) == "4 1 2 6917529027641081856");
  REQUIRE(reduce.split(1, 3, {(std::int64_t{3} << 61) - 1}));
  CHECK(extents(reduce.stage(1)) == "4 1 2 2 6917529027641081855");
  CHECK(refused(reduce, "RF", [](State& s) { return s.rfactor(1, 2, 0); }).find("int64") != std::string::npos);
}

// ---- rfactor --------------------------------------------------------------------------------------------

TEST_CASE("rfactor of a split of fused reduction axes adds <op>.rf and rebuilds the stage as <op>.repl") {
  auto dag = reduce_dag();
  State state(dag);
  CHECK(iter_names(state.stage(1)) == "ax0 k1 k2");
  REQUIRE(state.fuse(1, Ids{1, 2}));
  CHECK(iter_names(state.stage(1)) == "ax0 k1@k2@");
  CHECK(kinds(state.stage(1)) == "sr");
  SUBCASE("the inner piece as the last axis, a split with a remainder") {
    REQUIRE(state.split(1, 1, {4}));  // 30 = 8·4 − 2
    CHECK(extents(state.stage(1)) == "4 8 4");
    REQUIRE(state.rfactor(1, 2, 1));
    CHECK(stage_names(state) == "data data_red.rf data_red.repl");
    const auto& rf = state.stage(1);
    CHECK(iter_names(rf) == "ax0 k1_k2__1 k1_k2__0");
    CHECK(extents(rf) == "4 4 8");
    CHECK(kinds(rf) == "ssr");
    CHECK(rf.op->id == dag->next_tensor_id());
    CHECK(rf.op->reduce == ir::ReduceKind::sum);
    CHECK(rf.op->inputs == std::vector<std::int32_t>{dag->op(0).id});
    const auto& repl = state.stage(2);
    CHECK(iter_names(repl) == "ax0 k1_k2__1_v");
    CHECK(extents(repl) == "4 4");
    CHECK(kinds(repl) == "sr");
    CHECK(repl.op->id == dag->op(1).id);
    CHECK(repl.op->inputs == std::vector<std::int32_t>{rf.op->id});
    CHECK(repl.compute_at == ComputeAtKind::root);
    const StepView step = state.steps()[2];
    CHECK(step.kind() == StepKind::rfactor);
    CHECK(step.iter_id() == 2);
    CHECK(step.factor_iter_id() == 1);
    check_same_results(state);
  }
  SUBCASE("the outer piece as the first axis, a split that divides") {
    REQUIRE(state.split(1, 1, {5}));
    REQUIRE(state.rfactor(1, 1, 0));
    const auto& rf = state.stage(1);
    CHECK(iter_names(rf) == "k1_k2__0 ax0 k1_k2__1");
    CHECK(extents(rf) == "6 4 5");
    CHECK(kinds(rf) == "ssr");
    CHECK(iter_names(state.stage(2)) == "ax0 k1_k2__0_v");
    CHECK(extents(state.stage(2)) == "4 6");
    check_same_results(state);
  }
  SUBCASE("the whole fusion, leaving nothing to reduce in the rf stage") {
    REQUIRE(state.rfactor(1, 1, 1));
    CHECK(iter_names(state.stage(1)) == "ax0 k1_k2_");
    CHECK(kinds(state.stage(1)) == "ss");
    check_same_results(state);
  }
}

TEST_CASE("rfactor computes the same results for max reductions, matmul and conv2d, with and without remainders") {
  SUBCASE("max over fused axes, a remainder") {
    State state(reduce_dag(ir::ReduceOp::max));
    REQUIRE(state.fuse(1, Ids{1, 2}));
    REQUIRE(state.split(1, 1, {7}));  // 30 = 5·7 − 5
    REQUIRE(state.rfactor(1, 1, 0));
    check_same_results(state);
  }
  SUBCASE("matmul's k split twice, a remainder") {
    State state(share(ir::matmul(5, 10, 3)));
    REQUIRE(state.split(2, 2, {3, 2}));  // k.0 2, k.1 3, k.2 2: 12 > 10
    REQUIRE(state.rfactor(2, 3, 2));
    CHECK(iter_names(state.stage(2)) == "x y k_1 k_0 k_2");
    CHECK(kinds(state.stage(2)) == "sssrr");
    check_same_results(state);
  }
  SUBCASE("matmul's k split that divides") {
    State state(share(ir::matmul(5, 12, 3)));
    REQUIRE(state.split(2, 2, {4}));
    REQUIRE(state.rfactor(2, 2, 1));
    check_same_results(state);
  }
  SUBCASE("conv2d: rc, ry, rx fused and split with a remainder") {
    State state(conv2d_dag());
    REQUIRE(state.fuse(3, Ids{4, 5, 6}));
    REQUIRE(state.split(3, 4, {4}));  // 18 = 5·4 − 2
    REQUIRE(state.rfactor(3, 5, 4));
    CHECK(stage_names(state) == "data pad_temp kernel compute.rf compute.repl");
    check_same_results(state);
  }
  SUBCASE("conv2d: one of three reduction axes, the others reduced in the rf stage") {
    State state(conv2d_dag());
    REQUIRE(state.split(3, 5, {2}));  // ry: 3 = 2·2 − 1
    REQUIRE(state.rfactor(3, 6, 2));
    CHECK(iter_names(state.stage(3)) == "nn ff ry_1 yy xx rc ry_0 rx");
    check_same_results(state);
  }
}

TEST_CASE("rfactor refuses spatial loops, mixed loops, unknown extents, attachments and a bad factor position") {
  State state(reduce_dag());
  CHECK(refused(state, "RF", [](State& s) { return s.rfactor(1, 0, 0); }).find("not a reduction loop") !=
        std::string::npos);
  CHECK(refused(state, "RF", [](State& s) { return s.rfactor(1, 1, 2); }).find("factor_iter_id 2") !=
        std::string::npos);
  refused(state, "RF", [](State& s) { return s.rfactor(1, 1, -1); });
  refused(state, "RF", [](State& s) { return s.rfactor(1, 3, 0); });
  refused(state, "RF", [](State& s) { return s.rfactor(0, 0, 0); });
  REQUIRE(state.compute_root(1));
  CHECK(refused(state, "RF", [](State& s) { return s.rfactor(1, 1, 0); }).find("no static extent") !=
        std::string::npos);

  State conv(conv2d_dag());
  refused(conv, "RF", [](State& s) { return s.rfactor(1, 0, 0); });  // pad_temp has no reduction
  REQUIRE(conv.fuse(3, Ids{3, 4}));  // xx@rc@
  CHECK(refused(conv, "RF", [](State& s) { return s.rfactor(3, 4, 0); }).find("fuses spatial and reduction") !=
        std::string::npos);
  refused(conv, "RF", [](State& s) { return s.rfactor(3, 3, 0); });  // the mixed loop itself

  State attached(conv2d_dag());
  REQUIRE(attached.compute_at(1, 3, 2));
  CHECK(refused(attached, "RF", [](State& s) { return s.rfactor(3, 4, 0); }).find("computed at") != std::string::npos);
}

// ---- steps() --------------------------------------------------------------------------------------------

TEST_CASE("steps() records exactly the applied steps, and refused builder calls leave nothing behind") {
  State state(conv2d_dag());
  StepSequence want;
  REQUIRE(state.cache_write(3, "local"));
  want.add_cache_write(3, "local");
  CHECK_FALSE(state.split(3, 40, {2}));
  REQUIRE(state.split(3, 0, {1}));
  want.add_split(3, 0, 1, Ids{1}, true);
  CHECK_FALSE(state.fuse(4, Ids{0, 2}));
  REQUIRE(state.follow_split(4, 0, 1, 1));
  want.add_follow_split(4, 0, 1, 1);
  CHECK_FALSE(state.follow_fused_split(4, 0, Ids{0}, 0, true));
  REQUIRE(state.follow_fused_split(4, 2, Ids{1}, 0, true));
  want.add_follow_fused_split(4, 2, Ids{1}, 0, true);
  REQUIRE(state.compute_at(3, 4, 1));
  want.add_compute_at(3, 4, 1);
  CHECK_FALSE(state.cache_read(2, "shared", Ids{4}));
  REQUIRE(state.cache_read(2, "shared", Ids{3}));
  want.add_cache_read(2, "shared", Ids{3});
  REQUIRE(state.compute_at(3, 4, 4));
  want.add_compute_at(3, 4, 4);
  REQUIRE(state.compute_inline(1));
  want.add_compute_inline(1);
  CHECK_FALSE(state.compute_inline(5));
  REQUIRE(state.fuse(5, Ids{0, 1}));
  want.add_fuse(5, Ids{0, 1});
  REQUIRE(state.annotate(5, 0, IteratorAnnotation::block_x));
  want.add_annotation(5, 0, IteratorAnnotation::block_x);
  REQUIRE(state.reorder(5, Ids{0, 2, 1, 3, 4}));
  want.add_reorder(5, Ids{0, 2, 1, 3, 4});
  CHECK_FALSE(state.pragma(4, 0, "auto_unroll_max_step$x"));
  REQUIRE(state.pragma(4, 0, "auto_unroll_max_step$64"));
  want.add_pragma(4, 0, "auto_unroll_max_step$64");
  REQUIRE(state.storage_align(3, 1, 32, 1));
  want.add_storage_align(3, 1, 32, 1);
  REQUIRE(state.compute_root(3));
  want.add_compute_root(3);
  CHECK_FALSE(state.rfactor(4, 0, 0));
  CHECK(state.steps() == want);
  CHECK(stage_names(state) == "data pad_temp kernel kernel.shared compute.local compute");

  // The same steps on a fresh state give the same stages (new operations aside).
  State again(state.dag_ptr());
  REQUIRE(again.apply(state.steps()));
  CHECK(again.steps() == state.steps());
  CHECK(snapshot(again, false) == snapshot(state, false));
}

TEST_CASE("apply(StepView) records a copy of an applied step only; apply(StepSequence) stops at the first refusal") {
  State state(matmul_dag());
  StepSequence log;
  log.add_split(2, 0, 64, Ids{8}, true);
  log.add_annotation(2, 0, IteratorAnnotation::parallel);
  log.add_fuse(2, Ids{0, 2});  // refused: not consecutive
  log.add_annotation(2, 1, IteratorAnnotation::vectorize);
  auto ok = state.apply(log);
  REQUIRE_FALSE(ok);
  CHECK(ok.error().message.starts_with("step 2 (FU): "));
  REQUIRE(state.steps().size() == 2);
  CHECK(state.stage(2).iters[0].annotation == IteratorAnnotation::parallel);
  CHECK(state.stage(2).iters[1].annotation == IteratorAnnotation::none);

  State one(matmul_dag());
  CHECK(refused(one, "FU", [&](State& s) { return s.apply(log[2]); }).find("consecutive") != std::string::npos);
  REQUIRE(one.apply(log[0]));
  REQUIRE(one.steps().size() == 1);
  CHECK(join(one.steps()[0].lengths()) == "8");
  CHECK(one.steps()[0].extent() == 64);
}

TEST_CASE("a copy of a state is independent of the original") {
  State state(matmul_dag());
  REQUIRE(state.split(2, 0, {8}));
  State copy = state;
  REQUIRE(copy.cache_write(2, "local"));
  CHECK(stage_names(state) == "A B compute");
  CHECK(iter_names(state.stage(2)) == "x.0 x.1 y k");
  CHECK(state.steps().size() == 1);
  CHECK(copy.steps().size() == 2);
}

TEST_CASE("fusing a single iterator renames it with a trailing @ and clears its annotation, as Ansor does") {
  State state(conv2d_dag());
  REQUIRE(state.annotate(3, 1, IteratorAnnotation::unroll));
  const std::int64_t one[] = {1};
  REQUIRE(state.fuse(3, one));
  CHECK(state.stage(3).iters[1].name == "ff@");
  CHECK(state.stage(3).iters[1].annotation == IteratorAnnotation::none);
  CHECK(state.stage(3).extent(1) == state.stage(3).op->axes[1].extent);
}
