#include "crosstune/model/pooling.hpp"

#include <doctest/doctest.h>

using namespace crosstune;
using namespace crosstune::model;

namespace {
// Three candidates of up to 3 steps with 2 features, 1 workload and 1 hardware feature; the second has
// one real step, the third none. Padding holds values that must not be read.
features::FeatureBatch small_batch() {
  features::FeatureBatch batch;
  batch.reshape(3, {"pool-test", 1, 2, 3, 1, 1});
  const float steps[3][3][2] = {
      {{1, -4}, {3, 2}, {99, 99}}, {{-5, 7}, {99, 99}, {99, 99}}, {{99, 99}, {99, 99}, {99, 99}}};
  const std::uint32_t lengths[3] = {2, 1, 0};
  for (std::size_t b = 0; b < 3; ++b) {
    batch.lengths[b] = lengths[b];
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t k = 0; k < 2; ++k)
        batch.steps(b, t, k) = steps[b][t][k];
    batch.workload(b, 0) = 10.0f + static_cast<float>(b);
    batch.hardware(b, 0) = 20.0f + static_cast<float>(b);
  }
  return batch;
}
}  // namespace

TEST_CASE("pooling takes mean and max over the real steps, then workload and hardware features") {
  const auto batch = small_batch();
  Matrix<double> out;
  pool_candidates(batch, 0, 3, out);
  REQUIRE(out.rows() == static_cast<Eigen::Index>(pooled_dims(2, 1, 1)));
  REQUIRE(out.cols() == 3);
  // Candidate 0: steps (1, -4) and (3, 2).
  CHECK(out(0, 0) == 2.0);
  CHECK(out(1, 0) == -1.0);
  CHECK(out(2, 0) == 3.0);
  CHECK(out(3, 0) == 2.0);
  CHECK(out(4, 0) == 10.0);
  CHECK(out(5, 0) == 20.0);
  // Candidate 1: one step (-5, 7): mean and max are the step itself, whatever the padding holds.
  CHECK(out(0, 1) == -5.0);
  CHECK(out(1, 1) == 7.0);
  CHECK(out(2, 1) == -5.0);
  CHECK(out(3, 1) == 7.0);
  // Candidate 2: no steps pools to zeros.
  CHECK(out.col(2).head(4).isZero());
  CHECK(out(4, 2) == 12.0);
  CHECK(out(5, 2) == 22.0);
}

TEST_CASE("pooling a range gives the same columns as pooling everything") {
  const auto batch = small_batch();
  Matrix<float> all, part;
  pool_candidates(batch, 0, 3, all);
  pool_candidates(batch, 1, 2, part);
  REQUIRE(part.cols() == 2);
  CHECK(part == all.rightCols(2));
}

TEST_CASE("pooling into a view writes the same columns, and nothing around them") {
  const auto batch = small_batch();
  Matrix<float> all;
  pool_candidates(batch, 0, 3, all);
  Matrix<float> wide = Matrix<float>::Constant(all.rows() + 2, 5, -1.0f);
  pool_candidates_into<float>(batch, 1, 2, wide.block(1, 2, all.rows(), 2));
  CHECK(wide.block(1, 2, all.rows(), 2) == all.rightCols(2));
  CHECK((wide.leftCols(2).array() == -1.0f).all());
  CHECK((wide.row(0).array() == -1.0f).all());
  CHECK((wide.bottomRows(1).array() == -1.0f).all());
  CHECK((wide.rightCols(1).array() == -1.0f).all());
}
