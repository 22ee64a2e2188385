// search::SimulatedAnnealing against a scorer whose best candidates are known: it must find better ones than
// random sampling and than a short walk, move only upward at temperature 0, start from the fastest told
// candidates, stop early, and repeat itself for a seed (test_search_policy.cpp checks the contract it
// shares with the evolutionary search: eps-greedy, no model, measured candidates).
#include "crosstune/search/simulated_annealing.hpp"

#include <doctest/doctest.h>

#include <set>

#include "search_support.hpp"

using namespace crosstune;
using test::gemm_space;
using test::mean_synthetic_score;
using test::synthetic_score;
using test::synthetic_scorer;

static_assert(search::SearchPolicy<search::SimulatedAnnealing>);

TEST_CASE("annealing: guided by a model, it proposes candidates the model rates far above random ones") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
  search::SimulatedAnnealing policy({.chains = 64, .steps = 40, .eps_greedy = 0.0, .early_stopping = 0});
  Rng rng(5);
  const auto guided = policy.ask(context, 32, rng);
  REQUIRE(guided.size() == 32);
  const auto& stats = policy.last_stats();
  CHECK(stats.scored == 64 * 41);  // the starts and 40 steps of 64 proposals
  CHECK(stats.steps == 40);
  CHECK(stats.from_model == 32);
  CHECK(stats.random == 0);
  CHECK(stats.accepted > 0);
  CHECK(stats.worse > 0);      // at temperature 1 some moves go down
  CHECK(stats.worse < stats.accepted);

  test::check_beats_random(space, guided, 32, rng);

  // Longer walks get higher: the same seed walked 40 steps against 2.
  search::SimulatedAnnealing short_walk({.chains = 64, .steps = 2, .eps_greedy = 0.0, .early_stopping = 0});
  Rng again(5);
  CHECK(mean_synthetic_score(short_walk.ask(context, 32, again)) < mean_synthetic_score(guided));
}

TEST_CASE("annealing: at temperature 0 every move is to a score at least as high") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
  search::SimulatedAnnealing greedy({.chains = 32, .steps = 20, .start_temperature = 0.0, .end_temperature = 0.0, .early_stopping = 0});
  Rng rng(3);
  CHECK(greedy.ask(context, 16, rng).size() == 16);
  CHECK(greedy.last_stats().accepted > 0);
  CHECK(greedy.last_stats().worse == 0);
}

TEST_CASE("annealing: the walks start from the fastest told candidates; a quiet walk stops early") {
  const auto space = gemm_space();
  std::vector<std::vector<schedule::CpuCandidate>> batches;  // what the model was asked to score, call by call
  search::SearchContext context{.space = &space, .score = [&](std::span<const schedule::CpuCandidate> cs, std::span<float> scores) {
                                  batches.emplace_back(cs.begin(), cs.end());
                                  for (std::size_t i = 0; i < cs.size(); ++i) scores[i] = synthetic_score(cs[i]);
                                }};
  search::SimulatedAnnealing policy({.chains = 8, .steps = 2, .init_measured_ratio = 0.5});
  Rng rng(9);
  std::vector<schedule::CpuCandidate> told;
  std::vector<double> seconds;
  for (int i = 0; i < 6; ++i) {
    told.push_back(space.sample(rng));
    seconds.push_back(1.0 + i);  // told[0] fastest
  }
  policy.tell(context, told, seconds);
  REQUIRE(policy.ask(context, 4, rng).size() == 4);
  REQUIRE(batches.size() == 3);  // the starts, then two steps
  REQUIRE(batches[0].size() == 8);
  for (std::size_t i = 0; i < 4; ++i) CHECK(batches[0][i] == told[i]);  // half the walkers: the 4 fastest, in order
  for (const auto& c : policy.ask(context, 4, rng))
    for (const auto& t : told) CHECK_FALSE(c == t);

  // A model that rates every candidate alike: nothing enters the best n after the starts.
  search::SearchContext flat{.space = &space, .score = [](std::span<const schedule::CpuCandidate>, std::span<float> s) {
                               std::fill(s.begin(), s.end(), 1.0f);
                             }};
  search::SimulatedAnnealing stopping({.chains = 16, .steps = 100, .early_stopping = 3});
  CHECK(stopping.ask(flat, 4, rng).size() == 4);
  CHECK(stopping.last_stats().steps == 3);
}

TEST_CASE("annealing: a seed repeats the search; options out of range are refused by name") {
  const auto space = gemm_space();
  search::SearchContext context{.space = &space, .score = synthetic_scorer()};
  search::SimulatedAnnealing a({.chains = 16, .steps = 8}), b({.chains = 16, .steps = 8});
  Rng r1(11), r2(11);
  CHECK(a.ask(context, 8, r1) == b.ask(context, 8, r2));

  CHECK(search::SimulatedAnnealing::make({.chains = 0}).error().message.find("chains") != std::string::npos);
  CHECK(search::SimulatedAnnealing::make({.steps = 0}).error().message.find("steps") != std::string::npos);
  CHECK(search::SimulatedAnnealing::make({.start_temperature = -1}).error().message.find("start_temperature") != std::string::npos);
  CHECK(search::SimulatedAnnealing::make({.eps_greedy = 2}).error().message.find("eps_greedy") != std::string::npos);
  CHECK_THROWS_AS(search::SimulatedAnnealing({.init_measured_ratio = -0.5}), ErrorException);
  CHECK(search::SimulatedAnnealing::make({}).has_value());
}
