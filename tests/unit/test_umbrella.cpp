// The umbrella header compiles on its own and brings in every public part.
#include "crosstune/crosstune.hpp"

#include <doctest/doctest.h>

#include <string>

TEST_CASE("the umbrella header exposes the version and the main types") {
  CHECK(std::string(crosstune::version_string) == std::to_string(crosstune::version_major) + "." +
                                                      std::to_string(crosstune::version_minor) + "." +
                                                      std::to_string(crosstune::version_patch));
  crosstune::Record record;
  crosstune::data::LogSummary summary;
  summary.add(record);  // a record without a task is counted, not grouped
  CHECK(summary.records() == 1);
  CHECK(summary.tasks() == 0);
}
