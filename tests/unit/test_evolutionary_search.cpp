// search::EvolutionarySearch against a scorer whose best candidates are known: it must find better ones
// than random sampling, size its population, and repeat itself for a seed (test_search_policy.cpp checks
// the contract it shares with simulated annealing: eps-greedy, no model, measured candidates).
#include "crosstune/search/evolutionary_search.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "search_support.hpp"

using namespace crosstune;

using test::gemm_space;
using test::mean_synthetic_score;
using test::synthetic_score;
using test::synthetic_scorer;

TEST_CASE("guided by a model, the search proposes candidates the model rates far above random ones") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
  search::EvolutionarySearch policy({.population = 256, .iterations = 4, .eps_greedy = 0.0});
  Rng rng(5);
  const auto guided = policy.ask(context, 32, rng);
  REQUIRE(guided.size() == 32);
  const auto& stats = policy.last_stats();
  CHECK(stats.scored == 256 * 5);  // the first generation and four more
  CHECK(stats.from_model == 32);
  CHECK(stats.random == 0);

  test::check_beats_random(space, guided, 32, rng);
}

TEST_CASE("the population shrinks with the candidates asked for: 32 each, at least min_population") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
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

TEST_CASE("a seed repeats the search") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
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
