#include "crosstune/search/task_scheduler.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace crosstune;
using namespace crosstune::search;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double ms = 1e-3;

SchedulerTask task(std::string name, double weight = 1, double flops = 0, std::string tag = {}) {
  return {.name = std::move(name), .weight = weight, .flops = flops, .tag = std::move(tag)};
}

TaskScheduler make_scheduler(std::vector<SchedulerTask> tasks, TaskSchedulerOptions options = {}) {
  auto s = TaskScheduler::make(std::move(tasks), options);
  REQUIRE_MESSAGE(s.has_value(), (s ? std::string() : s.error().describe()));
  return std::move(s).value();
}

/// Options without randomness, so that every pick is the gradient's.
TaskSchedulerOptions greedy() {
  TaskSchedulerOptions o;
  o.epsilon = 0;
  return o;
}

/// Records the same best `n` times (a flat curve).
void record_flat(TaskScheduler& s, std::size_t task, double best, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k)
    s.record(task, best, 10);
}

std::string scheduler_refusal(const std::vector<SchedulerTask>& tasks, TaskSchedulerOptions options = {}) {
  auto s = TaskScheduler::make(tasks, options);
  REQUIRE_FALSE(s.has_value());
  CHECK(s.error().kind == ErrorKind::invalid_argument);
  return s.error().describe();
}
}  // namespace

TEST_CASE("warm-up gives every task one round in order, before any gradient or random pick") {
  TaskSchedulerOptions o;
  o.epsilon = 1;  // every post-warm-up pick would be random
  auto s = make_scheduler({task("a", 1), task("b", 50), task("c", 1), task("d", 1)}, o);
  Rng rng(1);
  const Rng untouched = rng;
  s.mark_done(2);
  for (std::size_t expected : {0u, 1u, 3u}) {
    const auto t = s.next(rng);
    REQUIRE(t);
    CHECK(*t == expected);
    CHECK(s.last_reason() == PickReason::warm_up);
    CHECK(s.next(rng) == t);  // asking again without a record picks the same task
    s.record(*t, 5 * ms, 8);
  }
  Rng copy = untouched;
  CHECK(rng() == copy());  // warm-up draws nothing
  CHECK(s.rounds(0) == 1);
  CHECK(s.rounds(2) == 0);
  CHECK(s.trials(3) == 8);
  REQUIRE(s.next(rng));
  CHECK(s.last_reason() == PickReason::random);
}

TEST_CASE("a task without any successful measurement is retried before gradients are used") {
  auto s = make_scheduler({task("ok", 100), task("failing", 1), task("failing too", 1)}, greedy());
  Rng rng(2);
  s.record(0, 1 * ms, 10);
  s.record(1, inf, 10);
  s.record(2, inf, 10);
  s.record(1, inf, 10);
  CHECK(s.next(rng) == 2u);  // fewest rounds first
  CHECK(s.last_reason() == PickReason::no_result);
  CHECK(s.gradients()[1] == 0);  // no gradient information
  CHECK(s.gradients()[0] < 0);
  s.record(2, 3 * ms, 10);
  CHECK(s.next(rng) == 1u);
  s.mark_done(1);
  CHECK(s.next(rng) == 0u);  // heavier, and now every active task has a result
  CHECK(s.last_reason() == PickReason::gradient);
}

TEST_CASE("the gradient follows Ansor's formula: backward slope, optimistic guess, weight") {
  auto s = make_scheduler({task("steep"), task("flat")}, greedy());
  Rng rng(3);
  for (double g : {10 * ms, 8 * ms, 6 * ms, 4 * ms})
    s.record(0, g, 10);
  record_flat(s, 1, 4 * ms, 4);
  CHECK(s.next(rng) == 0u);
  CHECK(s.last_reason() == PickReason::gradient);
  // steep: 0.2 * (4 - 10) / 3 + 0.8 * (-4 / 4) = -1.2 ms;  flat: 0.8 * (-4 / 4) = -0.8 ms.
  CHECK(s.gradients()[0] == doctest::Approx(-1.2 * ms));
  CHECK(s.gradients()[1] == doctest::Approx(-0.8 * ms));

  SUBCASE("the window is Δt rounds, and starts at the first round with a result") {
    auto w = make_scheduler({task("late start"), task("long")}, greedy());
    for (double g : {inf, 10 * ms, 8 * ms})
      w.record(0, g, 10);
    for (double g : {20 * ms, 12 * ms, 9 * ms, 6 * ms, 3 * ms})
      w.record(1, g, 10);
    (void)w.next(rng);
    // late start: 0.2 * (8 - 10) / 1 + 0.8 * (-8 / 3);  long: 0.2 * (3 - 12) / 3 + 0.8 * (-3 / 5).
    CHECK(w.gradients()[0] == doctest::Approx(0.2 * -2 * ms + 0.8 * (-8 * ms / 3)));
    CHECK(w.gradients()[1] == doctest::Approx(0.2 * -3 * ms + 0.8 * (-0.6 * ms)));
  }
}

TEST_CASE("a heavy task with a steep recent improvement is picked over a flat one") {
  Rng rng(4);
  SUBCASE("steepness decides between equal weights") {
    auto s = make_scheduler({task("flat"), task("steep")}, greedy());
    record_flat(s, 0, 5 * ms, 4);
    for (double g : {12 * ms, 9 * ms, 7 * ms, 5 * ms})
      s.record(1, g, 10);
    CHECK(s.next(rng) == 1u);
    // The same two in the other order: the index does not decide.
    auto swapped = make_scheduler({task("steep"), task("flat")}, greedy());
    for (double g : {12 * ms, 9 * ms, 7 * ms, 5 * ms})
      swapped.record(0, g, 10);
    record_flat(swapped, 1, 5 * ms, 4);
    CHECK(swapped.next(rng) == 0u);
  }
  SUBCASE("weight decides between equal curves") {
    auto s = make_scheduler({task("light", 1), task("heavy", 3)}, greedy());
    for (std::size_t t : {0u, 1u})
      for (double g : {12 * ms, 9 * ms, 7 * ms, 5 * ms})
        s.record(t, g, 10);
    CHECK(s.next(rng) == 1u);
    CHECK(s.gradients()[1] == doctest::Approx(3 * s.gradients()[0]));
  }
  SUBCASE("a heavy steep task beats a light task with a higher latency") {
    auto s = make_scheduler({task("light slow", 1), task("heavy steep", 3)}, greedy());
    record_flat(s, 0, 12 * ms, 4);
    for (double g : {10 * ms, 8 * ms, 6 * ms, 4 * ms})
      s.record(1, g, 10);
    CHECK(s.next(rng) == 1u);  // 3 * -1.2 ms against -2.4 ms
    auto swapped = make_scheduler({task("light slow", 1), task("heavy flat", 1)}, greedy());
    record_flat(swapped, 0, 12 * ms, 4);
    record_flat(swapped, 1, 4 * ms, 4);
    CHECK(swapped.next(rng) == 0u);
  }
}

TEST_CASE("the similarity term: a task whose peers reach a much higher throughput gets priority") {
  Rng rng(5);
  auto run = [&](const std::string& tag) {
    // Same FLOPs; the peer runs at 1 ms, the laggard at 10 ms; the untagged task is slower still.
    auto s = make_scheduler(
        {task("laggard", 1, 1e9, tag), task("peer", 1, 1e9, tag), task("other", 1, 1e9, "")}, greedy());
    record_flat(s, 0, 10 * ms, 4);
    record_flat(s, 1, 1 * ms, 4);
    record_flat(s, 2, 12 * ms, 4);
    const auto pick = s.next(rng);
    return std::make_pair(pick, s.gradients());
  };
  const auto [with, g_with] = run("conv2d");
  CHECK(with == 0u);
  // 0.8 * min(-10 / 4, 2 * 1e9 / 1e12 - 10) ms = 0.8 * -8 ms.
  CHECK(g_with[0] == doctest::Approx(0.8 * -8 * ms));
  CHECK(g_with[1] == doctest::Approx(0.8 * -0.25 * ms));  // the best of its group: -g / t
  const auto [without, g_without] = run("");
  CHECK(without == 2u);
  CHECK(g_without[0] == doctest::Approx(0.8 * -2.5 * ms));

  SUBCASE("a task without FLOPs, or alone in its group, has no similarity term") {
    auto s = make_scheduler(
        {task("no flops", 1, 0, "conv2d"), task("peer", 1, 1e9, "conv2d"), task("alone", 1, 1e9, "dense")},
        greedy());
    record_flat(s, 0, 10 * ms, 4);
    record_flat(s, 1, 1 * ms, 4);
    record_flat(s, 2, 10 * ms, 4);
    (void)s.next(rng);
    CHECK(s.gradients()[0] == doctest::Approx(0.8 * -2.5 * ms));
    CHECK(s.gradients()[2] == doctest::Approx(0.8 * -2.5 * ms));
    CHECK(s.peers(0).empty());
    CHECK(s.peers(1).empty());
  }

  SUBCASE("a task that stays far below its peers after many more rounds leaves the group") {
    auto s = make_scheduler({task("laggard", 1, 1e9, "conv2d"), task("peer", 1, 1e9, "conv2d")}, greedy());
    s.record(1, 1 * ms, 10);
    record_flat(s, 0, 10 * ms, 6);  // 6 rounds: not more than 1 + 5
    CHECK(s.peers(0) == std::vector<std::size_t>{1});
    s.record(0, 10 * ms, 10);
    CHECK(s.peers(0).empty());
    CHECK(s.peers(1).empty());
    (void)s.next(rng);
    CHECK(s.gradients()[0] == doctest::Approx(0.8 * -10 * ms / 7));
  }
}

TEST_CASE("epsilon-greedy picks at random with probability epsilon, the same picks for the same seed") {
  auto picks = [](std::uint64_t seed, double epsilon) {
    TaskSchedulerOptions o;
    o.epsilon = epsilon;
    auto s = make_scheduler({task("a", 10), task("b"), task("c"), task("d")}, o);
    for (std::size_t t = 0; t < 4; ++t)
      record_flat(s, t, 2 * ms, 2);
    Rng rng(seed);
    std::vector<std::size_t> out;
    std::size_t random = 0;
    for (int k = 0; k < 2000; ++k) {
      out.push_back(*s.next(rng));  // no record: the gradients stay as they are, "a" is always the best
      random += s.last_reason() == PickReason::random;
    }
    return std::make_pair(out, random);
  };
  const auto [a, random_a] = picks(11, 0.05);
  const auto [b, random_b] = picks(11, 0.05);
  const auto [c, random_c] = picks(12, 0.05);
  CHECK(a == b);
  CHECK(random_a == random_b);
  CHECK(a != c);
  CHECK(random_a > 60);  // ~100 of 2000
  CHECK(random_a < 140);
  std::size_t not_best = 0;
  for (std::size_t t : a)
    not_best += t != 0;
  CHECK(not_best > 40);  // 3/4 of the random picks
  CHECK(not_best < random_a);

  const auto [greedy_picks, random_none] = picks(11, 0);
  CHECK(random_none == 0);
  for (std::size_t t : greedy_picks)
    CHECK(t == 0);

  const auto [all_random, random_all] = picks(11, 1);
  CHECK(random_all == 2000);
  std::vector<std::size_t> count(4, 0);
  for (std::size_t t : all_random)
    ++count[t];
  for (std::size_t n : count)
    CHECK(n > 400);
}

TEST_CASE("early stopping, a round that measured nothing, and mark_done take tasks out") {
  TaskSchedulerOptions o = greedy();
  o.early_stopping = 2;
  auto s = make_scheduler({task("stalls", 100), task("improves"), task("exhausted")}, o);
  Rng rng(6);
  s.record(0, 5 * ms, 10);  // inf -> 5: an improvement
  s.record(0, 5 * ms, 10);  // 1 round without
  CHECK(s.active(0));
  s.record(0, 6 * ms, 10);  // 2: stopped (a worse report is no improvement, and does not raise the best)
  CHECK_FALSE(s.active(0));
  CHECK(s.stopped_early(0));
  CHECK(s.best_seconds()[0] == 5 * ms);
  s.record(1, 9 * ms, 10);
  s.record(1, 8 * ms, 10);
  s.record(1, 7 * ms, 10);
  CHECK(s.active(1));
  s.record(2, 9 * ms, 0);  // nothing left to measure
  CHECK_FALSE(s.active(2));
  CHECK_FALSE(s.stopped_early(2));
  for (int k = 0; k < 5; ++k)
    CHECK(s.next(rng) == 1u);  // the heavy task 0 would win every gradient comparison
  CHECK(s.gradients()[0] == 0);
  s.mark_done(1);
  CHECK_FALSE(s.next(rng));
  CHECK(s.last_reason() == PickReason::none);
  CHECK(s.objective() == doctest::Approx(100 * 5 * ms + 7 * ms + 9 * ms));  // done tasks still count

  SUBCASE("early stopping is off by default") {
    auto t = make_scheduler({task("stalls")}, greedy());
    record_flat(t, 0, 5 * ms, 50);
    CHECK(t.active(0));
    CHECK(t.next(rng) == 0u);
  }
}

TEST_CASE("round-robin takes every active task in turn, whatever the gradients") {
  TaskSchedulerOptions o;
  o.strategy = TaskSchedulerOptions::Strategy::round_robin;
  o.epsilon = 1;  // unused by round-robin
  auto s = make_scheduler({task("a", 1000), task("b"), task("c")}, o);
  Rng rng(7);
  const Rng untouched = rng;
  std::vector<std::size_t> order;
  for (int k = 0; k < 6; ++k) {
    const auto t = s.next(rng);
    REQUIRE(t);
    CHECK(s.last_reason() == PickReason::round_robin);
    order.push_back(*t);
    s.record(*t, *t == 0 ? 100 * ms : 1 * ms, 10);
  }
  CHECK(order == std::vector<std::size_t>{0, 1, 2, 0, 1, 2});
  s.mark_done(1);
  order.clear();
  for (int k = 0; k < 4; ++k)
    order.push_back(*s.next(rng));
  CHECK(order == std::vector<std::size_t>{0, 2, 0, 2});
  Rng copy = untouched;
  CHECK(rng() == copy());
}

TEST_CASE("objective() is the weighted sum of best latencies, infinite until every task has one") {
  auto s = make_scheduler({task("a", 2), task("b", 3)});
  CHECK(s.objective() == inf);
  s.record(0, 4 * ms, 10);
  CHECK(s.objective() == inf);
  s.record(1, inf, 10);
  CHECK(s.objective() == inf);
  s.record(1, 1 * ms, 10);
  CHECK(s.objective() == doctest::Approx(2 * 4 * ms + 3 * 1 * ms));
  s.record(0, 3 * ms, 10);
  CHECK(s.objective() == doctest::Approx(2 * 3 * ms + 3 * 1 * ms));
  s.record(0, 8 * ms, 10);  // worse than the best: the best stays
  CHECK(s.objective() == doctest::Approx(2 * 3 * ms + 3 * 1 * ms));
  CHECK(s.best_seconds() == std::vector<double>{3 * ms, 1 * ms});
  CHECK(s.history(0) == std::vector<double>{4 * ms, 3 * ms, 3 * ms});
  CHECK(s.rounds(1) == 2);
  CHECK(s.trials(0) == 30);
}

TEST_CASE("invalid tasks and options are refused with clear messages") {
  CHECK(scheduler_refusal({}).find("no tasks") != std::string::npos);
  const auto weight = scheduler_refusal({task("a"), task("conv", -1)});
  CHECK(weight.find("task 1 (conv)") != std::string::npos);
  CHECK(weight.find("weight") != std::string::npos);
  CHECK(scheduler_refusal({task("a", 0)}).find("weight must be finite and > 0") != std::string::npos);
  CHECK(scheduler_refusal({task("a", std::nan(""))}).find("weight") != std::string::npos);
  CHECK(scheduler_refusal({task("a", inf)}).find("weight") != std::string::npos);
  CHECK(scheduler_refusal({task("a", 1, -5)}).find("FLOPs must be finite and >= 0") != std::string::npos);
  CHECK(scheduler_refusal({task("a", 1, inf)}).find("FLOPs") != std::string::npos);
  const auto twice = scheduler_refusal({task("a"), task("b"), task("a")});
  CHECK(twice.find("tasks 0 and 2 are both named a") != std::string::npos);
  CHECK(twice.find("sum of the weights") != std::string::npos);
  CHECK(TaskScheduler::make({task(""), task("")}).has_value());  // unnamed tasks are fine

  auto with = [](auto change) {
    TaskSchedulerOptions o;
    change(o);
    return scheduler_refusal({task("a")}, o);
  };
  CHECK(with([](auto& o) { o.alpha = 1.5; }).find("alpha must be in [0, 1]") != std::string::npos);
  CHECK(with([](auto& o) { o.beta = 0.5; }).find("beta must be finite and at least 1") != std::string::npos);
  CHECK(with([](auto& o) { o.beta = inf; }).find("beta") != std::string::npos);
  CHECK(with([](auto& o) { o.epsilon = -0.1; }).find("epsilon must be in [0, 1]") != std::string::npos);
  CHECK(with([](auto& o) { o.epsilon = std::nan(""); }).find("epsilon") != std::string::npos);
  CHECK(with([](auto& o) { o.backward_window = 0; }).find("backward_window") != std::string::npos);

  SUBCASE("misuse of a scheduler throws") {
    auto s = make_scheduler({task("a")});
    CHECK_THROWS_AS(s.record(1, 1 * ms, 1), std::out_of_range);
    CHECK_THROWS_AS(s.record(0, 0, 1), std::invalid_argument);
    CHECK_THROWS_AS(s.record(0, -1, 1), std::invalid_argument);
    CHECK_THROWS_AS(s.record(0, std::nan(""), 1), std::invalid_argument);
    CHECK_THROWS_AS(s.mark_done(3), std::out_of_range);
    CHECK_THROWS_AS((void)s.rounds(1), std::out_of_range);
    CHECK(s.rounds(0) == 0);  // nothing was recorded by the refused calls
  }
}

TEST_CASE("similarity_tag: operator and power-of-two FLOPs bucket, empty when unknown") {
  CHECK(similarity_tag(data::OpKind::conv2d, 3e9) == "conv2d/2^31");
  CHECK(similarity_tag(data::OpKind::conv2d, 3e9) == similarity_tag(data::OpKind::conv2d, 4e9));
  CHECK(similarity_tag(data::OpKind::conv2d, 3e9) != similarity_tag(data::OpKind::conv2d, 5e9));
  CHECK(similarity_tag(data::OpKind::conv2d, 3e9) != similarity_tag(data::OpKind::dense, 3e9));
  CHECK(similarity_tag(data::OpKind::dense, std::nullopt).empty());
  CHECK(similarity_tag(data::OpKind::other, 3e9).empty());
  CHECK(similarity_tag(data::OpKind::dense, 0.0).empty());
}

namespace {
/// A synthetic network: g_i(t) = a_i + b_i exp(-t / tau_i) after t rounds; one heavy task with a lot to
/// gain slowly, five light ones that reach their floor in a round or two.
struct Curve {
  double weight, a, b, tau;
  [[nodiscard]] double at(std::size_t t) const { return a + b * std::exp(-static_cast<double>(t) / tau); }
};
const std::vector<Curve> curves = {
    {4, 1 * ms, 20 * ms, 10}, {1, 1 * ms, 1 * ms, 0.5}, {1, 1 * ms, 1 * ms, 0.5},
    {1, 1 * ms, 1 * ms, 0.5}, {1, 1 * ms, 1 * ms, 0.5}, {1, 1 * ms, 1 * ms, 0.5},
};

double simulate(TaskSchedulerOptions::Strategy strategy, std::uint64_t seed,
                std::vector<std::size_t>* rounds) {
  std::vector<SchedulerTask> tasks;
  for (std::size_t i = 0; i < curves.size(); ++i)
    tasks.push_back({"task" + std::to_string(i), curves[i].weight, 0, ""});
  TaskSchedulerOptions o;
  o.strategy = strategy;
  auto s = make_scheduler(std::move(tasks), o);
  Rng rng(seed);
  for (int round = 0; round < 60; ++round) {
    const auto t = s.next(rng);
    REQUIRE(t);
    s.record(*t, curves[*t].at(s.rounds(*t) + 1), 64);
  }
  rounds->clear();
  for (std::size_t i = 0; i < curves.size(); ++i)
    rounds->push_back(s.rounds(i));
  return s.objective();
}
}  // namespace

TEST_CASE("simulation: 60 rounds of the gradient scheduler end with a lower objective than round-robin") {
  std::vector<std::size_t> rr_rounds, grad_rounds;
  const double rr = simulate(TaskSchedulerOptions::Strategy::round_robin, 1, &rr_rounds);
  CHECK(rr_rounds == std::vector<std::size_t>(6, 10));
  // Round-robin: the heavy task gets 10 rounds, 4 * (1 + 20 e^-1) ms; the light ones sit at ~1 ms.
  CHECK(rr == doctest::Approx(4 * curves[0].at(10) + 5 * curves[1].at(10)));
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const double gradient = simulate(TaskSchedulerOptions::Strategy::gradient, seed, &grad_rounds);
    MESSAGE("seed " << seed << ": objective gradient " << gradient / ms << " ms, round-robin " << rr / ms
                    << " ms; rounds of the heavy task " << grad_rounds[0] << " vs " << rr_rounds[0]);
    CHECK(gradient < 0.5 * rr);
    CHECK(grad_rounds[0] > 30);
    for (std::size_t i = 1; i < grad_rounds.size(); ++i)
      CHECK(grad_rounds[i] >= 1);
  }
}
