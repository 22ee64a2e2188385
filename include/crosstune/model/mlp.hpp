// crosstune/model/mlp.hpp — the pooled-feature MLP baseline, behind the same CostModel concept.
//
// The baseline the BiLSTM-attention model has to beat on identical splits: each candidate's step
// features are pooled (mean and max over its real steps), joined with its workload and hardware features,
// and scored by a plain MLP: [2 D + W + H] -> Linear+ReLU [hidden] -> Linear+ReLU [hidden / 2] -> Linear
// -> score. It sees which loop transformations a program has, not their order, which is what the
// sequence model adds. It trains with the same trainer (model/trainer.hpp: within-task mini-batches,
// MSE + rank loss, batch-parallel TrainStep, early stopping) and has its own weights file ("CRTNMLP").
//
//   crosstune::model::MlpModel mlp(extractor.layout());
//   mlp.fit(train, &validation, {.epochs = 30}, rng).value();
//   mlp.predict(candidates, scores).value();
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/layers.hpp"
#include "crosstune/model/parallel.hpp"
#include "crosstune/model/pooling.hpp"
#include "crosstune/model/serialization.hpp"
#include "crosstune/model/trainer.hpp"

namespace crosstune::model {

struct MlpConfig {
  std::size_t step_dims = 0;      ///< D, from the feature layout
  std::size_t workload_dims = 0;  ///< W
  std::size_t hardware_dims = 0;  ///< H
  std::size_t hidden = 256;       ///< first hidden layer; the second has hidden / 2

  [[nodiscard]] std::size_t input_dims() const noexcept {
    return pooled_dims(step_dims, workload_dims, hardware_dims);
  }
  /// Width of the second hidden layer.
  [[nodiscard]] std::size_t second_hidden() const noexcept { return std::max<std::size_t>(hidden / 2, 1); }
  /// Parameters (tensors) of the network, a weight and a bias per layer, and scalars in them: what a
  /// weights file of this configuration holds, known before a network is built.
  [[nodiscard]] static constexpr std::size_t parameter_tensors() noexcept { return 6; }
  [[nodiscard]] std::size_t parameter_scalars() const noexcept {
    auto linear = [](std::size_t in, std::size_t out) { return out * in + out; };
    return linear(input_dims(), hidden) + linear(hidden, second_hidden()) + linear(second_hidden(), 1);
  }
  friend bool operator==(const MlpConfig&, const MlpConfig&) = default;
};

/// The network: pooling, then three Linear layers. Same interface as BiLstmAttentionNet.
template <class Scalar>
class PooledMlpNet {
 public:
  using scalar_type = Scalar;

  PooledMlpNet(const MlpConfig& config, Rng& rng)
      : config_(config),
        l1_(config.input_dims(), config.hidden, rng),
        l2_(config.hidden, config.second_hidden(), rng),
        l3_(config.second_hidden(), 1, rng) {}

  [[nodiscard]] const MlpConfig& config() const noexcept { return config_; }

  const Matrix<Scalar>& forward(const features::FeatureBatch& batch) {
    return forward(batch, 0, batch.size());
  }

  /// Scores of candidates [first, first + count), [1, count].
  const Matrix<Scalar>& forward(const features::FeatureBatch& batch, std::size_t first, std::size_t count) {
    pool_candidates(batch, first, count, pooled_);
    h1_pre_ = l1_.forward(pooled_);
    h1_ = h1_pre_.cwiseMax(Scalar(0));
    h2_pre_ = l2_.forward(h1_);
    h2_ = h2_pre_.cwiseMax(Scalar(0));
    return l3_.forward(h2_);
  }
  /// The same scores for inference, [1, count], valid until the next score(): the same pass in grow-only
  /// storage, so once a call has seen the largest chunk, no later call allocates.
  typename Scratch<Scalar>::View score(const features::FeatureBatch& batch, std::size_t first,
                                       std::size_t count) {
    const auto B = static_cast<Eigen::Index>(count);
    auto pooled = inference_[0].view(static_cast<Eigen::Index>(l1_.input_size()), B);
    pool_candidates_into<Scalar>(batch, first, count, pooled);
    auto h1 = inference_[1].view(static_cast<Eigen::Index>(l1_.output_size()), B);
    l1_.apply_into(pooled, h1);
    h1 = h1.cwiseMax(Scalar(0));
    auto h2 = inference_[2].view(static_cast<Eigen::Index>(l2_.output_size()), B);
    l2_.apply_into(h1, h2);
    h2 = h2.cwiseMax(Scalar(0));
    auto out = inference_[3].view(1, B);
    l3_.apply_into(h2, out);
    return out;
  }

  void backward(const Matrix<Scalar>& d_scores) {
    Matrix<Scalar> d = l3_.backward(d_scores);
    d = d.cwiseProduct((h2_pre_.array() > Scalar(0)).template cast<Scalar>().matrix());
    d = l2_.backward(d);
    d = d.cwiseProduct((h1_pre_.array() > Scalar(0)).template cast<Scalar>().matrix());
    (void)l1_.backward(d);
  }
  void zero_grad() {
    l1_.zero_grad();
    l2_.zero_grad();
    l3_.zero_grad();
  }
  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    std::vector<Parameter<Scalar>> p;
    for (auto* layer : {&l1_, &l2_, &l3_})
      for (auto q : layer->parameters())
        p.push_back(q);
    return p;
  }
  [[nodiscard]] std::size_t parameter_count() { return count_parameters(*this); }

 private:
  MlpConfig config_;
  Linear<Scalar> l1_, l2_, l3_;
  Matrix<Scalar> pooled_, h1_pre_, h1_, h2_pre_, h2_;
  Scratch<Scalar> inference_[4];  // score()'s pooled features, hidden layers and scores
};

inline constexpr std::uint32_t mlp_file_version = 1;  // mlp_file_magic is in serialization.hpp

/// The MLP baseline as a CostModel.
class MlpModel {
 public:
  using train_options = TrainOptions;  ///< what fit() and fine_tune() take (the CostModel concept)

  /// A new model for features of `layout`. Throws ErrorException when the layout or the width is out of
  /// range; make() returns that Error instead, for values that come from a user.
  explicit MlpModel(const features::FeatureLayout& layout, std::size_t hidden = 256, std::uint64_t seed = 0)
      : layout_(layout) {
    if (auto ok = check(layout, hidden); !ok) throw ErrorException(ok.error());
    Rng rng(seed);
    net_ = std::make_unique<PooledMlpNet<float>>(
        MlpConfig{layout.step_dims, layout.workload_dims, layout.hardware_dims, hidden}, rng);
  }

  /// A new model, or an Error when the layout has no features or `hidden` is outside [2, 65536].
  [[nodiscard]] static Expected<MlpModel> make(const features::FeatureLayout& layout,
                                               std::size_t hidden = 256, std::uint64_t seed = 0) {
    if (auto ok = check(layout, hidden); !ok) return unexpected(std::move(ok).error());
    return MlpModel(layout, hidden, seed);
  }

  [[nodiscard]] const features::FeatureLayout& layout() const noexcept { return layout_; }
  [[nodiscard]] PooledMlpNet<float>& network() noexcept { return *net_; }
  void set_threads(std::size_t threads) { predictor_ = Predictor<PooledMlpNet<float>>(threads); }

  [[nodiscard]] Expected<void> predict(const features::FeatureBatch& batch, std::span<float> scores) {
    return checked_predict(layout_, predictor_, *net_, batch, scores);
  }

  [[nodiscard]] Expected<TrainReport> fit(const LabelledBatch& train_set, const LabelledBatch* validation,
                                          TrainOptions options, Rng& rng) {
    options.frozen.clear();
    return checked_train(layout_, *net_, train_set, validation, options, rng);
  }

  [[nodiscard]] std::string serialize() {
    using detail::put;
    std::string out(mlp_file_magic, sizeof mlp_file_magic);
    put(out, mlp_file_version);
    const auto& c = net_->config();
    for (std::size_t v : {c.step_dims, c.workload_dims, c.hardware_dims, c.hidden})
      put(out, static_cast<std::uint64_t>(v));
    detail::put_layout(out, layout_);
    detail::put_parameters(out, net_->parameters());
    put(out, detail::fnv1a(out));
    return out;
  }
  [[nodiscard]] Expected<void> save(const std::filesystem::path& path) {
    return detail::write_file(path, serialize());
  }

  /// Parses a weights file's bytes; `name` stands for the file in errors. As for the BiLSTM-attention
  /// model's files, nothing is trusted: sizes are bounded, the architecture must read exactly the
  /// layout's features, and the weights must be as many as it has, and finite.
  [[nodiscard]] static Expected<MlpModel> deserialize(const std::string& bytes, const std::string& name) {
    auto refuse = [&](ErrorKind kind, const std::string& what) {
      return unexpected(Error(kind, what, name, 0, 0, detail::bad_model_file_hint));
    };
    auto opened = detail::open_model_bytes(bytes, mlp_file_magic, mlp_file_version, "MLP model", name);
    if (!opened) return unexpected(std::move(opened).error());
    auto& in = *opened;
    const std::uint64_t step_dims = in.get<std::uint64_t>(), workload_dims = in.get<std::uint64_t>(),
                        hardware_dims = in.get<std::uint64_t>(), hidden = in.get<std::uint64_t>();
    const auto layout = detail::get_layout(in);
    if (!in.ok) return refuse(ErrorKind::parse, in.problem);
    for (const auto& wrong :
         {detail::check_range("architecture field 'step_dims'", step_dims, 1, max_model_dimension),
          detail::check_range("architecture field 'workload_dims'", workload_dims, 0, max_model_dimension),
          detail::check_range("architecture field 'hardware_dims'", hardware_dims, 0, max_model_dimension),
          detail::check_range("architecture field 'hidden'", hidden, 2, max_model_dimension),
          detail::check_layout(layout),
          detail::check_feature_dims(step_dims, workload_dims, hardware_dims, layout)}) {
      if (!wrong.empty()) return refuse(ErrorKind::schema, wrong);
    }
    const MlpConfig c{static_cast<std::size_t>(step_dims), static_cast<std::size_t>(workload_dims),
                      static_cast<std::size_t>(hardware_dims), static_cast<std::size_t>(hidden)};
    if (const auto wrong = detail::check_parameter_bytes(in, c.parameter_tensors(), c.parameter_scalars());
        !wrong.empty()) {
      return refuse(ErrorKind::parse, wrong);
    }
    MlpModel model(layout, c.hidden);
    if (const auto wrong = detail::get_parameters(in, model.net_->parameters()); !wrong.empty())
      return refuse(ErrorKind::schema, wrong);
    return model;
  }
  [[nodiscard]] static Expected<MlpModel> load(const std::filesystem::path& path) {
    return detail::load_file<MlpModel>(path);
  }

 private:
  static Expected<void> check(const features::FeatureLayout& layout, std::size_t hidden) {
    for (const auto& wrong :
         {detail::check_layout(layout),
          detail::check_range("the MLP's hidden width", hidden, 2, max_model_dimension)}) {
      if (!wrong.empty()) return unexpected(Error(ErrorKind::invalid_argument, "MlpModel: " + wrong));
    }
    return {};
  }

  features::FeatureLayout layout_;
  std::unique_ptr<PooledMlpNet<float>> net_;
  Predictor<PooledMlpNet<float>> predictor_;
};

}  // namespace crosstune::model
