// crosstune/features/feature_extractor.hpp — the FeatureExtractor concept: how records become model
// input, for one device or, for training on many, one device per record.
//
// An extractor names what it produces (`layout()`: name, version, dimensions) and fills a FeatureBatch.
// It takes the hardware as hw::HardwareParams, or as the embedder's own HardwareDescriptor type when it
// has an extract() for it: FeatureExtractorFor<F, H> accepts either, and extract_features() passes the
// descriptor itself when the extractor takes it, so an extra field of a user's descriptor reaches a
// user's extractor through the Tuner untouched. Training sets mix devices: MixedHardwareFeatureExtractor
// adds extract() with one HardwareParams per record. See docs/policies/feature-extractor.md.
//
//   static_assert(crosstune::FeatureExtractorFor<MyExtractor, MyBoard>);
//   crosstune::extract_features(extractor, records, board, batch).value();
#pragma once

#include <concepts>
#include <span>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/hw/hardware_descriptor.hpp"
#include "crosstune/hw/hardware_params.hpp"

namespace crosstune {

/// Turns records into model input: `layout()` names what it produces and `extract(records, hardware,
/// batch)` fills a features::FeatureBatch for records measured on `hardware` (hw::HardwareParams).
template <class F>
concept FeatureExtractor = requires(F& f, const F& cf, std::span<const Record> records,
                                    const hw::HardwareParams& hardware, features::FeatureBatch& batch) {
  { cf.layout() } -> std::convertible_to<features::FeatureLayout>;
  { f.extract(records, hardware, batch) } -> std::same_as<Expected<void>>;
};

/// An extractor usable with descriptor type H: layout(), and extract() taking an H or hw::HardwareParams.
template <class F, class H>
concept FeatureExtractorFor =
    HardwareDescriptor<H> &&
    requires(const F& cf) {
      { cf.layout() } -> std::convertible_to<features::FeatureLayout>;
    } &&
    (requires(F& f, std::span<const Record> records, const H& hardware, features::FeatureBatch& batch) {
      { f.extract(records, hardware, batch) } -> std::same_as<Expected<void>>;
    } || FeatureExtractor<F>);

/// An extractor for training sets measured on several devices: extract() with one HardwareParams per record.
template <class F>
concept MixedHardwareFeatureExtractor =
    FeatureExtractor<F> && requires(F& f, std::span<const Record> records, std::span<const hw::HardwareParams> per_record,
                                    features::FeatureBatch& batch) {
      { f.extract(records, per_record, batch) } -> std::same_as<Expected<void>>;
    };

/// Checks a FeatureExtractor with one readable message per missing member.
template <class F>
constexpr bool require_feature_extractor() {
  static_assert(requires(const F& cf) {
    { cf.layout() } -> std::convertible_to<features::FeatureLayout>;
  }, "crosstune: this type is not a FeatureExtractor: it needs a const member function layout() returning "
     "features::FeatureLayout (see docs/policies/feature-extractor.md)");
  static_assert(requires(F& f, std::span<const Record> records, const hw::HardwareParams& hardware, features::FeatureBatch& batch) {
    { f.extract(records, hardware, batch) } -> std::same_as<Expected<void>>;
  }, "crosstune: this type is not a FeatureExtractor: it needs extract(std::span<const Record>, const "
     "hw::HardwareParams&, features::FeatureBatch&) -> Expected<void> (see docs/policies/feature-extractor.md)");
  return FeatureExtractor<F>;
}

/// Checks FeatureExtractorFor<F, H> with one readable message per missing member.
template <class F, class H>
constexpr bool require_feature_extractor_for() {
  static_assert(require_hardware_descriptor<H>());
  static_assert(requires(const F& cf) {
    { cf.layout() } -> std::convertible_to<features::FeatureLayout>;
  }, "crosstune: this type is not a FeatureExtractor: it needs a const member function layout() returning "
     "features::FeatureLayout (see docs/policies/feature-extractor.md)");
  static_assert(FeatureExtractorFor<F, H>,
                "crosstune: this type is not a FeatureExtractor for this hardware descriptor: it needs "
                "extract(std::span<const Record>, const H&, features::FeatureBatch&) -> Expected<void> taking the "
                "descriptor type H or hw::HardwareParams (see docs/policies/feature-extractor.md)");
  return FeatureExtractorFor<F, H>;
}

/// Checks a MixedHardwareFeatureExtractor with a readable message.
template <class F>
constexpr bool require_mixed_hardware_feature_extractor() {
  static_assert(require_feature_extractor<F>());
  static_assert(MixedHardwareFeatureExtractor<F>,
                "crosstune: this extractor cannot train across devices: it needs extract(std::span<const Record>, "
                "std::span<const hw::HardwareParams> (one per record), features::FeatureBatch&) -> Expected<void> "
                "(see docs/policies/feature-extractor.md)");
  return MixedHardwareFeatureExtractor<F>;
}

/// Runs any extractor on records of one device: with the descriptor itself when the extractor takes its
/// type, else with its HardwareParams.
template <class F, class H>
[[nodiscard]] Expected<void> extract_features(F& extractor, std::span<const Record> records, const H& hardware,
                                              features::FeatureBatch& batch) {
  static_assert(require_feature_extractor_for<F, H>());
  if constexpr (requires { { extractor.extract(records, hardware, batch) } -> std::same_as<Expected<void>>; })
    return extractor.extract(records, hardware, batch);
  else
    return extractor.extract(records, hardware_params_of(hardware), batch);
}

/// Runs any mixed-hardware extractor: `hardware[i]` measured `records[i]`.
template <class F>
[[nodiscard]] Expected<void> extract_features(F& extractor, std::span<const Record> records,
                                              std::span<const hw::HardwareParams> hardware, features::FeatureBatch& batch) {
  static_assert(require_mixed_hardware_feature_extractor<F>());
  return extractor.extract(records, hardware, batch);
}

}  // namespace crosstune
