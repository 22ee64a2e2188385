// crosstune/search/transfer_tuning.hpp — schedules for a new task transplanted from tuned tasks of the
// same kernel class (Transfer-Tuning).
//
// Gibson & Cano (*Transfer-Tuning: Reusing Auto-Schedules for Efficient Tensor Program Code Generation*,
// 2022) observe that the auto-schedule of a tuned kernel is often a good schedule for another kernel of
// the same "kernel class" (the same operations, other shapes), so a tuner can measure a handful of reused
// schedules instead of searching from scratch. transfer_schedules() does that for one target DAG: it
// takes tuned records (e.g. a tuning log, or Tuner results' `best`), keeps the successful ones whose task
// is of the target's kernel class, ranks them, replays each one's steps onto the target DAG while
// adapting what no longer fits, and returns the adapted step sequences that apply and lower.
//
// Kernel class (same_kernel_class), two conditions:
//   * one operator class. The workload families are grouped by the operator they compute, crosstune's own
//     keys with the public logs' names: matmul = matmul_layer, matmul_add, crosstune.dense; conv2d =
//     conv2d_layer, crosstune.conv2d; depthwise_conv2d = depthwise_conv2d_layer, crosstune.depthwise_conv2d;
//     pool2d = pool_layer, crosstune.pool2d; unary = relu_layer, crosstune.unary; reduce =
//     reduction_layer, crosstune.reduce; any other family is a class of its own (crosstune.batch_matmul,
//     crosstune.binary, crosstune.softmax, ...). Hashed or unparsable keys have no class.
//   * one stage structure, so that every step's stage_id and iter_id name the same thing: as many stages,
//     stage by stage the same kind (placeholder or compute), rank, number of reduction axes, reduction,
//     output or not, and the same loads: the same producer stages in the same order, each indexed by the
//     same set of the stage's axes (in any index position). So a fused epilogue (dense + bias, conv2d +
//     bias + ReLU) is another class than the bare operator; NCHW and NHWC convolutions, or a grouped and
//     an ungrouped one, are different classes (their axes play other roles); matmul (B[k, n]) and dense
//     (W[n, k]) are one class (x, y, k play the same roles; only B's layout differs); padding, stride,
//     dilation and sizes do not matter.
//
// Adaptation, step by step on a State of the target DAG:
//   * SP: the extent becomes the target loop's (read from the state at that step). Each length is kept if
//     it divides what is left of the extent, otherwise replaced by the largest divisor of what is left not
//     above it; "what is left" starts at the extent and is divided by each length in turn, from the piece
//     farthest from the remainder piece (the innermost for Ansor's inner_to_outer splits) towards it, so
//     the vector and register tiles are kept first and the outer remainder loop takes what is left. Every
//     split of the result is then perfect, as crosstune's own sketches are, and the kernel needs no guards.
//     The rule is crosstune's own: of the paper we have only the abstract, which does not say how split
//     factors are treated. TransferOptions::keep_lengths instead keeps the recorded lengths (only the
//     extent changes), as a plain replay of the tuned schedule would: imperfect splits then get guards. A loop whose extent is unknown in the state (after compute_at) keeps its
//     lengths, with extent 0 ("unknown", as Ansor logs it).
//   * FSP and FFSP are copied: they name their split steps by index, which adaptation never changes, so
//     they follow the adapted lengths.
//   * everything else (reorder, fuse, annotations, pragmas such as auto_unroll_max_step, compute_at,
//     caches, rfactor) is copied. A parallel fused loop may become shorter or longer than the cores: that
//     is still a valid schedule.
//   * the result must apply with schedule::State and lower with codegen::lower; a source that does not is
//     dropped and counted (TransferReport::refused, with the first reason).
//
// Ranking: each source workload's successful records are sorted by cost and its `sources_per_key` best
// distinct step sequences are taken. All taken sources are then ordered by their cost relative to the best
// record of their own task (1 for every task's best), then by shape similarity (|ln(target FLOPs / source
// FLOPs)|, closest to 1 first), then by workload key: so the best schedule of each compatible task comes
// first, nearest shape first, then the runners-up. Adapted sequences equal to one already returned are
// dropped as duplicates.
//
//   std::vector<Record> log = read_all("resnet50-tuned.json");
//   search::TransferReport report;
//   auto candidates = search::transfer_schedules(*dag, log, {.per_task = 8}, &report);
//   for (const auto& c : candidates) {
//     schedule::State state(dag_ptr);
//     state.apply(c.steps).value();              // applies: transfer_schedules checked it
//     measure(codegen::lower(state).value());    // and lowers
//   }
//   if (candidates.empty()) std::cerr << report.first_incompatibility << '\n';
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/core/step.hpp"
#include "crosstune/ir/dag.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/schedule/replay.hpp"
#include "crosstune/schedule/state.hpp"

namespace crosstune::search {

struct TransferOptions {
  std::size_t per_task = 8;         ///< adapted candidates wanted for the target (0: every one there is)
  std::size_t sources_per_key = 3;  ///< best distinct records used per source workload (0: all)
  bool keep_lengths = false;        ///< keep the recorded split lengths (imperfect splits, guards) instead of
                                    ///< adapting them to divisors
};

/// One transplanted schedule for the target.
struct TransferCandidate {
  StepSequence steps;              ///< applies to the target DAG and lowers
  std::string source_key;          ///< the workload key of the record it came from
  double source_seconds = 0;       ///< that record's mean cost
  double source_relative = 1;      ///< its cost over the best cost of its own task (1: the task's best)
  double flops_ratio = 1;          ///< target FLOPs over source FLOPs
  std::size_t source_record = 0;   ///< index of the record in `tuned`
  std::size_t changed_lengths = 0; ///< split lengths the adaptation replaced
};

/// What transfer_schedules() did with the records it was given.
struct TransferReport {
  std::size_t compatible_sources = 0;    ///< successful records of the target's kernel class
  std::size_t incompatible_sources = 0;  ///< successful records of another class (or whose DAG cannot be rebuilt)
  std::size_t skipped_records = 0;       ///< records that failed, have no cost or no task: never sources
  std::size_t adapted = 0;               ///< candidates returned
  std::size_t refused = 0;               ///< sources whose adapted steps did not apply or lower
  std::size_t duplicates = 0;            ///< sources whose steps (recorded or adapted) repeat an earlier one
  std::string first_refusal;             ///< "key: why" of the first refused source
  std::string first_incompatibility;     ///< "key: why" of the first incompatible workload
};

namespace transfer_detail {

/// The operator class of a workload family (see the header comment); "" for no family.
[[nodiscard]] inline std::string kernel_class(std::string_view family) {
  struct Alias {
    std::string_view family, klass;
  };
  static constexpr Alias aliases[] = {
      {"matmul_layer", "matmul"},         {"matmul_add", "matmul"},
      {"crosstune.dense", "matmul"},      {"conv2d_layer", "conv2d"},
      {"crosstune.conv2d", "conv2d"},     {"depthwise_conv2d_layer", "depthwise_conv2d"},
      {"crosstune.depthwise_conv2d", "depthwise_conv2d"},
      {"pool_layer", "pool2d"},           {"crosstune.pool2d", "pool2d"},
      {"relu_layer", "unary"},            {"crosstune.unary", "unary"},
      {"reduction_layer", "reduce"},      {"crosstune.reduce", "reduce"},
  };
  for (const Alias& a : aliases)
    if (a.family == family) return std::string(a.klass);
  return std::string(family);
}

/// The axes (as a bit set; axes past 63 share the last bit) an index expression depends on.
[[nodiscard]] inline std::uint64_t axes_used(const ir::ExprPool& pool, ir::ExprId root) {
  std::uint64_t mask = 0;
  pool.post_order(root, [&](ir::ExprId id) {
    const ir::ExprNode& n = pool[id];
    if (n.op == ir::ExprOp::var && n.integer >= 0) mask |= std::uint64_t{1} << std::min<std::int64_t>(n.integer, 63);
  });
  return mask;
}

/// One load of a stage's body: the producer's stage index and the axes its indices use.
struct Access {
  std::int64_t producer = -1;
  std::uint64_t axes = 0;
  friend bool operator==(const Access&, const Access&) = default;
};

[[nodiscard]] inline std::vector<Access> accesses(const ir::ComputeDag& dag, const ir::Operation& op) {
  std::vector<Access> out;
  if (op.placeholder || op.body == ir::no_expr) return out;
  op.pool.post_order(op.body, [&](ir::ExprId id) {
    const ir::ExprNode& n = op.pool[id];
    if (n.op != ir::ExprOp::load) return;
    Access a;
    a.producer = dag.find(static_cast<std::int32_t>(n.integer));
    for (ir::ExprId arg : op.pool.args(id)) a.axes |= axes_used(op.pool, arg);
    out.push_back(a);
  });
  return out;
}

[[nodiscard]] inline std::string axes_text(const ir::Operation& op, std::uint64_t mask) {
  std::string out = "{";
  const std::size_t n = op.axes.size() + op.reduce_axes.size();
  bool first = true;
  for (std::size_t i = 0; i < 64; ++i) {
    if (((mask >> i) & 1u) == 0) continue;
    if (!first) out += ", ";
    first = false;
    if (i < op.axes.size()) out += op.axes[i].name;
    else if (i < n) out += op.reduce_axes[i - op.axes.size()].name;
    else {
      out += "axis ";
      out += std::to_string(i);
    }
  }
  return out + "}";
}

[[nodiscard]] inline Unexpected differ(const std::string& why) {
  return unexpected(Error(ErrorKind::invalid_argument, "not one kernel class: " + why));
}

/// The stage structure check of same_kernel_class (the families are checked by the caller).
[[nodiscard]] inline Expected<void> same_structure(const ir::ComputeDag& a, const ir::ComputeDag& b) {
  if (a.size() != b.size())
    return differ("the DAGs have " + std::to_string(a.size()) + " and " + std::to_string(b.size()) + " stages");
  for (std::size_t s = 0; s < a.size(); ++s) {
    const ir::Operation& x = a.op(s);
    const ir::Operation& y = b.op(s);
    std::string stage = "stage ";
    stage += std::to_string(s);
    stage += " ('" + x.name + "' and '" + y.name + "')";
    if (x.placeholder != y.placeholder) return differ(stage + " is a placeholder in one DAG only");
    if (x.axes.size() != y.axes.size())
      return differ(stage + " has " + std::to_string(x.axes.size()) + " and " + std::to_string(y.axes.size()) + " axes");
    if (x.reduce_axes.size() != y.reduce_axes.size())
      return differ(stage + " has " + std::to_string(x.reduce_axes.size()) + " and " + std::to_string(y.reduce_axes.size()) +
                    " reduction axes");
    if (x.reduce != y.reduce)
      return differ(stage + " reduces by " + std::string(ir::to_string(x.reduce)) + " and by " + std::string(ir::to_string(y.reduce)));
    if (a.is_output(x.id) != b.is_output(y.id)) return differ(stage + " is an output of one DAG only");
    const std::vector<Access> ax = accesses(a, x), ay = accesses(b, y);
    if (ax.size() != ay.size())
      return differ(stage + " loads " + std::to_string(ax.size()) + " and " + std::to_string(ay.size()) + " times");
    for (std::size_t i = 0; i < ax.size(); ++i) {
      if (ax[i].producer != ay[i].producer)
        return differ(stage + ": load " + std::to_string(i) + " reads stage " + std::to_string(ax[i].producer) + " and stage " +
                      std::to_string(ay[i].producer));
      if (ax[i].axes != ay[i].axes)
        return differ(stage + ": load " + std::to_string(i) + " of stage " + std::to_string(ax[i].producer) + " is indexed by " +
                      axes_text(x, ax[i].axes) + " and by " + axes_text(y, ay[i].axes) + " (the axes play other roles)");
    }
  }
  return {};
}

/// The largest divisor of n (≥ 1) that is at most limit (≥ 1).
[[nodiscard]] inline std::int64_t largest_divisor_at_most(std::int64_t n, std::int64_t limit) noexcept {
  if (limit >= n) return n;
  if (n % limit == 0) return limit;
  std::int64_t best = 1;
  for (std::int64_t i = 1; i <= n / i; ++i) {
    if (n % i != 0) continue;
    if (i <= limit) best = std::max(best, i);
    if (n / i <= limit) best = std::max(best, n / i);
  }
  return best;
}

/// Adapts split `lengths` (outermost first) to a loop of `extent` by the rule of the header comment;
/// gives the number of lengths replaced.
inline std::size_t adapt_lengths(std::int64_t extent, std::vector<std::int64_t>& lengths, bool inner_to_outer) {
  std::size_t changed = 0;
  std::int64_t left = extent;
  const std::size_t n = lengths.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::int64_t& length = lengths[inner_to_outer ? n - 1 - k : k];
    const std::int64_t kept = length >= 1 && left % length == 0 ? length : largest_divisor_at_most(left, std::max<std::int64_t>(1, length));
    if (kept != length) ++changed;
    length = kept;
    left /= kept;
  }
  return changed;
}

/// Appends a copy of `step` to `out`.
inline void append_copy(StepSequence& out, StepView step) {
  const auto& d = step.data();
  switch (step.kind()) {
    case StepKind::annotation: out.add_annotation(d.stage_id, d.iter_id, d.annotation); break;
    case StepKind::fuse: out.add_fuse(d.stage_id, step.list()); break;
    case StepKind::pragma: out.add_pragma(d.stage_id, d.iter_id, step.text()); break;
    case StepKind::reorder: out.add_reorder(d.stage_id, step.list()); break;
    case StepKind::split: out.add_split(d.stage_id, d.iter_id, d.first, step.list(), d.flag); break;
    case StepKind::follow_split: out.add_follow_split(d.stage_id, d.iter_id, d.first, d.second); break;
    case StepKind::follow_fused_split: out.add_follow_fused_split(d.stage_id, d.iter_id, step.list(), d.first, d.flag); break;
    case StepKind::storage_align: out.add_storage_align(d.stage_id, d.iter_id, d.first, d.second); break;
    case StepKind::compute_at: out.add_compute_at(d.stage_id, d.iter_id, d.first); break;
    case StepKind::compute_inline: out.add_compute_inline(d.stage_id); break;
    case StepKind::compute_root: out.add_compute_root(d.stage_id); break;
    case StepKind::cache_read: out.add_cache_read(d.stage_id, step.text(), step.list()); break;
    case StepKind::cache_write: out.add_cache_write(d.stage_id, step.text()); break;
    case StepKind::rfactor: out.add_rfactor(d.stage_id, d.iter_id, d.first); break;
  }
}

/// `source` replayed onto `target` with its splits adapted; the error says which step was refused, or
/// why the result does not lower.
[[nodiscard]] inline Expected<StepSequence> adapt(const StepSequence& source, const std::shared_ptr<const ir::ComputeDag>& target,
                                                  bool keep_lengths, std::size_t& changed) {
  schedule::State state(target);
  StepSequence out;
  out.reserve(source.size(), source.size() * 4, 32);
  std::vector<std::int64_t> lengths;
  changed = 0;
  for (StepView step : source) {
    const auto& d = step.data();
    bool copied = false;
    if (step.kind() == StepKind::split && d.stage_id >= 0 && static_cast<std::size_t>(d.stage_id) < state.size()) {
      const schedule::Stage& stage = state.stage(static_cast<std::size_t>(d.stage_id));
      if (d.iter_id >= 0 && static_cast<std::size_t>(d.iter_id) < stage.iters.size()) {
        const std::int64_t extent = stage.extent(static_cast<std::size_t>(d.iter_id));
        lengths.assign(step.list().begin(), step.list().end());
        if (extent > 0 && !keep_lengths) changed += adapt_lengths(extent, lengths, d.flag);
        out.add_split(d.stage_id, d.iter_id, extent > 0 ? extent : 0, lengths, d.flag);
        copied = true;
      }
    }
    if (!copied) append_copy(out, step);  // an invalid split too: the state refuses it with its reason
    if (auto ok = state.apply(out[out.size() - 1]); !ok) return unexpected(std::move(ok).error());
  }
  if (auto nest = codegen::lower(state); !nest) return unexpected(std::move(nest).error());
  return out;
}

/// A set of step sequences (hash buckets, confirmed by equality).
class SeenSteps {
 public:
  /// True if `steps` was new (and is now held).
  bool insert(const StepSequence& steps) {
    auto& bucket = buckets_[hash_value(steps)];
    for (const StepSequence* s : bucket)
      if (*s == steps) return false;
    held_.push_back(std::make_unique<StepSequence>(steps));
    bucket.push_back(held_.back().get());
    return true;
  }

 private:
  std::unordered_map<std::uint64_t, std::vector<const StepSequence*>> buckets_;
  std::vector<std::unique_ptr<StepSequence>> held_;
};

}  // namespace transfer_detail

/// Whether two DAGs are of one kernel class (one operator class and one stage structure, see the header
/// comment), and if not, why.
[[nodiscard]] inline Expected<void> same_kernel_class(const ir::ComputeDag& a, const ir::ComputeDag& b) {
  const std::string family_a = ir::workload_family(a.workload_key()), family_b = ir::workload_family(b.workload_key());
  if (family_a.empty() || family_b.empty()) {
    const std::string& key = family_a.empty() ? a.workload_key() : b.workload_key();
    return transfer_detail::differ("workload key " + key.substr(0, 80) + " names no operator family (a hashed or unparsable key)");
  }
  const std::string class_a = transfer_detail::kernel_class(family_a), class_b = transfer_detail::kernel_class(family_b);
  if (class_a != class_b)
    return transfer_detail::differ("the operators differ: " + class_a + " (" + family_a + ") and " + class_b + " (" + family_b + ")");
  return transfer_detail::same_structure(a, b);
}

/// Schedules for `target` transplanted from `tuned` records (any tasks; incompatible ones are skipped),
/// best first; see the header comment for the rules.
[[nodiscard]] inline std::vector<TransferCandidate> transfer_schedules(const ir::ComputeDag& target, std::span<const Record> tuned,
                                                                       TransferOptions options = {}, TransferReport* report = nullptr) {
  TransferReport local;
  TransferReport& rep = report != nullptr ? *report : local;
  rep = TransferReport{};
  const auto target_dag = std::make_shared<const ir::ComputeDag>(target);

  // Successful records by workload key, in the order the keys first occur.
  struct Source {
    std::size_t record;
    double seconds;
  };
  struct Workload {
    std::string key;
    std::vector<Source> records;
    bool compatible = false;
    double flops_ratio = 1;
  };
  std::vector<Workload> workloads;
  std::map<std::string, std::size_t, std::less<>> index_of;
  for (std::size_t i = 0; i < tuned.size(); ++i) {
    const Record& r = tuned[i];
    const double seconds = r.result.mean_cost_seconds();
    if (!r.task || !r.result.ok() || !std::isfinite(seconds) || seconds < 0) {
      ++rep.skipped_records;
      continue;
    }
    auto it = index_of.find(r.task->workload_key);
    if (it == index_of.end()) {
      it = index_of.emplace(r.task->workload_key, workloads.size()).first;
      workloads.push_back({r.task->workload_key, {}, false, 1});
    }
    workloads[it->second].records.push_back({i, seconds});
  }

  // Compatibility per workload, with the first reason one is not.
  schedule::Replayer replayer;
  for (Workload& w : workloads) {
    auto dag = replayer.dag(w.key);
    Expected<void> same = dag ? same_kernel_class(target, **dag) : Expected<void>(unexpected(dag.error()));
    if (!same) {
      rep.incompatible_sources += w.records.size();
      if (rep.first_incompatibility.empty()) rep.first_incompatibility = w.key + ": " + same.error().describe();
      continue;
    }
    w.compatible = true;
    rep.compatible_sources += w.records.size();
    const double source_flops = static_cast<double>((*dag)->flops());
    w.flops_ratio = source_flops > 0 ? static_cast<double>(target.flops()) / source_flops : 1.0;
  }

  // The best distinct records of each compatible workload, then one order over all of them.
  struct Ranked {
    const Workload* workload;
    Source source;
    double relative;
    double distance;
  };
  std::vector<Ranked> ranked;
  for (Workload& w : workloads) {
    if (!w.compatible) continue;
    std::stable_sort(w.records.begin(), w.records.end(), [](const Source& x, const Source& y) { return x.seconds < y.seconds; });
    const double best = w.records.front().seconds;
    const double distance = w.flops_ratio > 0 && std::isfinite(w.flops_ratio) ? std::abs(std::log(w.flops_ratio))
                                                                               : std::numeric_limits<double>::infinity();
    transfer_detail::SeenSteps distinct;
    std::size_t taken = 0;
    for (const Source& s : w.records) {
      if (options.sources_per_key != 0 && taken == options.sources_per_key) break;
      if (!distinct.insert(tuned[s.record].steps)) {
        ++rep.duplicates;
        continue;
      }
      const double relative = best > 0 ? s.seconds / best : (s.seconds > 0 ? std::numeric_limits<double>::infinity() : 1.0);
      ranked.push_back({&w, s, relative, distance});
      ++taken;
    }
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& x, const Ranked& y) {
    if (x.relative != y.relative) return x.relative < y.relative;
    if (x.distance != y.distance) return x.distance < y.distance;
    return x.workload->key < y.workload->key;
  });

  // Adapt in that order until enough candidates are found.
  std::vector<TransferCandidate> out;
  transfer_detail::SeenSteps returned;
  for (const Ranked& r : ranked) {
    if (options.per_task != 0 && out.size() == options.per_task) break;
    std::size_t changed = 0;
    auto adapted = transfer_detail::adapt(tuned[r.source.record].steps, target_dag, options.keep_lengths, changed);
    if (!adapted) {
      ++rep.refused;
      if (rep.first_refusal.empty()) rep.first_refusal = r.workload->key + ": " + adapted.error().describe();
      continue;
    }
    if (!returned.insert(*adapted)) {
      ++rep.duplicates;
      continue;
    }
    TransferCandidate c;
    c.steps = std::move(*adapted);
    c.source_key = r.workload->key;
    c.source_seconds = r.source.seconds;
    c.source_relative = r.relative;
    c.flops_ratio = r.workload->flops_ratio;
    c.source_record = r.source.record;
    c.changed_lengths = changed;
    out.push_back(std::move(c));
  }
  rep.adapted = out.size();
  return out;
}

}  // namespace crosstune::search
