// crosstune/model/cost_model_concept.hpp — the CostModel concept: what the Tuner and the evaluation
// paths need of a model that ranks candidates.
//
// A cost model scores candidates from their features (higher = faster), learns from labelled candidates
// with options of its own type (`train_options`: the BiLSTM's epochs and learning rate mean nothing to a
// tree ensemble), and keeps its weights in a file. model::BiLstmAttentionModel, model::MlpModel and
// model::XgbModel satisfy it (all three read model::TrainOptions); the networks they train satisfy
// model::Network (model/network.hpp). See docs/policies/cost-model.md.
#pragma once

#include <concepts>
#include <filesystem>
#include <span>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune {

template <class M>
concept CostModel =
    requires { typename M::train_options; } &&
    requires(M& m, const M& cm, const features::FeatureBatch& batch, std::span<float> scores, const model::LabelledBatch& data,
             const typename M::train_options& options, Rng& rng, const std::filesystem::path& path) {
      { cm.layout() } -> std::convertible_to<features::FeatureLayout>;
      { m.predict(batch, scores) } -> std::same_as<Expected<void>>;
      { m.fit(data, &data, options, rng) } -> std::same_as<Expected<model::TrainReport>>;
      { m.save(path) } -> std::same_as<Expected<void>>;
    };

/// Checks a CostModel with one readable message per missing member.
template <class M>
constexpr bool require_cost_model() {
  static_assert(requires { typename M::train_options; },
                "crosstune: this type is not a CostModel: it needs a member type train_options (the options its fit() "
                "takes, e.g. using train_options = crosstune::model::TrainOptions;) (see docs/policies/cost-model.md)");
  static_assert(requires(const M& cm) {
    { cm.layout() } -> std::convertible_to<features::FeatureLayout>;
  }, "crosstune: this type is not a CostModel: it needs a const member function layout() returning "
     "features::FeatureLayout (see docs/policies/cost-model.md)");
  static_assert(requires(M& m, const features::FeatureBatch& batch, std::span<float> scores) {
    { m.predict(batch, scores) } -> std::same_as<Expected<void>>;
  }, "crosstune: this type is not a CostModel: it needs predict(const features::FeatureBatch&, std::span<float>) -> "
     "Expected<void> (see docs/policies/cost-model.md)");
  if constexpr (requires { typename M::train_options; })
    static_assert(requires(M& m, const model::LabelledBatch& data, const typename M::train_options& options, Rng& rng) {
      { m.fit(data, &data, options, rng) } -> std::same_as<Expected<model::TrainReport>>;
    }, "crosstune: this type is not a CostModel: it needs fit(const model::LabelledBatch&, const model::LabelledBatch* "
       "validation, const train_options&, Rng&) -> Expected<model::TrainReport> (see docs/policies/cost-model.md)");
  static_assert(requires(M& m, const std::filesystem::path& path) {
    { m.save(path) } -> std::same_as<Expected<void>>;
  }, "crosstune: this type is not a CostModel: it needs save(const std::filesystem::path&) -> Expected<void> "
     "(see docs/policies/cost-model.md)");
  return CostModel<M>;
}

}  // namespace crosstune
