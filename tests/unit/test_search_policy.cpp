// search/search_policy.hpp: the context, sample_unmeasured, RandomSearch, and the contract both guided
// policies (EvolutionarySearch, SimulatedAnnealing) keep through answer_by_score and MeasuredPool.
#include "crosstune/search/search_policy.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <set>

#include "crosstune/ir/operators.hpp"
#include "crosstune/search/evolutionary_search.hpp"
#include "crosstune/search/simulated_annealing.hpp"
#include "search_support.hpp"

using namespace crosstune;

namespace {
schedule::CpuSketchSpace gemm_space(std::int64_t n) {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value());
  return schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
}

/// A small guided policy of kind P with this eps-greedy share.
template <class P>
P small_policy(double eps_greedy);
template <>
search::EvolutionarySearch small_policy(double eps_greedy) {
  return search::EvolutionarySearch({.population = 128, .iterations = 1, .eps_greedy = eps_greedy});
}
template <>
search::SimulatedAnnealing small_policy(double eps_greedy) {
  return search::SimulatedAnnealing({.chains = 16, .steps = 5, .eps_greedy = eps_greedy});
}
}  // namespace

TEST_CASE_TEMPLATE("a guided policy: eps-greedy answers are part random, without a scorer all are", P, search::EvolutionarySearch,
                   search::SimulatedAnnealing) {
  const auto space = test::gemm_space();
  search::SearchContext context{.space = &space, .score = test::synthetic_scorer()};
  P policy = small_policy<P>(0.25);
  Rng rng(2);
  CHECK(policy.ask(context, 40, rng).size() == 40);
  CHECK(policy.last_stats().random == 10);
  CHECK(policy.last_stats().from_model == 30);
  search::SearchContext blind{.space = &space};
  CHECK(policy.ask(blind, 20, rng).size() == 20);
  CHECK(policy.last_stats().random == 20);
  CHECK(policy.last_stats().scored == 0);
}

TEST_CASE_TEMPLATE("a guided policy never proposes a measured candidate again, failed ones included", P, search::EvolutionarySearch,
                   search::SimulatedAnnealing) {
  const auto space = test::gemm_space();
  std::set<std::uint64_t> measured;
  search::SearchContext context{.space = &space, .measured = [&](const schedule::CpuCandidate& c) { return measured.contains(c.hash()); },
                                .score = test::synthetic_scorer()};
  P policy = small_policy<P>(0.05);
  Rng rng(9);
  for (int round = 0; round < 4; ++round) {
    const auto asked = policy.ask(context, 16, rng);
    REQUIRE(asked.size() == 16);
    std::vector<double> seconds;
    for (const auto& c : asked) {
      CHECK_FALSE(measured.contains(c.hash()));
      measured.insert(c.hash());
      seconds.push_back(1.0 / (1.0 + test::synthetic_score(c)));
    }
    seconds[0] = std::numeric_limits<double>::infinity();  // one failed
    policy.tell(context, asked, seconds);
  }
  CHECK(measured.size() == 64);
}

TEST_CASE("answer_by_score: the best scores first (ties by hash), then random ones outside `exclude`") {
  const auto space = test::gemm_space();
  search::SearchContext context{.space = &space};
  Rng rng(4);
  search::ScoredCandidates scored;
  std::unordered_set<std::uint64_t> exclude;
  for (int i = 0; i < 50; ++i) {
    auto c = space.sample(rng);
    if (i < 10) exclude.insert(c.hash());
    else scored.try_emplace(c.hash(), test::synthetic_score(c), c);
  }
  const auto answer = search::answer_by_score(scored, 20, 0.25, context, rng, exclude);
  REQUIRE(answer.candidates.size() == 20);
  CHECK(answer.from_model == 15);
  CHECK(answer.random == 5);
  std::vector<float> all;
  for (const auto& [h, entry] : scored) all.push_back(entry.first);
  std::sort(all.rbegin(), all.rend());
  CHECK(answer.best_score == all[0]);
  for (std::size_t i = 0; i < 15; ++i) CHECK(test::synthetic_score(answer.candidates[i]) == all[i]);
  std::set<std::uint64_t> distinct;
  for (const auto& c : answer.candidates) {
    CHECK_FALSE(exclude.contains(c.hash()));
    distinct.insert(c.hash());
  }
  CHECK(distinct.size() == 20);
}

TEST_CASE("MeasuredPool keeps every hash and the fastest `keep`, fastest first; failures only as hashes") {
  const auto space = test::gemm_space();
  Rng rng(6);
  std::vector<schedule::CpuCandidate> cs;
  std::vector<double> seconds;
  for (int i = 0; i < 6; ++i) {
    cs.push_back(space.sample(rng));
    seconds.push_back(6.0 - i);
  }
  seconds[5] = std::numeric_limits<double>::infinity();
  search::MeasuredPool pool(3);
  pool.add(cs, seconds);
  CHECK(pool.hashes().size() == 6);
  REQUIRE(pool.best().size() == 3);
  CHECK(pool.best()[0].first == 2.0);
  CHECK(pool.best()[1].first == 3.0);
  CHECK(pool.best()[2].first == 4.0);
  CHECK(pool.best()[0].second == cs[4]);
}

TEST_CASE("RandomSearch proposes distinct candidates that were not measured, the same for a seed") {
  const auto space = gemm_space(64);
  std::set<std::uint64_t> measured;
  {
    Rng rng(3);
    for (int i = 0; i < 20; ++i) measured.insert(space.sample(rng).hash());  // the first 20 draws of seed 3
  }
  search::SearchContext context{.space = &space, .measured = [&](const schedule::CpuCandidate& c) { return measured.contains(c.hash()); }};
  search::RandomSearch policy;
  Rng rng(3);
  const auto asked = policy.ask(context, 50, rng);
  CHECK(asked.size() == 50);
  std::set<std::uint64_t> distinct;
  for (const auto& c : asked) {
    CHECK(space.valid(c));
    CHECK_FALSE(measured.contains(c.hash()));
    distinct.insert(c.hash());
  }
  CHECK(distinct.size() == 50);
  Rng again(3);
  CHECK(policy.ask(context, 50, again) == asked);
}

TEST_CASE("a small space gives fewer candidates than asked, then none") {
  const auto space = gemm_space(2);
  const std::uint64_t total = space.size();
  REQUIRE(total < 20000);
  std::set<std::uint64_t> measured;
  search::SearchContext context{.space = &space, .measured = [&](const schedule::CpuCandidate& c) { return measured.contains(c.hash()); }};
  Rng rng(0);
  search::RandomSearch policy;
  const std::size_t want = static_cast<std::size_t>(total) + 100;
  std::size_t asks = 0;
  while (true) {
    const auto asked = policy.ask(context, want, rng);
    CHECK(asked.size() < want);
    if (asked.empty()) break;
    for (const auto& c : asked) CHECK(measured.insert(c.hash()).second);
    REQUIRE(++asks < 50);
  }
  CHECK(measured.size() <= total);
  CHECK(measured.size() > total / 2);  // the draws found most of the space before giving up
}

TEST_CASE("sample_unmeasured skips what is taken and adds what it returns") {
  const auto space = gemm_space(64);
  search::SearchContext context{.space = &space};
  std::unordered_set<std::uint64_t> taken;
  Rng rng(1);
  const auto a = search::sample_unmeasured(context, 10, rng, taken);
  CHECK(taken.size() == 10);
  Rng same(1);
  const auto b = search::sample_unmeasured(context, 10, same, taken);  // the same draws, all taken now
  for (const auto& c : b)
    for (const auto& d : a) CHECK_FALSE(c == d);
  search::SearchContext empty;
  CHECK(search::sample_unmeasured(empty, 5, rng, taken).empty());
}
