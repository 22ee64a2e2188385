// crosstune/model/matrix.hpp — the model's matrix types, and products that take no heap memory.
//
// Eigen packs the operands of a large product into two buffers, on the stack when each fits under
// EIGEN_STACK_ALLOCATION_LIMIT (128 KiB by default) and on the heap otherwise — two heap allocations per
// product, or per recurrent step of an LSTM at hidden size 128 ([512 x 128] x [128 x B]). multiply()
// cuts the product into row, column and depth panels small enough for the stack, so the cost model's
// forward passes run their products without touching the allocator; the panels stay large (at least
// 128 x 128 for depths up to 256), so the packing overhead stays small.
//
// Scratch is storage that only grows, viewed as a matrix of any shape: a buffer whose shape changes
// from call to call (another batch size, another step count) is resized without the allocator once it
// has held its largest shape.
//
//   crosstune::model::multiply<float>(gates, w_ih, x);                      // gates = w_ih * x
//   crosstune::model::multiply<float>(gates, w_hh, h, /*accumulate=*/true);  // gates += w_hh * h
//   crosstune::model::Scratch<float> buffer;
//   auto m = buffer.view(rows, cols);  // a [rows, cols] Map; allocates only beyond the largest so far
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cstddef>

namespace crosstune::model {

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// Rows or columns per panel, and depth per panel, such that Eigen's packed panels ([rows, depth] and
/// [depth, columns]) stay on the stack.
template <class Scalar>
struct PanelSizes {
  static constexpr Eigen::Index stack_scalars =
      static_cast<Eigen::Index>(EIGEN_STACK_ALLOCATION_LIMIT / sizeof(Scalar));
  static constexpr Eigen::Index max_depth = 256;
  static Eigen::Index width(Eigen::Index depth) noexcept {
    return std::max<Eigen::Index>(16, stack_scalars / std::max<Eigen::Index>(depth, 1) / 16 * 16);
  }
};

/// dst = lhs * rhs (or dst += lhs * rhs with `accumulate`), without heap allocation for any size.
/// Operands must not alias dst. dst must already have lhs.rows() x rhs.cols().
template <class Scalar>
void multiply(Eigen::Ref<Matrix<Scalar>> dst, const Eigen::Ref<const Matrix<Scalar>>& lhs,
              const Eigen::Ref<const Matrix<Scalar>>& rhs, bool accumulate = false) {
  using Sizes = PanelSizes<Scalar>;
  const Eigen::Index rows = lhs.rows(), cols = rhs.cols(), depth = lhs.cols();
  eigen_assert(rhs.rows() == depth && dst.rows() == rows && dst.cols() == cols);
  if (depth == 0) {
    if (!accumulate) dst.setZero();
    return;
  }
  const Eigen::Index k_step = std::min(depth, Sizes::max_depth);
  const Eigen::Index step = Sizes::width(k_step);
  for (Eigen::Index k = 0; k < depth; k += k_step) {
    const Eigen::Index nk = std::min(k_step, depth - k);
    const bool add = accumulate || k > 0;
    for (Eigen::Index r = 0; r < rows; r += step) {
      const Eigen::Index nr = std::min(step, rows - r);
      for (Eigen::Index c = 0; c < cols; c += step) {
        const Eigen::Index nc = std::min(step, cols - c);
        auto out = dst.block(r, c, nr, nc);
        const auto a = lhs.block(r, k, nr, nk);
        const auto b = rhs.block(k, c, nk, nc);
        if (add)
          out.noalias() += a * b;
        else
          out.noalias() = a * b;
      }
    }
  }
}

/// Storage that only grows, lent out as a matrix of any shape. A view's contents are undefined until
/// written, and the next view() of the same Scratch invalidates it. Copies start empty: a copy of a
/// network gets buffers of its own.
template <class Scalar>
class Scratch {
 public:
  using View = Eigen::Map<Matrix<Scalar>, Eigen::AlignedMax>;

  Scratch() = default;
  Scratch(const Scratch&) noexcept {}
  Scratch& operator=(const Scratch&) noexcept { return *this; }
  Scratch(Scratch&&) noexcept = default;
  Scratch& operator=(Scratch&&) noexcept = default;
  ~Scratch() = default;

  /// A [rows, cols] view; allocates only when rows * cols exceeds every earlier request.
  View view(Eigen::Index rows, Eigen::Index cols) {
    if (storage_.size() < rows * cols) storage_.resize(rows * cols);
    return View(storage_.data(), rows, cols);
  }
  /// Scalars held: the largest request so far.
  [[nodiscard]] Eigen::Index capacity() const noexcept { return storage_.size(); }

 private:
  Vector<Scalar> storage_;
};

}  // namespace crosstune::model
