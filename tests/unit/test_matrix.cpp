// Counts Eigen's heap allocations: with EIGEN_RUNTIME_NO_MALLOC, every Eigen allocation while
// set_is_malloc_allowed(false) fails an eigen_assert, which this test counts instead of aborting.
#include <atomic>
namespace {
std::atomic<int> eigen_assert_failures{0};
}
#define eigen_assert(x)                \
  do {                                 \
    if (!(x)) ++eigen_assert_failures; \
  } while (false)
#define EIGEN_RUNTIME_NO_MALLOC
#include "crosstune/model/matrix.hpp"

#include <doctest/doctest.h>

#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/parallel.hpp"
#include "synthetic_ranking.hpp"

using namespace crosstune;
using namespace crosstune::model;

namespace {
/// Eigen heap allocations (and any other failed Eigen assertion) while f runs.
template <class F>
int eigen_allocations(F&& f) {
  const int before = eigen_assert_failures;
  Eigen::internal::set_is_malloc_allowed(false);
  f();
  Eigen::internal::set_is_malloc_allowed(true);
  return eigen_assert_failures - before;
}
}  // namespace

TEST_CASE("the counter sees an allocating Eigen product") {
  const Matrix<float> a = Matrix<float>::Random(512, 256), b = Matrix<float>::Random(256, 1024);
  Matrix<float> c(512, 1024);
  CHECK(eigen_allocations([&] { c.noalias() = a * b; }) > 0);  // packing buffers above the stack limit
}

TEST_CASE("multiply matches Eigen's product for panelled shapes, and takes no heap memory") {
  // Shapes below, at and above one panel in every dimension, depths above one depth panel included.
  const Eigen::Index shapes[][3] = {{1, 1, 1},       {3, 5, 2},       {16, 16, 16},  {129, 64, 257},
                                    {512, 128, 256}, {256, 300, 100}, {40, 700, 33}, {7, 0, 9}};
  for (const auto& s : shapes) {
    const Matrix<double> a = Matrix<double>::Random(s[0], s[1]), b = Matrix<double>::Random(s[1], s[2]);
    const Matrix<double> expected = a * b;
    Matrix<double> c(s[0], s[2]);
    CHECK(eigen_allocations([&] { multiply<double>(c, a, b); }) == 0);
    CHECK((c - expected).cwiseAbs().maxCoeff() <= 1e-12 * static_cast<double>(s[1] + 1));
    Matrix<double> acc = Matrix<double>::Ones(s[0], s[2]);
    multiply<double>(acc, a, b, /*accumulate=*/true);
    CHECK((acc - expected - Matrix<double>::Ones(s[0], s[2])).cwiseAbs().maxCoeff() <=
          1e-12 * static_cast<double>(s[1] + 1));
  }
  // Into blocks of a larger matrix, as the LSTM writes one step's gates.
  const Matrix<float> w = Matrix<float>::Random(512, 128), h = Matrix<float>::Random(128, 64);
  Matrix<float> gates = Matrix<float>::Zero(512, 64 * 4);
  CHECK(eigen_allocations([&] { multiply<float>(gates.middleCols(64, 64), w, h); }) == 0);
  CHECK((gates.middleCols(64, 64) - w * h).cwiseAbs().maxCoeff() < 1e-4f);
  CHECK(gates.leftCols(64).isZero());
}

TEST_CASE("a warm prediction of the same candidates takes no heap memory from Eigen") {
  const auto data = test::make_synthetic(64, 5);
  auto config = test::small_synthetic_config();
  config.hidden = 128;  // the recurrent product [512 x 128] x [128 x B] is above Eigen's stack limit
  Rng rng(0);
  BiLstmAttentionNet<float> net(config, rng);
  for (const std::size_t threads : {1, 2}) {  // one chunk, or one chunk on each of two network copies
    Predictor<BiLstmAttentionNet<float>> predictor(threads);
    std::vector<float> first(64), second(64);
    predictor.predict(net, data.batch, first);  // warm-up: the buffers take their sizes
    CHECK(eigen_allocations([&] { predictor.predict(net, data.batch, second); }) == 0);
    CHECK(first == second);
  }
}
