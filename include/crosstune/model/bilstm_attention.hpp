// crosstune/model/bilstm_attention.hpp — the BiLSTM + attention network that scores candidates.
//
// Architecture (Verma et al.'s attention-inspired cost model, on crosstune's features):
//
//   step vectors [D] --Linear+ReLU--> [embedding] --BiLSTM x layers--> [2 hidden] per step
//     --multi-head self-attention within the candidate--> --mean over real steps--> [2 hidden]
//     --concat workload [W] and hardware [H]--> Linear+ReLU [head_hidden] --> Linear --> score
//
// forward() reads a features::FeatureBatch and returns one score per candidate (higher = faster);
// backward() takes d(loss)/d(scores) and accumulates every parameter's gradient. All of it is written
// out on Eigen; tests/unit/test_bilstm_attention.cpp checks the gradients of the whole network by finite
// differences, with padding. Scalar is float in use and double in the gradient check.
//
// Its weights files are at the end: serialize_model / save_model write one, deserialize_model /
// load_model read one back with the feature layout it was trained on, refusing any file whose sizes,
// architecture, layout and weights do not agree (model/serialization.hpp has the shared envelope).
//
//   crosstune::model::BiLstmAttentionNet<float> net(config_for(extractor.layout()), rng);
//   const auto& scores = net.forward(batch);
//   crosstune::model::save_model("model.bin", net, extractor.layout()).value();
//   auto loaded = crosstune::model::load_model("model.bin");   // net + the layout it was trained on
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/layers.hpp"
#include "crosstune/model/lstm.hpp"
#include "crosstune/model/serialization.hpp"

namespace crosstune::model {

/// The network's blocks, in the order their parameters come; fine-tuning can freeze any of them.
enum class Block { embedding, lstm, attention, head };

struct BiLstmAttentionConfig {
  std::size_t step_dims = 0;      ///< D, from the feature layout
  std::size_t workload_dims = 0;  ///< W
  std::size_t hardware_dims = 0;  ///< H (0 when hardware is joined to every step)
  std::size_t embedding = 64;     ///< width of the input projection
  std::size_t hidden = 128;       ///< LSTM hidden size per direction
  std::size_t layers = 3;         ///< stacked bidirectional LSTM layers
  std::size_t heads = 2;          ///< attention heads; 2 * hidden must be divisible by it
  std::size_t head_hidden = 64;   ///< hidden width of the scoring MLP

  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](std::string what) {
      return unexpected(Error(ErrorKind::invalid_argument, "BiLstmAttentionConfig: " + what));
    };
    if (step_dims == 0) return bad("step_dims must be set from the feature layout");
    if (embedding == 0 || hidden == 0 || layers == 0 || head_hidden == 0)
      return bad("sizes must be at least 1");
    if (heads == 0 || (2 * hidden) % heads != 0) {
      return bad("2 * hidden (" + std::to_string(2 * hidden) + ") must be divisible by heads (" +
                 std::to_string(heads) + ")");
    }
    return {};
  }

  /// Parameters (tensors) of a network of this configuration: embedding 2, each BiLSTM layer 6 (two
  /// directions of w_ih, w_hh, bias), attention 7 (its key projection has no bias), the head 2 + 2.
  [[nodiscard]] std::size_t parameter_tensors() const noexcept { return 2 + 6 * layers + 7 + 4; }
  /// Scalars in those parameters: what a weights file of this configuration holds, known before a
  /// network is built (sizes within a weights file's bounds cannot overflow it).
  [[nodiscard]] std::size_t parameter_scalars() const noexcept {
    auto linear = [](std::size_t in, std::size_t out) { return out * in + out; };  // weight and bias
    const std::size_t E = 2 * hidden;
    std::size_t n = linear(step_dims, embedding);
    for (std::size_t l = 0; l < layers; ++l)
      n += 2 * 4 * hidden * ((l == 0 ? embedding : E) + hidden + 1);
    n += 4 * E * E + 3 * E;
    return n + linear(E + workload_dims + hardware_dims, head_hidden) + linear(head_hidden, 1);
  }
  friend bool operator==(const BiLstmAttentionConfig&, const BiLstmAttentionConfig&) = default;
};

/// The configuration matching an extractor's layout, other sizes at their defaults.
[[nodiscard]] inline BiLstmAttentionConfig config_for(const features::FeatureLayout& layout) {
  BiLstmAttentionConfig c;
  c.step_dims = layout.step_dims;
  c.workload_dims = layout.workload_dims;
  c.hardware_dims = layout.hardware_dims;
  return c;
}

template <class Scalar>
class BiLstmAttentionNet {
 public:
  using scalar_type = Scalar;

  BiLstmAttentionNet(const BiLstmAttentionConfig& config, Rng& rng)
      : config_((config.validate().value(), config)),
        embed_(config.step_dims, config.embedding, rng),
        attention_(2 * config.hidden, config.heads, rng),
        head1_(2 * config.hidden + config.workload_dims + config.hardware_dims, config.head_hidden, rng),
        head2_(config.head_hidden, 1, rng) {
    for (std::size_t l = 0; l < config.layers; ++l)
      lstm_.emplace_back(l == 0 ? config.embedding : 2 * config.hidden, config.hidden, rng);
  }

  [[nodiscard]] const BiLstmAttentionConfig& config() const noexcept { return config_; }

  /// Scores of the batch's candidates, [1, B].
  const Matrix<Scalar>& forward(const features::FeatureBatch& batch) {
    return forward(batch, 0, batch.size());
  }

  /// Scores of candidates [first, first + count) of the batch, [1, count]; reads the batch in place and
  /// keeps what backward() needs.
  const Matrix<Scalar>& forward(const features::FeatureBatch& batch, std::size_t first, std::size_t count) {
    return run(batch, first, count);
  }

  /// The same scores for inference, [1, count], valid until the next score(). Keeps nothing for
  /// backward() and leaves what forward() kept untouched. Cheaper than forward(): each LSTM layer writes
  /// its two directions straight into the next layer's input, and attention is pooled before its value
  /// and output projections (SelfAttention::pooled). Every buffer is grow-only storage, so once a call
  /// has seen the largest chunk (candidates times longest step count), no later call allocates.
  typename Scratch<Scalar>::View score(const features::FeatureBatch& batch, std::size_t first,
                                       std::size_t count) {
    auto& w = inference_;
    const std::size_t S = batch.steps.shape()[1], D = batch.steps.shape()[2];
    const std::span<const std::uint32_t> lengths(batch.lengths.data() + first, count);
    const auto B = static_cast<Eigen::Index>(count);
    const auto T = static_cast<Eigen::Index>(longest(lengths));
    // Steps time-major, column t B + b, and the mask [T, B].
    auto x = w.steps.view(static_cast<Eigen::Index>(D), T * B);
    auto mask = w.mask.view(T, B);
    for (Eigen::Index b = 0; b < B; ++b) {
      const float* steps = batch.steps.data() + (first + static_cast<std::size_t>(b)) * S * D;
      for (Eigen::Index t = 0; t < T; ++t) {
        auto column = x.col(t * B + b);
        for (Eigen::Index k = 0; k < column.size(); ++k)
          column(k) =
              static_cast<Scalar>(steps[static_cast<std::size_t>(t) * D + static_cast<std::size_t>(k)]);
        mask(t, b) =
            t < static_cast<Eigen::Index>(lengths[static_cast<std::size_t>(b)]) ? Scalar(1) : Scalar(0);
      }
    }
    auto embedded = w.embedded.view(static_cast<Eigen::Index>(config_.embedding), T * B);
    embed_.apply_into(x, embedded);
    embedded = embedded.cwiseMax(Scalar(0));
    // The layers alternate between two buffers: each reads the last one's output whole.
    const auto E = static_cast<Eigen::Index>(2 * config_.hidden);
    const Scalar* input = embedded.data();
    Eigen::Index input_rows = embedded.rows();
    for (std::size_t l = 0; l < lstm_.size(); ++l) {
      auto out = w.layers[l % 2].view(E, T * B);
      lstm_[l].infer(Eigen::Map<const Matrix<Scalar>>(input, input_rows, T * B), mask, out, w.gates, w.state);
      input = out.data();
      input_rows = E;
    }
    const Eigen::Map<const Matrix<Scalar>> h(input, E, T * B);
    // Each candidate's real steps side by side for attention.
    w.offsets.assign(1, 0);
    for (auto len : lengths)
      w.offsets.push_back(w.offsets.back() + static_cast<Eigen::Index>(len));
    auto packed = w.packed.view(E, w.offsets.back());
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index t = 0;
           t < w.offsets[static_cast<std::size_t>(b) + 1] - w.offsets[static_cast<std::size_t>(b)]; ++t)
        packed.col(w.offsets[static_cast<std::size_t>(b)] + t) = h.col(t * B + b);
    auto head_in = w.head_in.view(static_cast<Eigen::Index>(head1_.input_size()), B);
    head_in.topRows(E) = attention_.pooled(packed, w.offsets);
    fill_context(batch, first, count, head_in);
    auto hidden = w.hidden.view(static_cast<Eigen::Index>(config_.head_hidden), B);
    head1_.apply_into(head_in, hidden);
    hidden = hidden.cwiseMax(Scalar(0));
    auto scores = w.scores.view(1, B);
    head2_.apply_into(hidden, scores);
    return scores;
  }

  /// Accumulates the gradients of every parameter for d(loss)/d(scores), [1, B].
  void backward(const Matrix<Scalar>& d_scores) {
    const Eigen::Index B = d_scores.cols(), E = static_cast<Eigen::Index>(2 * config_.hidden);
    Matrix<Scalar> d_hidden = head2_.backward(d_scores);
    d_hidden = d_hidden.cwiseProduct((hidden_pre_.array() > Scalar(0)).template cast<Scalar>().matrix());
    const Matrix<Scalar>& d_head_in = head1_.backward(d_hidden);
    Matrix<Scalar> d_y = Matrix<Scalar>::Zero(E, offsets_.back());
    for (Eigen::Index b = 0; b < B; ++b) {
      const Eigen::Index n =
          offsets_[static_cast<std::size_t>(b) + 1] - offsets_[static_cast<std::size_t>(b)];
      if (n > 0)
        d_y.middleCols(offsets_[static_cast<std::size_t>(b)], n) =
            (d_head_in.col(b).head(E) / static_cast<Scalar>(n)).replicate(1, n);
    }
    const Matrix<Scalar>& d_packed = attention_.backward(d_y);
    const std::size_t T = sequence_.size();
    d_sequence_.assign(T, Matrix<Scalar>::Zero(E, B));
    for (Eigen::Index b = 0; b < B; ++b)
      for (Eigen::Index t = 0;
           t < offsets_[static_cast<std::size_t>(b) + 1] - offsets_[static_cast<std::size_t>(b)]; ++t)
        d_sequence_[static_cast<std::size_t>(t)].col(b) =
            d_packed.col(offsets_[static_cast<std::size_t>(b)] + t);
    const Sequence<Scalar>* d = &d_sequence_;
    for (std::size_t l = lstm_.size(); l-- > 0;)
      d = &lstm_[l].backward(*d);
    Matrix<Scalar> d_embedded(static_cast<Eigen::Index>(config_.embedding), static_cast<Eigen::Index>(T) * B);
    for (std::size_t t = 0; t < T; ++t) {
      const auto cols = embedded_pre_.middleCols(static_cast<Eigen::Index>(t) * B, B);
      d_embedded.middleCols(static_cast<Eigen::Index>(t) * B, B) =
          (*d)[t].cwiseProduct((cols.array() > Scalar(0)).template cast<Scalar>().matrix());
    }
    (void)embed_.backward(d_embedded);
  }

  void zero_grad() {
    embed_.zero_grad();
    for (auto& l : lstm_)
      l.zero_grad();
    attention_.zero_grad();
    head1_.zero_grad();
    head2_.zero_grad();
  }

  /// Every parameter, in a fixed order (the order of the weights file).
  [[nodiscard]] std::vector<Parameter<Scalar>> parameters() {
    std::vector<Parameter<Scalar>> p;
    for_each_parameter([&](Block, Parameter<Scalar> q) { p.push_back(q); });
    return p;
  }

  /// The block of each parameter, in the order of parameters().
  [[nodiscard]] std::vector<Block> parameter_blocks() {
    std::vector<Block> blocks;
    for_each_parameter([&](Block block, Parameter<Scalar>) { blocks.push_back(block); });
    return blocks;
  }

  [[nodiscard]] std::size_t parameter_count() { return count_parameters(*this); }

 private:
  /// The longest of `lengths`, at least 1: the steps the LSTM runs.
  [[nodiscard]] static std::size_t longest(std::span<const std::uint32_t> lengths) noexcept {
    std::size_t T = 1;
    for (auto len : lengths)
      T = std::max<std::size_t>(T, len);
    return T;
  }

  /// Rows [2 hidden, end) of the head's input, column b: candidate first + b's workload and hardware.
  template <class Out>
  void fill_context(const features::FeatureBatch& batch, std::size_t first, std::size_t count,
                    Out& head_in) const {
    const auto E = static_cast<Eigen::Index>(2 * config_.hidden),
               W = static_cast<Eigen::Index>(config_.workload_dims),
               Hw = static_cast<Eigen::Index>(config_.hardware_dims);
    for (std::size_t b = 0; b < count; ++b) {
      const auto col = static_cast<Eigen::Index>(b);
      for (Eigen::Index k = 0; k < W; ++k)
        head_in(E + k, col) = static_cast<Scalar>(batch.workload(first + b, static_cast<std::size_t>(k)));
      for (Eigen::Index k = 0; k < Hw; ++k)
        head_in(E + W + k, col) = static_cast<Scalar>(batch.hardware(first + b, static_cast<std::size_t>(k)));
    }
  }

  const Matrix<Scalar>& run(const features::FeatureBatch& batch, std::size_t first, std::size_t count) {
    const std::size_t B = count, S = batch.steps.shape()[1], D = batch.steps.shape()[2];
    const std::span<const std::uint32_t> lengths(batch.lengths.data() + first, count);
    // Only the steps some candidate uses are run.
    const std::size_t T = longest(lengths);
    const auto Bi = static_cast<Eigen::Index>(B);
    // Steps, time-major, all time steps side by side for one embedding GEMM: column t * B + b.
    x_all_.resize(static_cast<Eigen::Index>(D), static_cast<Eigen::Index>(T) * Bi);
    mask_.resize(T);
    for (auto& m : mask_)
      m.setZero(Bi);
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t t = 0; t < T; ++t) {
        const float* row = batch.steps.data() + ((first + b) * S + t) * D;
        for (std::size_t k = 0; k < D; ++k)
          x_all_(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(t * B + b)) =
              static_cast<Scalar>(row[k]);
        mask_[t](static_cast<Eigen::Index>(b)) = t < lengths[b] ? Scalar(1) : Scalar(0);
      }
    }
    const Matrix<Scalar>& e = embed_.forward(x_all_);
    embedded_pre_ = e;
    sequence_.resize(T);
    for (std::size_t t = 0; t < T; ++t)
      sequence_[t] = e.middleCols(static_cast<Eigen::Index>(t * B), Bi).cwiseMax(Scalar(0));
    const Sequence<Scalar>* h = &sequence_;
    for (auto& layer : lstm_)
      h = &layer.forward(*h, mask_);
    // Pack the real steps of each candidate side by side for attention.
    offsets_.assign(1, 0);
    for (std::size_t b = 0; b < B; ++b)
      offsets_.push_back(offsets_.back() + static_cast<Eigen::Index>(lengths[b]));
    const auto E = static_cast<Eigen::Index>(2 * config_.hidden);
    packed_.resize(E, offsets_.back());
    for (std::size_t b = 0; b < B; ++b)
      for (Eigen::Index t = 0; t < offsets_[b + 1] - offsets_[b]; ++t)
        packed_.col(offsets_[b] + t) = (*h)[static_cast<std::size_t>(t)].col(static_cast<Eigen::Index>(b));
    // Mean over real steps, then the head's input: [pooled; workload; hardware].
    head_in_.resize(static_cast<Eigen::Index>(head1_.input_size()), Bi);
    const Matrix<Scalar>& y = attention_.forward(packed_, offsets_);
    for (std::size_t b = 0; b < B; ++b) {
      const Eigen::Index n = offsets_[b + 1] - offsets_[b];
      auto pooled = head_in_.col(static_cast<Eigen::Index>(b)).head(E);
      if (n > 0)
        pooled = y.middleCols(offsets_[b], n).rowwise().mean();
      else
        pooled.setZero();
    }
    fill_context(batch, first, count, head_in_);
    hidden_pre_ = head1_.forward(head_in_);
    hidden_ = hidden_pre_.cwiseMax(Scalar(0));
    return head2_.forward(hidden_);
  }

  template <class F>
  void for_each_parameter(F&& f) {
    auto add = [&](Block block, auto&& layer_params) {
      for (auto q : layer_params)
        f(block, q);
    };
    add(Block::embedding, embed_.parameters());
    for (auto& l : lstm_)
      add(Block::lstm, l.parameters());
    add(Block::attention, attention_.parameters());
    add(Block::head, head1_.parameters());
    add(Block::head, head2_.parameters());
  }

  BiLstmAttentionConfig config_;
  Linear<Scalar> embed_;
  std::vector<BiLstm<Scalar>> lstm_;
  SelfAttention<Scalar> attention_;
  Linear<Scalar> head1_, head2_;
  Matrix<Scalar> x_all_, embedded_pre_, packed_, head_in_, hidden_pre_, hidden_;
  Mask<Scalar> mask_;
  Sequence<Scalar> sequence_, d_sequence_;
  std::vector<Eigen::Index> offsets_;
  /// score()'s buffers, apart from forward()'s.
  struct InferenceBuffers {
    Scratch<Scalar> steps, mask, embedded, layers[2], gates, state, packed, head_in, hidden, scores;
    std::vector<Eigen::Index> offsets;
  } inference_;
};

// Weights files (model/serialization.hpp's envelope, magic "CRTNMDL\0"): format version u32 | architecture:
// 8 x u64 (step, workload, hardware dims, embedding, hidden, layers, heads, head_hidden) | feature layout
// | parameters in parameters() order | checksum. Saving a loaded model gives the same bytes. The CUDA
// implementation will read the same file.

inline constexpr std::uint32_t model_file_version = 2;  // 2: the attention key projection has no bias
/// Stacked BiLSTM layers a weights file may declare (its widths are bounded by max_model_dimension).
inline constexpr std::uint64_t max_lstm_layers = 64;

/// The bytes of a weights file for `net`, trained on features of `layout`.
[[nodiscard]] inline std::string serialize_model(BiLstmAttentionNet<float>& net,
                                                 const features::FeatureLayout& layout) {
  using detail::put;
  std::string out(model_file_magic, sizeof model_file_magic);
  put(out, model_file_version);
  const auto& c = net.config();
  for (std::size_t v : {c.step_dims, c.workload_dims, c.hardware_dims, c.embedding, c.hidden, c.layers,
                        c.heads, c.head_hidden})
    put(out, static_cast<std::uint64_t>(v));
  detail::put_layout(out, layout);
  detail::put_parameters(out, net.parameters());
  put(out, detail::fnv1a(out));
  return out;
}

[[nodiscard]] inline Expected<void> save_model(const std::filesystem::path& path,
                                               BiLstmAttentionNet<float>& net,
                                               const features::FeatureLayout& layout) {
  return detail::write_file(path, serialize_model(net, layout));
}

namespace detail {
/// Empty when every width of `c` is within the bounds a weights file may hold; otherwise which is not.
[[nodiscard]] inline std::string check_architecture(const BiLstmAttentionConfig& c) {
  struct Field {
    const char* name;
    std::size_t value;
    std::uint64_t low, high;
  };
  const Field fields[] = {{"step_dims", c.step_dims, 1, max_model_dimension},
                          {"workload_dims", c.workload_dims, 0, max_model_dimension},
                          {"hardware_dims", c.hardware_dims, 0, max_model_dimension},
                          {"embedding", c.embedding, 1, max_model_dimension},
                          {"hidden", c.hidden, 1, max_model_dimension},
                          {"layers", c.layers, 1, max_lstm_layers},
                          {"heads", c.heads, 1, max_model_dimension},
                          {"head_hidden", c.head_hidden, 1, max_model_dimension}};
  for (const auto& f : fields) {
    if (auto wrong = check_range(std::string("architecture field '") + f.name + "'", f.value, f.low, f.high);
        !wrong.empty())
      return wrong;
  }
  return {};
}
}  // namespace detail

struct LoadedModel {
  std::unique_ptr<BiLstmAttentionNet<float>> net;
  features::FeatureLayout layout;  ///< what the model was trained on; check it against the extractor
};

/// Parses a weights file's bytes; `name` stands for the file in errors. Nothing in the file is trusted:
/// every size is bounded, the architecture must read exactly the features of the file's layout, and the
/// weights must be exactly as many as the architecture has, and finite, before and while the network is
/// built.
[[nodiscard]] inline Expected<LoadedModel> deserialize_model(const std::string& bytes,
                                                             const std::string& name = "<memory>") {
  auto refuse = [&](ErrorKind kind, const std::string& what) {
    return unexpected(Error(kind, what, name, 0, 0, detail::bad_model_file_hint));
  };
  auto opened =
      detail::open_model_bytes(bytes, model_file_magic, model_file_version, "BiLSTM-attention model", name);
  if (!opened) return unexpected(std::move(opened).error());
  auto& in = *opened;
  BiLstmAttentionConfig c;
  for (std::size_t* v : {&c.step_dims, &c.workload_dims, &c.hardware_dims, &c.embedding, &c.hidden, &c.layers,
                         &c.heads, &c.head_hidden})
    *v = static_cast<std::size_t>(in.get<std::uint64_t>());
  LoadedModel loaded;
  loaded.layout = detail::get_layout(in);
  if (!in.ok) return refuse(ErrorKind::parse, in.problem);
  if (const auto wrong = detail::check_architecture(c); !wrong.empty())
    return refuse(ErrorKind::schema, wrong);
  if (const auto wrong = detail::check_layout(loaded.layout); !wrong.empty())
    return refuse(ErrorKind::schema, wrong);
  if (auto valid = c.validate(); !valid)
    return refuse(ErrorKind::schema, "invalid architecture: " + valid.error().message);
  if (const auto wrong =
          detail::check_feature_dims(c.step_dims, c.workload_dims, c.hardware_dims, loaded.layout);
      !wrong.empty()) {
    return refuse(ErrorKind::schema, wrong);
  }
  if (const auto wrong = detail::check_parameter_bytes(in, c.parameter_tensors(), c.parameter_scalars());
      !wrong.empty()) {
    return refuse(ErrorKind::parse, wrong);
  }
  Rng rng(0);
  loaded.net = std::make_unique<BiLstmAttentionNet<float>>(c, rng);
  if (const auto wrong = detail::get_parameters(in, loaded.net->parameters()); !wrong.empty())
    return refuse(ErrorKind::schema, wrong);
  return loaded;
}

[[nodiscard]] inline Expected<LoadedModel> load_model(const std::filesystem::path& path) {
  return detail::load_file(
      path, [](const std::string& bytes, const std::string& name) { return deserialize_model(bytes, name); });
}

}  // namespace crosstune::model
