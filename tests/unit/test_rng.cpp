#include "crosstune/core/rng.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <set>
#include <vector>

using crosstune::Rng;

TEST_CASE("the generator reproduces xoshiro256** seeded by SplitMix64") {
  // Reference values from an independent Python implementation of the published algorithms.
  Rng rng(42);
  CHECK(rng() == 0x15780b2e0c2ec716ULL);
  CHECK(rng() == 0x6104d9866d113a7eULL);
  CHECK(rng() == 0xae17533239e499a1ULL);
  CHECK(rng() == 0xecb8ad4703b360a1ULL);
  Rng zero(0);
  CHECK(zero() == 0x99ec5f36cb75f2b4ULL);
  CHECK(zero() == 0xbf6e1f784956452aULL);
}

TEST_CASE("the same seed gives the same stream, reseed restarts it") {
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i)
    CHECK(a() == b());
  const auto first = Rng(7)();
  a.reseed(7);
  CHECK(a() == first);
  CHECK(a.seed() == 7);
}

TEST_CASE("uniform_index stays in range and covers every value about equally") {
  Rng rng(1);
  std::array<int, 10> counts{};
  const int draws = 100000;
  for (int i = 0; i < draws; ++i) {
    const auto v = rng.uniform_index(10);
    REQUIRE(v < 10);
    ++counts[v];
  }
  // Chi-square with 9 degrees of freedom; 27.9 is the 0.999 quantile.
  double chi2 = 0;
  for (int c : counts)
    chi2 += (c - draws / 10.0) * (c - draws / 10.0) / (draws / 10.0);
  CHECK(chi2 < 27.9);
}

TEST_CASE("uniform_int includes both ends") {
  Rng rng(3);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto v = rng.uniform_int(-2, 2);
    REQUIRE(v >= -2);
    REQUIRE(v <= 2);
    seen.insert(v);
  }
  CHECK(seen.size() == 5);
  CHECK(rng.uniform_int(5, 5) == 5);
}

TEST_CASE("uniform01 lies in [0, 1) with mean one half; normal has mean 0 and variance 1") {
  Rng rng(11);
  double sum = 0, sum_n = 0, sum_n2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform01();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    const double z = rng.normal();
    sum_n += z;
    sum_n2 += z * z;
  }
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(sum_n / n == doctest::Approx(0.0).epsilon(0.01));
  CHECK(sum_n2 / n == doctest::Approx(1.0).epsilon(0.02));
}

TEST_CASE("shuffle gives a permutation, the same one for the same seed") {
  std::vector<int> a(50), b(50);
  std::iota(a.begin(), a.end(), 0);
  b = a;
  Rng r1(5), r2(5);
  r1.shuffle(std::span<int>(a));
  r2.shuffle(std::span<int>(b));
  CHECK(a == b);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i)
    CHECK(sorted[static_cast<std::size_t>(i)] == i);
  std::vector<int> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(a != identity);
}

TEST_CASE("split streams differ from the parent and from each other") {
  Rng parent(9);
  Rng child1 = parent.split();
  Rng child2 = parent.split();
  std::set<std::uint64_t> values;
  for (int i = 0; i < 100; ++i) {
    values.insert(parent());
    values.insert(child1());
    values.insert(child2());
  }
  CHECK(values.size() == 300);
}

TEST_CASE("Rng satisfies the standard uniform random bit generator requirements") {
  static_assert(std::uniform_random_bit_generator<Rng>);
  CHECK(Rng::min() == 0);
}
