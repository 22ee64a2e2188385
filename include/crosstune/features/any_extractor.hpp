// crosstune/features/any_extractor.hpp — one of crosstune's feature extractors, chosen at run time by
// name or by the layout a model file stores.
//
// Code that is compiled once and reads any model (a command line, a service) cannot name the extractor
// type; AnyExtractor holds one of them and is itself a FeatureExtractor. Names:
//   "steps"        StepSequenceExtractor: the schedule's steps (features/step_sequence_extractor.hpp)
//   "loops"        LoopFeatureExtractor: the lowered nest's store statements (features/loop_features.hpp)
//   "steps+loops"  LoopFeatureExtractor: the steps, with the largest store's and the kernel's vectors
//                  joined in the workload vector
//   "steps+launch" StepSequenceExtractor: the steps, with the launch columns read off them joined in the
//                  workload vector (features/launch_features.hpp; no compute DAG needed)
//
//   auto extractor = crosstune::features::AnyExtractor::for_layout(model.layout()).value();
//   extractor.extract(records, hardware, batch).value();
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/features/loop_features.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune::features {

/// The names AnyExtractor::named() takes, which are also the layouts' names.
inline constexpr std::array<std::string_view, 4> extractor_names = {"steps", "loops", "steps+loops", "steps+launch"};

class AnyExtractor {
 public:
  using Variant = std::variant<StepSequenceExtractor, LoopFeatureExtractor>;

  explicit AnyExtractor(Variant chosen) : chosen_(std::move(chosen)) {}

  /// The extractor `name` names, with `max_steps` steps (or, for "loops", store statements) per record.
  [[nodiscard]] static Expected<AnyExtractor> named(std::string_view name, std::size_t max_steps = 64) {
    if (max_steps == 0 || max_steps > max_steps_limit) {
      return unexpected(Error(ErrorKind::invalid_argument,
                              "max_steps is " + std::to_string(max_steps) + ", it must be in [1, " +
                                  std::to_string(max_steps_limit) + "]"));
    }
    if (name == "steps") return AnyExtractor(StepSequenceExtractor({.max_steps = max_steps}));
    if (name == "steps+launch") return AnyExtractor(StepSequenceExtractor({.max_steps = max_steps, .launch = true}));
    if (name == "loops") return AnyExtractor(LoopFeatureExtractor({.max_stores = max_steps}));
    if (name == "steps+loops") return AnyExtractor(LoopFeatureExtractor({.with_steps = true, .max_steps = max_steps}));
    return unexpected(Error(ErrorKind::invalid_argument, "unknown feature extractor \"" + std::string(name) + "\"", {}, 0, 0,
                            "use steps, loops, steps+loops or steps+launch"));
  }

  /// The extractor that produces `layout` (a model's stored layout), or an error naming the difference.
  [[nodiscard]] static Expected<AnyExtractor> for_layout(const FeatureLayout& layout) {
    if (layout.name == "steps" || layout.name == "steps+launch") {
      auto steps = StepSequenceExtractor::for_layout(layout);
      if (!steps) return unexpected(std::move(steps).error());
      return AnyExtractor(std::move(*steps));
    }
    auto chosen = named(layout.name, layout.max_steps);
    if (!chosen) {
      return unexpected(Error(ErrorKind::invalid_argument, "the model was trained with features \"" + layout.name +
                                                               "\", which this crosstune does not extract",
                              {}, 0, 0, "use a model trained with steps, loops, steps+loops or steps+launch features"));
    }
    if (auto ok = check_compatible(layout, chosen->layout()); !ok) return unexpected(std::move(ok).error());
    return chosen;
  }

  [[nodiscard]] FeatureLayout layout() const {
    return std::visit([](const auto& e) { return e.layout(); }, chosen_);
  }
  /// All records measured on one hardware.
  [[nodiscard]] Expected<void> extract(std::span<const Record> records, const hw::HardwareParams& hardware,
                                       FeatureBatch& out) {
    return std::visit([&](auto& e) { return e.extract(records, hardware, out); }, chosen_);
  }
  /// Records of mixed hardware: hardware[i] describes records[i].
  [[nodiscard]] Expected<void> extract(std::span<const Record> records, std::span<const hw::HardwareParams> hardware,
                                       FeatureBatch& out) {
    return std::visit([&](auto& e) { return e.extract(records, hardware, out); }, chosen_);
  }
  /// Records of the last extract() whose steps could not be replayed and lowered (0 for "steps", which
  /// reads the steps alone).
  [[nodiscard]] std::size_t unreplayed() const {
    if (const auto* loops = std::get_if<LoopFeatureExtractor>(&chosen_)) return loops->unreplayed();
    return 0;
  }
  [[nodiscard]] const Variant& chosen() const noexcept { return chosen_; }

 private:
  Variant chosen_;
};

}  // namespace crosstune::features
