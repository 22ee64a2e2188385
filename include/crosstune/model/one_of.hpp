// crosstune/model/one_of.hpp — a CostModel that is one of several kinds, chosen at run time.
//
// The Tuner takes its model type as a template argument, and the negative-transfer guard replaces a
// given model by a fresh one of the same type. OneOf<A, B> lets the two be of different kinds: a
// pre-trained BiLSTM judged against, and replaced by, a fresh tree ensemble (`crosstune tune --model M.bin
// --cost-model xgb`). Every member forwards to the model held; the kinds must share their train_options.
//
//   using Model = model::OneOf<model::BiLstmAttentionModel, model::XgbModel>;
//   Model start = model::BiLstmAttentionModel::load("models/pretrained-cpu.bin").value();
//   tuner.set_fresh_model([layout] { return Model(model::XgbModel(layout)); });
#pragma once

#include <concepts>
#include <cstddef>
#include <filesystem>
#include <span>
#include <type_traits>
#include <utility>
#include <variant>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/cost_model_concept.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune::model {

template <class First, class... Rest>
  requires CostModel<First> && (CostModel<Rest> && ...) &&
           (std::same_as<typename First::train_options, typename Rest::train_options> && ...)
class OneOf {
 public:
  using train_options = typename First::train_options;

  /// Holds `m`, one of the kinds.
  template <class M>
    requires(std::same_as<std::remove_cvref_t<M>, First> || (std::same_as<std::remove_cvref_t<M>, Rest> || ...))
  OneOf(M&& m) : model_(std::forward<M>(m)) {}  // NOLINT(google-explicit-constructor): a model is one of its kinds

  [[nodiscard]] features::FeatureLayout layout() const {
    return std::visit([](const auto& m) { return features::FeatureLayout(m.layout()); }, model_);
  }
  [[nodiscard]] Expected<void> predict(const features::FeatureBatch& batch, std::span<float> scores) {
    return std::visit([&](auto& m) { return m.predict(batch, scores); }, model_);
  }
  [[nodiscard]] Expected<TrainReport> fit(const LabelledBatch& train_set, const LabelledBatch* validation,
                                          const train_options& options, Rng& rng) {
    return std::visit([&](auto& m) { return m.fit(train_set, validation, options, rng); }, model_);
  }
  [[nodiscard]] Expected<void> save(const std::filesystem::path& path) {  // non-const, as the CostModel concept asks
    return std::visit([&](auto& m) { return m.save(path); }, model_);
  }

  /// The model held, when it is an M (else nullptr).
  template <class M>
  [[nodiscard]] const M* get_if() const noexcept {
    return std::get_if<M>(&model_);
  }
  template <class M>
  [[nodiscard]] M* get_if() noexcept {
    return std::get_if<M>(&model_);
  }
  /// Which kind is held: 0 for First, then Rest in order.
  [[nodiscard]] std::size_t index() const noexcept { return model_.index(); }

 private:
  std::variant<First, Rest...> model_;
};

}  // namespace crosstune::model
