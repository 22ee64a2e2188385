// The GPU schedules of the sample logs, each replayed and lowered: the tests that check a feature against
// every one of them (test_kernel_features, test_launch_features) walk them with for_each_gpu_sample.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/record.hpp"
#include "crosstune/hw/presets.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/schedule/replay.hpp"
#include "test_support.hpp"

namespace crosstune::test {

/// The first record of a sample log.
inline Record first_record(const std::filesystem::path& log) {
  auto reader = io::LogReader::open(log);
  REQUIRE(reader);
  Record record;
  auto more = reader->next(record);
  REQUIRE(more);
  REQUIRE(*more);
  return record;
}

/// Calls visit(hardware, record, nest) for the first `per_file` records of every K80 and V100 sample log,
/// with the file and the record's index captured for the checks `visit` makes.
template <class Visit>
void for_each_gpu_sample(int per_file, Visit visit) {
  schedule::Replayer replayer;
  for (const char* device : {"k80", "v100"}) {
    const auto& hardware = std::string_view(device) == "k80" ? hw::presets::k80 : hw::presets::v100;
    for (const auto& entry : std::filesystem::directory_iterator(sample_logs() / device)) {
      if (entry.path().extension() != ".gz") continue;
      auto reader = io::LogReader::open(entry.path());
      REQUIRE(reader);
      Record record;
      for (int n = 0; n < per_file; ++n) {
        auto more = reader->next(record);
        REQUIRE(more);
        if (!*more) break;
        auto state = replayer.replay(record);
        REQUIRE(state);
        auto nest = codegen::lower(*state);
        REQUIRE(nest);
        const std::string file = entry.path().filename().string();
        CAPTURE(file);
        CAPTURE(n);
        visit(hardware, record, *nest);
      }
    }
  }
}

}  // namespace crosstune::test
