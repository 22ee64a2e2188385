#include "crosstune/data/splits.hpp"

#include <doctest/doctest.h>

#include <set>

#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::data;

namespace {
const Dataset& split_sample() {
  static const Dataset ds =
      *Dataset::load(test::log_files_under(test::sample_logs()), {}, {.min_records_per_task = 10});
  return ds;
}
// Train and test are disjoint and together hold every record of the dataset exactly once.
void check_partition(const Dataset& ds, const Split& s) {
  std::set<RecordRef> seen;
  for (const auto& r : s.train)
    CHECK(seen.insert(r).second);
  for (const auto& r : s.test)
    CHECK(seen.insert(r).second);
  CHECK(seen.size() == ds.records());
  for (const auto& r : seen) {
    REQUIRE(r.task < ds.tasks().size());
    REQUIRE(r.record < ds.tasks()[r.task].size());
  }
}
}  // namespace

TEST_CASE("within_task keeps each task's first 90% for training, in file order by default") {
  const auto& ds = split_sample();
  Rng rng(0);
  auto s = split_within_task(ds, 0.9, false, rng);
  REQUIRE(s);
  check_partition(ds, *s);
  for (const auto& r : s->train)
    CHECK(r.record < static_cast<std::size_t>(0.9 * static_cast<double>(ds.tasks()[r.task].size())));
  Rng r1(7), r2(7), r3(8);
  auto a = split_within_task(ds, 0.5, true, r1);
  auto b = split_within_task(ds, 0.5, true, r2);
  auto c = split_within_task(ds, 0.5, true, r3);
  CHECK(a->train == b->train);
  CHECK(a->train != c->train);
  check_partition(ds, *c);
  CHECK_FALSE(split_within_task(ds, 1.0, false, rng));
  CHECK_FALSE(split_within_task(ds, 0.0, false, rng));
}

TEST_CASE("by_task holds whole tasks out") {
  const auto& ds = split_sample();
  Rng rng(3);
  auto s = split_by_task(ds, 0.8, rng);
  REQUIRE(s);
  check_partition(ds, *s);
  std::set<std::size_t> train_tasks, test_tasks;
  for (const auto& r : s->train)
    train_tasks.insert(r.task);
  for (const auto& r : s->test)
    test_tasks.insert(r.task);
  for (auto t : test_tasks)
    CHECK(train_tasks.count(t) == 0);
  CHECK_FALSE(test_tasks.empty());
  CHECK_FALSE(train_tasks.empty());
}

TEST_CASE("by_target holds a whole hardware out") {
  const auto& ds = split_sample();
  auto s = split_by_target(ds, "v100");
  REQUIRE(s);
  check_partition(ds, *s);
  for (const auto& r : s->test)
    CHECK(ds.tasks()[r.task].hardware == "v100");
  for (const auto& r : s->train)
    CHECK(ds.tasks()[r.task].hardware != "v100");
  auto missing = split_by_target(ds, "h100");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().hint.find("k80") != std::string::npos);
}

TEST_CASE("few_shot gives k target records to train on and tests on the rest of that target") {
  const auto& ds = split_sample();
  Rng rng(1);
  auto s = split_few_shot(ds, "v100", 20, 0.0, rng);
  REQUIRE(s);
  CHECK(s->split.train.size() == 20);
  std::size_t v100 = 0;
  for (const auto& t : ds.tasks())
    v100 += t.hardware == "v100" ? t.size() : 0;
  CHECK(s->split.train.size() + s->split.test.size() == v100);
  CHECK(s->source.size() + v100 == ds.records());
  std::set<RecordRef> train(s->split.train.begin(), s->split.train.end());
  for (const auto& r : s->split.test)
    CHECK(train.count(r) == 0);
  Rng rng2(1);
  auto by_fraction = split_few_shot(ds, "v100", 0, 0.1, rng2);
  REQUIRE(by_fraction);
  CHECK(by_fraction->split.train.size() ==
        static_cast<std::size_t>(std::round(0.1 * static_cast<double>(v100))));
  CHECK_FALSE(split_few_shot(ds, "v100", 0, 0.0, rng));
  CHECK_FALSE(split_few_shot(ds, "h100", 5, 0.0, rng));
}
