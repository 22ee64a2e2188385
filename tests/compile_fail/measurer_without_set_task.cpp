// Must NOT compile: the type measures candidates but has no set_task, so it is not a Measurer.
#include "crosstune/concepts.hpp"

struct NotAMeasurer {
  crosstune::measure::BatchResult measure(std::span<const crosstune::measure::Candidate>) { return {}; }
};

int main() {
  NotAMeasurer m;
  const crosstune::measure::MeasureTask task;
  auto batch = crosstune::measure_candidates(m, task, {});
  return batch ? 0 : 1;
}
