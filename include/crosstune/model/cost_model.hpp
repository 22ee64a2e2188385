// crosstune/model/cost_model.hpp — the BiLSTM-attention cost model as one object: network, feature layout,
// training, fine-tuning with frozen layers, prediction and weights files (a CostModel).
//
//   crosstune::model::BiLstmAttentionModel model(extractor.layout(), {.hidden = 64});
//   model.fit(train, &validation, {.epochs = 20}, rng).value();
//   model.fine_tune(few_target_records, nullptr, {.epochs = 10}, {crosstune::model::Block::embedding,
//                   crosstune::model::Block::lstm}, rng).value();
//   model.predict(batch, scores).value();
//   model.save("model.bin").value();
#pragma once

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <set>
#include <span>
#include <string>

#include "crosstune/core/expected.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/serialization.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune::model {

class BiLstmAttentionModel {
 public:
  using train_options = TrainOptions;  ///< what fit() and fine_tune() take (the CostModel concept)

  /// A new model for features of `layout`; `sizes` gives the architecture's widths (its feature dimensions
  /// are taken from the layout). Throws ErrorException when a size is out of range; make() returns that
  /// Error instead, for sizes that come from a user.
  BiLstmAttentionModel(const features::FeatureLayout& layout, BiLstmAttentionConfig sizes = {},
                       std::uint64_t seed = 0)
      : layout_(layout) {
    sizes = with_layout(sizes, layout);
    if (auto ok = check(sizes, layout); !ok) throw ErrorException(ok.error());
    Rng rng(seed);
    net_ = std::make_unique<BiLstmAttentionNet<float>>(sizes, rng);
  }

  /// A new model, or an Error naming the size that is out of range (a width of 0 or over 65536, more than
  /// 64 layers, heads that do not divide 2 * hidden, a layout without features).
  [[nodiscard]] static Expected<BiLstmAttentionModel> make(const features::FeatureLayout& layout,
                                                           BiLstmAttentionConfig sizes = {},
                                                           std::uint64_t seed = 0) {
    if (auto ok = check(with_layout(sizes, layout), layout); !ok) return unexpected(std::move(ok).error());
    return BiLstmAttentionModel(layout, sizes, seed);
  }

  [[nodiscard]] static Expected<BiLstmAttentionModel> load(const std::filesystem::path& path) {
    return detail::load_file<BiLstmAttentionModel>(path);
  }
  [[nodiscard]] static Expected<BiLstmAttentionModel> deserialize(const std::string& bytes,
                                                                  const std::string& name) {
    auto loaded = deserialize_model(bytes, name);
    if (!loaded) return unexpected(std::move(loaded).error());
    return BiLstmAttentionModel(std::move(*loaded));
  }
  [[nodiscard]] Expected<void> save(const std::filesystem::path& path) {
    return save_model(path, *net_, layout_);
  }

  /// Threads predict() uses (0: every core); fit and fine_tune take theirs from TrainOptions::threads.
  void set_threads(std::size_t threads) { predictor_ = Predictor<BiLstmAttentionNet<float>>(threads); }
  [[nodiscard]] std::size_t threads() const noexcept { return predictor_.threads(); }

  /// The feature layout the model reads; extract with a matching extractor (features::check_compatible).
  [[nodiscard]] const features::FeatureLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] BiLstmAttentionNet<float>& network() noexcept { return *net_; }

  /// Scores (higher = faster) of every candidate of `batch` into `scores`.
  [[nodiscard]] Expected<void> predict(const features::FeatureBatch& batch, std::span<float> scores) {
    return checked_predict(layout_, predictor_, *net_, batch, scores);
  }

  [[nodiscard]] Expected<TrainReport> fit(const LabelledBatch& train_set, const LabelledBatch* validation,
                                          TrainOptions options, Rng& rng) {
    options.frozen.clear();
    return checked_train(layout_, *net_, train_set, validation, options, rng);
  }

  /// Continues training on (few) records of a new target with the given blocks frozen.
  [[nodiscard]] Expected<TrainReport> fine_tune(const LabelledBatch& train_set,
                                                const LabelledBatch* validation, TrainOptions options,
                                                const std::set<Block>& frozen, Rng& rng) {
    options.frozen = frozen_mask(frozen);
    return checked_train(layout_, *net_, train_set, validation, options, rng);
  }

  /// Which parameters (in network order) belong to the frozen blocks.
  [[nodiscard]] std::vector<bool> frozen_mask(const std::set<Block>& frozen) {
    std::vector<bool> mask;
    for (const Block block : net_->parameter_blocks())
      mask.push_back(frozen.contains(block));
    return mask;
  }

 private:
  static BiLstmAttentionConfig with_layout(BiLstmAttentionConfig sizes,
                                           const features::FeatureLayout& layout) {
    sizes.step_dims = layout.step_dims;
    sizes.workload_dims = layout.workload_dims;
    sizes.hardware_dims = layout.hardware_dims;
    return sizes;
  }
  static Expected<void> check(const BiLstmAttentionConfig& config, const features::FeatureLayout& layout) {
    for (const auto& wrong : {detail::check_layout(layout), detail::check_architecture(config)}) {
      if (!wrong.empty()) {
        return unexpected(Error(ErrorKind::invalid_argument, "BiLstmAttentionModel: " + wrong, {}, 0, 0,
                                "the defaults (hidden 128, 3 layers, 2 heads) are a good start"));
      }
    }
    return config.validate();
  }

  explicit BiLstmAttentionModel(LoadedModel loaded)
      : layout_(std::move(loaded.layout)), net_(std::move(loaded.net)) {}

  features::FeatureLayout layout_;
  std::unique_ptr<BiLstmAttentionNet<float>> net_;
  Predictor<BiLstmAttentionNet<float>> predictor_;
};

}  // namespace crosstune::model
