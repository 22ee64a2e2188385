// crosstune/features/step_sequence_extractor.hpp — records to model input: one vector per schedule step,
// plus workload and hardware vectors (a FeatureExtractor).
//
// For B records it fills a FeatureBatch: steps [B, S, D] (each record's first S steps, encoded by
// encode_step; zero padding past its length), mask [B, S], workload [B, W] (encode_workload of its task),
// hardware [B, H] (HardwareParams::to_features). With HardwareJoin::per_step the hardware vector is
// appended to every real step instead (D grows by H, H becomes 0): the two layouts a heterogeneous model
// can read. Extraction runs in parallel over records (TBB) and gives the same bits as a serial run; after
// the first batch of a shape it allocates only for tasks it has not seen.
//
//   crosstune::features::StepSequenceExtractor extractor({.max_steps = 64});
//   crosstune::features::FeatureBatch batch;
//   if (auto ok = extractor.extract(records, crosstune::hw::presets::v100, batch); !ok) report(ok.error());
//
// One extractor per thread: it keeps a cache of per-task workload vectors.
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstddef>
#include <span>
#include <unordered_map>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/features/step_encoding.hpp"
#include "crosstune/features/launch_features.hpp"
#include "crosstune/features/workload_features.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::features {

enum class HardwareJoin {
  separate,  ///< hardware as its own input, [B, H]
  per_step,  ///< hardware appended to every real step vector
};

/// The most steps an extractor pads to: the public logs have at most 70, and the [batch, steps, dims]
/// tensor grows with it, so a larger value is a mistake rather than a need.
inline constexpr std::size_t max_steps_limit = 1024;

struct StepSequenceOptions {
  std::size_t max_steps =
      64;  ///< longer sequences keep their first max_steps steps (the public logs have <= 70)
  HardwareJoin hardware_join = HardwareJoin::separate;
  /// Layout "steps+launch": the launch columns read off each record's steps (features/launch_features.hpp:
  /// grid, block, tiles, vector lanes, unroll, and the same against the device) joined after the workload
  /// vector. Needs no compute DAG, so every record has them.
  bool launch = false;
  bool parallel = true;  ///< TBB over records; the result is bit-identical to a serial run
};

class StepSequenceExtractor {
 public:
  static constexpr int version =
      step_encoding_version * 100 + workload_encoding_version * 10 + hw::hardware_feature_version;

  explicit StepSequenceExtractor(StepSequenceOptions options = {}) : options_(options) {}

  /// An extractor for a user's options; an Error when max_steps is not in [1, max_steps_limit].
  [[nodiscard]] static Expected<StepSequenceExtractor> make(StepSequenceOptions options) {
    if (auto ok = check_options(options); !ok) return unexpected(std::move(ok).error());
    return StepSequenceExtractor(options);
  }

  /// The extractor that produces `layout` (a model's stored layout), or an error naming the difference
  /// when no options of this extractor do.
  [[nodiscard]] static Expected<StepSequenceExtractor> for_layout(const FeatureLayout& layout) {
    StepSequenceExtractor extractor(
        {.max_steps = layout.max_steps,
         .hardware_join = layout.hardware_dims == 0 ? HardwareJoin::per_step : HardwareJoin::separate,
         .launch = layout.name == "steps+launch"});
    if (auto ok = check_options(extractor.options()); !ok) return unexpected(std::move(ok).error());
    if (auto ok = check_compatible(layout, extractor.layout()); !ok) return unexpected(std::move(ok).error());
    return extractor;
  }

  [[nodiscard]] const StepSequenceOptions& options() const noexcept { return options_; }

  [[nodiscard]] FeatureLayout layout() const {
    const bool joined = options_.hardware_join == HardwareJoin::per_step;
    return {options_.launch ? "steps+launch" : "steps",
            options_.launch ? version * 10 + launch_features_version : version,
            step_dims + (joined ? hw::HardwareParams::feature_count : 0),
            options_.max_steps,
            workload_width(),
            joined ? 0 : hw::HardwareParams::feature_count};
  }
  /// Features per step (D).
  [[nodiscard]] std::size_t dims() const { return layout().step_dims; }
  /// Workload columns (W): the workload vector, and the launch columns with options().launch.
  [[nodiscard]] std::size_t workload_width() const noexcept { return workload_dims + (options_.launch ? launch_dims : 0); }

  /// All records measured on one hardware.
  [[nodiscard]] Expected<void> extract(std::span<const Record> records, const hw::HardwareParams& hardware,
                                       FeatureBatch& out) {
    return extract_impl(
        records, [&](std::size_t) -> const hw::HardwareParams& { return hardware; }, out);
  }

  /// Records of mixed hardware: hardware[i] describes records[i].
  [[nodiscard]] Expected<void> extract(std::span<const Record> records,
                                       std::span<const hw::HardwareParams> hardware, FeatureBatch& out) {
    if (hardware.size() != records.size()) {
      return unexpected(Error(ErrorKind::invalid_argument, "extract: " + std::to_string(hardware.size()) +
                                                               " hardware descriptors for " +
                                                               std::to_string(records.size()) + " records"));
    }
    return extract_impl(
        records, [&](std::size_t i) -> const hw::HardwareParams& { return hardware[i]; }, out);
  }

 private:
  static Expected<void> check_options(const StepSequenceOptions& options) {
    if (options.max_steps == 0 || options.max_steps > max_steps_limit) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "StepSequenceOptions::max_steps is " + std::to_string(options.max_steps) +
                                  ", it must be in [1, " + std::to_string(max_steps_limit) + "]",
                              {}, 0, 0, "the public logs have at most 70 steps; 64 is the default"));
    }
    return {};
  }

  template <class HardwareOf>
  Expected<void> extract_impl(std::span<const Record> records, HardwareOf hardware_of, FeatureBatch& out) {
    if (auto ok = check_options(options_); !ok) return ok;
    // Workload vectors once per distinct task (records share Task objects), serially, before the
    // parallel part, so that part only reads.
    task_rows_.resize(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
      const Task* task = records[i].task.get();
      if (task == nullptr) {
        return unexpected(Error(ErrorKind::invalid_argument, "record " + std::to_string(i) + " has no task"));
      }
      auto [it, inserted] = workload_index_.try_emplace(task, workload_rows_.size() / workload_dims);
      if (inserted) {
        workload_rows_.resize(workload_rows_.size() + workload_dims);
        encode_workload(task->workload_key, workload_rows_.data() + workload_rows_.size() - workload_dims);
        owners_.push_back(records[i].task);  // keeps the cache key alive
      }
      task_rows_[i] = it->second;
    }

    const FeatureLayout shape = layout();
    out.reshape(records.size(), shape);
    const std::size_t S = shape.max_steps, D = shape.step_dims, W = shape.workload_dims,
                      H = hw::HardwareParams::feature_count;
    const bool joined = options_.hardware_join == HardwareJoin::per_step;
    auto fill = [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const Record& r = records[i];
        const std::size_t n = r.steps.size();
        const std::size_t kept = std::min(n, S);
        float* steps = out.steps.data() + i * S * D;
        float* mask = out.mask.data() + i * S;
        const auto hw_features = hardware_of(i).to_features();
        for (std::size_t s = 0; s < kept; ++s) {
          encode_step(r.steps[s], s, n, steps + s * D);
          if (joined) std::copy(hw_features.begin(), hw_features.end(), steps + s * D + step_dims);
          mask[s] = 1.0f;
        }
        std::fill(steps + kept * D, steps + S * D, 0.0f);
        std::fill(mask + kept, mask + S, 0.0f);
        std::copy_n(workload_rows_.data() + task_rows_[i] * workload_dims, workload_dims,
                    out.workload.data() + i * W);
        if (options_.launch)
          launch_features(r.steps, hardware_of(i), std::span<float, launch_dims>(out.workload.data() + i * W + workload_dims, launch_dims));
        if (!joined) std::copy(hw_features.begin(), hw_features.end(), out.hardware.data() + i * H);
        out.lengths[i] = static_cast<std::uint32_t>(kept);
        out.truncated[i] = static_cast<std::uint32_t>(n - kept);
      }
    };
    if (options_.parallel && records.size() > 256) {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, records.size(), 128),
          [&](const tbb::blocked_range<std::size_t>& range) { fill(range.begin(), range.end()); });
    } else {
      fill(0, records.size());
    }
    return {};
  }

  StepSequenceOptions options_;
  std::unordered_map<const Task*, std::size_t> workload_index_;
  std::vector<float> workload_rows_;
  std::vector<std::shared_ptr<const Task>> owners_;
  std::vector<std::size_t> task_rows_;
};

}  // namespace crosstune::features
