// The reference operators against independent computations: Eigen products for matmul, dense and
// batch_matmul; im2col followed by an Eigen product for conv2d (every group, stride, padding, dilation and
// both layouts); closed forms for pooling, softmax, the activations and reductions.
#include "crosstune/ir/reference.hpp"

#include <doctest/doctest.h>

#include <Eigen/Dense>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "crosstune/core/rng.hpp"
#include "operator_cases.hpp"

using namespace crosstune;
using namespace crosstune::ir::reference;

namespace {
using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

using crosstune::test::random_values;
RowMatrix as_matrix(const std::vector<float>& v, std::int64_t rows, std::int64_t cols,
                    std::int64_t offset = 0) {
  RowMatrix m(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j)
      m(i, j) = v[static_cast<std::size_t>(offset + i * cols + j)];
  return m;
}
void check_close(const std::vector<float>& got, const RowMatrix& want, std::int64_t offset = 0) {
  for (Eigen::Index i = 0; i < want.rows(); ++i)
    for (Eigen::Index j = 0; j < want.cols(); ++j)
      REQUIRE(got[static_cast<std::size_t>(offset + i * want.cols() + j)] ==
              doctest::Approx(want(i, j)).epsilon(1e-5).scale(1.0));
}

/// conv2d as im2col + one Eigen product per group: an independent route to the same numbers (NCHW data
/// and OIHW kernel; NHWC inputs are transposed to that first).
std::vector<double> conv2d_by_im2col(const std::vector<float>& data, const std::vector<float>& kernel,
                                     const Conv2dParams& p) {
  const std::int64_t oh = p.out_height(), ow = p.out_width();
  const std::int64_t gi = p.in_channels / p.groups, go = p.out_channels / p.groups;
  std::vector<double> out(static_cast<std::size_t>(p.output_size()));
  for (std::int64_t n = 0; n < p.batch; ++n)
    for (std::int64_t g = 0; g < p.groups; ++g) {
      RowMatrix cols = RowMatrix::Zero(gi * p.kernel_h * p.kernel_w, oh * ow);
      for (std::int64_t c = 0; c < gi; ++c)
        for (std::int64_t ky = 0; ky < p.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < p.kernel_w; ++kx)
            for (std::int64_t y = 0; y < oh; ++y)
              for (std::int64_t x = 0; x < ow; ++x) {
                const std::int64_t iy = y * p.stride_h + ky * p.dilation_h - p.pad_top;
                const std::int64_t ix = x * p.stride_w + kx * p.dilation_w - p.pad_left;
                if (iy >= 0 && iy < p.in_height && ix >= 0 && ix < p.in_width)
                  cols((c * p.kernel_h + ky) * p.kernel_w + kx, y * ow + x) = data[static_cast<std::size_t>(
                      ((n * p.in_channels + g * gi + c) * p.in_height + iy) * p.in_width + ix)];
              }
      const RowMatrix weights =
          as_matrix(kernel, go, gi * p.kernel_h * p.kernel_w, g * go * gi * p.kernel_h * p.kernel_w);
      const RowMatrix product = weights * cols;
      for (std::int64_t o = 0; o < go; ++o)
        for (std::int64_t q = 0; q < oh * ow; ++q)
          out[static_cast<std::size_t>((n * p.out_channels + g * go + o) * oh * ow + q)] = product(o, q);
    }
  return out;
}
}  // namespace

TEST_CASE("matmul, dense with bias and activations, and batch_matmul match Eigen's products") {
  Rng rng(1);
  for (const auto& mnk : {std::array<std::int64_t, 3>{1, 1, 1}, {7, 13, 5}, {16, 3, 255}, {33, 17, 9}}) {
    const std::int64_t m = mnk[0], n = mnk[1], k = mnk[2];
    CAPTURE(m);
    CAPTURE(n);
    CAPTURE(k);
    const auto a = random_values(m * k, rng), b = random_values(k * n, rng), w = random_values(n * k, rng),
               bias = random_values(n, rng);
    std::vector<float> out(static_cast<std::size_t>(m * n));
    REQUIRE(matmul(a, b, out, m, n, k));
    check_close(out, as_matrix(a, m, k) * as_matrix(b, k, n));
    for (auto act : {Activation::none, Activation::relu, Activation::gelu}) {
      REQUIRE(dense(a, w, bias, out, m, n, k, act));
      RowMatrix want = as_matrix(a, m, k) * as_matrix(w, n, k).transpose();
      for (Eigen::Index i = 0; i < want.rows(); ++i)
        for (Eigen::Index j = 0; j < want.cols(); ++j) {
          const double x = want(i, j) + bias[static_cast<std::size_t>(j)];
          want(i, j) = act == Activation::none   ? x
                       : act == Activation::relu ? std::max(x, 0.0)
                                                 : 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        }
      check_close(out, want);
    }
    REQUIRE(dense(a, w, {}, out, m, n, k));
    check_close(out, as_matrix(a, m, k) * as_matrix(w, n, k).transpose());
  }
  // Batches, with the second operand broadcast, in both layouts of b.
  const std::int64_t batch = 3, m = 5, n = 4, k = 6;
  const auto a = random_values(batch * m * k, rng), b = random_values(n * k, rng);
  std::vector<float> out(static_cast<std::size_t>(batch * m * n));
  for (bool transposed : {true, false}) {
    REQUIRE(batch_matmul(a, b, out, batch, 1, m, n, k, transposed));
    const RowMatrix bm = transposed ? RowMatrix(as_matrix(b, n, k).transpose()) : as_matrix(b, k, n);
    for (std::int64_t z = 0; z < batch; ++z)
      check_close(out, as_matrix(a, m, k, z * m * k) * bm, z * m * n);
  }
  CHECK_FALSE(batch_matmul(a, b, out, 3, 2, m, n, k));  // 3 and 2 do not broadcast
}

TEST_CASE("conv2d matches im2col + GEMM for strides, paddings, dilations, groups and both layouts") {
  Rng rng(2);
  std::vector<Conv2dParams> cases = {
      {.batch = 1, .in_channels = 1, .in_height = 1, .in_width = 1, .out_channels = 1},
      {.batch = 2,
       .in_channels = 3,
       .in_height = 7,
       .in_width = 13,
       .out_channels = 4,
       .kernel_h = 3,
       .kernel_w = 3,
       .pad_top = 1,
       .pad_left = 1,
       .pad_bottom = 1,
       .pad_right = 1},
      {.batch = 1,
       .in_channels = 4,
       .in_height = 13,
       .in_width = 7,
       .out_channels = 6,
       .kernel_h = 3,
       .kernel_w = 5,
       .stride_h = 2,
       .stride_w = 3,
       .pad_top = 0,
       .pad_left = 2,
       .pad_bottom = 1,
       .pad_right = 0},
      {.batch = 1,
       .in_channels = 6,
       .in_height = 9,
       .in_width = 9,
       .out_channels = 4,
       .kernel_h = 3,
       .kernel_w = 3,
       .pad_top = 2,
       .pad_left = 2,
       .pad_bottom = 2,
       .pad_right = 2,
       .dilation_h = 2,
       .dilation_w = 2,
       .groups = 2},
      {.batch = 2,
       .in_channels = 5,
       .in_height = 6,
       .in_width = 5,
       .out_channels = 10,
       .kernel_h = 2,
       .kernel_w = 2,
       .stride_h = 2,
       .stride_w = 2,
       .groups = 5},
  };
  for (const auto& p : cases) {
    CAPTURE(p.groups);
    CAPTURE(p.stride_h);
    const auto data = random_values(p.input_size(), rng), kernel = random_values(p.kernel_size(), rng);
    std::vector<float> out(static_cast<std::size_t>(p.output_size()));
    REQUIRE(conv2d(data, kernel, out, p));
    const auto want = conv2d_by_im2col(data, kernel, p);
    for (std::size_t i = 0; i < out.size(); ++i)
      REQUIRE(out[i] == doctest::Approx(want[i]).epsilon(1e-5).scale(1.0));
    // NHWC: the same numbers, with data, kernel and output transposed.
    Conv2dParams q = p;
    q.layout = Layout::nhwc;
    std::vector<float> data_nhwc(data.size()), kernel_hwio(kernel.size()), out_nhwc(out.size());
    const std::int64_t gi = p.in_channels / p.groups, oh = p.out_height(), ow = p.out_width();
    for (std::int64_t n = 0; n < p.batch; ++n)
      for (std::int64_t c = 0; c < p.in_channels; ++c)
        for (std::int64_t y = 0; y < p.in_height; ++y)
          for (std::int64_t x = 0; x < p.in_width; ++x)
            data_nhwc[static_cast<std::size_t>(((n * p.in_height + y) * p.in_width + x) * p.in_channels +
                                               c)] =
                data[static_cast<std::size_t>(((n * p.in_channels + c) * p.in_height + y) * p.in_width + x)];
    for (std::int64_t o = 0; o < p.out_channels; ++o)
      for (std::int64_t i = 0; i < gi; ++i)
        for (std::int64_t ky = 0; ky < p.kernel_h; ++ky)
          for (std::int64_t kx = 0; kx < p.kernel_w; ++kx)
            kernel_hwio[static_cast<std::size_t>(((ky * p.kernel_w + kx) * gi + i) * p.out_channels + o)] =
                kernel[static_cast<std::size_t>(((o * gi + i) * p.kernel_h + ky) * p.kernel_w + kx)];
    REQUIRE(conv2d(data_nhwc, kernel_hwio, out_nhwc, q));
    for (std::int64_t n = 0; n < p.batch; ++n)
      for (std::int64_t o = 0; o < p.out_channels; ++o)
        for (std::int64_t y = 0; y < oh; ++y)
          for (std::int64_t x = 0; x < ow; ++x)
            REQUIRE(out_nhwc[static_cast<std::size_t>(((n * oh + y) * ow + x) * p.out_channels + o)] ==
                    out[static_cast<std::size_t>(((n * p.out_channels + o) * oh + y) * ow + x)]);
  }
}

TEST_CASE("a 1x1 convolution is a matmul, and a depthwise convolution is a grouped one") {
  Rng rng(3);
  const Conv2dParams p{.batch = 1, .in_channels = 8, .in_height = 5, .in_width = 3, .out_channels = 6};
  const auto data = random_values(p.input_size(), rng), kernel = random_values(p.kernel_size(), rng);
  std::vector<float> out(static_cast<std::size_t>(p.output_size())), mm(out.size());
  REQUIRE(conv2d(data, kernel, out, p));
  REQUIRE(matmul(kernel, data, mm, 6, 15, 8));  // [O, C] x [C, H*W]
  for (std::size_t i = 0; i < out.size(); ++i)
    CHECK(out[i] == doctest::Approx(mm[i]).epsilon(1e-6));
  Conv2dParams d{.batch = 2,
                 .in_channels = 3,
                 .in_height = 6,
                 .in_width = 6,
                 .kernel_h = 3,
                 .kernel_w = 3,
                 .stride_h = 2,
                 .stride_w = 2,
                 .pad_top = 1,
                 .pad_left = 1,
                 .pad_bottom = 1,
                 .pad_right = 1};
  const std::int64_t multiplier = 2;
  Conv2dParams grouped = d;
  grouped.groups = 3;
  grouped.out_channels = 6;
  const auto input = random_values(d.input_size(), rng), filters = random_values(grouped.kernel_size(), rng);
  std::vector<float> depthwise(static_cast<std::size_t>(grouped.output_size())), as_groups(depthwise.size());
  REQUIRE(depthwise_conv2d(input, filters, depthwise, d, multiplier));
  REQUIRE(conv2d(input, filters, as_groups, grouped));
  CHECK(depthwise == as_groups);
  CHECK_FALSE(depthwise_conv2d(input, filters, depthwise, d, 0));
}

TEST_CASE("pooling: max ignores the padding, avg divides by the window or by its part inside") {
  // One 3x3 channel, values 1..9; 2x2 windows, stride 1, padding 1 at the bottom and right.
  std::vector<float> data = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  Pool2dParams p{.kind = PoolKind::max,
                 .in_height = 3,
                 .in_width = 3,
                 .kernel_h = 2,
                 .kernel_w = 2,
                 .pad_bottom = 1,
                 .pad_right = 1};
  std::vector<float> out(static_cast<std::size_t>(p.output_size()));
  REQUIRE(out.size() == 9);
  REQUIRE(pool2d(data, out, p));
  CHECK(out == std::vector<float>{5, 6, 6, 8, 9, 9, 8, 9, 9});
  p.kind = PoolKind::avg;
  REQUIRE(pool2d(data, out, p));
  CHECK(out[0] == doctest::Approx((1 + 2 + 4 + 5) / 4.0));
  CHECK(out[8] == doctest::Approx(9 / 4.0));  // three of the four cells are padding, counted as zeros
  p.count_include_pad = false;
  REQUIRE(pool2d(data, out, p));
  CHECK(out[8] == doctest::Approx(9.0));
  CHECK(out[5] == doctest::Approx((6 + 9) / 2.0));
  // Every pixel of a random image, against the same windows taken by hand in NHWC.
  Rng rng(4);
  Pool2dParams q{.kind = PoolKind::max,
                 .batch = 2,
                 .channels = 3,
                 .in_height = 7,
                 .in_width = 5,
                 .kernel_h = 3,
                 .kernel_w = 3,
                 .stride_h = 2,
                 .stride_w = 2,
                 .layout = Layout::nhwc};
  const auto image = random_values(2 * 3 * 7 * 5, rng);
  std::vector<float> pooled(static_cast<std::size_t>(q.output_size()));
  REQUIRE(pool2d(image, pooled, q));
  const std::int64_t oh = 3, ow = 2;
  for (std::int64_t n = 0; n < 2; ++n)
    for (std::int64_t c = 0; c < 3; ++c)
      for (std::int64_t y = 0; y < oh; ++y)
        for (std::int64_t x = 0; x < ow; ++x) {
          float top = -1e30f;
          for (std::int64_t ky = 0; ky < 3; ++ky)
            for (std::int64_t kx = 0; kx < 3; ++kx)
              top = std::max(
                  top, image[static_cast<std::size_t>(((n * 7 + 2 * y + ky) * 5 + 2 * x + kx) * 3 + c)]);
          CHECK(pooled[static_cast<std::size_t>(((n * oh + y) * ow + x) * 3 + c)] == top);
        }
}

TEST_CASE("elementwise operations, broadcasting, softmax and reductions match their closed forms") {
  Rng rng(5);
  const auto x = random_values(24, rng);
  std::vector<float> y(24);
  REQUIRE(unary(x, y, UnaryOp::sigmoid));
  CHECK(y[3] == doctest::Approx(1.0 / (1.0 + std::exp(-static_cast<double>(x[3])))));
  REQUIRE(unary(x, y, UnaryOp::gelu));
  CHECK(y[5] == doctest::Approx(0.5 * x[5] * (1.0 + std::erf(x[5] / std::sqrt(2.0)))));
  CHECK_FALSE(unary(x, std::span<float>(y).first(3), UnaryOp::relu));

  // [2, 3, 4] + [3, 1]: the second operand stretches along the first and last dimensions.
  const auto b = random_values(3, rng);
  auto shape = broadcast_shape({2, 3, 4}, {3, 1});
  REQUIRE(shape);
  CHECK(*shape == Shape{2, 3, 4});
  REQUIRE(binary(x, {2, 3, 4}, b, {3, 1}, y, BinaryOp::add));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t k = 0; k < 4; ++k)
        CHECK(y[static_cast<std::size_t>((i * 3 + j) * 4 + k)] ==
              doctest::Approx(x[static_cast<std::size_t>((i * 3 + j) * 4 + k)] +
                              b[static_cast<std::size_t>(j)]));
  CHECK_FALSE(broadcast_shape({2, 3}, {4}));

  // Softmax along the middle axis: each fibre sums to 1, and large inputs do not overflow.
  std::vector<float> big(x);
  for (auto& v : big)
    v = v * 10.0f + 1000.0f;
  REQUIRE(softmax(big, {2, 3, 4}, 1, y));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t k = 0; k < 4; ++k) {
      double total = 0;
      for (std::int64_t j = 0; j < 3; ++j) {
        const auto at = static_cast<std::size_t>((i * 3 + j) * 4 + k);
        CHECK(std::isfinite(y[at]));
        total += y[at];
      }
      CHECK(total == doctest::Approx(1.0));
    }
  CHECK_FALSE(softmax(big, {2, 3, 4}, 3, y));

  // Reductions over axes 0 and 2 of [2, 3, 4], against Eigen's sums.
  auto reduced_shape = reduce_shape({2, 3, 4}, {0, 2}, true);
  REQUIRE(reduced_shape);
  CHECK(*reduced_shape == Shape{1, 3, 1});
  std::vector<float> r(3);
  for (auto op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max, ReduceOp::min}) {
    REQUIRE(reduce(x, {2, 3, 4}, {0, 2}, false, r, op));
    for (std::int64_t j = 0; j < 3; ++j) {
      Eigen::VectorXd fibre(8);
      for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t k = 0; k < 4; ++k)
          fibre(i * 4 + k) = x[static_cast<std::size_t>((i * 3 + j) * 4 + k)];
      const double want = op == ReduceOp::sum    ? fibre.sum()
                          : op == ReduceOp::mean ? fibre.mean()
                          : op == ReduceOp::max  ? fibre.maxCoeff()
                                                 : fibre.minCoeff();
      CHECK(r[static_cast<std::size_t>(j)] == doctest::Approx(want));
    }
  }
  CHECK_FALSE(reduce_shape({2, 3}, {0, 0}, false));
  CHECK_FALSE(reduce_shape({2, 3}, {2}, false));
}

TEST_CASE("bad shapes and parameters are errors naming the operator, never reads out of bounds") {
  std::vector<float> small(4), out(4);
  // volatile: GCC would otherwise fold the sizes into the loops behind the refused check and warn about
  // reads it cannot prove unreachable.
  volatile std::int64_t three = 3;
  auto mm = matmul(small, small, out, 2, 2, three);
  REQUIRE_FALSE(mm);
  CHECK(mm.error().message == "reference::matmul: a holds 4 values, its shape 6");
  Conv2dParams p{.in_channels = 3, .in_height = 2, .in_width = 2, .out_channels = 2, .groups = 2};
  auto groups = conv2d(small, small, out, p);
  REQUIRE_FALSE(groups);
  CHECK(groups.error().message.find("2 groups do not divide 3 input") != std::string::npos);
  Conv2dParams big_kernel{.in_height = 2, .in_width = 2, .kernel_h = 3, .kernel_w = 3};
  CHECK(big_kernel.validate().error().message.find("larger than the padded input") != std::string::npos);
  Conv2dParams zero_stride{.in_height = 2, .in_width = 2, .stride_h = 0};
  CHECK_FALSE(zero_stride.validate());
  Conv2dParams negative_pad{.in_height = 2, .in_width = 2, .pad_top = -1};
  CHECK_FALSE(negative_pad.validate());
  CHECK_FALSE(
      dense(small, small, std::span<const float>(small).first(1), out, 2, 2, 2));  // bias of 1 for N=2
  CHECK(element_count({}) == 1);
  CHECK(element_count({3, 0, 2}) == 0);
}
