// crosstune/model/pooling.hpp — order-free features of a candidate: its step features pooled over time.
//
// The baselines see a program as a bag of loop transformations: the mean and the maximum of each step
// feature over the candidate's real steps (padding ignored), then its workload and hardware features.
// One column per candidate, [2 D + W + H] rows; a column-major matrix of them is therefore, in memory,
// the row-major [candidates, features] table that tree libraries read.
//
//   crosstune::model::Matrix<float> table;
//   crosstune::model::pool_candidates(batch, 0, batch.size(), table);
//   crosstune::model::pool_candidates_into<float>(batch, first, count, scratch.view(rows, count));
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>

#include "crosstune/features/feature_batch.hpp"
#include "crosstune/model/matrix.hpp"

namespace crosstune::model {

/// Rows of a pooled column for step, workload and hardware widths D, W, H: 2 D + W + H.
[[nodiscard]] constexpr std::size_t pooled_dims(std::size_t step_dims, std::size_t workload_dims,
                                                std::size_t hardware_dims) noexcept {
  return 2 * step_dims + workload_dims + hardware_dims;
}

/// Pooled features of candidates [first, first + count) of `batch` into `out` ([2 D + W + H, count]):
/// rows [0, D) the mean of each step feature over the real steps, [D, 2 D) their maximum, then the
/// workload and hardware features. A candidate without steps pools to zeros. `out` has that shape
/// already (a view of grow-only storage, say); pool_candidates below resizes a Matrix to it.
template <class Scalar>
void pool_candidates_into(const features::FeatureBatch& batch, std::size_t first, std::size_t count,
                          Eigen::Ref<Matrix<Scalar>> out) {
  const std::size_t S = batch.steps.shape()[1], D = batch.steps.shape()[2], W = batch.workload.shape()[1],
                    H = batch.hardware.shape()[1];
  const auto Di = static_cast<Eigen::Index>(D);
  eigen_assert(out.rows() == static_cast<Eigen::Index>(pooled_dims(D, W, H)) &&
               out.cols() == static_cast<Eigen::Index>(count));
  for (std::size_t b = 0; b < count; ++b) {
    const auto col = static_cast<Eigen::Index>(b);
    const std::size_t length = std::min<std::size_t>(batch.lengths[first + b], S);
    auto mean = out.col(col).head(Di);
    auto max = out.col(col).segment(Di, Di);
    mean.setZero();
    max.setConstant(length > 0 ? -std::numeric_limits<Scalar>::infinity() : Scalar(0));
    for (std::size_t t = 0; t < length; ++t) {
      const float* row = batch.steps.data() + ((first + b) * S + t) * D;
      for (std::size_t k = 0; k < D; ++k) {
        const auto v = static_cast<Scalar>(row[k]);
        const auto i = static_cast<Eigen::Index>(k);
        mean(i) += v;
        max(i) = std::max(max(i), v);
      }
    }
    if (length > 0) mean /= static_cast<Scalar>(length);
    for (std::size_t k = 0; k < W; ++k)
      out(2 * Di + static_cast<Eigen::Index>(k), col) = static_cast<Scalar>(batch.workload(first + b, k));
    for (std::size_t k = 0; k < H; ++k)
      out(2 * Di + static_cast<Eigen::Index>(W + k), col) = static_cast<Scalar>(batch.hardware(first + b, k));
  }
}

/// pool_candidates_into a Matrix resized to [2 D + W + H, count].
template <class Scalar>
void pool_candidates(const features::FeatureBatch& batch, std::size_t first, std::size_t count,
                     Matrix<Scalar>& out) {
  out.resize(static_cast<Eigen::Index>(
                 pooled_dims(batch.steps.shape()[2], batch.workload.shape()[1], batch.hardware.shape()[1])),
             static_cast<Eigen::Index>(count));
  pool_candidates_into<Scalar>(batch, first, count, out);
}

}  // namespace crosstune::model
