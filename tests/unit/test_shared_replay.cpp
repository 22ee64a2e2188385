// Every record of every log under CROSSTUNE_SHARED_DATA (../shared/data/ansor-logs) replayed onto the DAG
// its workload key names: at least 99% of the named-family records replay (all of them at present), and
// so do all records of k80/ and v100/. Exits 77 (skipped) when the folder is absent.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "crosstune/io/log_reader.hpp"
#include "crosstune/schedule/replay.hpp"
#include "test_support.hpp"

using namespace crosstune;

TEST_CASE("the named-family records of the shared logs replay, and every k80 and v100 record does") {
  const std::filesystem::path root = CROSSTUNE_SHARED_DATA;
  REQUIRE(std::filesystem::is_directory(root));
  const std::set<std::string> named = {"conv2d_layer", "depthwise_conv2d_layer", "matmul_layer",
                                       "relu_layer",   "pool_layer",             "reduction_layer"};
  schedule::Replayer replayer;
  schedule::ReplayReport all, roller;  // roller: k80/ and v100/
  for (const auto& file : test::log_files_under(root)) {
    CAPTURE(file);
    const auto folder = file.parent_path().filename().string();
    const bool in_roller = folder == "k80" || folder == "v100";
    auto reader = io::LogReader::open(file);
    REQUIRE(reader);
    Record record;
    while (true) {
      auto more = reader->next(record);
      if (!more) FAIL(more.error().describe());
      if (!*more) break;
      auto state = replayer.replay(record);
      const Error* error = state ? nullptr : &state.error();
      all.add(replayer.last_family(), replayer.last_cause(), error);
      if (in_roller) roller.add(replayer.last_family(), replayer.last_cause(), error);
    }
  }
  std::int64_t named_records = 0, named_replayed = 0;
  for (const auto& entry : all.by_family) {  // (no structured bindings: clang 14 cannot capture them in MESSAGE)
    const auto& counts = entry.second;
    MESSAGE(entry.first << ": " << counts.replayed() << " of " << counts.records << " replayed");
    if (!named.contains(entry.first)) continue;
    named_records += counts.records;
    named_replayed += counts.replayed();
  }
  for (const auto& error : all.first_error) MESSAGE(error.first << ": " << error.second);
  MESSAGE(all.total.records << " records, " << all.total.replayed() << " replayed; named families " << named_replayed
                            << " of " << named_records);
  CHECK(all.total.records == 276630);
  for (const auto& family : named) CHECK_MESSAGE(all.by_family[family].records > 0, family);
  CHECK(named_replayed * 100 >= named_records * 99);
  CHECK(roller.total.records == 44762 + 41514);
  CHECK(roller.total.replayed() == roller.total.records);
}

int main(int argc, char** argv) {
  if (!std::filesystem::is_directory(CROSSTUNE_SHARED_DATA)) {
    std::printf("skipped: %s not found\n", CROSSTUNE_SHARED_DATA);
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
