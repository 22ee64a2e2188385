// crosstune/schedule/state.hpp — the loop state of a schedule: a compute DAG with Ansor transform steps
// applied.
//
// A schedule in crosstune *is* an Ansor step sequence (core/step.hpp). State applies those steps the way
// auto_scheduler's loop state does: one Stage per operation (placeholders included), each with its loop
// iterators (names, extents, spatial/reduction kind, annotations), where it is computed (root, inlined,
// or at an iterator of another stage), and cache_read / cache_write / rfactor inserting stages and
// renumbering the later ones. Stage and iterator ids therefore mean what they mean in public logs, and a
// log record's steps replay onto the DAG rebuilt from its workload key (schedule/replay.hpp).
//
// Beyond Ansor's state, each stage keeps how its loops derive from the operation's axes (which loop was
// split into which, which were fused), and attachments name loop variables rather than positions. That
// is what lowering (codegen/lower.hpp) needs to turn a state into a loop nest.
//
//   auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(512, 512, 512).value());
//   schedule::State state(dag);
//   state.split(2, 0, {8, 4}).value();        // x → x.0, x.1, x.2
//   state.annotate(2, 0, IteratorAnnotation::parallel).value();
//   std::cout << state.stage(2).iters.size();  // 5 loops: x.0 x.1 x.2 y k
//
// An invalid step is refused with an Error naming the step's index and kind and saying why; the state is
// then unchanged.
#pragma once

#include <algorithm>
#include <charconv>
#include <functional>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/step.hpp"
#include "crosstune/ir/dag.hpp"

namespace crosstune::schedule {

/// Ansor's IteratorKind: spatial, reduction, or mixed for a fusion of both.
enum class IteratorKind : std::uint8_t { spatial = 0, reduction = 1, mixed = 2 };

/// Ansor's ComputeAtKind: where a stage's loops are placed.
enum class ComputeAtKind : std::uint8_t { root = 0, inlined = 1, iter = 2 };

/// A loop variable of a stage: an axis of its operation, a piece of a split, or a fusion. Variables are
/// never removed, so ids stay valid; the current loops (Stage::iters) are the leaves.
struct LoopVar {
  enum class Fate : std::uint8_t { leaf, split, fused };
  std::int64_t extent = -1;  ///< static extent, -1 when not known (after compute_at, as in Ansor)
  std::int64_t factor = 0;   ///< a split piece's fixed length; 0 for the piece that takes the remainder
  IteratorKind kind = IteratorKind::spatial;
  Fate fate = Fate::leaf;
  std::int32_t link = -1;    ///< split: the first piece (pieces have consecutive ids); fused: the fusion
  std::int32_t count = 0;    ///< split: the number of pieces
  std::uint32_t parts_offset = 0, parts_count = 0;  ///< a fusion: its parts, in Stage::fused_parts
};

/// One loop of a stage.
struct Iterator {
  std::string name;  ///< as Ansor names it: "nn", "nn.0", "nn.0@ff.0@"
  std::int32_t var = 0;
  IteratorAnnotation annotation = IteratorAnnotation::none;
};

/// One operation with its loops and placement.
struct Stage {
  ir::OperationPtr op;
  std::vector<Iterator> iters;       ///< current loops, outermost first (empty for placeholders)
  std::vector<LoopVar> vars;         ///< vars[0..axes) are the op's axes (spatial, then reduction)
  std::vector<std::int32_t> fused_parts;
  ComputeAtKind compute_at = ComputeAtKind::root;
  std::int32_t attach_stage = -1;    ///< with ComputeAtKind::iter: the stage computed in
  std::int32_t attach_var = -1;      ///<                          and the loop variable of that stage
  std::int64_t auto_unroll_max_step = 0;
  std::int64_t storage_align_factor = 0, storage_align_offset = 0;
  std::int32_t storage_align_var = -1;
  std::vector<std::pair<std::int32_t, std::string>> pragmas;  ///< other pragmas, by loop variable

  [[nodiscard]] bool placeholder() const noexcept { return op->placeholder; }
  [[nodiscard]] const std::string& name() const noexcept { return op->name; }
  [[nodiscard]] std::int64_t extent(std::size_t iter) const { return vars[static_cast<std::size_t>(iters[iter].var)].extent; }
  [[nodiscard]] IteratorKind kind(std::size_t iter) const { return vars[static_cast<std::size_t>(iters[iter].var)].kind; }
  /// The position of loop variable `var` among the current loops, or -1.
  [[nodiscard]] std::int64_t position(std::int32_t var) const noexcept {
    for (std::size_t i = 0; i < iters.size(); ++i)
      if (iters[i].var == var) return static_cast<std::int64_t>(i);
    return -1;
  }
};

/// Where a loop variable sits in the fusion it joined: the product of the extents of the parts after it
/// (`extent_of(var)` gives a part's extent; the caller picks static or lowered extents) and whether it
/// is the outermost part. A part's value is (fusion / stride), modulo its extent unless outermost.
struct FusedPartPosition {
  std::int64_t stride = 1;
  bool outermost = false;
  bool overflow = false;  ///< the stride passed the int64 range
};
template <class ExtentOf>
[[nodiscard]] FusedPartPosition fused_part_position(const Stage& stage, std::int32_t part, ExtentOf&& extent_of) {
  FusedPartPosition at;
  const LoopVar& fusion = stage.vars[static_cast<std::size_t>(stage.vars[static_cast<std::size_t>(part)].link)];
  bool after = false;
  for (std::uint32_t p = 0; p < fusion.parts_count; ++p) {
    const std::int32_t other = stage.fused_parts[fusion.parts_offset + p];
    if (after && __builtin_mul_overflow(at.stride, static_cast<std::int64_t>(extent_of(other)), &at.stride)) at.overflow = true;
    if (other == part) {
      after = true;
      at.outermost = p == 0;
    }
  }
  return at;
}

namespace state_detail {
/// Ansor's CleanName: '.' and '@' become '_' (TE's ".outer"/".inner" never occur here).
inline std::string clean_name(std::string_view name) {
  std::string out(name);
  for (char& c : out)
    if (c == '.' || c == '@') c = '_';
  return out;
}
/// acc·factor into `acc` for non-negative values; false (acc unchanged) when the product leaves int64.
inline bool multiply(std::int64_t& acc, std::int64_t factor) noexcept {
  if (factor > 0 && acc > std::numeric_limits<std::int64_t>::max() / factor) return false;
  acc *= factor;
  return true;
}
}  // namespace state_detail

/// A compute DAG with transform steps applied; copyable (operations are shared, loops are owned).
class State {
 public:
  State() = default;
  explicit State(std::shared_ptr<const ir::ComputeDag> dag) : dag_(std::move(dag)) {
    next_tensor_id_ = dag_->next_tensor_id();
    stages_.reserve(dag_->size() + 4);
    for (const auto& op : dag_->ops()) stages_.push_back(make_stage(op));
  }

  [[nodiscard]] const ir::ComputeDag& dag() const noexcept { return *dag_; }
  [[nodiscard]] const std::shared_ptr<const ir::ComputeDag>& dag_ptr() const noexcept { return dag_; }
  [[nodiscard]] std::span<const Stage> stages() const noexcept { return stages_; }
  [[nodiscard]] const Stage& stage(std::size_t id) const { return stages_.at(id); }
  [[nodiscard]] std::size_t size() const noexcept { return stages_.size(); }
  /// The steps applied so far (Ansor's transform_steps).
  [[nodiscard]] const StepSequence& steps() const noexcept { return steps_; }
  /// The stage computing tensor `id`, or -1.
  [[nodiscard]] std::int64_t stage_of(std::int32_t tensor) const noexcept {
    for (std::size_t i = 0; i < stages_.size(); ++i)
      if (stages_[i].op->id == tensor) return static_cast<std::int64_t>(i);
    return -1;
  }
  [[nodiscard]] bool is_output(std::size_t stage) const { return dag_->is_output(stages_.at(stage).op->id); }
  /// True if stage `consumer` reads stage `producer`'s tensor.
  [[nodiscard]] bool reads(std::size_t consumer, std::size_t producer) const {
    const auto& in = stages_.at(consumer).op->inputs;
    return std::find(in.begin(), in.end(), stages_.at(producer).op->id) != in.end();
  }

  /// Applies `step` (copied into steps(); it must not be a view of this state's own steps). On an error
  /// the state is unchanged.
  Expected<void> apply(StepView step) {
    if (auto ok = apply_unrecorded(step, steps_.size()); !ok) return ok;
    copy_step(step);
    return {};
  }
  /// Applies every step in order; stops at the first refused one (steps before it stay applied).
  Expected<void> apply(const StepSequence& steps) {
    for (StepView step : steps)
      if (auto ok = apply(step); !ok) return ok;
    return {};
  }

  // Builders: record the step and apply it. Each returns the error of a refused step.
  Expected<void> split(std::int64_t stage, std::int64_t iter, std::span<const std::int64_t> lengths, bool inner_to_outer = true) {
    const std::int64_t extent = valid_iter(stage, iter) ? stages_[static_cast<std::size_t>(stage)].extent(static_cast<std::size_t>(iter)) : 0;
    steps_.add_split(stage, iter, extent < 0 ? 0 : extent, lengths, inner_to_outer);
    return apply_last();
  }
  Expected<void> split(std::int64_t stage, std::int64_t iter, std::initializer_list<std::int64_t> lengths, bool inner_to_outer = true) {
    return split(stage, iter, std::span<const std::int64_t>(lengths.begin(), lengths.size()), inner_to_outer);
  }
  Expected<void> follow_split(std::int64_t stage, std::int64_t iter, std::int64_t src_step, std::int64_t n_split) {
    steps_.add_follow_split(stage, iter, src_step, n_split);
    return apply_last();
  }
  Expected<void> follow_fused_split(std::int64_t stage, std::int64_t iter, std::span<const std::int64_t> src_steps,
                                    std::int64_t level, bool factor_or_nparts) {
    steps_.add_follow_fused_split(stage, iter, src_steps, level, factor_or_nparts);
    return apply_last();
  }
  Expected<void> fuse(std::int64_t stage, std::span<const std::int64_t> iters) {
    steps_.add_fuse(stage, iters);
    return apply_last();
  }
  Expected<void> reorder(std::int64_t stage, std::span<const std::int64_t> order) {
    steps_.add_reorder(stage, order);
    return apply_last();
  }
  Expected<void> annotate(std::int64_t stage, std::int64_t iter, IteratorAnnotation annotation) {
    steps_.add_annotation(stage, iter, annotation);
    return apply_last();
  }
  Expected<void> pragma(std::int64_t stage, std::int64_t iter, std::string_view text) {
    steps_.add_pragma(stage, iter, text);
    return apply_last();
  }
  Expected<void> storage_align(std::int64_t stage, std::int64_t iter, std::int64_t factor, std::int64_t offset) {
    steps_.add_storage_align(stage, iter, factor, offset);
    return apply_last();
  }
  Expected<void> compute_at(std::int64_t stage, std::int64_t target_stage, std::int64_t target_iter) {
    steps_.add_compute_at(stage, target_stage, target_iter);
    return apply_last();
  }
  Expected<void> compute_inline(std::int64_t stage) {
    steps_.add_compute_inline(stage);
    return apply_last();
  }
  Expected<void> compute_root(std::int64_t stage) {
    steps_.add_compute_root(stage);
    return apply_last();
  }
  Expected<void> cache_read(std::int64_t stage, std::string_view scope, std::span<const std::int64_t> readers) {
    steps_.add_cache_read(stage, scope, readers);
    return apply_last();
  }
  Expected<void> cache_write(std::int64_t stage, std::string_view scope) {
    steps_.add_cache_write(stage, scope);
    return apply_last();
  }
  Expected<void> rfactor(std::int64_t stage, std::int64_t iter, std::int64_t factor_iter) {
    steps_.add_rfactor(stage, iter, factor_iter);
    return apply_last();
  }

 private:
  // ---- construction ----------------------------------------------------------------------------------

  static Stage make_stage(ir::OperationPtr op) {
    Stage s;
    s.op = std::move(op);
    if (s.op->placeholder) return s;
    const std::size_t n = s.op->axes.size() + s.op->reduce_axes.size();
    s.vars.resize(n);
    s.iters.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const bool reduce = i >= s.op->axes.size();
      const ir::Axis& axis = reduce ? s.op->reduce_axes[i - s.op->axes.size()] : s.op->axes[i];
      s.vars[i].extent = axis.extent;
      s.vars[i].kind = reduce ? IteratorKind::reduction : IteratorKind::spatial;
      s.iters[i].name = state_detail::clean_name(axis.name);
      s.iters[i].var = static_cast<std::int32_t>(i);
    }
    return s;
  }

  // ---- errors ----------------------------------------------------------------------------------------

  static Unexpected refuse(std::size_t index, StepKind kind, const std::string& why) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "step " + std::to_string(index) + " (" + std::string(record_prefix(kind)) + "): " + why));
  }
  [[nodiscard]] bool valid_stage(std::int64_t stage) const noexcept {
    return stage >= 0 && stage < static_cast<std::int64_t>(stages_.size());
  }
  [[nodiscard]] bool valid_iter(std::int64_t stage, std::int64_t iter) const noexcept {
    return valid_stage(stage) && iter >= 0 && iter < static_cast<std::int64_t>(stages_[static_cast<std::size_t>(stage)].iters.size());
  }
  [[nodiscard]] std::string stage_text(std::int64_t stage) const {
    return "stage " + std::to_string(stage) + " '" + stages_[static_cast<std::size_t>(stage)].name() + "'";
  }
  /// Checks the stage id (and that it is a compute stage when `compute`), giving the refusal text.
  [[nodiscard]] bool check_stage(std::int64_t stage, bool compute, std::string& why) const {
    if (!valid_stage(stage)) {
      why = "stage " + std::to_string(stage) + " does not exist (the state has " + std::to_string(stages_.size()) + " stages)";
      return false;
    }
    if (compute && stages_[static_cast<std::size_t>(stage)].placeholder()) {
      why = stage_text(stage) + " is a placeholder, which has no loops";
      return false;
    }
    return true;
  }
  [[nodiscard]] bool check_iter(std::int64_t stage, std::int64_t iter, std::string& why) const {
    if (!check_stage(stage, true, why)) return false;
    if (!valid_iter(stage, iter)) {
      why = stage_text(stage) + " has no iterator " + std::to_string(iter) + " (it has " +
            std::to_string(stages_[static_cast<std::size_t>(stage)].iters.size()) + ")";
      return false;
    }
    return true;
  }

  Expected<void> apply_last() {
    const std::size_t index = steps_.size() - 1;
    if (auto ok = apply_unrecorded(steps_[index], index); !ok) {
      steps_.pop_back();
      return ok;
    }
    return {};
  }
  void copy_step(StepView s) {
    const auto& d = s.data();
    switch (s.kind()) {
      case StepKind::annotation: steps_.add_annotation(d.stage_id, d.iter_id, d.annotation); break;
      case StepKind::fuse: steps_.add_fuse(d.stage_id, s.list()); break;
      case StepKind::pragma: steps_.add_pragma(d.stage_id, d.iter_id, s.text()); break;
      case StepKind::reorder: steps_.add_reorder(d.stage_id, s.list()); break;
      case StepKind::split: steps_.add_split(d.stage_id, d.iter_id, d.first, s.list(), d.flag); break;
      case StepKind::follow_split: steps_.add_follow_split(d.stage_id, d.iter_id, d.first, d.second); break;
      case StepKind::follow_fused_split: steps_.add_follow_fused_split(d.stage_id, d.iter_id, s.list(), d.first, d.flag); break;
      case StepKind::storage_align: steps_.add_storage_align(d.stage_id, d.iter_id, d.first, d.second); break;
      case StepKind::compute_at: steps_.add_compute_at(d.stage_id, d.iter_id, d.first); break;
      case StepKind::compute_inline: steps_.add_compute_inline(d.stage_id); break;
      case StepKind::compute_root: steps_.add_compute_root(d.stage_id); break;
      case StepKind::cache_read: steps_.add_cache_read(d.stage_id, s.text(), s.list()); break;
      case StepKind::cache_write: steps_.add_cache_write(d.stage_id, s.text()); break;
      case StepKind::rfactor: steps_.add_rfactor(d.stage_id, d.iter_id, d.first); break;
    }
  }

  // ---- the steps -------------------------------------------------------------------------------------

  /// Applies `step`, which is (or will be) steps_[index]; checks everything before changing anything.
  Expected<void> apply_unrecorded(StepView step, std::size_t index) {
    const StepKind kind = step.kind();
    const auto& d = step.data();
    std::string why;
    switch (kind) {
      case StepKind::split: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        if (step.list().empty()) return refuse(index, kind, "a split needs at least one length");
        std::int64_t product = 1;
        for (auto len : step.list()) {
          if (len < 1) return refuse(index, kind, "split length " + std::to_string(len) + " is not positive");
          if (!state_detail::multiply(product, len)) return refuse(index, kind, "the split lengths multiply past the int64 range");
        }
        // A logged extent must be the loop's (0 means unknown); a mismatch means the DAG is not the one
        // the steps were made for.
        const std::int64_t known = stages_[static_cast<std::size_t>(d.stage_id)].extent(static_cast<std::size_t>(d.iter_id));
        if (d.first > 0 && known >= 0 && d.first != known)
          return refuse(index, kind, "the step splits a loop of extent " + std::to_string(d.first) + ", but iterator " +
                                         std::to_string(d.iter_id) + " of " + stage_text(d.stage_id) + " has extent " + std::to_string(known));
        do_split(static_cast<std::size_t>(d.stage_id), static_cast<std::size_t>(d.iter_id), step.list(), d.flag);
        return {};
      }
      case StepKind::follow_split: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        const auto src = split_step(d.first, index, why);
        if (!src) return refuse(index, kind, why);
        const auto src_lengths = steps_[static_cast<std::size_t>(*src)].list();
        if (d.second < 1 || d.second > static_cast<std::int64_t>(src_lengths.size()) + 1)
          return refuse(index, kind, "n_split " + std::to_string(d.second) + " is outside 1.." + std::to_string(src_lengths.size() + 1));
        // The first n_split−1 lengths of the followed split, then the product of the rest.
        std::int64_t lengths[16];
        const auto n = static_cast<std::size_t>(d.second);
        if (n > 16) return refuse(index, kind, "n_split above 16");
        std::size_t j = 0;
        for (; j + 1 < n; ++j) lengths[j] = src_lengths[j];
        std::int64_t last = 1;
        for (; j < src_lengths.size(); ++j) last *= src_lengths[j];
        lengths[n - 1] = last;
        do_split(static_cast<std::size_t>(d.stage_id), static_cast<std::size_t>(d.iter_id), std::span<const std::int64_t>(lengths, n), true);
        return {};
      }
      case StepKind::follow_fused_split: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        if (step.list().empty()) return refuse(index, kind, "no split step to follow");
        std::int64_t length = 1;
        for (auto id : step.list()) {
          const auto src = split_step(id, index, why);
          if (!src) return refuse(index, kind, why);
          const auto lens = steps_[static_cast<std::size_t>(*src)].list();
          if (d.first < 0 || d.first >= static_cast<std::int64_t>(lens.size()))
            return refuse(index, kind, "level " + std::to_string(d.first) + " is outside the " + std::to_string(lens.size()) + " lengths of step " + std::to_string(id));
          if (!state_detail::multiply(length, lens[static_cast<std::size_t>(d.first)]))
            return refuse(index, kind, "the followed lengths multiply past the int64 range");
        }
        const std::int64_t lengths[1] = {length};
        do_split(static_cast<std::size_t>(d.stage_id), static_cast<std::size_t>(d.iter_id), lengths, d.flag);
        return {};
      }
      case StepKind::fuse: return apply_fuse(step, index);
      case StepKind::reorder: {
        if (!check_stage(d.stage_id, true, why)) return refuse(index, kind, why);
        Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        const auto order = step.list();
        if (order.size() != s.iters.size())
          return refuse(index, kind, "the order lists " + std::to_string(order.size()) + " iterators, " + stage_text(d.stage_id) + " has " + std::to_string(s.iters.size()));
        std::uint64_t seen_small = 0;
        std::vector<bool> seen_large;
        if (order.size() > 64) seen_large.assign(order.size(), false);
        for (auto id : order) {
          if (id < 0 || id >= static_cast<std::int64_t>(order.size())) return refuse(index, kind, "iterator " + std::to_string(id) + " does not exist");
          const auto u = static_cast<std::size_t>(id);
          const bool dup = order.size() > 64 ? seen_large[u] : ((seen_small >> u) & 1u) != 0;
          if (dup) return refuse(index, kind, "iterator " + std::to_string(id) + " appears twice");
          if (order.size() > 64) seen_large[u] = true; else seen_small |= std::uint64_t{1} << u;
        }
        std::vector<Iterator> reordered;
        reordered.reserve(order.size());
        for (auto id : order) reordered.push_back(std::move(s.iters[static_cast<std::size_t>(id)]));
        s.iters = std::move(reordered);
        return {};
      }
      case StepKind::annotation: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        stages_[static_cast<std::size_t>(d.stage_id)].iters[static_cast<std::size_t>(d.iter_id)].annotation = d.annotation;
        return {};
      }
      case StepKind::pragma: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        const std::string_view text = step.text();
        constexpr std::string_view unroll = "auto_unroll_max_step";
        if (text.starts_with(unroll)) {
          const auto dollar = text.find('$');
          std::int64_t value = 0;
          if (dollar == std::string_view::npos) return refuse(index, kind, "pragma '" + std::string(text) + "' has no '$value'");
          const auto r = std::from_chars(text.data() + dollar + 1, text.data() + text.size(), value);
          if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || value < 0)
            return refuse(index, kind, "pragma '" + std::string(text) + "' has no non-negative integer value");
          s.auto_unroll_max_step = value;
        } else {
          s.pragmas.emplace_back(s.iters[static_cast<std::size_t>(d.iter_id)].var, std::string(text));
        }
        return {};
      }
      case StepKind::storage_align: {
        if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, kind, why);
        if (d.first < 1 || d.second < 0) return refuse(index, kind, "factor must be positive and offset non-negative");
        Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        s.storage_align_var = s.iters[static_cast<std::size_t>(d.iter_id)].var;
        s.storage_align_factor = d.first;
        s.storage_align_offset = d.second;
        return {};
      }
      case StepKind::compute_at: {
        const std::int64_t target = d.iter_id, target_iter = d.first;
        if (!check_stage(d.stage_id, true, why) || !check_iter(target, target_iter, why)) return refuse(index, kind, why);
        if (target == d.stage_id) return refuse(index, kind, stage_text(d.stage_id) + " cannot be computed at itself");
        if (!consumes(static_cast<std::size_t>(target), static_cast<std::size_t>(d.stage_id)))
          return refuse(index, kind, stage_text(target) + " does not read " + stage_text(d.stage_id) + ", so it cannot be computed there");
        if (stages_[static_cast<std::size_t>(target)].compute_at == ComputeAtKind::inlined)
          return refuse(index, kind, stage_text(target) + " is inlined and has no loops");
        Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        s.compute_at = ComputeAtKind::iter;
        s.attach_stage = static_cast<std::int32_t>(target);
        s.attach_var = stages_[static_cast<std::size_t>(target)].iters[static_cast<std::size_t>(target_iter)].var;
        drop_extents(s);
        return {};
      }
      case StepKind::compute_inline: {
        if (!check_stage(d.stage_id, true, why)) return refuse(index, kind, why);
        const Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        if (is_output(static_cast<std::size_t>(d.stage_id))) return refuse(index, kind, stage_text(d.stage_id) + " is an output of the DAG");
        if (s.op->reduce != ir::ReduceKind::none) return refuse(index, kind, stage_text(d.stage_id) + " is a reduction, which cannot be inlined");
        for (std::size_t i = 0; i < stages_.size(); ++i)
          if (stages_[i].compute_at == ComputeAtKind::iter && stages_[i].attach_stage == d.stage_id)
            return refuse(index, kind, stage_text(static_cast<std::int64_t>(i)) + " is computed at " + stage_text(d.stage_id));
        Stage& m = stages_[static_cast<std::size_t>(d.stage_id)];
        m.compute_at = ComputeAtKind::inlined;
        m.attach_stage = m.attach_var = -1;
        return {};
      }
      case StepKind::compute_root: {
        if (!check_stage(d.stage_id, true, why)) return refuse(index, kind, why);
        Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
        s.compute_at = ComputeAtKind::root;
        s.attach_stage = s.attach_var = -1;
        drop_extents(s);
        return {};
      }
      case StepKind::cache_read: return apply_cache_read(step, index);
      case StepKind::cache_write: return apply_cache_write(step, index);
      case StepKind::rfactor: return apply_rfactor(step, index);
    }
    return refuse(index, kind, "unknown step kind");
  }

  /// The id of an earlier SP step, or nullopt with `why`.
  std::optional<std::int64_t> split_step(std::int64_t id, std::size_t index, std::string& why) const {
    if (id < 0 || id >= static_cast<std::int64_t>(index) || id >= static_cast<std::int64_t>(steps_.size())) {
      why = "followed step " + std::to_string(id) + " is not an earlier step";
      return std::nullopt;
    }
    if (steps_[static_cast<std::size_t>(id)].kind() != StepKind::split) {
      why = "followed step " + std::to_string(id) + " is a " + std::string(record_prefix(steps_[static_cast<std::size_t>(id)].kind())) + " step, not SP";
      return std::nullopt;
    }
    return id;
  }

  /// True if `consumer` reads `producer` directly or through other stages.
  [[nodiscard]] bool consumes(std::size_t consumer, std::size_t producer) const {
    if (reads(consumer, producer)) return true;
    for (std::size_t mid = 0; mid < stages_.size(); ++mid)
      if (mid != consumer && mid != producer && reads(consumer, mid) && consumes(mid, producer)) return true;
    return false;
  }

  static void drop_extents(Stage& s) {
    for (auto& v : s.vars) v.extent = -1;
  }

  void do_split(std::size_t stage, std::size_t iter, std::span<const std::int64_t> lengths, bool inner_to_outer) {
    Stage& s = stages_[stage];
    const std::int32_t parent = s.iters[iter].var;
    const LoopVar before = s.vars[static_cast<std::size_t>(parent)];
    std::int64_t product = 1;
    for (auto len : lengths) product *= len;
    const auto first = static_cast<std::int32_t>(s.vars.size());
    const std::size_t pieces = lengths.size() + 1;
    const std::int64_t rest = before.extent < 0 ? -1 : before.extent / product + (before.extent % product != 0 ? 1 : 0);
    for (std::size_t i = 0; i < pieces; ++i) {
      LoopVar v;
      v.kind = before.kind;
      const bool remainder = inner_to_outer ? i == 0 : i + 1 == pieces;
      const std::size_t l = inner_to_outer ? i - 1 : i;
      v.factor = remainder ? 0 : lengths[l];
      v.extent = before.extent < 0 ? -1 : remainder ? rest : lengths[l];  // unknown stays unknown (Ansor)
      s.vars.push_back(v);
    }
    LoopVar& p = s.vars[static_cast<std::size_t>(parent)];
    p.fate = LoopVar::Fate::split;
    p.link = first;
    p.count = static_cast<std::int32_t>(pieces);
    Iterator old = std::move(s.iters[iter]);
    std::vector<Iterator> inserted(pieces);
    for (std::size_t i = 0; i < pieces; ++i) {
      inserted[i].name = old.name + "." + std::to_string(i);
      inserted[i].var = first + static_cast<std::int32_t>(i);
    }
    s.iters.erase(s.iters.begin() + static_cast<std::ptrdiff_t>(iter));
    s.iters.insert(s.iters.begin() + static_cast<std::ptrdiff_t>(iter), std::make_move_iterator(inserted.begin()),
                   std::make_move_iterator(inserted.end()));
    // A stage attached to the split loop moves to the innermost piece (Ansor's attach-map update).
    for (auto& other : stages_)
      if (other.attach_stage == static_cast<std::int32_t>(stage) && other.attach_var == parent)
        other.attach_var = first + static_cast<std::int32_t>(pieces) - 1;
  }

  Expected<void> apply_fuse(StepView step, std::size_t index) {
    const auto& d = step.data();
    std::string why;
    if (!check_stage(d.stage_id, true, why)) return refuse(index, StepKind::fuse, why);
    Stage& s = stages_[static_cast<std::size_t>(d.stage_id)];
    const auto ids = step.list();
    if (ids.empty()) return refuse(index, StepKind::fuse, "nothing to fuse");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= static_cast<std::int64_t>(s.iters.size()))
        return refuse(index, StepKind::fuse, stage_text(d.stage_id) + " has no iterator " + std::to_string(ids[i]));
      if (i > 0 && ids[i] != ids[i - 1] + 1) return refuse(index, StepKind::fuse, "the fused iterators are not consecutive");
    }
    const auto first = static_cast<std::size_t>(ids.front());
    const std::size_t n = ids.size();
    for (std::size_t i = 0; i + 1 < n; ++i)
      for (std::size_t o = 0; o < stages_.size(); ++o)
        if (stages_[o].attach_stage == d.stage_id && stages_[o].attach_var == s.iters[first + i].var)
          return refuse(index, StepKind::fuse, stage_text(static_cast<std::int64_t>(o)) + " is computed at iterator " + std::to_string(first + i) + ", which only the last fused iterator may be");
    std::int64_t product = 1;  // the fused extent, when every part's is known, must stay in int64
    for (std::size_t i = 0; i < n; ++i)
      if (s.extent(first + i) < 0) product = -1;
    for (std::size_t i = 0; i < n && product > 0; ++i)
      if (!state_detail::multiply(product, s.extent(first + i)))
        return refuse(index, StepKind::fuse, "the fused extent passes the int64 range");
    LoopVar fused;
    fused.extent = 1;
    bool has_spatial = false, has_reduce = false;
    std::string name;
    fused.parts_offset = static_cast<std::uint32_t>(s.fused_parts.size());
    fused.parts_count = static_cast<std::uint32_t>(n);
    const auto fused_id = static_cast<std::int32_t>(s.vars.size());
    for (std::size_t i = 0; i < n; ++i) {
      const Iterator& it = s.iters[first + i];
      LoopVar& part = s.vars[static_cast<std::size_t>(it.var)];
      fused.extent = (fused.extent < 0 || part.extent < 0) ? -1 : fused.extent * part.extent;
      has_spatial |= part.kind == IteratorKind::spatial;
      has_reduce |= part.kind == IteratorKind::reduction;
      if (part.kind == IteratorKind::mixed) has_spatial = has_reduce = true;
      name += it.name;
      name += '@';
      s.fused_parts.push_back(it.var);
    }
    fused.kind = has_spatial && has_reduce ? IteratorKind::mixed : has_reduce ? IteratorKind::reduction : IteratorKind::spatial;
    for (std::size_t i = 0; i < n; ++i) {
      LoopVar& part = s.vars[static_cast<std::size_t>(s.iters[first + i].var)];
      part.fate = LoopVar::Fate::fused;
      part.link = fused_id;
    }
    const std::int32_t last_var = s.iters[first + n - 1].var;
    s.vars.push_back(fused);
    Iterator it;
    it.name = std::move(name);
    it.var = fused_id;
    s.iters.erase(s.iters.begin() + static_cast<std::ptrdiff_t>(first), s.iters.begin() + static_cast<std::ptrdiff_t>(first + n));
    s.iters.insert(s.iters.begin() + static_cast<std::ptrdiff_t>(first), std::move(it));
    for (auto& other : stages_)
      if (other.attach_stage == d.stage_id && other.attach_var == last_var) other.attach_var = fused_id;
    return {};
  }

  /// Inserts `stage` at position `at`; attachments to stages at or after it shift by one.
  void insert_stage(std::size_t at, Stage stage) {
    for (auto& s : stages_)
      if (s.attach_stage >= static_cast<std::int32_t>(at)) ++s.attach_stage;
    stages_.insert(stages_.begin() + static_cast<std::ptrdiff_t>(at), std::move(stage));
  }

  [[nodiscard]] std::string unique_name(const std::string& base, std::string_view scope) const {
    std::string name = base + "." + std::string(scope);
    std::string prefix = base;
    auto taken = [&](const std::string& n) {
      for (const auto& s : stages_)
        if (s.op->name == n) return true;
      return false;
    };
    while (taken(name)) {
      prefix += ".d";
      name = prefix + "." + std::string(scope);
    }
    return name;
  }

  Expected<void> apply_cache_read(StepView step, std::size_t index) {
    const auto& d = step.data();
    std::string why;
    if (!check_stage(d.stage_id, false, why)) return refuse(index, StepKind::cache_read, why);
    if (step.text().empty()) return refuse(index, StepKind::cache_read, "the scope is empty");
    const auto readers = step.list();
    if (readers.empty()) return refuse(index, StepKind::cache_read, "no reader stage");
    const auto source = static_cast<std::size_t>(d.stage_id);
    for (auto r : readers) {
      if (!valid_stage(r)) return refuse(index, StepKind::cache_read, "reader stage " + std::to_string(r) + " does not exist");
      if (!reads(static_cast<std::size_t>(r), source))
        return refuse(index, StepKind::cache_read, stage_text(r) + " does not read " + stage_text(d.stage_id));
    }
    const ir::Operation& src = *stages_[source].op;
    auto cache = std::make_shared<ir::Operation>();
    cache->id = next_tensor_id_++;
    cache->name = unique_name(src.name, step.text());
    cache->tag = "cache_read";
    cache->dtype = src.dtype;
    std::vector<ir::Expr> vars;
    for (std::size_t i = 0; i < src.axes.size(); ++i) {
      cache->axes.push_back({"ax" + std::to_string(i), src.axes[i].extent});
      vars.push_back(cache->pool.var(static_cast<std::int64_t>(i)));
    }
    cache->body = cache->pool.load(src.id, vars).id;
    cache->inputs = {src.id};
    // Readers now load the cache instead of the source.
    std::vector<std::size_t> reader_stages;
    for (auto r : readers) reader_stages.push_back(static_cast<std::size_t>(r));
    for (std::size_t r : reader_stages) {
      auto copy = std::make_shared<ir::Operation>(*stages_[r].op);
      const std::int32_t from = src.id, to = cache->id;
      retarget_loads(*copy, from, to);
      stages_[r].op = std::move(copy);
    }
    insert_stage(source + 1, make_stage(std::move(cache)));
    return {};
  }

  static void retarget_loads(ir::Operation& op, std::int32_t from, std::int32_t to) {
    ir::ExprPool pool;
    pool.reserve(op.pool.size());
    op.body = pool.import(
        op.pool, op.body, [&](std::int64_t v) { return pool.var(v).id; },
        [&](std::int64_t tensor, std::span<const ir::ExprId> index) { return pool.load_ids(tensor == from ? to : tensor, index); });
    op.pool = std::move(pool);
    ir::collect_inputs(op);
  }

  Expected<void> apply_cache_write(StepView step, std::size_t index) {
    const auto& d = step.data();
    std::string why;
    if (!check_stage(d.stage_id, true, why)) return refuse(index, StepKind::cache_write, why);
    if (step.text().empty()) return refuse(index, StepKind::cache_write, "the scope is empty");
    const auto at = static_cast<std::size_t>(d.stage_id);
    if (stages_[at].compute_at == ComputeAtKind::inlined) return refuse(index, StepKind::cache_write, stage_text(d.stage_id) + " is inlined");
    const ir::Operation& original = *stages_[at].op;
    // The cache computes what the stage computed, under a new tensor id; the stage becomes a copy of it.
    auto cache = std::make_shared<ir::Operation>(original);
    cache->id = next_tensor_id_;  // taken (incremented) only once the step cannot be refused any more
    cache->name = unique_name(original.name, step.text());
    for (auto& axis : cache->axes) axis.name += ".c";
    auto copy = std::make_shared<ir::Operation>();
    copy->id = original.id;
    copy->name = original.name;
    copy->tag = original.tag;
    copy->dtype = original.dtype;
    copy->axes = original.axes;
    std::vector<ir::Expr> vars;
    for (std::size_t i = 0; i < copy->axes.size(); ++i) vars.push_back(copy->pool.var(static_cast<std::int64_t>(i)));
    copy->body = copy->axes.empty() ? copy->pool.load(cache->id, std::span<const ir::Expr>{}).id : copy->pool.load(cache->id, vars).id;
    copy->inputs = {cache->id};
    // Stages attached to the old stage's loops would point at variables of a stage that no longer exists.
    for (std::size_t i = 0; i < stages_.size(); ++i)
      if (stages_[i].attach_stage == d.stage_id)
        return refuse(index, StepKind::cache_write, stage_text(static_cast<std::int64_t>(i)) + " is computed at " + stage_text(d.stage_id));
    ++next_tensor_id_;
    Stage rebuilt = make_stage(std::move(copy));
    stages_[at] = std::move(rebuilt);
    insert_stage(at, make_stage(std::move(cache)));
    return {};
  }

  Expected<void> apply_rfactor(StepView step, std::size_t index);

  std::shared_ptr<const ir::ComputeDag> dag_;
  std::vector<Stage> stages_;
  StepSequence steps_;
  std::int32_t next_tensor_id_ = 0;
};

// ---- rfactor ------------------------------------------------------------------------------------------

/// RF stage iter factor_iter: the reduction loop `iter` (an axis, a split piece or a fusion of reduction
/// axes) becomes a spatial axis of a new stage "<op>.rf" inserted before the stage, at position
/// `factor_iter` among its spatial axes; that stage reduces over the stage's other reduction loops, and
/// the stage itself ("<op>.repl") then reduces the new axis.
inline Expected<void> State::apply_rfactor(StepView step, std::size_t index) {
  const auto& d = step.data();
  std::string why;
  if (!check_iter(d.stage_id, d.iter_id, why)) return refuse(index, StepKind::rfactor, why);
  const auto at = static_cast<std::size_t>(d.stage_id);
  const Stage& s = stages_[at];
  const ir::Operation& op = *s.op;
  const Iterator& factored = s.iters[static_cast<std::size_t>(d.iter_id)];
  if (s.kind(static_cast<std::size_t>(d.iter_id)) != IteratorKind::reduction)
    return refuse(index, StepKind::rfactor, "iterator " + std::to_string(d.iter_id) + " of " + stage_text(d.stage_id) + " is not a reduction loop");
  if (op.reduce == ir::ReduceKind::none) return refuse(index, StepKind::rfactor, stage_text(d.stage_id) + " is not a reduction");
  const std::size_t n_spatial = op.axes.size();
  if (d.first < 0 || d.first > static_cast<std::int64_t>(n_spatial))
    return refuse(index, StepKind::rfactor, "factor_iter_id " + std::to_string(d.first) + " is outside 0.." + std::to_string(n_spatial));
  // Every reduction loop must have static extents to size the new axes.
  std::vector<std::size_t> other_reduce;  // positions of the other reduction loops, in loop order
  for (std::size_t i = 0; i < s.iters.size(); ++i) {
    if (s.kind(i) == IteratorKind::mixed) return refuse(index, StepKind::rfactor, "a loop fuses spatial and reduction axes");
    if (s.kind(i) != IteratorKind::reduction) continue;
    if (s.extent(i) < 0) return refuse(index, StepKind::rfactor, "reduction loop " + std::to_string(i) + " has no static extent");
    if (i != static_cast<std::size_t>(d.iter_id)) other_reduce.push_back(i);
  }
  // The new operation's variables: spatial axes with the factored loop inserted, then the other loops.
  auto rf = std::make_shared<ir::Operation>();
  rf->id = next_tensor_id_;
  rf->name = op.name + ".rf";
  rf->tag = op.tag;
  rf->reduce = op.reduce;
  const auto factor_pos = static_cast<std::size_t>(d.first);
  std::vector<std::int64_t> var_of_loopvar(s.vars.size(), -1);  // loop var → rf variable number
  for (std::size_t i = 0, out = 0; i <= n_spatial; ++i) {
    if (i == factor_pos) {
      rf->axes.push_back({factored.name, s.vars[static_cast<std::size_t>(factored.var)].extent});
      var_of_loopvar[static_cast<std::size_t>(factored.var)] = static_cast<std::int64_t>(out++);
    }
    if (i < n_spatial) {
      rf->axes.push_back(op.axes[i]);
      var_of_loopvar[i] = static_cast<std::int64_t>(out++);
    }
  }
  for (std::size_t pos : other_reduce) {
    const Iterator& it = s.iters[pos];
    var_of_loopvar[static_cast<std::size_t>(it.var)] = static_cast<std::int64_t>(rf->axes.size() + rf->reduce_axes.size());
    rf->reduce_axes.push_back({it.name, s.extent(pos)});
  }
  // Express each original reduction axis through the leaf loops (splits and fusions), then substitute.
  ir::ExprPool& pool = rf->pool;
  std::vector<ir::ExprId> value_of(s.vars.size(), ir::no_expr);
  std::vector<std::int32_t> remainders;  // split loops whose pieces overrun them: each needs a guard
  bool overflow = false;  // a stride left int64
  std::function<ir::ExprId(std::int32_t)> expr_of = [&](std::int32_t v) -> ir::ExprId {
    auto& cached = value_of[static_cast<std::size_t>(v)];
    if (cached != ir::no_expr) return cached;
    const LoopVar& lv = s.vars[static_cast<std::size_t>(v)];
    ir::ExprId e = ir::no_expr;
    if (var_of_loopvar[static_cast<std::size_t>(v)] >= 0) {
      e = pool.var(var_of_loopvar[static_cast<std::size_t>(v)]).id;
    } else if (lv.fate == LoopVar::Fate::split) {
      e = pool.index(0).id;
      std::int64_t stride = 1, product = 1;
      for (std::int32_t c = lv.count - 1; c >= 0; --c) {
        const std::int32_t child = lv.link + c;
        const ir::ExprId term = pool.binary(ir::ExprOp::mul, expr_of(child), pool.index(stride).id);
        e = pool.binary(ir::ExprOp::add, term, e);
        overflow |= !state_detail::multiply(stride, s.vars[static_cast<std::size_t>(child)].extent);
        product = stride;
      }
      if (product != lv.extent) remainders.push_back(v);
    } else if (lv.fate == LoopVar::Fate::fused) {
      const auto at = fused_part_position(s, v, [&](std::int32_t part) { return s.vars[static_cast<std::size_t>(part)].extent; });
      overflow |= at.overflow;
      e = pool.binary(ir::ExprOp::floordiv, expr_of(lv.link), pool.index(at.stride).id);
      if (!at.outermost) e = pool.binary(ir::ExprOp::floormod, e, pool.index(lv.extent).id);
    }
    return cached = e;
  };
  std::vector<ir::ExprId> axis_value(n_spatial + op.reduce_axes.size());
  for (std::size_t i = 0; i < axis_value.size(); ++i) axis_value[i] = expr_of(static_cast<std::int32_t>(i));
  if (overflow) return refuse(index, StepKind::rfactor, "the reduction loops' strides pass the int64 range");
  ir::ExprId body = pool.import(
      op.pool, op.body, [&](std::int64_t v) { return axis_value[static_cast<std::size_t>(v)]; },
      [&](std::int64_t tensor, std::span<const ir::ExprId> idx) { return pool.load_ids(tensor, idx); });
  if (!remainders.empty()) {
    // Points past a split loop contribute the reduction's identity. Every such loop is checked, not only
    // the axes: an inner piece that overruns its loop would otherwise alias a valid point.
    ir::ExprId condition = ir::no_expr;
    for (std::int32_t v : remainders) {
      const ir::ExprId inside = pool.binary(ir::ExprOp::lt, value_of[static_cast<std::size_t>(v)],
                                            pool.index(s.vars[static_cast<std::size_t>(v)].extent).id);
      condition = condition == ir::no_expr ? inside : pool.binary(ir::ExprOp::logical_and, condition, inside);
    }
    body = pool.select_ids(condition, body, pool.value(ir::reduce_identity(op.reduce)).id);
  }
  rf->body = body;
  ir::collect_inputs(*rf);
  // The stage now reduces the rf tensor over the factored axis.
  auto repl = std::make_shared<ir::Operation>();
  repl->id = op.id;
  repl->name = op.name + ".repl";
  repl->tag = op.tag;
  repl->reduce = op.reduce;
  for (std::size_t i = 0; i < n_spatial; ++i) repl->axes.push_back({"ax" + std::to_string(i), op.axes[i].extent});
  repl->reduce_axes.push_back({state_detail::clean_name(factored.name) + ".v", rf->axes[factor_pos].extent});
  std::vector<ir::Expr> idx;
  for (std::size_t i = 0; i <= n_spatial; ++i) {
    if (i == factor_pos) idx.push_back(repl->pool.var(static_cast<std::int64_t>(n_spatial)));
    if (i < n_spatial) idx.push_back(repl->pool.var(static_cast<std::int64_t>(i)));
  }
  repl->body = repl->pool.load(rf->id, idx).id;
  repl->inputs = {rf->id};
  for (std::size_t i = 0; i < stages_.size(); ++i)
    if (stages_[i].attach_stage == d.stage_id)
      return refuse(index, StepKind::rfactor, stage_text(static_cast<std::int64_t>(i)) + " is computed at " + stage_text(d.stage_id));
  ++next_tensor_id_;
  const ComputeAtKind kept = s.compute_at;
  const std::int32_t kept_stage = s.attach_stage;
  Stage rebuilt = make_stage(std::move(repl));
  rebuilt.compute_at = kept;  // the replaced stage keeps its placement (Ansor)
  rebuilt.attach_stage = kept_stage;
  rebuilt.attach_var = kept == ComputeAtKind::iter ? stages_[at].attach_var : -1;
  stages_[at] = std::move(rebuilt);
  insert_stage(at, make_stage(std::move(rf)));
  return {};
}

}  // namespace crosstune::schedule
