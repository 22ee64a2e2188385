// Must NOT compile: select() does not take the Rng, so the type is not a Sampler.
#include "crosstune/concepts.hpp"

struct NotASampler {
  crosstune::data::Selection select(const crosstune::data::Dataset&) const { return {}; }
};

int main() {
  crosstune::Rng rng(0);
  crosstune::data::Dataset* ds = nullptr;
  return static_cast<int>(crosstune::sample_records(NotASampler{}, *ds, rng).records.size());
}
