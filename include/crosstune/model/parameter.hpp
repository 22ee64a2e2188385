// crosstune/model/parameter.hpp — a network's trainable tensors as optimisers, trainers and weights files
// see them, and their usual initialisation.
//
// Every layer lists its tensors as Parameters (value, gradient and a name); a network's parameters()
// concatenates its layers' lists in a fixed order, which is also the order of its weights file. Adam
// (model/optim.hpp), the trainers and the weights files work on these lists alone, so they need none of
// the layers that own the tensors.
//
//   crosstune::model::Matrix<float> w(4, 3), grad = crosstune::model::Matrix<float>::Zero(4, 3);
//   crosstune::model::init_uniform(w, /*fan_in=*/3, rng);
//   std::vector<crosstune::model::Parameter<float>> params{{&w, &grad, "w"}};
//   const std::size_t scalars = crosstune::model::count_parameters(net);  // any network or layer
#pragma once

#include <cmath>
#include <cstddef>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/matrix.hpp"

namespace crosstune::model {

/// A parameter tensor and its gradient, as optimisers see them.
template <class Scalar>
struct Parameter {
  Matrix<Scalar>* value;
  Matrix<Scalar>* grad;
  const char* name;
};

/// Number of scalars in all of a network's (or layer's) parameters.
template <class Net>
[[nodiscard]] std::size_t count_parameters(Net& net) {
  std::size_t n = 0;
  for (auto p : net.parameters())
    n += static_cast<std::size_t>(p.value->size());
  return n;
}

/// Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), the usual LSTM / linear initialisation.
template <class Scalar>
void init_uniform(Matrix<Scalar>& m, std::size_t fan_in, Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  for (Eigen::Index i = 0; i < m.size(); ++i)
    m.data()[i] = static_cast<Scalar>(rng.uniform_real(-bound, bound));
}

}  // namespace crosstune::model
