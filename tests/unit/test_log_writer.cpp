#include "crosstune/io/log_writer.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <span>

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
      REQUIRE(writer->close());
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

TEST_CASE("a truncating writer dropped without close() leaves the old log as it was") {
  TempDir dir;
  const auto records = sample_records();
  for (const char* name : {"log.json", "log.json.gz"}) {
    CAPTURE(name);
    {
      auto writer = io::LogWriter::open(dir / name, io::WriteMode::truncate);
      REQUIRE(writer);
      REQUIRE(writer->write(std::span<const Record>(records).first(3)));
      REQUIRE(writer->close());
    }
    const std::string before = test::read_file(dir / name);
    {
      auto writer = io::LogWriter::open(dir / name, io::WriteMode::truncate);
      REQUIRE(writer);
      REQUIRE(writer->write(records[5]));
      REQUIRE(writer->flush());
    }  // e.g. an exception ended the command before close()
    CHECK(test::read_file(dir / name) == before);
    std::size_t temporaries = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
      temporaries += entry.path().filename().string().find(".tmp-") != std::string::npos;
    CHECK(temporaries == 0);
  }
}

TEST_CASE("FlushPolicy::each_record puts every record in the file as it is written") {
  TempDir dir;
  const auto records = sample_records();
  for (auto policy : {io::FlushPolicy::each_record, io::FlushPolicy::each_record_synced}) {
    std::filesystem::remove(dir / "live.json");
    auto writer = io::LogWriter::open(dir / "live.json", io::WriteMode::append, policy);
    REQUIRE(writer);
    for (std::size_t i = 0; i < 3; ++i) {
      REQUIRE(writer->write(records[i]));
      // Read while the writer is still open, as a crash right now would leave the file.
      auto now = io::read_log_file(dir / "live.json");
      REQUIRE(now);
      CHECK(now->size() == i + 1);
    }
    REQUIRE(writer->close());
    // A gzip log gets a sync point per record; its stream is whole once closed.
    std::filesystem::remove(dir / "live.json.gz");
    auto gz = io::LogWriter::open(dir / "live.json.gz", io::WriteMode::append, policy);
    REQUIRE(gz);
    REQUIRE(gz->write(std::span<const Record>(records).first(3)));
    REQUIRE(gz->close());
    auto back = io::read_log_file(dir / "live.json.gz");
    REQUIRE(back);
    CHECK(back->size() == 3);
  }
}

TEST_CASE("appending after a torn last line starts a new line, so only the torn record is lost") {
  TempDir dir;
  const auto records = sample_records();
  {
    auto writer = io::LogWriter::open(dir / "log.json");
    REQUIRE(writer);
    REQUIRE(writer->write(std::span<const Record>(records).first(2)));
    REQUIRE(writer->close());
  }
  std::string text = test::read_file(dir / "log.json");
  text.resize(text.size() - 20);  // a crash in the middle of the second record
  test::write_file(dir / "log.json", text);
  {
    auto writer = io::LogWriter::open(dir / "log.json");
    REQUIRE(writer);
    REQUIRE(writer->write(records[2]));
    REQUIRE(writer->close());
  }
  io::ReadOptions options;
  options.on_bad_line = io::OnBadLine::skip;
  auto back = io::read_log_file(dir / "log.json", options);
  REQUIRE(back);
  REQUIRE(back->size() == 2);
  CHECK((*back)[0] == records[0]);
  CHECK((*back)[1] == records[2]);
}

TEST_CASE("a log whose writes the device refuses reports it, and a truncating one keeps the old file") {
  TempDir dir;
  const auto records = sample_records();
  test::write_file(dir / "old.json", "old content\n");
  Expected<void> result;
  {
    test::FileSizeLimit limit(4096);
    auto writer = io::LogWriter::open(dir / "old.json", io::WriteMode::truncate);
    REQUIRE(writer);
    result = writer->write(records);
    if (result) result = writer->close();
  }
  REQUIRE_FALSE(result);
  CHECK(result.error().kind == ErrorKind::io);
  CHECK(result.error().hint.find("free disk space") != std::string::npos);
  CHECK(test::read_file(dir / "old.json") == "old content\n");
}

TEST_CASE("a flush the device cuts short keeps only the unwritten lines, so a retry writes each once") {
  TempDir dir;
  const auto records = sample_records();
  auto writer = io::LogWriter::open(dir / "log.json");
  REQUIRE(writer);
  REQUIRE(writer->write(records));  // buffered: nothing written yet
  {
    test::FileSizeLimit limit(2000);  // the first record or two, and a piece of the next
    auto cut = writer->flush();
    REQUIRE_FALSE(cut);
    CHECK(cut.error().hint.find("not yet written are kept") != std::string::npos);
  }
  CHECK(std::filesystem::file_size(dir / "log.json") == 2000);
  REQUIRE(writer->flush());
  REQUIRE(writer->close());
  auto back = io::read_log_file(dir / "log.json");
  REQUIRE(back);
  CHECK(*back == records);
}

TEST_CASE("a line another appender tore after our first flush is closed before our next record") {
  TempDir dir;
  const auto records = sample_records();
  auto writer = io::LogWriter::open(dir / "log.json", io::WriteMode::append, io::FlushPolicy::each_record);
  REQUIRE(writer);
  REQUIRE(writer->write(records[0]));
  {
    std::ofstream other(dir / "log.json", std::ios::app | std::ios::binary);
    other << "{\"i\": [[\"torn by a crash";  // another process died mid-line
  }
  REQUIRE(writer->write(records[1]));
  REQUIRE(writer->close());
  io::ReadOptions options;
  options.on_bad_line = io::OnBadLine::skip;
  auto reader = io::LogReader::open(dir / "log.json", options);
  REQUIRE(reader);
  std::vector<Record> back;
  Record r;
  while (true) {
    auto more = reader->next(r);
    REQUIRE(more);
    if (!*more) break;
    back.push_back(r);
  }
  REQUIRE(back.size() == 2);
  CHECK(back[0] == records[0]);
  CHECK(back[1] == records[1]);
  CHECK(reader->stats().skipped_lines == 1);
}
