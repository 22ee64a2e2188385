// crosstune/core/task.hpp — what was tuned: a workload on a target, as stored in Ansor records.
//
// A Task is the first element of a record's "i" array: workload key, target, the hardware parameters
// the search assumed, target host, layout-rewrite option and the names of extra task inputs. Logs of
// older Ansor versions store only a prefix of these fields; `fields_in_log` remembers how many were
// present so that writing the record back reproduces its shape.
//
// Records of one log usually share their task, so the reader hands out one shared, immutable Task per
// distinct task (std::shared_ptr<const Task>).
//
//   const Task& task = *record.task;
//   task.workload_key;   // "[\"conv2d_layer\", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]]"
//   task.target.kind();  // "cuda"
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "crosstune/core/target.hpp"

namespace crosstune {

/// The eight hardware parameters Ansor stores in a record, in its order. -1 or 0 mean "not set".
/// crosstune::hw::HardwareParams is the full descriptor; this is only what the log carries.
struct RecordedHardwareParams {
  std::int64_t num_cores = 0;
  std::int64_t vector_unit_bytes = 0;
  std::int64_t cache_line_bytes = 0;
  std::int64_t max_shared_memory_per_block = 0;
  std::int64_t max_local_memory_per_block = 0;
  std::int64_t max_threads_per_block = 0;
  std::int64_t max_vthread_extent = 0;
  std::int64_t warp_size = 0;

  static constexpr std::size_t field_count = 8;

  /// The fields in log order.
  [[nodiscard]] constexpr std::array<std::int64_t, field_count> to_array() const noexcept {
    return {num_cores,
            vector_unit_bytes,
            cache_line_bytes,
            max_shared_memory_per_block,
            max_local_memory_per_block,
            max_threads_per_block,
            max_vthread_extent,
            warp_size};
  }
  [[nodiscard]] static constexpr RecordedHardwareParams from_array(
      const std::array<std::int64_t, field_count>& v) noexcept {
    return {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]};
  }

  friend bool operator==(const RecordedHardwareParams&, const RecordedHardwareParams&) = default;
};

/// Layout-rewrite option of a task (Ansor's LayoutRewriteOption numbering).
enum class LayoutRewriteOption : std::uint8_t {
  no_rewrite = 0,
  insert_transform_stage = 1,
  rewrite_for_pre_transformed = 2,
};

struct Task {
  /// How many of the six task fields a log line holds in each Ansor log version:
  /// v0.2 has 2 (key, target), v0.3 has 3 (+ hardware params), v0.5 has 5 (+ target host,
  /// layout rewrite), v0.6 has all 6 (+ task input names).
  static constexpr int min_fields = 2;
  static constexpr int max_fields = 6;

  std::string workload_key;  ///< Ansor's workload key: a JSON array as a string (name or hash, then args)
  Target target;
  RecordedHardwareParams hardware_params{};  ///< meaningful when fields_in_log >= 3
  std::string target_host;                   ///< meaningful when fields_in_log >= 4
  LayoutRewriteOption layout_rewrite = LayoutRewriteOption::no_rewrite;  ///< fields_in_log >= 5
  std::vector<std::string> task_input_names;                             ///< fields_in_log >= 6
  int fields_in_log = max_fields;  ///< how many task fields the record's log line has

  [[nodiscard]] bool has_hardware_params() const noexcept { return fields_in_log >= 3; }

  friend bool operator==(const Task&, const Task&) = default;
};

}  // namespace crosstune
