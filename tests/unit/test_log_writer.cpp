#include "crosstune/io/log_writer.hpp"

#include <doctest/doctest.h>

#include <limits>

#include "crosstune/io/log_reader.hpp"
#include "test_support.hpp"

using namespace crosstune;
using crosstune::test::TempDir;

namespace {
std::vector<Record> sample_records() {
  auto records = io::read_log_file(test::sample_logs() / "tvm-ci" / "resnet-18-NHWC-B1-cuda.json.gz");
  REQUIRE(records);
  return *records;
}
}  // namespace

TEST_CASE("records written to a plain or gzip log read back equal") {
  TempDir dir;
  const auto records = sample_records();
  for (const char* name : {"out.json", "out.json.gz"}) {
    CAPTURE(name);
    {
      auto writer = io::LogWriter::open(dir / name);
      REQUIRE(writer);
      REQUIRE(writer->write(records));
      CHECK(writer->records_written() == records.size());
      REQUIRE(writer->close());
    }
    auto back = io::read_log_file(dir / name);
    REQUIRE(back);
    CHECK(*back == records);
  }
}

TEST_CASE("append mode keeps earlier records, truncate mode replaces them, also for gzip") {
  TempDir dir;
  const auto records = sample_records();
  for (const char* name : {"log.json", "log.json.gz"}) {
    CAPTURE(name);
    for (int round = 0; round < 2; ++round) {
      auto writer = io::LogWriter::open(dir / name);
      REQUIRE(writer);
      REQUIRE(writer->write(records[0]));
    }  // destructor flushes and closes
    auto appended = io::read_log_file(dir / name);
    REQUIRE(appended);
    CHECK(appended->size() == 2);
    {
      auto writer = io::LogWriter::open(dir / name, io::WriteMode::truncate);
      REQUIRE(writer);
      REQUIRE(writer->write(records[1]));
    }
    auto replaced = io::read_log_file(dir / name);
    REQUIRE(replaced);
    REQUIRE(replaced->size() == 1);
    CHECK(replaced->front() == records[1]);
  }
}

TEST_CASE("a record that cannot be written is refused with the file named; the log stays valid") {
  TempDir dir;
  auto records = sample_records();
  auto writer = io::LogWriter::open(dir / "log.json");
  REQUIRE(writer);
  Record bad = records[0];
  bad.result.costs_seconds = {std::numeric_limits<double>::quiet_NaN()};
  auto refused = writer->write(bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().file.ends_with("log.json"));
  REQUIRE(writer->write(records[1]));
  REQUIRE(writer->close());
  CHECK(writer->close());  // closing twice is harmless
  CHECK_FALSE(writer->write(records[1]));
  auto back = io::read_log_file(dir / "log.json");
  REQUIRE(back);
  CHECK(back->size() == 1);
}

TEST_CASE("a log in a missing folder cannot be opened, with a hint") {
  TempDir dir;
  auto writer = io::LogWriter::open(dir / "no" / "such" / "log.json");
  REQUIRE_FALSE(writer);
  CHECK(writer.error().kind == ErrorKind::io);
  CHECK_FALSE(writer.error().hint.empty());
}
