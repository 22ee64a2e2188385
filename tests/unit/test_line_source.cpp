#include "crosstune/detail/line_source.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "test_support.hpp"

using crosstune::detail::LineSource;

namespace {
std::vector<std::string> lines_of(LineSource& source) {
  std::vector<std::string> out;
  std::string_view line;
  while (true) {
    auto more = source.next(line);
    REQUIRE(more);
    if (!*more) break;
    out.emplace_back(line);
  }
  return out;
}
}  // namespace

TEST_CASE("lines are split on \\n, with \\r\\n endings trimmed and the last line needing no newline") {
  auto source = LineSource::from_memory("a\r\nbb\n\nccc", "m", 1 << 20);
  CHECK(lines_of(source) == std::vector<std::string>{"a", "bb", "", "ccc"});
  CHECK(source.line_number() == 4);
  CHECK(source.bytes_read() == 10);
}

TEST_CASE("lines longer than the read buffer are reassembled across reads") {
  crosstune::test::TempDir dir;
  const std::string long_line(3 << 20, 'x');  // longer than the 1 MiB initial buffer
  crosstune::test::write_file(dir / "long.txt", "short\n" + long_line + "\nend\n");
  auto source = LineSource::open_file(dir / "long.txt", 8 << 20);
  REQUIRE(source);
  const auto lines = lines_of(*source);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == long_line);
  CHECK(lines[2] == "end");
  CHECK_FALSE(source->compressed());
}
