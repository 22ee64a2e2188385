// The umbrella header compiles on its own and brings in every public part.
#include "crosstune/crosstune.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
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
  // One name from each layer: the umbrella really includes them.
  CHECK(crosstune::hw::presets::v100.name == "v100");
  CHECK(crosstune::features::max_steps_limit >= 64);
  CHECK(crosstune::model::config_for(crosstune::features::StepSequenceExtractor().layout()).validate());
  CHECK(crosstune::io::check_writable(std::filesystem::temp_directory_path() / "x"));
  static_assert(crosstune::Sampler<crosstune::data::UniformSampler>);
}

TEST_CASE("the umbrella header names every public header but the ones it documents as left out") {
  const std::filesystem::path include =
      std::filesystem::path(CROSSTUNE_TEST_DATA).parent_path().parent_path() / "include";
  std::ifstream umbrella(include / "crosstune" / "crosstune.hpp");
  REQUIRE(umbrella);
  std::set<std::string> included;
  for (std::string line; std::getline(umbrella, line);)
    if (line.starts_with("#include \"")) included.insert(line.substr(10, line.size() - 11));
  const std::set<std::string> left_out = {"crosstune/crosstune.hpp", "crosstune/model/xgboost.hpp"};
  for (const auto& entry : std::filesystem::recursive_directory_iterator(include / "crosstune")) {
    const auto relative = std::filesystem::relative(entry.path(), include).string();
    if (!relative.ends_with(".hpp") || relative.starts_with("crosstune/detail/") ||
        relative.starts_with("crosstune/cuda/") || left_out.contains(relative))
      continue;
    CAPTURE(relative);
    CHECK(included.contains(relative));
  }
}
