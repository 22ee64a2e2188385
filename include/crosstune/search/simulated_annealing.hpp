// crosstune/search/simulated_annealing.hpp — simulated annealing over the sketch space, guided by the cost
// model (a SearchPolicy).
//
// AutoTVM's search (Chen et al., NeurIPS'18, section 5.2) on crosstune's candidates: `chains` walkers start
// from the best measured candidates (`init_measured_ratio` of them) and random samples; at each of `steps`
// steps every walker proposes a mutation of where it stands (CpuSketchSpace::mutate), the cost model scores
// all proposals in one batch, and a walker moves when the proposal scores higher or, with probability
// exp(Δ / T), when it scores lower. The temperature T falls linearly from `start_temperature` to
// `end_temperature`, in units of the spread (standard deviation) of the first scores, so the schedule does
// not depend on the model's scale. The walk stops early after `early_stopping` steps in which no candidate
// entered the best `n` scored. The answer, as the evolutionary search's: the best-scored `(1 − eps_greedy)
// n` candidates never measured, then `eps_greedy n` random ones; without a model, all random.
//
//   search::SimulatedAnnealing policy({.chains = 128, .steps = 80});
//   auto candidates = policy.ask(context, 64, rng);
//   policy.tell(context, candidates, seconds);  // the fastest become starting points of the next walks
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/search/search_policy.hpp"

namespace crosstune::search {

struct AnnealingOptions {
  std::size_t chains = 128;          ///< walkers, each moved by one mutation a step
  std::size_t steps = 80;            ///< steps of a walk (each scores `chains` proposals)
  double start_temperature = 1.0;    ///< in standard deviations of the first scores
  double end_temperature = 0.0;      ///< reached at the last step (0: only better moves)
  double init_measured_ratio = 0.5;  ///< share of the walkers that start from the best measured
  double eps_greedy = 0.05;          ///< share of each answer drawn at random
  std::size_t keep_measured = 256;   ///< best measured candidates kept as starting points
  std::size_t early_stopping = 30;   ///< steps without a new candidate among the best n scored (0: never)

  /// An Error naming the option that is out of range.
  [[nodiscard]] Expected<void> validate() const {
    auto bad = [](const std::string& what) {
      return unexpected(Error(ErrorKind::invalid_argument, "AnnealingOptions: " + what, {}, 0, 0,
                              "defaults: 128 chains, 80 steps, temperature 1 to 0, eps-greedy 0.05"));
    };
    auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
    if (chains < 1) return bad("chains must be at least 1");
    if (steps < 1) return bad("steps must be at least 1");
    if (!(start_temperature >= 0) || !std::isfinite(start_temperature)) return bad("start_temperature must be a finite number >= 0");
    if (!(end_temperature >= 0) || !std::isfinite(end_temperature)) return bad("end_temperature must be a finite number >= 0");
    if (!probability(init_measured_ratio)) return bad("init_measured_ratio must be in [0, 1]");
    if (!probability(eps_greedy)) return bad("eps_greedy must be in [0, 1]");
    return {};
  }
};

/// What the last ask() did: GuidedStats (`scored` counts the starts and the proposals) and the walk.
struct AnnealingStats : GuidedStats {
  std::size_t steps = 0;     ///< steps walked (fewer than `steps` after an early stop)
  std::size_t accepted = 0;  ///< moves taken, over all walkers and steps
  std::size_t worse = 0;     ///< of those, to a lower score (the temperature's doing)
};

class SimulatedAnnealing : public GuidedPolicy<AnnealingOptions, AnnealingStats> {
 public:
  explicit SimulatedAnnealing(AnnealingOptions options = {}) : GuidedPolicy(options) {}
  /// A search with a user's options, or the Error naming the one out of range.
  [[nodiscard]] static Expected<SimulatedAnnealing> make(AnnealingOptions options) { return checked<SimulatedAnnealing>(options); }

  [[nodiscard]] std::vector<CpuCandidate> ask(const SearchContext& context, std::size_t n, Rng& rng) {
    stats_ = {};
    if (n == 0 || context.space == nullptr) return {};
    if (!context.score) return unguided(context, n, rng);  // nothing to guide the walk yet
    const schedule::CpuSketchSpace& space = *context.space;
    const std::size_t chains = options_.chains;

    // The starts: the best measured, then random samples.
    std::vector<CpuCandidate> current;
    current.reserve(chains);
    const auto from_measured =
        std::min(measured_.best().size(), static_cast<std::size_t>(std::floor(options_.init_measured_ratio * static_cast<double>(chains))));
    for (std::size_t i = 0; i < from_measured; ++i) current.push_back(measured_.best()[i].second);
    while (current.size() < chains) current.push_back(space.sample(rng));
    std::vector<float> current_scores(chains, 0.0f);
    context.score(current, current_scores);
    stats_.scored += chains;

    // Every unmeasured candidate scored, and the n-th best score so far (a min-heap of the best n).
    ScoredCandidates seen;
    std::priority_queue<float, std::vector<float>, std::greater<>> best_n;
    auto remember = [&](const CpuCandidate& c, float score) {
      if (!std::isfinite(score)) return false;
      const std::uint64_t h = c.hash();
      if (seen.contains(h) || measured_.hashes().contains(h) || context.is_measured(c)) return false;
      seen.try_emplace(h, score, c);
      if (best_n.size() < n) {
        best_n.push(score);
        return true;
      }
      if (score <= best_n.top()) return false;
      best_n.pop();
      best_n.push(score);
      return true;
    };
    for (std::size_t i = 0; i < chains; ++i) remember(current[i], current_scores[i]);

    // The temperature's unit: the spread of the first scores.
    double sum = 0, sum_sq = 0;
    std::size_t finite = 0;
    for (float s : current_scores)
      if (std::isfinite(s)) sum += s, sum_sq += static_cast<double>(s) * s, ++finite;
    const double mean = finite > 0 ? sum / static_cast<double>(finite) : 0.0;
    const double spread = finite > 1 ? std::sqrt(std::max(0.0, sum_sq / static_cast<double>(finite) - mean * mean)) : 0.0;
    const double unit = spread > 0 ? spread : 1.0;

    std::vector<CpuCandidate> proposals(chains);
    std::vector<float> proposal_scores(chains);
    std::size_t quiet = 0;
    for (std::size_t step = 0; step < options_.steps; ++step) {
      const double progress = options_.steps > 1 ? static_cast<double>(step) / static_cast<double>(options_.steps - 1) : 1.0;
      const double temperature = (options_.start_temperature + (options_.end_temperature - options_.start_temperature) * progress) * unit;
      for (std::size_t i = 0; i < chains; ++i) proposals[i] = space.mutate(current[i], rng);
      context.score(proposals, proposal_scores);
      stats_.scored += chains;
      ++stats_.steps;
      bool entered = false;
      for (std::size_t i = 0; i < chains; ++i) {
        const float s = proposal_scores[i];
        if (!std::isfinite(s)) continue;
        entered |= remember(proposals[i], s);
        const double delta = static_cast<double>(s) - static_cast<double>(current_scores[i]);
        const bool better = delta >= 0 || !std::isfinite(current_scores[i]);
        if (better || (temperature > 0 && rng.uniform01() < std::exp(delta / temperature))) {
          ++stats_.accepted;
          stats_.worse += better ? 0 : 1;
          current[i] = std::move(proposals[i]);
          current_scores[i] = s;
        }
      }
      quiet = entered ? 0 : quiet + 1;
      if (options_.early_stopping > 0 && quiet >= options_.early_stopping) break;
    }
    stats_.distinct = seen.size();

    return answered(answer_by_score(seen, n, options_.eps_greedy, context, rng, measured_.hashes()));
  }
};

}  // namespace crosstune::search
