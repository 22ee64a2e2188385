#include "crosstune/io/log_reader.hpp"

#include <doctest/doctest.h>
#include <zlib.h>

#include <map>
#include <string>

#include "crosstune/io/record_format.hpp"
#include "test_support.hpp"

using namespace crosstune;
using crosstune::test::TempDir;

namespace {
const std::string line_a =
    R"({"i": [["[\"k\"]", "llvm"], [[], [["CI", 1]]]], "r": [[0.5], 0, 1, 1], "v": "v0.6"})";
const std::string line_b =
    R"({"i": [["[\"k\"]", "llvm"], [[], [["CR", 2]]]], "r": [[0.25], 0, 1, 2], "v": "v0.6"})";

std::vector<Record> read_all(io::LogReader& reader) {
  std::vector<Record> out;
  Record r;
  while (true) {
    auto more = reader.next(r);
    REQUIRE(more);
    if (!*more) break;
    out.push_back(r);
  }
  return out;
}

void write_gzip(const std::filesystem::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}
}  // namespace

TEST_CASE("every record of the shipped sample logs parses and writes back to an equal record") {
  // Record counts per file, from tests/data/ansor-logs/MANIFEST.md.
  const std::map<std::string, std::size_t> expected = {
      {"conv2d.json.gz", 1},
      {"matmul.json.gz", 1},
      {"sparse_dense.json.gz", 1},
      {"resnet-18-NHWC-B1-cuda.json.gz", 24},
      {"resnet-50-NHWC-B1-llvm.json.gz", 26},
      {"ansor_conv2d_128_128_28_28_128_3_3_1_1.json.gz", 1064},
      {"ansor_reduction_128_4032_11_11_axis_2_3.json.gz", 400},
      {"ansor_relu_128_128_28_28.json.gz", 12}};
  const auto files = test::log_files_under(test::sample_logs());
  REQUIRE(files.size() == 18);
  std::size_t total = 0;
  for (const auto& file : files) {
    CAPTURE(file);
    auto reader = io::LogReader::open(file);
    REQUIRE(reader);
    const auto records = read_all(*reader);
    CHECK(reader->stats().skipped_lines == 0);
    CHECK(reader->stats().records == records.size());
    if (auto it = expected.find(file.filename().string()); it != expected.end())
      CHECK(records.size() == it->second);
    io::RecordParser parser;
    for (const auto& r : records) {
      Record back;
      REQUIRE(parser.parse(io::to_log_line(r), back));
      REQUIRE(back == r);
    }
    total += records.size();
  }
  CHECK(total == 10541);
}

TEST_CASE("plain and gzip files give the same records, whatever their names say") {
  TempDir dir;
  const std::string text = line_a + "\n" + line_b + "\n";
  test::write_file(dir / "plain.json", text);
  write_gzip(dir / "packed.json.gz", text);
  test::write_file(dir / "plain-named.json.gz", text);
  write_gzip(dir / "packed-named.json", text);
  std::vector<std::vector<Record>> results;
  for (const char* name : {"plain.json", "packed.json.gz", "plain-named.json.gz", "packed-named.json"}) {
    CAPTURE(name);
    auto reader = io::LogReader::open(dir / name);
    REQUIRE(reader);
    results.push_back(read_all(*reader));
    CHECK(results.back().size() == 2);
  }
  for (const auto& r : results)
    CHECK(r == results.front());
}

TEST_CASE("blank lines, comment lines, CRLF endings and a missing final newline are handled") {
  auto reader = io::LogReader::from_string("\n# a comment\n" + line_a + "\r\n   \n" + line_b, "mem.json");
  const auto records = read_all(reader);
  REQUIRE(records.size() == 2);
  CHECK(reader.stats().lines == 5);
  CHECK(reader.stats().ignored_lines == 3);
  CHECK(records[1].result.costs_seconds[0] == 0.25);
}

TEST_CASE("a bad line stops reading with file and line, by default") {
  auto reader =
      io::LogReader::from_string(line_a + "\n" + line_a.substr(0, 40) + "\n" + line_b + "\n", "mem.json");
  Record r;
  REQUIRE(*reader.next(r));
  auto bad = reader.next(r);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().file == "mem.json");
  CHECK(bad.error().line == 2);
  CHECK(bad.error().message.find("truncated line") != std::string::npos);
  CHECK(bad.error().describe().starts_with("mem.json:line 2, column 41: truncated line"));
  CHECK_FALSE(bad.error().hint.empty());
}

TEST_CASE("with OnBadLine::skip bad lines are counted and reported, good ones still read") {
  io::ReadOptions options;
  options.on_bad_line = io::OnBadLine::skip;
  options.max_diagnostics = 1;
  auto reader = io::LogReader::from_string(
      "not json\n" + line_a + "\n" +
          R"({"i": [["[\"k\"]", "llvm"], [[], [["ZZ", 1]]]], "r": [[1], 0, 1, 1]})" + "\n" + line_b,
      "mem.json", options);
  const auto records = read_all(reader);
  CHECK(records.size() == 2);
  CHECK(reader.stats().skipped_lines == 2);
  REQUIRE(reader.stats().diagnostics.size() == 1);
  CHECK(reader.stats().diagnostics[0].line == 1);
}

TEST_CASE("the shipped malformed sample stops at line 2, or gives 2 records and 2 skipped lines") {
  const auto path = test::data_dir() / "bad" / "malformed.json";
  auto strict = io::read_log_file(path);
  REQUIRE_FALSE(strict);
  CHECK(strict.error().line == 2);
  CHECK(strict.error().kind == ErrorKind::unsupported);
  io::ReadStats stats;
  auto lenient = io::read_log_file(path, {.on_bad_line = io::OnBadLine::skip}, &stats);
  REQUIRE(lenient);
  CHECK(lenient->size() == 2);
  CHECK(stats.skipped_lines == 2);
  CHECK(stats.diagnostics.at(1).line == 4);
}

TEST_CASE("empty inputs are an error unless allowed") {
  TempDir dir;
  test::write_file(dir / "empty.json", "");
  auto empty = io::read_log_file(dir / "empty.json");
  REQUIRE_FALSE(empty);
  CHECK(empty.error().kind == ErrorKind::empty_input);
  CHECK(empty.error().message == "file is empty");
  auto only_comments = io::LogReader::from_string("# nothing\n\n");
  Record r;
  auto none = only_comments.next(r);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("no records") != std::string::npos);
  auto allowed = io::read_log_file(dir / "empty.json", {.allow_empty = true});
  REQUIRE(allowed);
  CHECK(allowed->empty());
}

TEST_CASE("missing files, folders, truncated gzip and binary files give clear errors") {
  TempDir dir;
  auto missing = io::LogReader::open(dir / "nope.json");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == ErrorKind::io);
  CHECK(missing.error().file.ends_with("nope.json"));
  CHECK_FALSE(io::LogReader::open(dir.path()));

  // A gzip stream cut in half: the records before the cut are read, then an I/O error.
  std::string many;
  for (int i = 0; i < 2000; ++i)
    many += line_a + "\n";
  write_gzip(dir / "whole.json.gz", many);
  const std::string packed = test::read_file(dir / "whole.json.gz");
  test::write_file(dir / "cut.json.gz", packed.substr(0, packed.size() / 2));
  auto reader = io::LogReader::open(dir / "cut.json.gz");
  REQUIRE(reader);
  Record r;
  std::size_t read = 0;
  Expected<bool> more = true;
  while ((more = reader->next(r)) && *more)
    ++read;
  REQUIRE_FALSE(more);
  CHECK(more.error().kind == ErrorKind::io);
  CHECK(more.error().message.find("gzip stream is corrupt or truncated") != std::string::npos);
  CHECK(read < 2000);

  test::write_file(dir / "binary.json", std::string("PK\x03\x04\x00\x00\xff\xfe", 8));
  auto binary = io::read_log_file(dir / "binary.json");
  REQUIRE_FALSE(binary);
  CHECK(binary.error().message.find("binary data") != std::string::npos);
}

TEST_CASE("an over-long line stops reading with a clear error") {
  io::ReadOptions options;
  options.max_line_bytes = 64;
  auto reader = io::LogReader::from_string(std::string(200, 'x') + "\n", "big.json", options);
  Record r;
  auto result = reader.next(r);
  REQUIRE_FALSE(result);
  CHECK(result.error().message.find("line longer than 64 bytes") != std::string::npos);
}
