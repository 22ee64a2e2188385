// search::EvolutionarySearch against a scorer whose best candidates are known: it must find better ones
// than random sampling, never propose a measured candidate, keep its eps-greedy share random, and repeat
// itself for a seed.
#include "crosstune/search/evolutionary_search.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "crosstune/ir/operators.hpp"

using namespace crosstune;

namespace {
schedule::CpuSketchSpace gemm_space() {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(256, 256, 256).value());
  return schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
}

/// A synthetic model: the higher the knob values sum in log scale, the "faster". Its optimum is far from
/// where uniform samples land, so only a search that follows the scores gets near it.
float synthetic_score(const schedule::CpuCandidate& c) {
  double s = 0;
  for (auto v : c.values) s += std::log2(static_cast<double>(std::max<std::int64_t>(1, v)) + 1.0);
  return static_cast<float>(s);
}

search::Scorer scorer(std::size_t* calls = nullptr) {
  return [calls](std::span<const schedule::CpuCandidate> candidates, std::span<float> scores) {
    REQUIRE(candidates.size() == scores.size());
    if (calls) ++*calls;
    for (std::size_t i = 0; i < candidates.size(); ++i) scores[i] = synthetic_score(candidates[i]);
  };
}

float mean_score(const std::vector<schedule::CpuCandidate>& cs) {
  double s = 0;
  for (const auto& c : cs) s += synthetic_score(c);
  return static_cast<float>(s / static_cast<double>(cs.size()));
}
}  // namespace

TEST_CASE("guided by a model, the search proposes candidates the model rates far above random ones") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = scorer()};
  search::EvolutionarySearch policy({.population = 256, .iterations = 4, .eps_greedy = 0.0});
  Rng rng(5);
  const auto guided = policy.ask(context, 32, rng);
  REQUIRE(guided.size() == 32);
  const auto& stats = policy.last_stats();
  CHECK(stats.scored == 256 * 5);  // the first generation and four more
  CHECK(stats.from_model == 32);
  CHECK(stats.random == 0);

  search::RandomSearch random;
  search::SearchContext blind{.space = &space};
  const auto sampled = random.ask(blind, 256, rng);
  float best_random = 0, best_guided = 0;
  for (const auto& c : sampled) best_random = std::max(best_random, synthetic_score(c));
  for (const auto& c : guided) best_guided = std::max(best_guided, synthetic_score(c));
  CHECK(best_guided > best_random);                          // beyond the best of 256 random draws
  CHECK(mean_score(guided) > mean_score(sampled) + 1.0f);    // and well above a random draw's score
  std::set<std::uint64_t> distinct;
  for (const auto& c : guided) {
    CHECK(space.valid(c));
    distinct.insert(c.hash());
  }
  CHECK(distinct.size() == 32);
}

TEST_CASE("the population shrinks with the candidates asked for: 32 each, at least min_population") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = scorer()};
  Rng rng(3);
  search::EvolutionarySearch policy({.population = 2048, .iterations = 1, .eps_greedy = 0.0});
  REQUIRE(policy.ask(context, 2, rng).size() == 2);
  CHECK(policy.last_stats().scored == 256 * 2);  // 2 x 32 = 64, raised to min_population
  REQUIRE(policy.ask(context, 16, rng).size() == 16);
  CHECK(policy.last_stats().scored == 512 * 2);
  REQUIRE(policy.ask(context, 64, rng).size() == 64);
  CHECK(policy.last_stats().scored == 2048 * 2);  // Ansor's round: the whole population
  REQUIRE(policy.ask(context, 200, rng).size() == 200);
  CHECK(policy.last_stats().scored == 2048 * 2);  // never above `population`
  search::EvolutionarySearch fixed({.population = 2048, .iterations = 1, .eps_greedy = 0.0, .per_candidate = 0});
  REQUIRE(fixed.ask(context, 2, rng).size() == 2);
  CHECK(fixed.last_stats().scored == 2048 * 2);
}

TEST_CASE("measured candidates are never proposed again, and told ones seed the next population") {
  const auto space = gemm_space();
  std::set<std::uint64_t> measured;
  search::SearchContext context{.space = &space, .measured = [&](const schedule::CpuCandidate& c) { return measured.contains(c.hash()); },
                                .score = scorer()};
  search::EvolutionarySearch policy({.population = 128, .iterations = 2});
  Rng rng(9);
  for (int round = 0; round < 4; ++round) {
    const auto asked = policy.ask(context, 16, rng);
    REQUIRE(asked.size() == 16);
    std::vector<double> seconds;
    for (const auto& c : asked) {
      CHECK_FALSE(measured.contains(c.hash()));
      measured.insert(c.hash());
      seconds.push_back(1.0 / (1.0 + synthetic_score(c)));
    }
    seconds[0] = std::numeric_limits<double>::infinity();  // one failed
    policy.tell(context, asked, seconds);
  }
  CHECK(measured.size() == 64);
}

TEST_CASE("eps-greedy answers are part random; without a scorer all are") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = scorer()};
  search::EvolutionarySearch policy({.population = 128, .iterations = 1, .eps_greedy = 0.25});
  Rng rng(2);
  CHECK(policy.ask(context, 40, rng).size() == 40);
  CHECK(policy.last_stats().random == 10);
  CHECK(policy.last_stats().from_model == 30);

  std::size_t calls = 0;
  search::SearchContext blind{.space = &space};
  (void)calls;
  CHECK(policy.ask(blind, 20, rng).size() == 20);
  CHECK(policy.last_stats().random == 20);
  CHECK(policy.last_stats().scored == 0);
}

TEST_CASE("a seed repeats the search") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = scorer()};
  search::EvolutionarySearch a({.population = 64, .iterations = 2}), b({.population = 64, .iterations = 2});
  Rng r1(11), r2(11);
  CHECK(a.ask(context, 16, r1) == b.ask(context, 16, r2));
}

TEST_CASE("options out of range are refused by name") {
  CHECK(search::EvolutionarySearch::make({.population = 1}).error().message.find("population") != std::string::npos);
  CHECK(search::EvolutionarySearch::make({.mutation_probability = 1.5}).error().message.find("mutation_probability") != std::string::npos);
  CHECK(search::EvolutionarySearch::make({.eps_greedy = -0.1}).error().message.find("eps_greedy") != std::string::npos);
  CHECK_THROWS_AS(search::EvolutionarySearch({.crossover_probability = 2}), ErrorException);
  CHECK(search::EvolutionarySearch::make({}).has_value());
}
