// Every record of every log under CROSSTUNE_SHARED_DATA (../shared/data/ansor-logs): parse, write, parse
// again, and compare. Exits 77 (skipped) when the folder is absent, e.g. on a machine without ../shared.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "crosstune/data/samplers.hpp"
#include "crosstune/features/step_sequence_extractor.hpp"
#include "crosstune/hw/target_string.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/record_format.hpp"
#include "test_support.hpp"

using namespace crosstune;

TEST_CASE("every record of every shared log parses, and parse-write-parse gives equal records") {
  const std::filesystem::path root = CROSSTUNE_SHARED_DATA;
  REQUIRE(std::filesystem::is_directory(root));
  std::size_t files = 0, records = 0, identical_lines = 0;
  for (const auto& file : test::log_files_under(root)) {
    CAPTURE(file);
    auto reader = io::LogReader::open(file);
    REQUIRE(reader);
    auto raw = detail::LineSource::open_file(file, std::size_t{64} << 20);
    REQUIRE(raw);
    io::RecordParser parser;
    Record record, back;
    std::string line;
    while (true) {
      auto more = reader->next(record);
      if (!more) FAIL(more.error().describe());
      if (!*more) break;
      std::string_view original;
      REQUIRE(*raw->next(original));
      line.clear();
      REQUIRE(io::append_record_line(line, record));
      identical_lines += line == original ? 1 : 0;
      auto parsed = parser.parse(line, back);
      if (!parsed) FAIL(parsed.error().describe());
      REQUIRE(back == record);
      ++records;
    }
    ++files;
  }
  MESSAGE(files << " files, " << records << " records, " << identical_lines << " written back byte for byte");
  CHECK(files >= 209);
  CHECK(records >= 276630);
  // Lines written by TVM itself come back byte for byte; a few logs were re-serialised by Python
  // ("10000000000.0"), which only the numbers' spelling distinguishes.
  CHECK(identical_lines * 1000 >= records * 999);
}

TEST_CASE(
    "every target string of the shared logs parses, round-trips, and agrees with the recorded parameters") {
  const std::filesystem::path root = CROSSTUNE_SHARED_DATA;
  std::set<std::pair<std::string, std::array<std::int64_t, 8>>> seen;
  for (const auto& file : test::log_files_under(root)) {
    auto reader = io::LogReader::open(file);
    REQUIRE(reader);
    Record record;
    while (*reader->next(record)) {
      const Task& task = *record.task;
      if (!seen.emplace(task.target.str(), task.hardware_params.to_array()).second) continue;
      CAPTURE(task.target.str());
      auto parsed = hw::parse_target(task.target.str());
      REQUIRE(parsed);
      auto again = hw::parse_target(hw::to_target_string(*parsed));
      REQUIRE(again);
      CHECK(again->same_hardware(*parsed));
      auto hardware = hw::hardware_of(task);
      REQUIRE(hardware);
      if (task.has_hardware_params()) CHECK(hardware->recorded() == task.hardware_params);
      // The recorded parameters name the same kind of device as the target string.
      if (task.has_hardware_params())
        CHECK(hw::from_recorded(task.hardware_params).is_gpu() == parsed->is_gpu());
    }
  }
  MESSAGE(seen.size() << " distinct (target, hardware_params) pairs");
  CHECK(seen.size() >= 8);
}

TEST_CASE("the shared logs form a dataset with the K80 and V100 held apart, and pruning keeps about 55%") {
  auto ds = data::Dataset::load(test::log_files_under(CROSSTUNE_SHARED_DATA));
  REQUIRE(ds);
  CHECK(ds->stats().records_read == 276630);
  CHECK(ds->records() + ds->stats().invalid_records + ds->stats().dropped_records == 276630);
  std::map<std::string, std::size_t> tasks;
  for (const auto& t : ds->tasks())
    ++tasks[t.hardware];
  CHECK(tasks["k80"] == 42);
  CHECK(tasks["v100"] == 42);
  CHECK(tasks["rtx2080ti"] > 0);
  CHECK(tasks["platinum-8358"] > 0);
  Rng rng(0);
  const auto kept = data::HardwareAwareSampler{}.select(*ds, rng);
  MESSAGE("hardware-aware sampler at default knobs keeps " << kept.kept_fraction << " of " << ds->records());
  CHECK(kept.kept_fraction == doctest::Approx(0.55).epsilon(0.01));
  auto split = data::split_by_target(*ds, "v100");
  REQUIRE(split);
  CHECK(split->test.size() == 40814);
}

TEST_CASE("every record of the shared logs extracts into finite features") {
  features::StepSequenceExtractor extractor({.max_steps = 80});
  features::FeatureBatch batch;
  std::size_t records = 0, truncated = 0;
  for (const auto& file : test::log_files_under(CROSSTUNE_SHARED_DATA)) {
    auto r = io::read_log_file(file);
    REQUIRE(r);
    const auto hardware = hw::hardware_of(*r->front().task);
    REQUIRE(hardware);
    REQUIRE(extractor.extract(*r, *hardware, batch));
    const bool finite =
        std::all_of(batch.steps.begin(), batch.steps.end(), [](float v) { return std::isfinite(v); }) &&
        std::all_of(batch.workload.begin(), batch.workload.end(), [](float v) { return std::isfinite(v); });
    REQUIRE(finite);
    for (auto t : batch.truncated)
      truncated += t;
    records += r->size();
  }
  CHECK(records == 276630);
  CHECK(truncated == 0);  // the longest public sequence has 70 steps
}

int main(int argc, char** argv) {
  if (!std::filesystem::is_directory(CROSSTUNE_SHARED_DATA)) {
    std::printf("skipped: %s not found\n", CROSSTUNE_SHARED_DATA);
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
