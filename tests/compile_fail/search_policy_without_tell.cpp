// Must NOT compile: the policy proposes candidates but cannot be told what they cost, so it is not a
// SearchPolicy.
#include "crosstune/concepts.hpp"

struct AskOnly {
  std::vector<crosstune::schedule::CpuCandidate> ask(const crosstune::search::SearchContext&, std::size_t, crosstune::Rng&) {
    return {};
  }
};

int main() { return crosstune::search::require_search_policy<AskOnly>() ? 0 : 1; }
