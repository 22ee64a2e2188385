// crosstune/core/step.hpp — Ansor transform steps and the step sequence that describes one schedule.
//
// A tensor program candidate is the sequence of transform steps applied to the default schedule of
// its compute DAG (split, reorder, fuse, annotate, compute_at, cache_read, ...). Every step kind of the
// Ansor log format is represented with all its fields, so sequences read from logs are written back
// without loss.
//
// Storage is flat: steps are fixed-size values and their variable-length parts (split lengths, fused
// iterator ids, pragma and scope strings) live in two pools owned by the sequence. A record with forty
// steps costs three allocations, not forty, which is what makes reading millions of records fast.
//
//   StepSequence steps;
//   steps.add_split(/*stage_id=*/2, /*iter_id=*/0, /*extent=*/1024, std::array<std::int64_t, 3>{2, 1, 4},
//                   /*inner_to_outer=*/true);
//   steps.add_annotation(2, 0, IteratorAnnotation::parallel);
//   for (StepView step : steps)
//     if (step.kind() == StepKind::split) use(step.lengths());
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace crosstune {

/// The transform step kinds of the Ansor log format, in the order of their record prefixes below.
enum class StepKind : std::uint8_t {
  annotation,          ///< "AN": annotate an iterator (unroll, vectorize, parallel, bind to a thread axis)
  fuse,                ///< "FU": fuse consecutive iterators
  pragma,              ///< "PR": attach a pragma such as "auto_unroll_max_step$16"
  reorder,             ///< "RE": reorder the iterators of a stage
  split,               ///< "SP": split an iterator by a list of lengths
  follow_split,        ///< "FSP": split like an earlier split step
  follow_fused_split,  ///< "FFSP": split like the fused product of earlier split steps
  storage_align,       ///< "SA": align the storage of a stage
  compute_at,          ///< "CA": compute a stage at an iterator of another stage
  compute_inline,      ///< "CI": inline a stage into its consumers
  compute_root,        ///< "CR": compute a stage at the root
  cache_read,          ///< "CHR": add a cache-read stage
  cache_write,         ///< "CHW": add a cache-write stage
  rfactor,             ///< "RF": factor a reduction iterator into a new stage
};

inline constexpr std::size_t step_kind_count = 14;

/// The record prefix of each kind, indexed by StepKind.
inline constexpr std::array<std::string_view, step_kind_count> step_record_prefixes = {
    "AN", "FU", "PR", "RE", "SP", "FSP", "FFSP", "SA", "CA", "CI", "CR", "CHR", "CHW", "RF"};

[[nodiscard]] constexpr std::string_view record_prefix(StepKind kind) noexcept {
  return step_record_prefixes[static_cast<std::size_t>(kind)];
}

/// The StepKind written as `prefix` in logs, or nullopt for an unknown prefix.
[[nodiscard]] constexpr std::optional<StepKind> step_kind_from_prefix(std::string_view prefix) noexcept {
  for (std::size_t i = 0; i < step_kind_count; ++i)
    if (step_record_prefixes[i] == prefix) return static_cast<StepKind>(i);
  return std::nullopt;
}

/// Ansor's IteratorAnnotation, with its numbering (part of the log format).
enum class IteratorAnnotation : std::uint8_t {
  none = 0,
  unroll = 1,
  vectorize = 2,
  parallel = 3,
  vthread = 4,
  block_x = 5,
  thread_x = 6,
  block_y = 7,
  thread_y = 8,
  block_z = 9,
  thread_z = 10,
  tensorize = 11,
};

inline constexpr std::size_t iterator_annotation_count = 12;

inline constexpr std::array<std::string_view, iterator_annotation_count> iterator_annotation_names = {
    "none",        "unroll",     "vectorize",   "parallel",   "vthread",     "blockIdx.x",
    "threadIdx.x", "blockIdx.y", "threadIdx.y", "blockIdx.z", "threadIdx.z", "tensorize"};

[[nodiscard]] constexpr std::string_view to_string(IteratorAnnotation annotation) noexcept {
  const auto index = static_cast<std::size_t>(annotation);
  return index < iterator_annotation_count ? iterator_annotation_names[index] : std::string_view{"invalid"};
}

[[nodiscard]] constexpr std::optional<IteratorAnnotation> iterator_annotation_from_number(
    std::int64_t number) noexcept {
  if (number < 0 || number >= static_cast<std::int64_t>(iterator_annotation_count)) return std::nullopt;
  return static_cast<IteratorAnnotation>(number);
}

/// Thrown when a step accessor is used on a step of another kind (a programming error).
class StepKindMismatch : public std::logic_error {
 public:
  StepKindMismatch(StepKind actual, std::string_view field)
      : std::logic_error(std::string("step field '") + std::string(field) + "' read from a " +
                         std::string(record_prefix(actual)) + " step, which has no such field") {}
};

class StepSequence;

namespace detail {
/// The fixed-size part of one step. Which of `first`/`second`/`list`/`text` a kind uses is documented on
/// the add_* builders of StepSequence; StepView gives them their names.
struct StepData {
  StepKind kind = StepKind::annotation;
  bool flag = false;  // SP inner_to_outer, FFSP factor_or_nparts
  IteratorAnnotation annotation = IteratorAnnotation::none;
  std::int64_t stage_id = 0;
  std::int64_t iter_id = 0;  // CA: target_stage_id
  std::int64_t first =
      0;  // SP extent, FSP src_step_id, FFSP level, SA factor, CA target_iter_id, RF factor_iter_id
  std::int64_t second = 0;  // FSP n_split, SA offset
  std::uint32_t list_offset = 0, list_size = 0;
  std::uint32_t text_offset = 0, text_size = 0;
};
}  // namespace detail

/// A read-only view of one step of a StepSequence: named, kind-checked accessors.
class StepView {
 public:
  StepView(const detail::StepData& data, const StepSequence& owner) noexcept : data_(&data), owner_(&owner) {}

  [[nodiscard]] StepKind kind() const noexcept { return data_->kind; }
  [[nodiscard]] std::int64_t stage_id() const noexcept { return data_->stage_id; }

  /// The iterator the step acts on (AN, PR, SP, FSP, FFSP, SA, RF).
  [[nodiscard]] std::int64_t iter_id() const {
    check({StepKind::annotation, StepKind::pragma, StepKind::split, StepKind::follow_split,
           StepKind::follow_fused_split, StepKind::storage_align, StepKind::rfactor},
          "iter_id");
    return data_->iter_id;
  }
  [[nodiscard]] IteratorAnnotation annotation() const {
    check({StepKind::annotation}, "annotation");
    return data_->annotation;
  }
  /// SP: extent of the split iterator (0 when the log did not know it).
  [[nodiscard]] std::int64_t extent() const {
    check({StepKind::split}, "extent");
    return data_->first;
  }
  /// SP: inner lengths of the split, outermost first.
  [[nodiscard]] std::span<const std::int64_t> lengths() const;
  [[nodiscard]] bool inner_to_outer() const {
    check({StepKind::split}, "inner_to_outer");
    return data_->flag;
  }
  /// FSP: the split step whose lengths are followed.
  [[nodiscard]] std::int64_t src_step_id() const {
    check({StepKind::follow_split}, "src_step_id");
    return data_->first;
  }
  /// FSP: how many parts to split into.
  [[nodiscard]] std::int64_t n_split() const {
    check({StepKind::follow_split}, "n_split");
    return data_->second;
  }
  /// FFSP: the split steps whose fused lengths are followed.
  [[nodiscard]] std::span<const std::int64_t> src_step_ids() const;
  [[nodiscard]] std::int64_t level() const {
    check({StepKind::follow_fused_split}, "level");
    return data_->first;
  }
  [[nodiscard]] bool factor_or_nparts() const {
    check({StepKind::follow_fused_split}, "factor_or_nparts");
    return data_->flag;
  }
  /// FU: the iterators fused, in order.
  [[nodiscard]] std::span<const std::int64_t> fused_ids() const;
  /// RE: the new order of iterators.
  [[nodiscard]] std::span<const std::int64_t> after_ids() const;
  /// PR: the pragma, e.g. "auto_unroll_max_step$16".
  [[nodiscard]] std::string_view pragma_type() const;
  /// SA: alignment factor and offset.
  [[nodiscard]] std::int64_t factor() const {
    check({StepKind::storage_align}, "factor");
    return data_->first;
  }
  [[nodiscard]] std::int64_t offset() const {
    check({StepKind::storage_align}, "offset");
    return data_->second;
  }
  /// CA: the stage and iterator the stage is computed at.
  [[nodiscard]] std::int64_t target_stage_id() const {
    check({StepKind::compute_at}, "target_stage_id");
    return data_->iter_id;
  }
  [[nodiscard]] std::int64_t target_iter_id() const {
    check({StepKind::compute_at}, "target_iter_id");
    return data_->first;
  }
  /// CHR/CHW: memory scope of the cache ("shared", "local", "global").
  [[nodiscard]] std::string_view scope_name() const;
  /// CHR: the stages that read through the cache.
  [[nodiscard]] std::span<const std::int64_t> reader_stage_ids() const;
  /// RF: the iterator of the new factored stage.
  [[nodiscard]] std::int64_t factor_iter_id() const {
    check({StepKind::rfactor}, "factor_iter_id");
    return data_->first;
  }

  /// The raw fixed part, for serialisers and feature extractors that switch on kind themselves.
  [[nodiscard]] const detail::StepData& data() const noexcept { return *data_; }
  /// The step's integer list (lengths, fused/after/src/reader ids) without a kind check; empty if none.
  [[nodiscard]] std::span<const std::int64_t> list() const noexcept;
  /// The step's string (pragma or scope) without a kind check; empty if none.
  [[nodiscard]] std::string_view text() const noexcept;

 private:
  void check(std::initializer_list<StepKind> allowed, std::string_view field) const {
    for (StepKind k : allowed)
      if (k == data_->kind) return;
    throw StepKindMismatch(data_->kind, field);
  }
  const detail::StepData* data_;
  const StepSequence* owner_;
};

/// The ordered transform steps of one schedule (Ansor's `transform_steps`), with flat storage.
class StepSequence {
 public:
  StepSequence() = default;

  [[nodiscard]] std::size_t size() const noexcept { return steps_.size(); }
  [[nodiscard]] bool empty() const noexcept { return steps_.empty(); }
  [[nodiscard]] StepView operator[](std::size_t i) const noexcept { return {steps_[i], *this}; }
  [[nodiscard]] StepView at(std::size_t i) const {
    if (i >= steps_.size()) throw std::out_of_range("StepSequence::at: index out of range");
    return (*this)[i];
  }

  class const_iterator {
   public:
    using value_type = StepView;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    const_iterator() = default;
    const_iterator(const StepSequence* owner, std::size_t index) : owner_(owner), index_(index) {}
    StepView operator*() const { return (*owner_)[index_]; }
    const_iterator& operator++() {
      ++index_;
      return *this;
    }
    const_iterator operator++(int) {
      auto copy = *this;
      ++index_;
      return copy;
    }
    bool operator==(const const_iterator& other) const = default;

   private:
    const StepSequence* owner_ = nullptr;
    std::size_t index_ = 0;
  };
  [[nodiscard]] const_iterator begin() const noexcept { return {this, 0}; }
  [[nodiscard]] const_iterator end() const noexcept { return {this, steps_.size()}; }

  void clear() noexcept {
    steps_.clear();
    lists_.clear();
    text_.clear();
  }
  /// Removes the last step (and its pooled values); no effect on an empty sequence.
  void pop_back() noexcept {
    if (steps_.empty()) return;
    const detail::StepData& last = steps_.back();
    lists_.resize(last.list_offset);
    text_.resize(last.text_offset);
    steps_.pop_back();
  }
  void reserve(std::size_t steps, std::size_t list_values = 0, std::size_t text_bytes = 0) {
    steps_.reserve(steps);
    lists_.reserve(list_values);
    text_.reserve(text_bytes);
  }

  // Builders, one per kind, with the fields in the order the log format writes them.
  void add_annotation(std::int64_t stage_id, std::int64_t iter_id, IteratorAnnotation annotation) {
    auto& s = push(StepKind::annotation, stage_id);
    s.iter_id = iter_id;
    s.annotation = annotation;
  }
  void add_fuse(std::int64_t stage_id, std::span<const std::int64_t> fused_ids) {
    push(StepKind::fuse, stage_id);
    append_list(fused_ids);
  }
  void add_pragma(std::int64_t stage_id, std::int64_t iter_id, std::string_view pragma_type) {
    push(StepKind::pragma, stage_id).iter_id = iter_id;
    append_text(pragma_type);
  }
  void add_reorder(std::int64_t stage_id, std::span<const std::int64_t> after_ids) {
    push(StepKind::reorder, stage_id);
    append_list(after_ids);
  }
  void add_split(std::int64_t stage_id, std::int64_t iter_id, std::int64_t extent,
                 std::span<const std::int64_t> lengths, bool inner_to_outer) {
    auto& s = push(StepKind::split, stage_id);
    s.iter_id = iter_id;
    s.first = extent;
    s.flag = inner_to_outer;
    append_list(lengths);
  }
  void add_follow_split(std::int64_t stage_id, std::int64_t iter_id, std::int64_t src_step_id,
                        std::int64_t n_split) {
    auto& s = push(StepKind::follow_split, stage_id);
    s.iter_id = iter_id;
    s.first = src_step_id;
    s.second = n_split;
  }
  void add_follow_fused_split(std::int64_t stage_id, std::int64_t iter_id,
                              std::span<const std::int64_t> src_step_ids, std::int64_t level,
                              bool factor_or_nparts) {
    auto& s = push(StepKind::follow_fused_split, stage_id);
    s.iter_id = iter_id;
    s.first = level;
    s.flag = factor_or_nparts;
    append_list(src_step_ids);
  }
  void add_storage_align(std::int64_t stage_id, std::int64_t iter_id, std::int64_t factor,
                         std::int64_t offset) {
    auto& s = push(StepKind::storage_align, stage_id);
    s.iter_id = iter_id;
    s.first = factor;
    s.second = offset;
  }
  void add_compute_at(std::int64_t stage_id, std::int64_t target_stage_id, std::int64_t target_iter_id) {
    auto& s = push(StepKind::compute_at, stage_id);
    s.iter_id = target_stage_id;
    s.first = target_iter_id;
  }
  void add_compute_inline(std::int64_t stage_id) { push(StepKind::compute_inline, stage_id); }
  void add_compute_root(std::int64_t stage_id) { push(StepKind::compute_root, stage_id); }
  void add_cache_read(std::int64_t stage_id, std::string_view scope_name,
                      std::span<const std::int64_t> reader_stage_ids) {
    push(StepKind::cache_read, stage_id);
    append_text(scope_name);
    append_list(reader_stage_ids);
  }
  void add_cache_write(std::int64_t stage_id, std::string_view scope_name) {
    push(StepKind::cache_write, stage_id);
    append_text(scope_name);
  }
  void add_rfactor(std::int64_t stage_id, std::int64_t iter_id, std::int64_t factor_iter_id) {
    auto& s = push(StepKind::rfactor, stage_id);
    s.iter_id = iter_id;
    s.first = factor_iter_id;
  }

  /// Equal when the steps have equal kinds and fields (pool layout does not matter).
  friend bool operator==(const StepSequence& a, const StepSequence& b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const auto& x = a.steps_[i];
      const auto& y = b.steps_[i];
      if (x.kind != y.kind || x.flag != y.flag || x.annotation != y.annotation || x.stage_id != y.stage_id ||
          x.iter_id != y.iter_id || x.first != y.first || x.second != y.second)
        return false;
      const auto lx = a[i].list();
      const auto ly = b[i].list();
      if (!std::equal(lx.begin(), lx.end(), ly.begin(), ly.end())) return false;
      if (a[i].text() != b[i].text()) return false;
    }
    return true;
  }

  /// FNV-1a over every field of every step: equal sequences (operator==) hash equal, whatever their
  /// pool layout. The key of "measured already" sets (the Tuner, transfer-tuning, resume).
  [[nodiscard]] friend std::uint64_t hash_value(const StepSequence& steps) noexcept {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&h](std::uint64_t v) {
      for (int i = 0; i < 8; ++i) {
        h ^= (v >> (8 * i)) & 0xffu;
        h *= 1099511628211ull;
      }
    };
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const detail::StepData& d = steps.steps_[i];
      mix(static_cast<std::uint64_t>(d.kind));
      mix(static_cast<std::uint64_t>(d.flag));
      mix(static_cast<std::uint64_t>(d.annotation));
      mix(static_cast<std::uint64_t>(d.stage_id));
      mix(static_cast<std::uint64_t>(d.iter_id));
      mix(static_cast<std::uint64_t>(d.first));
      mix(static_cast<std::uint64_t>(d.second));
      const auto list = steps[i].list();
      mix(list.size());
      for (auto v : list) mix(static_cast<std::uint64_t>(v));
      for (char c : steps[i].text()) mix(static_cast<unsigned char>(c));
      mix(0xfeu);  // ends the step: a list value cannot pass for the next step's kind
    }
    return h;
  }

 private:
  friend class StepView;

  detail::StepData& push(StepKind kind, std::int64_t stage_id) {
    auto& s = steps_.emplace_back();
    s.kind = kind;
    s.stage_id = stage_id;
    s.list_offset = static_cast<std::uint32_t>(lists_.size());
    s.text_offset = static_cast<std::uint32_t>(text_.size());
    return s;
  }
  void append_list(std::span<const std::int64_t> values) {
    steps_.back().list_offset = static_cast<std::uint32_t>(lists_.size());
    steps_.back().list_size = static_cast<std::uint32_t>(values.size());
    lists_.insert(lists_.end(), values.begin(), values.end());
  }
  void append_text(std::string_view text) {
    steps_.back().text_offset = static_cast<std::uint32_t>(text_.size());
    steps_.back().text_size = static_cast<std::uint32_t>(text.size());
    text_.append(text);
  }

  std::vector<detail::StepData> steps_;
  std::vector<std::int64_t> lists_;
  std::string text_;
};

inline std::span<const std::int64_t> StepView::list() const noexcept {
  return {owner_->lists_.data() + data_->list_offset, data_->list_size};
}
inline std::string_view StepView::text() const noexcept {
  return {owner_->text_.data() + data_->text_offset, data_->text_size};
}
inline std::span<const std::int64_t> StepView::lengths() const {
  check({StepKind::split}, "lengths");
  return list();
}
inline std::span<const std::int64_t> StepView::src_step_ids() const {
  check({StepKind::follow_fused_split}, "src_step_ids");
  return list();
}
inline std::span<const std::int64_t> StepView::fused_ids() const {
  check({StepKind::fuse}, "fused_ids");
  return list();
}
inline std::span<const std::int64_t> StepView::after_ids() const {
  check({StepKind::reorder}, "after_ids");
  return list();
}
inline std::string_view StepView::pragma_type() const {
  check({StepKind::pragma}, "pragma_type");
  return text();
}
inline std::string_view StepView::scope_name() const {
  check({StepKind::cache_read, StepKind::cache_write}, "scope_name");
  return text();
}
inline std::span<const std::int64_t> StepView::reader_stage_ids() const {
  check({StepKind::cache_read}, "reader_stage_ids");
  return list();
}

}  // namespace crosstune

/// StepSequence in unordered containers: hash_value.
template <>
struct std::hash<crosstune::StepSequence> {
  std::size_t operator()(const crosstune::StepSequence& steps) const noexcept { return static_cast<std::size_t>(hash_value(steps)); }
};
