// synthetic_ranking.hpp — a small ranking problem with a known answer, shared by the model tests.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/bilstm_attention.hpp"

namespace crosstune::test {

// A synthetic ranking problem: candidates of 4 tasks, 2-8 steps of 6 random features; the label is a
// fixed nonlinear function of the steps (features 0 and 1 of every step and their interaction), scaled
// into (0, 1] per task, as normalised throughput is.
struct Synthetic {
  features::FeatureBatch batch;
  std::vector<float> labels;
  std::vector<std::uint32_t> tasks;
};
inline Synthetic make_synthetic(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  Synthetic s;
  const std::size_t S = 8, D = 6, W = 2, H = 2;
  s.batch.reshape(n, {"synthetic", 1, D, S, W, H});
  std::vector<double> raw(n);
  for (std::size_t b = 0; b < n; ++b) {
    const auto len = static_cast<std::uint32_t>(rng.uniform_int(2, 8));
    s.batch.lengths[b] = len;
    double value = 0;
    for (std::size_t t = 0; t < S; ++t) {
      s.batch.mask(b, t) = t < len ? 1.0f : 0.0f;
      for (std::size_t k = 0; k < D; ++k)
        s.batch.steps(b, t, k) = t < len ? static_cast<float>(rng.uniform01()) : 0.0f;
      if (t < len) value += s.batch.steps(b, t, 0) - 0.5 * s.batch.steps(b, t, 1) * s.batch.steps(b, t, 2);
    }
    raw[b] = value / len;
    s.tasks.push_back(static_cast<std::uint32_t>(b % 4));
    for (std::size_t k = 0; k < W; ++k)
      s.batch.workload(b, k) = static_cast<float>(s.tasks.back()) / 4.0f;
    for (std::size_t k = 0; k < H; ++k)
      s.batch.hardware(b, k) = 0.5f;
  }
  // Per task: label = exp(raw - max raw), in (0, 1].
  for (std::uint32_t t = 0; t < 4; ++t) {
    double top = -1e9;
    for (std::size_t b = 0; b < n; ++b)
      if (s.tasks[b] == t) top = std::max(top, raw[b]);
    for (std::size_t b = 0; b < n; ++b)
      if (s.tasks[b] == t) raw[b] = std::exp(2.0 * (raw[b] - top));
  }
  for (double r : raw)
    s.labels.push_back(static_cast<float>(r));
  return s;
}
/// The feature layout of make_synthetic's batches.
inline const features::FeatureLayout synthetic_layout{"synthetic", 1, 6, 8, 2, 2};

/// A small BiLSTM-attention network for make_synthetic's layout: fast enough for many training steps.
inline model::BiLstmAttentionConfig small_synthetic_config() {
  model::BiLstmAttentionConfig c = model::config_for(synthetic_layout);
  c.embedding = 8;
  c.hidden = 8;
  c.layers = 2;
  c.heads = 2;
  c.head_hidden = 8;
  return c;
}

}  // namespace crosstune::test
