// crosstune/search/search_policy.hpp — how a search policy proposes candidates and learns from their
// measurements: the ask/tell interface (the SearchPolicy concept) and what a policy may consult.
//
// A round of tuning asks the policy for candidates, measures them, and tells the policy what they cost:
//
//   search::SearchContext context{.space = &space, .measured = already_measured, .score = model_scorer};
//   auto candidates = policy.ask(context, 64, rng);        // distinct, none measured before
//   std::vector<double> seconds = measure(candidates);     // +inf for a candidate that failed
//   policy.tell(context, candidates, seconds);
//
// A policy proposes candidates of one task's sketch space (schedule::CpuSketchSpace); the Tuner copies the
// policy it is given once per task, so a policy keeps per-task state (its best measured candidates) as
// plain members. `score` is the cost model, batched: it is empty until the model has something to go on,
// and a policy then proposes at random. Randomness only through the Rng, so a seed repeats a search.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"

namespace crosstune::search {

using schedule::CpuCandidate;

/// Writes one score per candidate (higher: predicted faster) into the span, which has the candidates'
/// size. Scores compare only within one call's candidates of one task.
using Scorer = std::function<void(std::span<const CpuCandidate>, std::span<float>)>;

/// What a policy consults when it proposes candidates.
struct SearchContext {
  const schedule::CpuSketchSpace* space = nullptr;  ///< the task's sketches (never null in a Tuner)
  /// Whether a candidate was measured already, in this run or in a resumed log (empty: nothing was).
  std::function<bool(const CpuCandidate&)> measured{};
  Scorer score{};  ///< the cost model; empty while it has nothing to go on

  [[nodiscard]] bool is_measured(const CpuCandidate& c) const { return measured && measured(c); }
};

/// Proposes candidates and learns from their costs: `ask(context, n, rng)` returns at most `n` distinct
/// candidates of `context.space` that are not measured yet (fewer only when the space runs out), and
/// `tell(context, candidates, seconds)` reports their mean costs in seconds (+inf: the candidate failed).
/// Copyable: the Tuner keeps one copy per task. search::RandomSearch and search::EvolutionarySearch
/// satisfy it; see docs/policies/search-policy.md for the smallest policy of one's own.
template <class P>
concept SearchPolicy = std::copy_constructible<P> &&
                       requires(P& p, const SearchContext& context, std::size_t n, Rng& rng,
                                std::span<const CpuCandidate> candidates, std::span<const double> seconds) {
                         { p.ask(context, n, rng) } -> std::convertible_to<std::vector<CpuCandidate>>;
                         p.tell(context, candidates, seconds);
                       };

/// Checks a SearchPolicy with one readable message per missing member.
template <class P>
constexpr bool require_search_policy() {
  static_assert(std::copy_constructible<P>,
                "crosstune: a SearchPolicy must be copyable: the Tuner keeps one copy per task (see "
                "docs/policies/search-policy.md)");
  static_assert(requires(P& p, const SearchContext& context, std::size_t n, Rng& rng) {
    { p.ask(context, n, rng) } -> std::convertible_to<std::vector<CpuCandidate>>;
  }, "crosstune: this type is not a SearchPolicy: it needs ask(const search::SearchContext&, std::size_t n, Rng&) "
     "returning std::vector<schedule::CpuCandidate> (see docs/policies/search-policy.md)");
  static_assert(requires(P& p, const SearchContext& context, std::span<const CpuCandidate> candidates,
                         std::span<const double> seconds) { p.tell(context, candidates, seconds); },
                "crosstune: this type is not a SearchPolicy: it needs tell(const search::SearchContext&, "
                "std::span<const schedule::CpuCandidate>, std::span<const double> seconds) (see "
                "docs/policies/search-policy.md)");
  return SearchPolicy<P>;
}

/// Up to `n` distinct random candidates of the context's space that are neither measured nor in `taken`
/// (whose hashes are added to it). Gives up after 16 draws per wanted candidate without a new one: a
/// small space may hold fewer.
[[nodiscard]] inline std::vector<CpuCandidate> sample_unmeasured(const SearchContext& context, std::size_t n, Rng& rng,
                                                                 std::unordered_set<std::uint64_t>& taken) {
  std::vector<CpuCandidate> out;
  if (context.space == nullptr) return out;
  std::size_t misses = 0;
  while (out.size() < n && misses < 16 * n + 64) {
    CpuCandidate c = context.space->sample(rng);
    if (!taken.insert(c.hash()).second || context.is_measured(c)) {
      ++misses;
      continue;
    }
    out.push_back(std::move(c));
  }
  return out;
}

/// Unmeasured candidates a model-guided policy scored, by hash: (score, candidate).
using ScoredCandidates = std::unordered_map<std::uint64_t, std::pair<float, CpuCandidate>>;

/// How a guided policy's answer was made up.
struct GuidedAnswer {
  std::vector<CpuCandidate> candidates;
  std::size_t from_model = 0;  ///< picked by score
  std::size_t random = 0;      ///< drawn at random (eps-greedy, or too few scored)
  float best_score = 0;        ///< the best score picked
};

/// The answer of a model-guided policy: the best-scored `n - round(eps_greedy n)` of `scored` (ties by hash,
/// so the answer does not depend on the map's order), then random unmeasured candidates up to `n`, none of
/// them in `exclude` (the hashes of candidates told already).
[[nodiscard]] inline GuidedAnswer answer_by_score(const ScoredCandidates& scored, std::size_t n, double eps_greedy,
                                                  const SearchContext& context, Rng& rng,
                                                  const std::unordered_set<std::uint64_t>& exclude) {
  GuidedAnswer answer;
  const auto random_share = static_cast<std::size_t>(std::llround(eps_greedy * static_cast<double>(n)));
  std::vector<std::pair<float, const CpuCandidate*>> ranked;
  ranked.reserve(scored.size());
  for (const auto& [h, entry] : scored) ranked.emplace_back(entry.first, &entry.second);
  const std::size_t by_model = std::min(ranked.size(), n - std::min(n, random_share));
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(by_model), ranked.end(),
                    [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second->hash() < b.second->hash(); });
  std::unordered_set<std::uint64_t> taken(exclude);
  answer.candidates.reserve(n);
  for (std::size_t i = 0; i < by_model; ++i) {
    taken.insert(ranked[i].second->hash());
    answer.candidates.push_back(*ranked[i].second);
  }
  answer.from_model = by_model;
  answer.best_score = by_model > 0 ? ranked.front().first : 0.0f;
  auto random = sample_unmeasured(context, n - answer.candidates.size(), rng, taken);
  answer.random = random.size();
  for (auto& c : random) answer.candidates.push_back(std::move(c));
  return answer;
}

/// A guided policy's memory of what it was told: every candidate's hash, and the fastest ones (by mean
/// cost, at most `keep`) as starting points of later asks.
class MeasuredPool {
 public:
  explicit MeasuredPool(std::size_t keep = 256) : keep_(keep) {}
  void add(std::span<const CpuCandidate> candidates, std::span<const double> seconds) {
    for (std::size_t i = 0; i < candidates.size() && i < seconds.size(); ++i) {
      hashes_.insert(candidates[i].hash());
      if (std::isfinite(seconds[i]) && seconds[i] > 0) best_.emplace_back(seconds[i], candidates[i]);
    }
    std::stable_sort(best_.begin(), best_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    if (best_.size() > keep_) best_.resize(keep_);
  }
  [[nodiscard]] const std::unordered_set<std::uint64_t>& hashes() const noexcept { return hashes_; }
  /// The fastest told candidates, fastest first.
  [[nodiscard]] const std::vector<std::pair<double, CpuCandidate>>& best() const noexcept { return best_; }

 private:
  std::size_t keep_;
  std::vector<std::pair<double, CpuCandidate>> best_;
  std::unordered_set<std::uint64_t> hashes_;
};

/// What a guided policy's last ask() did: candidates scored, and how the answer was made up.
struct GuidedStats {
  std::size_t scored = 0;      ///< candidates the model scored
  std::size_t distinct = 0;    ///< distinct unmeasured candidates among them
  std::size_t from_model = 0;  ///< answer candidates picked by score
  std::size_t random = 0;      ///< answer candidates drawn at random (eps-greedy, or no model)
  float best_score = 0;        ///< the best score of the answer
};

/// What the guided policies share: their options, checked on construction (ErrorException naming the one out
/// of range), the last ask's statistics, and what they were told (`tell` keeps the fastest as starting points).
template <class Options, class Stats>
class GuidedPolicy {
 public:
  [[nodiscard]] const Options& options() const noexcept { return options_; }
  [[nodiscard]] const Stats& last_stats() const noexcept { return stats_; }
  void tell(const SearchContext&, std::span<const CpuCandidate> candidates, std::span<const double> seconds) {
    measured_.add(candidates, seconds);
  }

 protected:
  explicit GuidedPolicy(Options options) : options_(options), measured_(options.keep_measured) {
    if (auto ok = options_.validate(); !ok) throw ErrorException(ok.error());
  }
  /// The policy for `options`, or the Error naming the one out of range (what each policy's make() returns).
  template <class Policy>
  [[nodiscard]] static Expected<Policy> checked(Options options) {
    if (auto ok = options.validate(); !ok) return unexpected(std::move(ok).error());
    return Policy(options);
  }
  /// The answer while no model guides the search: `n` random candidates, never measured nor told.
  std::vector<CpuCandidate> unguided(const SearchContext& context, std::size_t n, Rng& rng) {
    std::unordered_set<std::uint64_t> taken(measured_.hashes());
    auto out = sample_unmeasured(context, n, rng, taken);
    stats_.random = out.size();
    return out;
  }
  /// Takes the answer's make-up into the statistics and returns its candidates.
  std::vector<CpuCandidate> answered(GuidedAnswer answer) {
    stats_.from_model = answer.from_model;
    stats_.random = answer.random;
    stats_.best_score = answer.best_score;
    return std::move(answer.candidates);
  }
  Options options_;
  Stats stats_{};
  MeasuredPool measured_;
};

/// Candidates drawn uniformly from the sketches: the baseline every guided search must beat.
class RandomSearch {
 public:
  [[nodiscard]] std::vector<CpuCandidate> ask(const SearchContext& context, std::size_t n, Rng& rng) const {
    std::unordered_set<std::uint64_t> taken;
    return sample_unmeasured(context, n, rng, taken);
  }
  void tell(const SearchContext&, std::span<const CpuCandidate>, std::span<const double>) const noexcept {}
};

}  // namespace crosstune::search
