// crosstune/search/evolutionary_search.hpp — Ansor's evolutionary search guided by the cost model (a
// SearchPolicy).
//
// Each ask() (Zheng et al., OSDI'20, section 5.1) starts from a population of up to `population` candidates
// (32 per candidate asked, at least `min_population`) — the best measured ones (`init_measured_ratio` of it)
// and random samples of the sketches — and runs `iterations` generations: the cost model scores the
// population, every unmeasured candidate it scored is remembered with its score, and the next generation is
// drawn by roulette selection on the scores, each child a mutation of its parent with probability
// `mutation_probability` (a tile factor moved between levels, another unroll / parallel / vectorise choice;
// CpuSketchSpace::mutate), a crossover with a second parent with probability `crossover_probability`,
// otherwise a copy. The answer is the best-scored `(1 − eps_greedy) n` candidates never measured, and
// `eps_greedy n` random ones, so the model keeps seeing what it would not pick. Without a model (no Scorer)
// it answers at random.
//
//   search::EvolutionarySearch policy({.population = 2048, .iterations = 4});
//   auto candidates = policy.ask(context, 64, rng);
//   policy.tell(context, candidates, seconds);      // the measured become parents of the next rounds
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/search/search_policy.hpp"

namespace crosstune::search {

struct EvolutionaryOptions {
  std::size_t population = 2048;       ///< candidates per generation, at most
  std::size_t iterations = 4;          ///< generations after the first (each scored by the model)
  double mutation_probability = 0.85;  ///< a child is its parent mutated
  double crossover_probability = 0.0;  ///< of the rest: a crossover with a second parent (else a copy)
  double eps_greedy = 0.05;            ///< share of each answer drawn at random
  double init_measured_ratio = 0.2;    ///< share of the first generation taken from the best measured
  std::size_t keep_measured = 256;     ///< best measured candidates kept as parents
  /// The population is at most this many times the candidates asked for, and at least `min_population`
  /// (0: always `population`). Ansor's 2048 is 32 per candidate of its 64-candidate rounds; a network tuned
  /// 8 candidates a round would otherwise score 10 240 candidates per 8 measured, and with the shipped CPU
  /// model prediction took 16% of ResNet-50's tuning time (docs/search.md).
  std::size_t per_candidate = 32;
  std::size_t min_population = 256;

  /// An Error naming the option that is out of range.
  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](const std::string& what) {
      return unexpected(Error(ErrorKind::invalid_argument, "EvolutionaryOptions: " + what, {}, 0, 0,
                              "Ansor's defaults: population 2048, 4 iterations, mutation 0.85, eps-greedy 0.05"));
    };
    auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
    if (population < 2) return bad("population must be at least 2");
    if (!probability(mutation_probability)) return bad("mutation_probability must be in [0, 1]");
    if (!probability(crossover_probability)) return bad("crossover_probability must be in [0, 1]");
    if (!probability(eps_greedy)) return bad("eps_greedy must be in [0, 1]");
    if (!probability(init_measured_ratio)) return bad("init_measured_ratio must be in [0, 1]");
    return {};
  }
};

/// What the last ask() did: candidates scored (over all generations), and how the answer was made up.
using EvolutionaryStats = GuidedStats;

class EvolutionarySearch : public GuidedPolicy<EvolutionaryOptions, EvolutionaryStats> {
 public:
  explicit EvolutionarySearch(EvolutionaryOptions options = {}) : GuidedPolicy(options) {}
  /// A search with a user's options, or the Error naming the one out of range.
  [[nodiscard]] static Expected<EvolutionarySearch> make(EvolutionaryOptions options) { return checked<EvolutionarySearch>(options); }

  [[nodiscard]] std::vector<CpuCandidate> ask(const SearchContext& context, std::size_t n, Rng& rng) {
    stats_ = {};
    if (n == 0 || context.space == nullptr) return {};
    if (!context.score) return unguided(context, n, rng);  // nothing to guide the search yet
    const schedule::CpuSketchSpace& space = *context.space;

    // The first generation: the best measured, then random samples.
    const std::size_t size = population_for(n);
    std::vector<CpuCandidate> population;
    population.reserve(size);
    const auto from_measured =
        std::min(measured_.best().size(), static_cast<std::size_t>(std::floor(options_.init_measured_ratio * static_cast<double>(size))));
    for (std::size_t i = 0; i < from_measured; ++i) population.push_back(measured_.best()[i].second);
    while (population.size() < size) population.push_back(space.sample(rng));

    // Every unmeasured candidate scored, by hash: its best score (scores of one candidate agree).
    ScoredCandidates seen;
    std::unordered_map<std::uint64_t, bool> measured_cache;
    auto is_measured = [&](const CpuCandidate& c, std::uint64_t h) {
      auto [it, inserted] = measured_cache.try_emplace(h, false);
      if (inserted) it->second = context.is_measured(c) || measured_.hashes().contains(h);
      return it->second;
    };
    std::vector<float> scores;
    std::vector<double> cumulative;
    std::vector<CpuCandidate> next;
    for (std::size_t generation = 0;; ++generation) {
      scores.assign(population.size(), 0.0f);
      context.score(population, scores);
      stats_.scored += population.size();
      for (std::size_t i = 0; i < population.size(); ++i) {
        const std::uint64_t h = population[i].hash();
        if (is_measured(population[i], h) || !std::isfinite(scores[i])) continue;
        seen.try_emplace(h, scores[i], population[i]);
      }
      if (generation == options_.iterations) break;

      // Roulette selection on the scores shifted to be positive; a population the model cannot tell
      // apart is drawn from uniformly.
      float low = std::numeric_limits<float>::infinity(), high = -low;
      for (float s : scores)
        if (std::isfinite(s)) low = std::min(low, s), high = std::max(high, s);
      const double floor = high > low ? 1e-3 * (static_cast<double>(high) - low) : 1.0;
      cumulative.resize(population.size());
      double total = 0;
      for (std::size_t i = 0; i < population.size(); ++i) {
        total += std::isfinite(scores[i]) ? static_cast<double>(scores[i]) - low + floor : 0.0;
        cumulative[i] = total;
      }
      auto pick = [&]() -> const CpuCandidate& {
        const double u = rng.uniform01() * total;
        const auto at = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
        return population[std::min(static_cast<std::size_t>(at), population.size() - 1)];
      };
      next.clear();
      next.reserve(population.size());
      while (next.size() < population.size()) {
        const CpuCandidate& parent = pick();
        const double u = rng.uniform01();
        if (u < options_.mutation_probability)
          next.push_back(space.mutate(parent, rng));
        else if (u < options_.mutation_probability + (1 - options_.mutation_probability) * options_.crossover_probability)
          next.push_back(space.crossover(parent, pick(), rng));
        else
          next.push_back(parent);
      }
      population.swap(next);
    }
    stats_.distinct = seen.size();

    // The answer: the best-scored unmeasured candidates, then eps-greedy random ones.
    return answered(answer_by_score(seen, n, options_.eps_greedy, context, rng, measured_.hashes()));
  }

  /// The population for an answer of `n` candidates (EvolutionaryOptions::per_candidate).
  [[nodiscard]] std::size_t population_for(std::size_t n) const noexcept {
    if (options_.per_candidate == 0) return options_.population;
    const std::size_t wanted = n > options_.population / options_.per_candidate ? options_.population : n * options_.per_candidate;
    return std::max<std::size_t>(2, std::min(options_.population, std::max(wanted, options_.min_population)));
  }
};

}  // namespace crosstune::search
