#include "crosstune/data/samplers.hpp"

#include <doctest/doctest.h>

#include <limits>
#include <set>

#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::data;

namespace {
const Dataset& sample() {
  static const Dataset ds =
      *Dataset::load(test::log_files_under(test::sample_logs()), {}, {.min_records_per_task = 10});
  return ds;
}
void check_valid(const Dataset& ds, const Selection& s) {
  std::set<RecordRef> unique(s.records.begin(), s.records.end());
  CHECK(unique.size() == s.records.size());
  CHECK(std::is_sorted(s.records.begin(), s.records.end()));
  for (const auto& r : s.records) {
    REQUIRE(r.task < ds.tasks().size());
    REQUIRE(r.record < ds.tasks()[r.task].size());
  }
  CHECK(s.kept_fraction ==
        doctest::Approx(static_cast<double>(s.records.size()) / static_cast<double>(ds.records())));
}
}  // namespace

TEST_CASE("the uniform sampler keeps the same share of every task, the same records for the same seed") {
  const auto& ds = sample();
  Rng a(1), b(1), c(2);
  const auto s1 = UniformSampler{0.3}.select(ds, a);
  const auto s2 = UniformSampler{0.3}.select(ds, b);
  const auto s3 = UniformSampler{0.3}.select(ds, c);
  check_valid(ds, s1);
  CHECK(s1.records == s2.records);
  CHECK(s1.records != s3.records);
  CHECK(s1.kept_fraction == doctest::Approx(0.3).epsilon(0.02));
  std::vector<std::size_t> per_task(ds.tasks().size(), 0);
  for (const auto& r : s1.records)
    ++per_task[r.task];
  for (std::size_t t = 0; t < ds.tasks().size(); ++t)
    CHECK(per_task[t] ==
          static_cast<std::size_t>(std::llround(0.3 * static_cast<double>(ds.tasks()[t].size()))));
}

TEST_CASE("the FLOPs-weighted sampler spends its budget on the tasks with the most FLOPs") {
  const auto& ds = sample();
  Rng rng(3);
  const auto s = FlopsWeightedSampler{0.2}.select(ds, rng);
  check_valid(ds, s);
  CHECK(s.kept_fraction == doctest::Approx(0.2).epsilon(0.05));
  std::vector<double> share(ds.tasks().size(), 0);
  for (const auto& r : s.records)
    share[r.task] += 1.0 / static_cast<double>(ds.tasks()[r.task].size());
  // Among tasks with known FLOPs, a task with more FLOPs never keeps a smaller share than one with fewer,
  // unless the bigger one is already kept whole.
  for (std::size_t a = 0; a < ds.tasks().size(); ++a)
    for (std::size_t b = 0; b < ds.tasks().size(); ++b) {
      const auto& fa = ds.tasks()[a].workload.flops;
      const auto& fb = ds.tasks()[b].workload.flops;
      if (fa && fb && *fa > 4 * *fb && share[a] < 1.0) CHECK(share[a] + 0.02 >= share[b]);
    }
  Rng again(3);
  CHECK(FlopsWeightedSampler{0.2}.select(ds, again).records == s.records);
}

TEST_CASE("hardware-aware pruning keeps the fastest records of each task and thins the slow ones") {
  const auto& ds = sample();
  Rng rng(0);
  const HardwareAwareSampler sampler;  // default knobs
  const auto s = sampler.select(ds, rng);
  check_valid(ds, s);
  MESSAGE("hardware-aware sampler, default knobs: kept " << s.kept_fraction * 100 << "% of " << ds.records()
                                                         << " records");
  CHECK(s.kept_fraction == doctest::Approx(0.4 + 0.6 * 0.25).epsilon(0.05));
  std::set<RecordRef> kept(s.records.begin(), s.records.end());
  for (std::size_t t = 0; t < ds.tasks().size(); ++t) {
    const auto& costs = ds.tasks()[t].mean_costs_seconds;
    std::vector<double> sorted = costs;
    std::sort(sorted.begin(), sorted.end());
    const double threshold =
        sorted[static_cast<std::size_t>(std::ceil(0.4 * static_cast<double>(sorted.size()))) - 1];
    for (std::size_t r = 0; r < costs.size(); ++r) {
      if (costs[r] < threshold) CHECK(kept.count({t, r}) == 1);  // every fast record is kept
    }
    // The slowest record of the task is kept too (the full range is still seen).
    const auto slowest =
        static_cast<std::size_t>(std::max_element(costs.begin(), costs.end()) - costs.begin());
    CHECK(kept.count({t, slowest}) == 1);
  }
  Rng other(99);
  CHECK(sampler.select(ds, other).records == s.records);  // deterministic
}

TEST_CASE("with a target, tasks of operator kinds the target never runs are dropped") {
  const auto& ds = sample();
  Rng rng(0);
  HardwareAwareSampler sampler;
  sampler.target = "v100";
  const auto s = sampler.select(ds, rng);
  std::set<OpKind> v100_ops;
  for (const auto& t : ds.tasks())
    if (t.hardware == "v100") v100_ops.insert(t.workload.op);
  for (const auto& r : s.records) {
    const auto& t = ds.tasks()[r.task];
    CHECK((t.hardware == "v100" || v100_ops.count(t.workload.op) == 1));
  }
  sampler.fast_fraction = 1.0;
  CHECK(sampler.select(ds, rng).kept_fraction > s.kept_fraction);
  HardwareAwareSampler capped;
  capped.max_tasks_per_flops_bucket = 1;
  CHECK(capped.select(ds, rng).records.size() <= HardwareAwareSampler{}.select(ds, rng).records.size());
}

TEST_CASE("tasks covering a share of the FLOPs are picked largest first") {
  const auto& ds = sample();
  auto all = select_tasks_by_flops(ds, 1.0);
  REQUIRE(all);
  double total = 0;
  for (const auto& t : ds.tasks())
    total += t.workload.flops.value_or(0);
  auto half = select_tasks_by_flops(ds, 0.5);
  REQUIRE(half);
  double covered = 0;
  for (std::size_t i = 0; i < half->size(); ++i) {
    covered += *ds.tasks()[(*half)[i]].workload.flops;
    if (i > 0) CHECK(*ds.tasks()[(*half)[i]].workload.flops <= *ds.tasks()[(*half)[i - 1]].workload.flops);
  }
  CHECK(covered >= 0.5 * total);
  CHECK(half->size() <= all->size());
  std::vector<double> weights(ds.tasks().size(), 0.0);
  weights[(*all).back()] = 1.0;  // only the smallest task occurs in the "network"
  auto weighted = select_tasks_by_flops(ds, 0.9, weights);
  REQUIRE(weighted);
  CHECK(*weighted == std::vector<std::size_t>{(*all).back()});
  CHECK_FALSE(select_tasks_by_flops(ds, 0.0));
  CHECK_FALSE(select_tasks_by_flops(ds, 0.5, std::vector<double>{1.0}));
}

TEST_CASE("knobs out of range are refused by make() and throw from select()") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double bad : {-0.3, 0.0, 1.5, 2.0, nan}) {
    CAPTURE(bad);
    auto uniform = UniformSampler::make(bad);
    REQUIRE_FALSE(uniform);
    CHECK(uniform.error().kind == ErrorKind::invalid_argument);
    CHECK(uniform.error().message.find("fraction must be in (0, 1]") != std::string::npos);
    CHECK_FALSE(FlopsWeightedSampler::make(bad));
    Rng rng(0);
    CHECK_THROWS_AS((void)UniformSampler{bad}.select(sample(), rng), ErrorException);
    CHECK_THROWS_AS((void)FlopsWeightedSampler{bad}.select(sample(), rng), ErrorException);
  }
  for (double bad : {-0.1, 1.01, 2.0, nan}) {
    CAPTURE(bad);
    auto slow = HardwareAwareSampler::make("", 0.4, bad);
    REQUIRE_FALSE(slow);
    CHECK(slow.error().message.find("slow_fraction") != std::string::npos);
    auto fast = HardwareAwareSampler::make("", bad, 0.25);
    REQUIRE_FALSE(fast);
    CHECK(fast.error().message.find("fast_fraction") != std::string::npos);
    Rng rng(0);
    CHECK_THROWS_AS((void)HardwareAwareSampler{.slow_fraction = bad}.select(sample(), rng), ErrorException);
  }
  auto good = HardwareAwareSampler::make("v100", 0.0, 1.0, 3);
  REQUIRE(good);
  CHECK(good->target == "v100");
  CHECK(good->max_tasks_per_flops_bucket == 3);
  REQUIRE(UniformSampler::make(1.0));
  CHECK(UniformSampler::make(0.25)->fraction == 0.25);
}
