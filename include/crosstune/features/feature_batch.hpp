// crosstune/features/feature_batch.hpp — the model input for a batch of candidates, and the layout tag
// that keeps extractors and trained models in step.
//
// A FeatureBatch holds, for B candidates: one vector per schedule step padded to S steps ([B, S, D], with
// a [B, S] mask of real steps), a workload vector per candidate ([B, W]) and a hardware vector per
// candidate ([B, H]). Buffers are reused: extracting batches of the same shape allocates nothing after the
// first one.
//
// A FeatureLayout names an extractor's output (name, version, dimensions). A model file stores the layout
// it was trained on and refuses another with check_compatible(), so a change of feature columns can never
// silently feed a model the wrong inputs.
//
//   crosstune::features::FeatureBatch batch;
//   extractor.extract(records, crosstune::hw::presets::v100, batch).value();
//   batch.steps(0, 3, 0);  // feature 0 of step 3 of candidate 0
#pragma once

#include <xtensor/xtensor.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::features {

/// Name, version and sizes of what an extractor produces.
struct FeatureLayout {
  std::string name;               ///< e.g. "steps"
  int version = 0;                ///< bumped whenever a column changes meaning
  std::size_t step_dims = 0;      ///< D: features per step (hardware included when joined per step)
  std::size_t max_steps = 0;      ///< S: steps per candidate after padding / truncation
  std::size_t workload_dims = 0;  ///< W
  std::size_t hardware_dims = 0;  ///< H (0 when hardware is joined to every step)

  friend bool operator==(const FeatureLayout&, const FeatureLayout&) = default;
};

/// Ok when `actual` is the layout a model was trained on; otherwise an error naming the difference.
[[nodiscard]] inline Expected<void> check_compatible(const FeatureLayout& trained,
                                                     const FeatureLayout& actual) {
  auto mismatch = [&](const std::string& what, const std::string& a, const std::string& b) {
    return unexpected(Error(ErrorKind::invalid_argument,
                            "feature layout mismatch: the model was trained with " + what + " " + a +
                                ", the extractor produces " + b,
                            {}, 0, 0,
                            "extract features with the extractor and options the model was trained with"));
  };
  if (trained.name != actual.name)
    return mismatch("extractor", "\"" + trained.name + "\"", "\"" + actual.name + "\"");
  if (trained.version != actual.version) {
    return mismatch("\"" + trained.name + "\" version", std::to_string(trained.version),
                    std::to_string(actual.version));
  }
  if (trained.step_dims != actual.step_dims) {
    return mismatch("step dims", std::to_string(trained.step_dims), std::to_string(actual.step_dims));
  }
  if (trained.max_steps != actual.max_steps) {
    return mismatch("max steps", std::to_string(trained.max_steps), std::to_string(actual.max_steps));
  }
  if (trained.workload_dims != actual.workload_dims || trained.hardware_dims != actual.hardware_dims) {
    return mismatch("workload/hardware dims",
                    std::to_string(trained.workload_dims) + "/" + std::to_string(trained.hardware_dims),
                    std::to_string(actual.workload_dims) + "/" + std::to_string(actual.hardware_dims));
  }
  return {};
}

struct FeatureBatch {
  xt::xtensor<float, 3> steps;           ///< [batch, max_steps, step_dims], zero past each candidate's length
  xt::xtensor<float, 2> mask;            ///< [batch, max_steps]: 1 for a real step, 0 for padding
  xt::xtensor<float, 2> workload;        ///< [batch, workload_dims]
  xt::xtensor<float, 2> hardware;        ///< [batch, hardware_dims] (empty second axis when joined per step)
  std::vector<std::uint32_t> lengths;    ///< real steps kept per candidate (<= max_steps)
  std::vector<std::uint32_t> truncated;  ///< steps dropped per candidate (sequence longer than max_steps)

  [[nodiscard]] std::size_t size() const noexcept { return lengths.size(); }

  /// Shapes the buffers for `batch` candidates of `layout`; reallocates only when a shape changes. The
  /// values are left as they were (or uninitialised after a reallocation): a writer fills every cell, as
  /// the extractors do; reset() gives zeros.
  void reshape(std::size_t batch, const FeatureLayout& layout) {
    reshape_if(steps, std::array<std::size_t, 3>{batch, layout.max_steps, layout.step_dims});
    reshape_if(mask, std::array<std::size_t, 2>{batch, layout.max_steps});
    reshape_if(workload, std::array<std::size_t, 2>{batch, layout.workload_dims});
    reshape_if(hardware, std::array<std::size_t, 2>{batch, layout.hardware_dims});
    lengths.resize(batch);
    truncated.resize(batch);
  }

  /// reshape() and then every value zero: no steps, every cell padding.
  void reset(std::size_t batch, const FeatureLayout& layout) {
    reshape(batch, layout);
    steps.fill(0.0f);
    mask.fill(0.0f);
    workload.fill(0.0f);
    hardware.fill(0.0f);
    std::fill(lengths.begin(), lengths.end(), 0u);
    std::fill(truncated.begin(), truncated.end(), 0u);
  }

 private:
  template <class Tensor, class Shape>
  static void reshape_if(Tensor& t, const Shape& shape) {
    bool same = t.dimension() == shape.size();
    for (std::size_t i = 0; same && i < shape.size(); ++i)
      same = t.shape()[i] == shape[i];
    if (!same) t.resize(shape);
  }
};

/// Ok when `batch` has the shapes of `trained` (a model reads batches of the extractor it was trained on).
/// Also checks what a network indexes by: every tensor holds size() candidates, the mask has the steps'
/// shape, and no candidate claims more steps than the batch holds.
[[nodiscard]] inline Expected<void> check_batch(const FeatureLayout& trained, const FeatureBatch& batch) {
  const FeatureLayout actual{trained.name,           trained.version,           batch.steps.shape()[2],
                             batch.steps.shape()[1], batch.workload.shape()[1], batch.hardware.shape()[1]};
  if (auto ok = check_compatible(trained, actual); !ok) return ok;
  const std::size_t n = batch.size();
  auto malformed = [](const std::string& what) {
    return unexpected(Error(ErrorKind::invalid_argument, "malformed feature batch: " + what, {}, 0, 0,
                            "fill batches with an extractor, or FeatureBatch::reshape() and every field"));
  };
  if (batch.steps.shape()[0] != n || batch.mask.shape()[0] != n || batch.workload.shape()[0] != n ||
      batch.hardware.shape()[0] != n || batch.truncated.size() != n) {
    return malformed("its tensors do not all hold " + std::to_string(n) + " candidates");
  }
  if (batch.mask.shape()[1] != actual.max_steps) return malformed("the mask and the steps differ in length");
  if (n > 0 && actual.max_steps == 0) return malformed("it has no step positions");
  for (std::size_t i = 0; i < n; ++i) {
    if (batch.lengths[i] > actual.max_steps) {
      return malformed("candidate " + std::to_string(i) + " claims " + std::to_string(batch.lengths[i]) +
                       " steps of " + std::to_string(actual.max_steps));
    }
  }
  return {};
}

}  // namespace crosstune::features
