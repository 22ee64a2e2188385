// gradient_check.hpp — central finite differences against analytic gradients, for the model tests.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "crosstune/model/lstm.hpp"

namespace crosstune::test {

/// Relative error below 1e-4, or absolute below 1e-8 for gradients that are exactly zero, where only
/// finite-difference noise of ~1e-10 remains.
inline bool gradients_close(double analytic, double numeric) {
  return std::abs(analytic - numeric) <= 1e-4 * std::max(std::abs(analytic), std::abs(numeric)) + 1e-8;
}

/// Checks every value of `values` against d(loss)/d(value) by central differences (step 1e-6); `analytic`
/// holds the gradient computed for the current values. Returns how many values were checked.
template <class Loss>
std::size_t check_gradient(model::Matrix<double>& values, const model::Matrix<double>& analytic, Loss&& loss,
                           const std::string& name) {
  const double eps = 1e-6;
  for (Eigen::Index i = 0; i < values.size(); ++i) {
    double& v = values.data()[i];
    const double saved = v;
    v = saved + eps;
    const double up = loss();
    v = saved - eps;
    const double down = loss();
    v = saved;
    const double numeric = (up - down) / (2 * eps);
    INFO(name << "[" << i << "] analytic " << analytic.data()[i] << " numeric " << numeric);
    REQUIRE(gradients_close(analytic.data()[i], numeric));
  }
  return static_cast<std::size_t>(values.size());
}

/// check_gradient for every parameter (their .grad filled by a backward pass at the current values).
template <class Loss>
std::size_t check_parameter_gradients(const std::vector<model::Parameter<double>>& params, Loss&& loss) {
  std::size_t checked = 0;
  for (const auto& p : params) {
    const model::Matrix<double> analytic = *p.grad;
    checked += check_gradient(*p.value, analytic, loss, p.name);
  }
  return checked;
}

}  // namespace crosstune::test
