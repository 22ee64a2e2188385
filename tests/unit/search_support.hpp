// Shared by the search-policy tests: a GEMM sketch space and a synthetic cost model whose best candidates
// are known.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <set>
#include <span>
#include <vector>

#include "crosstune/ir/operators.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/search/search_policy.hpp"

namespace crosstune::test {

/// The CPU sketches of a 256³ GEMM on two cores.
inline schedule::CpuSketchSpace gemm_space() {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(256, 256, 256).value());
  return schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
}

/// A synthetic model: the higher the knob values sum in log scale, the "faster". Its optimum is far from
/// where uniform samples land, so only a search that follows the scores gets near it.
inline float synthetic_score(const schedule::CpuCandidate& c) {
  double s = 0;
  for (auto v : c.values) s += std::log2(static_cast<double>(std::max<std::int64_t>(1, v)) + 1.0);
  return static_cast<float>(s);
}

/// synthetic_score as a batched Scorer; counts its calls in `calls` when given.
inline search::Scorer synthetic_scorer(std::size_t* calls = nullptr) {
  return [calls](std::span<const schedule::CpuCandidate> candidates, std::span<float> scores) {
    REQUIRE(candidates.size() == scores.size());
    if (calls) ++*calls;
    for (std::size_t i = 0; i < candidates.size(); ++i) scores[i] = synthetic_score(candidates[i]);
  };
}

inline float mean_synthetic_score(const std::vector<schedule::CpuCandidate>& cs) {
  double s = 0;
  for (const auto& c : cs) s += synthetic_score(c);
  return static_cast<float>(s / static_cast<double>(cs.size()));
}

/// A guided answer of `n` candidates against 256 uniform draws: its best beyond theirs, its mean well above
/// theirs, every candidate valid and distinct.
inline void check_beats_random(const schedule::CpuSketchSpace& space, const std::vector<schedule::CpuCandidate>& guided, std::size_t n,
                               Rng& rng) {
  REQUIRE(guided.size() == n);
  search::RandomSearch random;
  search::SearchContext blind{.space = &space};
  const auto sampled = random.ask(blind, 256, rng);
  float best_random = 0, best_guided = 0;
  for (const auto& c : sampled) best_random = std::max(best_random, synthetic_score(c));
  for (const auto& c : guided) best_guided = std::max(best_guided, synthetic_score(c));
  CHECK(best_guided > best_random);
  CHECK(mean_synthetic_score(guided) > mean_synthetic_score(sampled) + 1.0f);
  std::set<std::uint64_t> distinct;
  for (const auto& c : guided) {
    CHECK(space.valid(c));
    distinct.insert(c.hash());
  }
  CHECK(distinct.size() == n);
}

}  // namespace crosstune::test
