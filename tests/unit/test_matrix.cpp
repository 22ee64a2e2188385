// Counts heap allocations two ways: Eigen's, with EIGEN_RUNTIME_NO_MALLOC (every Eigen allocation while
// set_is_malloc_allowed(false) fails an eigen_assert, which this test counts instead of aborting), and
// everything else's through operator new, replaced below (std::vector and the other containers).
#include <atomic>
#include <cstdlib>
#include <new>
namespace {
std::atomic<int> eigen_assert_failures{0};
std::atomic<bool> counting_new{false};
std::atomic<int> new_calls{0};
}  // namespace

// GCC takes free() in a replaced operator delete for a mismatch; here malloc() is the matching call.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
// Every unaligned form is replaced, so that each allocation and its release meet in malloc and free.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (counting_new) ++new_calls;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new(std::size_t size) {
  if (void* p = operator new(size, std::nothrow)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return operator new(size, std::nothrow);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#define eigen_assert(x)                \
  do {                                 \
    if (!(x)) ++eigen_assert_failures; \
  } while (false)
#define EIGEN_RUNTIME_NO_MALLOC
#include "crosstune/model/matrix.hpp"

#include <doctest/doctest.h>

#include <numeric>
#include <vector>

#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/mlp.hpp"
#include "crosstune/model/parallel.hpp"
#include "crosstune/model/trainer.hpp"
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
/// Calls of operator new while f runs.
template <class F>
int new_allocations(F&& f) {
  const int before = new_calls;
  counting_new = true;
  f();
  counting_new = false;
  return new_calls - before;
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

TEST_CASE("the counters see allocations") {
  CHECK(new_allocations([] { std::vector<int> v(3); }) == 1);
  CHECK(eigen_allocations([] { Matrix<float> m(4, 4); }) == 1);
}

TEST_CASE("Scratch lends views of any shape and grows only past its largest request") {
  Scratch<double> scratch;
  auto a = scratch.view(3, 4);
  CHECK((a.rows() == 3 && a.cols() == 4));
  a.setConstant(2.0);
  CHECK(scratch.capacity() == 12);
  CHECK(eigen_allocations([&] {
          auto b = scratch.view(2, 6);  // same size
          auto c = scratch.view(5, 1);  // smaller
          b.setOnes();
          c.setZero();
        }) == 0);
  CHECK(scratch.capacity() == 12);
  CHECK(eigen_allocations([&] { (void)scratch.view(4, 4); }) == 1);
  CHECK(scratch.capacity() == 16);
  const Scratch<double> copy(scratch);  // a copy has storage of its own, grown on first use
  CHECK(copy.capacity() == 0);
  CHECK(scratch.view(0, 7).size() == 0);
}

TEST_CASE("after its largest chunk, prediction takes no heap memory for chunks of any shape") {
  const auto data = test::make_synthetic(96, 7);  // 2 to 8 steps per candidate
  auto config = test::small_synthetic_config();
  config.hidden = 128;
  Rng rng(1);
  BiLstmAttentionNet<float> net(config, rng);
  // Candidates sorted by length, so chunks of one size have different longest step counts.
  std::vector<std::size_t> order(data.batch.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return data.batch.lengths[a] < data.batch.lengths[b];
  });
  features::FeatureBatch sorted;
  gather(data.batch, order, sorted);
  // The largest chunk: 64 candidates of the longest step count (the longest candidate, copied).
  features::FeatureBatch largest;
  gather(sorted, std::vector<std::size_t>(128, sorted.size() - 1), largest);
  std::vector<float> warm(largest.size()), whole(sorted.size());
  predict(net, sorted, whole, /*chunk=*/1);  // the reference: every candidate alone
  predict(net, largest, warm, /*chunk=*/64);
  for (const std::size_t chunk : {64, 17, 5, 1, 40}) {
    CAPTURE(chunk);
    std::vector<float> scores(sorted.size());
    int eigen = 0;
    const int other =
        new_allocations([&] { eigen = eigen_allocations([&] { predict(net, sorted, scores, chunk); }); });
    CHECK(eigen == 0);
    CHECK(other == 0);
    for (std::size_t i = 0; i < scores.size(); ++i)  // chunking changes no score
      CHECK(scores[i] == doctest::Approx(whole[i]).epsilon(1e-5));
  }
  // The Predictor with two copies of the network, each warmed up by one chunk of the largest shape.
  Predictor<BiLstmAttentionNet<float>> predictor(2, 64);
  predictor.predict(net, largest, warm);
  for (const std::size_t n : {96, 50, 9, 1}) {
    CAPTURE(n);
    features::FeatureBatch part;
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), sorted.size() - n);  // the longest candidates
    gather(sorted, rows, part);
    std::vector<float> part_scores(n);
    int eigen = 0;
    const int other = new_allocations(
        [&] { eigen = eigen_allocations([&] { predictor.predict(net, part, part_scores); }); });
    CHECK(eigen == 0);
    CHECK(other == 0);
    for (std::size_t i = 0; i < n; ++i)
      CHECK(part_scores[i] == doctest::Approx(whole[sorted.size() - n + i]).epsilon(1e-5));
  }
}

TEST_CASE("the MLP baseline predicts without heap memory after its largest chunk, as its training pass") {
  const auto data = test::make_synthetic(50, 3);
  Rng rng(2);
  PooledMlpNet<float> net({6, 2, 2, 256}, rng);
  const Matrix<float> expected = net.forward(data.batch);  // the training pass, all at once
  std::vector<float> scores(data.batch.size());
  predict(net, data.batch, scores, /*chunk=*/50);  // warm-up: the largest chunk
  for (const std::size_t chunk : {50, 7, 1}) {
    CAPTURE(chunk);
    int eigen = 0;
    const int other =
        new_allocations([&] { eigen = eigen_allocations([&] { predict(net, data.batch, scores, chunk); }); });
    CHECK(eigen == 0);
    CHECK(other == 0);
    for (std::size_t i = 0; i < scores.size(); ++i)
      CHECK(scores[i] == doctest::Approx(expected(0, static_cast<Eigen::Index>(i))).epsilon(1e-6));
  }
}
