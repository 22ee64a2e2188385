#include "crosstune/data/splits.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

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

TEST_CASE("validation tasks come out of the training records only, whole, never all of them") {
  const auto& ds = split_sample();
  Rng rng(5);
  auto outer = split_within_task(ds, 0.9, true, rng);
  REQUIRE(outer);
  auto v = split_validation_tasks(outer->train, 0.25, rng);
  REQUIRE(v);
  // A partition of the training records, in their order; no test record is used.
  CHECK(v->train.size() + v->test.size() == outer->train.size());
  std::set<RecordRef> training(outer->train.begin(), outer->train.end());
  for (const auto& r : v->test)
    CHECK(training.count(r) == 1);
  CHECK(std::is_sorted(v->test.begin(), v->test.end(), [&](const RecordRef& a, const RecordRef& b) {
    return std::find(outer->train.begin(), outer->train.end(), a) <
           std::find(outer->train.begin(), outer->train.end(), b);
  }));
  std::set<std::size_t> train_tasks, val_tasks;
  for (const auto& r : v->train)
    train_tasks.insert(r.task);
  for (const auto& r : v->test)
    val_tasks.insert(r.task);
  for (auto t : val_tasks)
    CHECK(train_tasks.count(t) == 0);
  const std::size_t n = ds.tasks().size();
  CHECK(val_tasks.size() == static_cast<std::size_t>(std::ceil(0.25 * static_cast<double>(n))));
  // The same seed draws the same tasks; a tiny share still holds one task out, a large one keeps one in.
  Rng a(9), b(9);
  CHECK(split_validation_tasks(outer->train, 0.1, a)->test == split_validation_tasks(outer->train, 0.1, b)->test);
  auto one = split_validation_tasks(outer->train, 1e-9, a);
  REQUIRE(one);
  std::set<std::size_t> one_tasks;
  for (const auto& r : one->test)
    one_tasks.insert(r.task);
  CHECK(one_tasks.size() == 1);
  auto most = split_validation_tasks(outer->train, 0.999999, a);
  REQUIRE(most);
  CHECK_FALSE(most->train.empty());
  // Bad shares and a single task are refused.
  CHECK_FALSE(split_validation_tasks(outer->train, 0.0, a));
  CHECK_FALSE(split_validation_tasks(outer->train, 1.0, a));
  std::vector<RecordRef> single;
  for (const auto& r : outer->train)
    if (r.task == 0) single.push_back(r);
  auto refused = split_validation_tasks(single, 0.1, a);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("at least 2 training tasks") != std::string::npos);
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
