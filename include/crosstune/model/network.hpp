// crosstune/model/network.hpp — the Network concept: what the trainer (train, predict, evaluate_pca) and
// the batch-parallel helpers (Replicas, TrainStep, Predictor) need of a cost-model network.
//
// BiLstmAttentionNet and the MLP baseline's PooledMlpNet satisfy it; a new architecture plugs into the
// same training loop, early stopping, fine-tuning with frozen parameters and thread-parallel batches by
// offering these members (docs/policies/cost-model.md shows the smallest one):
//
//   using scalar_type = float;
//   const Matrix<float>& forward(const features::FeatureBatch&, std::size_t first, std::size_t count); // [1, count], keeps activations
//   auto score(const features::FeatureBatch&, std::size_t first, std::size_t count);  // inference only; s(0, i)
//   void backward(const Matrix<float>& d_scores);   // gradients of the last forward, added to the parameters'
//   void zero_grad();
//   std::vector<ParameterRef<float>> parameters();  // in a fixed order (frozen masks index it)
//   and a copy constructor (replicas for the threads)
#pragma once

#include <concepts>
#include <cstddef>
#include <ranges>

#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/matrix.hpp"

namespace crosstune::model {

template <class Net>
concept Network = std::copy_constructible<Net> && requires { typename Net::scalar_type; } &&
                  requires(Net& net, const features::FeatureBatch& batch, std::size_t n,
                           const Matrix<typename Net::scalar_type>& d_scores) {
                    net.forward(batch, n, n);
                    net.score(batch, n, n)(0, 0);
                    net.backward(d_scores);
                    net.zero_grad();
                    { net.parameters() } -> std::ranges::range;
                  };

/// Checks a Network with one readable message per missing member.
template <class Net>
constexpr bool require_network() {
  static_assert(requires { typename Net::scalar_type; },
                "crosstune: this type is not a model::Network: it needs a member type scalar_type (float or double) "
                "(see crosstune/model/network.hpp)");
  static_assert(std::copy_constructible<Net>,
                "crosstune: this type is not a model::Network: it must be copyable (one replica per training thread)");
  if constexpr (requires { typename Net::scalar_type; }) {
    static_assert(requires(Net& net, const features::FeatureBatch& batch, std::size_t n) { net.forward(batch, n, n); },
                  "crosstune: this type is not a model::Network: it needs forward(const features::FeatureBatch&, "
                  "std::size_t first, std::size_t count) returning the [1, count] scores");
    static_assert(requires(Net& net, const features::FeatureBatch& batch, std::size_t n) { net.score(batch, n, n)(0, 0); },
                  "crosstune: this type is not a model::Network: it needs score(const features::FeatureBatch&, "
                  "std::size_t first, std::size_t count) returning scores indexable as s(0, i)");
    static_assert(requires(Net& net, const Matrix<typename Net::scalar_type>& d) { net.backward(d); },
                  "crosstune: this type is not a model::Network: it needs backward(const Matrix<scalar_type>& d_scores)");
    static_assert(requires(Net& net) { net.zero_grad(); },
                  "crosstune: this type is not a model::Network: it needs zero_grad()");
    static_assert(requires(Net& net) { { net.parameters() } -> std::ranges::range; },
                  "crosstune: this type is not a model::Network: it needs parameters() returning a range of its "
                  "parameters, in a fixed order");
  }
  return Network<Net>;
}

}  // namespace crosstune::model
