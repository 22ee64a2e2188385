// model/parameter.hpp on its own: what optimisers and weights files see of a network, with no layer.
#include "crosstune/model/parameter.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"

using namespace crosstune;
using namespace crosstune::model;

namespace {
/// The smallest thing with parameters(): two tensors of its own.
struct TwoTensors {
  Matrix<float> weight = Matrix<float>::Zero(3, 4), bias = Matrix<float>::Zero(3, 1);
  Matrix<float> weight_grad = Matrix<float>::Zero(3, 4), bias_grad = Matrix<float>::Zero(3, 1);
  std::vector<Parameter<float>> parameters() {
    return {{&weight, &weight_grad, "weight"}, {&bias, &bias_grad, "bias"}};
  }
};
struct NoTensors {
  std::vector<Parameter<float>> parameters() { return {}; }
};
}  // namespace

TEST_CASE("count_parameters adds up the scalars of every tensor a network lists") {
  TwoTensors two;
  CHECK(count_parameters(two) == 15);
  NoTensors none;
  CHECK(count_parameters(none) == 0);
}

TEST_CASE("a Parameter reaches its owner's tensor and gradient, so updates through it change the owner") {
  TwoTensors two;
  for (auto p : two.parameters()) {
    p.value->setConstant(2.0f);
    *p.grad = *p.value * 0.5f;
  }
  CHECK(two.weight.isConstant(2.0f));
  CHECK(two.bias_grad.isConstant(1.0f));
  CHECK(std::string(two.parameters()[1].name) == "bias");
}

TEST_CASE("init_uniform draws within plus or minus 1 / sqrt(fan_in), the same values for the same seed") {
  Matrix<double> a(20, 30), b(20, 30);
  Rng first(5), second(5);
  init_uniform(a, 16, first);
  init_uniform(b, 16, second);
  CHECK(a == b);
  CHECK(a.cwiseAbs().maxCoeff() <= 0.25);
  // 600 draws spread over the range rather than sitting at one value.
  CHECK(a.maxCoeff() > 0.2);
  CHECK(a.minCoeff() < -0.2);
  Rng other(6);
  init_uniform(b, 16, other);
  CHECK(a != b);
}
