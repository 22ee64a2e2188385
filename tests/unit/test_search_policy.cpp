// search/search_policy.hpp: the context, sample_unmeasured and RandomSearch.
#include "crosstune/search/search_policy.hpp"

#include <doctest/doctest.h>

#include <set>

#include "crosstune/ir/operators.hpp"

using namespace crosstune;

namespace {
schedule::CpuSketchSpace gemm_space(std::int64_t n) {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(n, n, n).value());
  return schedule::CpuSketchSpace::make(dag, {.cores = 2}).value();
}
}  // namespace

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
