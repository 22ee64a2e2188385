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

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <unordered_set>
#include <vector>

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
