// Provenance in "v": the format version first (what TVM reads), then key=value pairs that say where and
// how a measurement was taken; this machine's description; the compiler's version line.
#include "crosstune/measure/provenance.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"
#include "crosstune/version.hpp"
#include "measure_support.hpp"
#include "test_support.hpp"

using namespace crosstune;
using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("format_version is what comes before the first ';'") {
  CHECK(measure::format_version("v0.6;by=crosstune 0.1.0;cc=g++") == "v0.6");
  CHECK(measure::format_version("v0.6") == "v0.6");
  CHECK(measure::format_version("v0.2;") == "v0.2");
  CHECK(measure::format_version("").empty());
}

TEST_CASE("parse_provenance gives the pairs in order; a value may hold '=', a piece without one is skipped") {
  CHECK(measure::parse_provenance("v0.6").empty());
  CHECK(measure::parse_provenance("v0.6;").empty());
  CHECK(measure::parse_provenance("v0.6;a=1;b=two words;flags=-O3 -march=native") ==
        Pairs{{"a", "1"}, {"b", "two words"}, {"flags", "-O3 -march=native"}});
  CHECK(measure::parse_provenance("v0.6;x=a=b;junk;;y=") == Pairs{{"x", "a=b"}, {"y", ""}});
}

TEST_CASE("set adds or replaces a key, keeps the order, and turns ';' and line breaks into spaces") {
  measure::Provenance p;
  CHECK(p.pairs().empty());
  CHECK(p.version_string() == "v0.6");
  p.set("cc", "g++ 12").set("flags", "-O3;rm -rf\n/\r");
  p.set("cc", "clang 14");
  CHECK(p.pairs() == Pairs{{"cc", "clang 14"}, {"flags", "-O3 rm -rf / "}});
  CHECK(p.get("cc") == "clang 14");
  CHECK(p.get("absent").empty());
  CHECK(p.version_string() == "v0.6;cc=clang 14;flags=-O3 rm -rf / ");
  CHECK(measure::parse_provenance(p.version_string()) == p.pairs());
  CHECK(measure::format_version(p.version_string()) == current_log_version);
}

TEST_CASE("this host: the tool's version, the governor, the CPU, the CPU count and a stable 16-digit fingerprint") {
  const auto p = measure::Provenance::of_host();
  std::string by = "crosstune ";
  by += crosstune::version_string;
  CHECK(p.get("by") == by);
  CHECK_FALSE(p.get("governor").empty());
  CHECK_FALSE(p.get("cpu").empty());
  CHECK(p.get("cpus") == std::to_string(std::thread::hardware_concurrency()));
  const std::string host = p.get("host");
  REQUIRE(host.size() == 16);
  for (char c : host) CHECK(std::isxdigit(static_cast<unsigned char>(c)));
  CHECK(measure::Provenance::of_host().get("host") == host);
  // The pairs survive the trip through "v".
  CHECK(measure::parse_provenance(p.version_string()) == p.pairs());
}

TEST_CASE("compiler_version is the first line of `--version`, or \"unknown\"") {
  const std::string cc = measure::compiler_version("c++");
  CHECK(cc != "unknown");
  CHECK(cc.find('\n') == std::string::npos);
  bool has_digit = false;
  for (char c : cc) has_digit = has_digit || std::isdigit(static_cast<unsigned char>(c));
  CHECK_MESSAGE(has_digit, cc);
  CHECK(measure::compiler_version("no-such-compiler-crosstune") == "unknown");
  // A program that prints nothing.
  const test::TempDir dir;
  test::write_file(dir / "silent-cc", "#!/bin/sh\nexit 0\n");
  std::filesystem::permissions(dir / "silent-cc", std::filesystem::perms::owner_all);
  CHECK(measure::compiler_version((dir / "silent-cc").string()) == "unknown");
  // Only the first line of its output; what it writes to stderr stays off ours.
  test::write_file(dir / "chatty-cc", "#!/bin/sh\necho 'warning: noise' >&2\necho 'chatty-cc 1.2.3'\necho 'Copyright nobody'\n");
  std::filesystem::permissions(dir / "chatty-cc", std::filesystem::perms::owner_all);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  const int capture = ::open((dir / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(saved >= 0);
  REQUIRE(capture >= 0);
  ::dup2(capture, STDERR_FILENO);
  const std::string chatty = measure::compiler_version((dir / "chatty-cc").string());
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(capture);
  CHECK(chatty == "chatty-cc 1.2.3");
  CHECK(test::read_file(dir / "stderr.txt").empty());
}

TEST_CASE("a record's provenance survives the log: written and read back, \"v\" is unchanged") {
  const test::TempDir dir;
  auto p = measure::Provenance::of_host();
  p.set("flags", "-O3 -march=native -fopenmp").set("threads", "default");
  Record r;
  r.task = test::record_task();
  r.result.costs_seconds = {1e-3};
  r.result.timestamp = 1.7e9;
  r.version = p.version_string();
  {
    auto writer = io::LogWriter::open(dir / "log.json");
    REQUIRE(writer);
    REQUIRE(writer->write(r));
    REQUIRE(writer->close());
  }
  auto back = io::read_log_file(dir / "log.json");
  REQUIRE(back);
  REQUIRE(back->size() == 1);
  CHECK(back->front().version == r.version);
  CHECK(measure::format_version(back->front().version) == "v0.6");
  CHECK(measure::parse_provenance(back->front().version) == p.pairs());
}
