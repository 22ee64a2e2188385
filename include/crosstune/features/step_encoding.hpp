// crosstune/features/step_encoding.hpp — one schedule step as a fixed-length float vector.
//
// The column layout (version step_encoding_version) is the contract between the extractor and trained
// models; docs/features.md lists every column. Sizes and ids are log2(1 + x) scaled and divided by a
// constant so typical values fall in [0, 1]; kinds, annotations and scopes are one-hot.
//
// encode_step() writes into a caller-provided row and allocates nothing; it is the function the CUDA path
// will share (plain arithmetic on the step's numbers).
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crosstune/core/step.hpp"

namespace crosstune::features {

inline constexpr int step_encoding_version = 1;

/// Column offsets of the step encoding.
namespace step_column {
inline constexpr std::size_t kind = 0;       ///< 14: one-hot StepKind
inline constexpr std::size_t stage_id = 14;  ///< log2(1 + stage_id) / 6
inline constexpr std::size_t iter_id = 15;   ///< log2(1 + iter_id) / 6 (CA: target stage)
inline constexpr std::size_t first =
    16;  ///< log2(1 + x) / 8: FSP src_step, CA target_iter, RF factor_iter, FFSP level, SA factor
inline constexpr std::size_t second = 17;           ///< log2(1 + x) / 6: FSP n_split, SA offset
inline constexpr std::size_t extent = 18;           ///< SP: log2(1 + extent) / 24
inline constexpr std::size_t lengths = 19;          ///< 4: SP lengths, outermost first, log2(1 + x) / 12
inline constexpr std::size_t length_count = 23;     ///< SP: number of lengths / 4
inline constexpr std::size_t flag = 24;             ///< SP inner_to_outer, FFSP factor_or_nparts
inline constexpr std::size_t list_arity = 25;       ///< FU/RE/FFSP/CHR list size: log2(1 + n) / 6
inline constexpr std::size_t annotation = 26;       ///< 12: one-hot IteratorAnnotation (AN only)
inline constexpr std::size_t unroll_max_step = 38;  ///< PR auto_unroll_max_step$N: log2(1 + N) / 11
inline constexpr std::size_t other_pragma = 39;     ///< PR with any other pragma
inline constexpr std::size_t scope = 40;            ///< 3: CHR/CHW scope one-hot: shared, local, other
inline constexpr std::size_t position = 43;         ///< step index / sequence length, in [0, 1)
inline constexpr std::size_t count = 44;            ///< total columns
}  // namespace step_column

inline constexpr std::size_t step_dims = step_column::count;

namespace detail {
inline float log_scaled(std::int64_t v, float scale) noexcept {
  return v > 0 ? static_cast<float>(std::log2(1.0 + static_cast<double>(v))) / scale : 0.0f;
}
}  // namespace detail

/// Writes the encoding of `step` (the index-th of `sequence_length`) into `row[0, step_dims)`.
inline void encode_step(const StepView& step, std::size_t index, std::size_t sequence_length,
                        float* row) noexcept {
  namespace c = step_column;
  using detail::log_scaled;
  std::fill(row, row + step_dims, 0.0f);
  const auto& d = step.data();
  row[c::kind + static_cast<std::size_t>(d.kind)] = 1.0f;
  row[c::stage_id] = log_scaled(d.stage_id, 6);
  row[c::position] = sequence_length ? static_cast<float>(index) / static_cast<float>(sequence_length) : 0.0f;
  const auto list = step.list();
  switch (d.kind) {
    case StepKind::annotation:
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      row[c::annotation + static_cast<std::size_t>(d.annotation)] = 1.0f;
      break;
    case StepKind::fuse:
    case StepKind::reorder: row[c::list_arity] = log_scaled(static_cast<std::int64_t>(list.size()), 6); break;
    case StepKind::pragma: {
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      constexpr std::string_view prefix = "auto_unroll_max_step$";
      const std::string_view text = step.text();
      std::int64_t value = 0;
      if (text.starts_with(prefix) &&
          std::from_chars(text.data() + prefix.size(), text.data() + text.size(), value).ec == std::errc{}) {
        row[c::unroll_max_step] = log_scaled(value, 11);
      } else {
        row[c::other_pragma] = 1.0f;
      }
      break;
    }
    case StepKind::split:
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      row[c::extent] = log_scaled(d.first, 24);
      for (std::size_t k = 0; k < std::min<std::size_t>(list.size(), 4); ++k)
        row[c::lengths + k] = log_scaled(list[k], 12);
      row[c::length_count] = static_cast<float>(list.size()) / 4.0f;
      row[c::flag] = d.flag ? 1.0f : 0.0f;
      break;
    case StepKind::follow_split:
    case StepKind::storage_align:
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      row[c::first] = log_scaled(d.first, 8);
      row[c::second] = log_scaled(d.second, 6);
      break;
    case StepKind::follow_fused_split:
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      row[c::first] = log_scaled(d.first, 8);
      row[c::flag] = d.flag ? 1.0f : 0.0f;
      row[c::list_arity] = log_scaled(static_cast<std::int64_t>(list.size()), 6);
      break;
    case StepKind::compute_at:
    case StepKind::rfactor:
      row[c::iter_id] = log_scaled(d.iter_id, 6);
      row[c::first] = log_scaled(d.first, 8);
      break;
    case StepKind::compute_inline:
    case StepKind::compute_root: break;
    case StepKind::cache_read:
    case StepKind::cache_write: {
      const std::string_view scope = step.text();
      row[c::scope + (scope == "shared" ? 0 : scope == "local" ? 1 : 2)] = 1.0f;
      if (d.kind == StepKind::cache_read)
        row[c::list_arity] = log_scaled(static_cast<std::int64_t>(list.size()), 6);
      break;
    }
  }
}

}  // namespace crosstune::features
