// libFuzzer target: the input bytes decode to a sequence of transform steps of all 14 kinds (stage and
// iterator ids in small ranges that include invalid ones; lengths from 0 and negative to near 2^63)
// applied to one of a few small DAGs (matmul, conv2d with padding, avg pooling with padding, softmax, a
// max reduction over two axes). Every step must be applied, or refused with an Error that starts with
// "step N (KIND)" and leaves the state as it was — never a crash or undefined behaviour. After the
// sequence, the state's own steps must replay onto a fresh state to the same stages, and the state's
// operations (cache_read, cache_write and rfactor rewrite them) must compute what the DAG computes.
//
// Byte layout: [dag] then per step [kind][fields...]; every field is one byte taken modulo its range,
// so the seeds in corpus-state/ are written by hand (see the README) and mutations stay meaningful.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crosstune/codegen/interpret.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/state.hpp"

using namespace crosstune;
using schedule::State;

namespace {

class Bytes {
 public:
  Bytes(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  std::uint8_t byte() noexcept {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  /// A value in [low, high] (high - low < 256).
  std::int64_t in(std::int64_t low, std::int64_t high) noexcept {
    return low + static_cast<std::int64_t>(byte()) % (high - low + 1);
  }
  bool flag() noexcept { return (byte() & 1) != 0; }
  /// A split length or extent: mostly small and valid, sometimes zero, negative or huge.
  std::int64_t length() noexcept {
    const std::uint8_t b = byte();
    if (b < 160) return 1 + b % 16;
    if (b < 192) return static_cast<std::int64_t>(b % 32) - 4;
    if (b < 240) return std::int64_t{1} << (b % 63);
    static constexpr std::int64_t special[] = {0,
                                               -1,
                                               std::numeric_limits<std::int64_t>::max(),
                                               std::numeric_limits<std::int64_t>::min(),
                                               std::numeric_limits<std::int32_t>::max(),
                                               (std::int64_t{1} << 32) + 1,
                                               3037000500,  // just above sqrt(2^63)
                                               1000000007};
    return special[b % 8];
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

struct Case {
  std::shared_ptr<const ir::ComputeDag> dag;
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<float>> outputs;
};

Case make_case(Expected<ir::ComputeDag> built) {
  if (!built) std::abort();
  Case c;
  c.dag = std::make_shared<const ir::ComputeDag>(std::move(*built));
  std::uint32_t seed = 12345;
  for (const auto& op : c.dag->ops()) {
    if (!op->placeholder) continue;
    auto& v = c.inputs.emplace_back(static_cast<std::size_t>(op->element_count()));
    for (auto& x : v) {
      seed = seed * 1664525u + 1013904223u;
      x = static_cast<float>(seed >> 8) / static_cast<float>(1u << 24) * 2.0f - 1.0f;
    }
  }
  auto out = ir::evaluate(*c.dag, c.inputs);
  if (!out) std::abort();
  c.outputs = std::move(*out);
  return c;
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = [] {
    std::vector<Case> v;
    v.push_back(make_case(ir::matmul(6, 5, 7)));
    v.push_back(make_case(ir::conv2d({.batch = 1, .in_channels = 2, .in_height = 4, .in_width = 4, .out_channels = 2,
                                      .kernel_h = 3, .kernel_w = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1,
                                      .pad_right = 1})));
    v.push_back(make_case(ir::pool2d({.kind = ir::PoolKind::avg, .batch = 1, .channels = 2, .in_height = 5,
                                      .in_width = 5, .kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                                      .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1})));
    v.push_back(make_case(ir::softmax({3, 5}, 1)));
    v.push_back(make_case(ir::reduce({3, 4, 5}, {1, 2}, false, ir::ReduceOp::max)));
    return v;
  }();
  return all;
}

/// Everything a step can change, as text; op pointers only when `with_ops`.
std::string snapshot(const State& state, bool with_ops) {
  std::ostringstream o;
  for (const auto& s : state.stages()) {
    o << s.name() << ' ' << s.op->id;
    if (with_ops) o << ' ' << static_cast<const void*>(s.op.get());
    o << ' ' << static_cast<int>(s.compute_at) << ',' << s.attach_stage << ',' << s.attach_var << ' '
      << s.auto_unroll_max_step << ' ' << s.storage_align_var << ',' << s.storage_align_factor << ','
      << s.storage_align_offset << " |";
    for (const auto& it : s.iters) o << ' ' << it.name << '/' << it.var << '/' << static_cast<int>(it.annotation);
    o << " |";
    for (const auto& v : s.vars)
      o << ' ' << v.extent << ',' << v.factor << ',' << static_cast<int>(v.kind) << ',' << static_cast<int>(v.fate)
        << ',' << v.link << ',' << v.count << ',' << v.parts_offset << ',' << v.parts_count;
    o << " |";
    for (auto p : s.fused_parts) o << ' ' << p;
    for (const auto& p : s.pragmas) o << ' ' << p.first << '=' << p.second;
    o << '\n';
  }
  return o.str();
}

/// The structural invariants every state keeps: loops name existing variables, each at most once, and
/// attachments name an existing loop variable of an existing stage.
void check_invariants(const State& state) {
  for (std::size_t i = 0; i < state.size(); ++i) {
    const auto& s = state.stage(i);
    std::vector<char> used(s.vars.size(), 0);
    for (const auto& it : s.iters) {
      if (it.var < 0 || static_cast<std::size_t>(it.var) >= s.vars.size()) std::abort();
      if (used[static_cast<std::size_t>(it.var)]++) std::abort();
      if (s.vars[static_cast<std::size_t>(it.var)].fate != schedule::LoopVar::Fate::leaf) std::abort();
    }
    if (s.compute_at == schedule::ComputeAtKind::iter) {
      if (s.attach_stage < 0 || static_cast<std::size_t>(s.attach_stage) >= state.size()) std::abort();
      if (static_cast<std::size_t>(s.attach_stage) == i) std::abort();
      const auto& target = state.stage(static_cast<std::size_t>(s.attach_stage));
      if (s.attach_var < 0 || static_cast<std::size_t>(s.attach_var) >= target.vars.size()) std::abort();
    } else if (s.attach_stage != -1) {
      std::abort();
    }
  }
}

/// True when every operation of the state is small enough to evaluate (and its sizes do not overflow).
bool small_enough(const State& state) {
  std::int64_t total = 0;
  for (const auto& s : state.stages()) {
    std::int64_t n = 1;
    for (const auto& a : s.op->axes)
      if (a.extent < 1 || __builtin_mul_overflow(n, a.extent, &n)) return false;
    for (const auto& a : s.op->reduce_axes)
      if (a.extent < 1 || __builtin_mul_overflow(n, a.extent, &n)) return false;
    if (n > 20000 || (total += n) > 100000) return false;
  }
  return true;
}

void check_semantics(const State& state, const Case& c) {
  if (!small_enough(state)) return;
  std::vector<ir::OperationPtr> ops;
  for (const auto& s : state.stages()) ops.push_back(s.op);
  const auto outs = c.dag->outputs();
  const ir::ComputeDag scheduled(std::move(ops), std::vector<std::int32_t>(outs.begin(), outs.end()), c.dag->workload_key());
  auto got = ir::evaluate(scheduled, c.inputs);
  if (!got || got->size() != c.outputs.size()) std::abort();
  for (std::size_t o = 0; o < c.outputs.size(); ++o) {
    if ((*got)[o].size() != c.outputs[o].size()) std::abort();
    for (std::size_t i = 0; i < c.outputs[o].size(); ++i) {
      const double want = c.outputs[o][i], have = (*got)[o][i];
      if (!(std::abs(have - want) <= 1e-4 * (1.0 + std::abs(want)))) std::abort();
    }
  }
}

std::int64_t stage_id(Bytes& in, const State& state) { return in.in(-1, static_cast<std::int64_t>(state.size())); }
std::int64_t iter_id(Bytes& in, const State& state, std::int64_t stage) {
  const std::int64_t n = stage >= 0 && stage < static_cast<std::int64_t>(state.size())
                             ? static_cast<std::int64_t>(state.stage(static_cast<std::size_t>(stage)).iters.size())
                             : 6;
  return in.in(-1, std::min<std::int64_t>(n, 250));
}

const char* const scopes[] = {"shared", "local", "global", ""};
const char* const pragmas[] = {"auto_unroll_max_step$16", "auto_unroll_max_step$0",  "auto_unroll_max_step$",
                               "auto_unroll_max_step$-3", "auto_unroll_max_step$99999999999999999999",
                               "auto_unroll_max_step",    "debug_skip_region",       ""};

/// Decodes one step into `out` (a one-step sequence) from the bytes; returns whether to apply it through
/// the State's builder for its kind (which records it first and takes it back when refused) rather than
/// through apply(StepView).
bool decode_step(Bytes& in, const State& state, StepSequence& out) {
  out.clear();
  const std::uint8_t k = in.byte();
  const auto kind = static_cast<StepKind>(k % step_kind_count);
  const bool builder = (k / step_kind_count) % 2 == 1;
  const std::int64_t stage = stage_id(in, state);
  const auto n_steps = static_cast<std::int64_t>(state.steps().size());
  switch (kind) {
    case StepKind::annotation: {
      const std::int64_t iter = iter_id(in, state, stage);
      out.add_annotation(stage, iter, static_cast<IteratorAnnotation>(in.byte() % iterator_annotation_count));
      break;
    }
    case StepKind::fuse: {
      const std::int64_t first = iter_id(in, state, stage);
      const std::int64_t count = in.in(0, 4);
      std::vector<std::int64_t> ids;
      for (std::int64_t i = 0; i < count; ++i) ids.push_back(first + i);
      if (!ids.empty() && in.byte() >= 224) ids[in.byte() % ids.size()] = in.in(-2, 8);
      out.add_fuse(stage, ids);
      break;
    }
    case StepKind::pragma: {
      const std::int64_t iter = iter_id(in, state, stage);
      out.add_pragma(stage, iter, pragmas[in.byte() % 8]);
      break;
    }
    case StepKind::reorder: {
      std::size_t n = stage >= 0 && stage < static_cast<std::int64_t>(state.size())
                          ? state.stage(static_cast<std::size_t>(stage)).iters.size()
                          : 3;
      std::vector<std::int64_t> order(n);
      for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::int64_t>(i);
      for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[in.byte() % i]);
      const std::uint8_t corrupt = in.byte();
      if (corrupt >= 240 && !order.empty()) order.pop_back();
      else if (corrupt >= 224) order.push_back(in.in(-1, static_cast<std::int64_t>(n)));
      else if (corrupt >= 208 && !order.empty()) order[in.byte() % order.size()] = in.in(-1, static_cast<std::int64_t>(n));
      out.add_reorder(stage, order);
      break;
    }
    case StepKind::split: {
      const std::int64_t iter = iter_id(in, state, stage);
      const std::int64_t count = in.in(0, 4);
      std::vector<std::int64_t> lengths;
      for (std::int64_t i = 0; i < count; ++i) lengths.push_back(in.length());
      const bool inner_to_outer = in.flag();
      // The logged extent: unknown, the loop's own, or anything.
      std::int64_t extent = 0;
      const std::uint8_t e = in.byte() % 4;
      if (e == 1 && stage >= 0 && stage < static_cast<std::int64_t>(state.size()) && iter >= 0 &&
          iter < static_cast<std::int64_t>(state.stage(static_cast<std::size_t>(stage)).iters.size()))
        extent = std::max<std::int64_t>(0, state.stage(static_cast<std::size_t>(stage)).extent(static_cast<std::size_t>(iter)));
      else if (e == 2)
        extent = in.length();
      out.add_split(stage, iter, extent, lengths, inner_to_outer);
      break;
    }
    case StepKind::follow_split: {
      const std::int64_t iter = iter_id(in, state, stage);
      const std::int64_t src = in.in(-1, std::min<std::int64_t>(n_steps, 200));
      out.add_follow_split(stage, iter, src, in.in(-1, 6));
      break;
    }
    case StepKind::follow_fused_split: {
      const std::int64_t iter = iter_id(in, state, stage);
      const std::int64_t count = in.in(0, 3);
      std::vector<std::int64_t> src;
      for (std::int64_t i = 0; i < count; ++i) src.push_back(in.in(-1, std::min<std::int64_t>(n_steps, 200)));
      const std::int64_t level = in.in(-1, 4);
      out.add_follow_fused_split(stage, iter, src, level, in.flag());
      break;
    }
    case StepKind::storage_align: {
      const std::int64_t iter = iter_id(in, state, stage);
      const std::int64_t factor = in.in(-1, 64);
      out.add_storage_align(stage, iter, factor, in.in(-1, 16));
      break;
    }
    case StepKind::compute_at: {
      const std::int64_t target = stage_id(in, state);
      out.add_compute_at(stage, target, iter_id(in, state, target));
      break;
    }
    case StepKind::compute_inline: out.add_compute_inline(stage); break;
    case StepKind::compute_root: out.add_compute_root(stage); break;
    case StepKind::cache_read: {
      const char* scope = scopes[in.byte() % 4];
      const std::int64_t count = in.in(0, 3);
      std::vector<std::int64_t> readers;
      for (std::int64_t i = 0; i < count; ++i) readers.push_back(stage_id(in, state));
      out.add_cache_read(stage, scope, readers);
      break;
    }
    case StepKind::cache_write: out.add_cache_write(stage, scopes[in.byte() % 4]); break;
    case StepKind::rfactor: {
      const std::int64_t iter = iter_id(in, state, stage);
      out.add_rfactor(stage, iter, in.in(-1, 5));
      break;
    }
  }
  return builder;
}

/// Applies `s` through the builder of its kind (SP records the loop's extent, not the logged one).
Expected<void> apply_with_builder(State& state, StepView s) {
  const auto& d = s.data();
  switch (s.kind()) {
    case StepKind::annotation: return state.annotate(d.stage_id, d.iter_id, d.annotation);
    case StepKind::fuse: return state.fuse(d.stage_id, s.list());
    case StepKind::pragma: return state.pragma(d.stage_id, d.iter_id, s.text());
    case StepKind::reorder: return state.reorder(d.stage_id, s.list());
    case StepKind::split: return state.split(d.stage_id, d.iter_id, s.list(), d.flag);
    case StepKind::follow_split: return state.follow_split(d.stage_id, d.iter_id, d.first, d.second);
    case StepKind::follow_fused_split: return state.follow_fused_split(d.stage_id, d.iter_id, s.list(), d.first, d.flag);
    case StepKind::storage_align: return state.storage_align(d.stage_id, d.iter_id, d.first, d.second);
    case StepKind::compute_at: return state.compute_at(d.stage_id, d.iter_id, d.first);
    case StepKind::compute_inline: return state.compute_inline(d.stage_id);
    case StepKind::compute_root: return state.compute_root(d.stage_id);
    case StepKind::cache_read: return state.cache_read(d.stage_id, s.text(), s.list());
    case StepKind::cache_write: return state.cache_write(d.stage_id, s.text());
    case StepKind::rfactor: return state.rfactor(d.stage_id, d.iter_id, d.first);
  }
  std::abort();
}

/// One step as text, in the log's field order (for the trace).
std::string describe(StepView s) {
  const auto& d = s.data();
  std::ostringstream o;
  o << record_prefix(s.kind()) << ' ' << d.stage_id << ' ' << d.iter_id << ' ' << d.first << ' ' << d.second
    << " flag=" << d.flag << " an=" << static_cast<int>(d.annotation) << " [";
  for (auto v : s.list()) o << ' ' << v;
  o << " ] '" << s.text() << '\'';
  return o.str();
}

/// With CROSSTUNE_FUZZ_TRACE set, every step and its outcome go to stderr (to read a crash input).
const bool trace = std::getenv("CROSSTUNE_FUZZ_TRACE") != nullptr;

void fail(const char* what, const State& state, const State* other = nullptr) {
  if (trace) {
    std::fprintf(stderr, "FAILED: %s\n%s", what, snapshot(state, false).c_str());
    if (other != nullptr) std::fprintf(stderr, "-- replayed:\n%s", snapshot(*other, false).c_str());
  }
  std::abort();
}

}  // namespace

/// Lowering either refuses the state (ErrorKind::unsupported) or gives a nest that the interpreter runs
/// without an access out of a buffer or a read of an unwritten element, to the DAG's outputs.
void check_lowering(const State& state, const Case& c) {
  if (!small_enough(state)) return;
  auto nest = codegen::lower(state);
  if (!nest) {
    if (nest.error().kind != ErrorKind::unsupported) fail("lowering failed with an unexpected kind of error", state);
    return;
  }
  std::int64_t work = 0;  // statements the interpreter would run: bounded so each input stays fast
  std::function<std::int64_t(const std::vector<codegen::Stmt>&)> count = [&](const std::vector<codegen::Stmt>& body) {
    std::int64_t n = 0;
    for (const auto& st : body) {
      std::int64_t inner = 1;
      if (st.kind == codegen::StmtKind::loop) {
        const std::int64_t e = nest->loops[static_cast<std::size_t>(st.loop)].extent;
        const std::int64_t b = count(st.body);
        if (e > 0 && b > (std::int64_t{1} << 40) / e) return std::int64_t{1} << 40;
        inner = e * b;
      }
      n = std::min<std::int64_t>(n + inner, std::int64_t{1} << 40);
    }
    return n;
  };
  work = count(nest->body);
  if (work > 2000000) return;
  auto got = codegen::interpret(*nest, c.inputs);
  if (!got) {
    if (trace) std::fprintf(stderr, "interpret: %s\n", got.error().message.c_str());
    fail("the lowered nest does not run", state);
  }
  for (std::size_t o = 0; o < c.outputs.size(); ++o)
    for (std::size_t i = 0; i < c.outputs[o].size(); ++i) {
      const double want = c.outputs[o][i], have = (*got)[o][i];
      if (!(std::abs(have - want) <= 1e-4 * (1.0 + std::abs(want)))) fail("the lowered nest computes something else", state);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Bytes in(data, size);
  const Case& c = cases()[in.byte() % cases().size()];
  State state(c.dag);
  StepSequence one;
  for (int n = 0; n < 64 && !in.empty(); ++n) {
    const bool builder = decode_step(in, state, one);
    const StepView step = one[0];
    const std::size_t index = state.steps().size();
    const std::string before = snapshot(state, true);
    const StepSequence steps_before = state.steps();
    auto ok = builder ? apply_with_builder(state, step) : state.apply(step);
    if (trace)
      std::fprintf(stderr, "%s%s -> %s\n", builder ? "builder " : "", describe(step).c_str(),
                   ok ? "applied" : ok.error().message.c_str());
    if (ok) {
      if (state.steps().size() != index + 1) fail("an applied step was not recorded once", state);
    } else {
      const std::string prefix =
          "step " + std::to_string(index) + " (" + std::string(record_prefix(step.kind())) + "): ";
      if (!ok.error().message.starts_with(prefix) || ok.error().kind != ErrorKind::invalid_argument)
        fail("a refusal does not name its step", state);
      if (snapshot(state, true) != before || !(state.steps() == steps_before)) fail("a refusal changed the state", state);
    }
    check_invariants(state);
  }
  // The steps that were applied replay onto a fresh state to the same stages.
  State again(c.dag);
  if (auto ok = again.apply(state.steps()); !ok) {
    if (trace) std::fprintf(stderr, "replay: %s\n", ok.error().message.c_str());
    fail("the applied steps do not replay", state);
  }
  if (snapshot(again, false) != snapshot(state, false)) fail("the replayed state differs", state, &again);
  check_semantics(state, c);
  check_lowering(state, c);
  return 0;
}
