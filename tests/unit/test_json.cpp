#include "crosstune/detail/json.hpp"

#include <doctest/doctest.h>

#include <string>

using crosstune::ErrorKind;
using crosstune::detail::JsonScanner;

TEST_CASE("UTF-8 validation accepts well-formed text and rejects overlongs, surrogates and truncation") {
  using crosstune::detail::is_valid_utf8;
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  std::size_t bad = 99;
  CHECK_FALSE(is_valid_utf8("ab\xff", &bad));
  CHECK(bad == 2);
  CHECK_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));      // UTF-16 surrogate
  CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xe2\x82"));          // cut short
}

TEST_CASE("strings are unescaped, including \\u escapes and surrogate pairs") {
  JsonScanner in(R"("a\"b\\c\/\n\t\u00e9\ud83d\ude00")");
  std::string out;
  REQUIRE(in.read_string(out, "s"));
  CHECK(out == "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("bad strings are refused with a parse error and a position") {
  std::string out;
  JsonScanner unterminated(R"("abc)");
  CHECK_FALSE(unterminated.read_string(out, "the key"));
  CHECK(unterminated.error_message().find("not closed") != std::string::npos);
  JsonScanner bad_utf8("\"a\xff\"");
  CHECK_FALSE(bad_utf8.read_string(out, "the key"));
  CHECK(bad_utf8.error_offset() == 2);
  CHECK(bad_utf8.error_message().find("invalid UTF-8") != std::string::npos);
  JsonScanner lone_surrogate(R"("\udc00")");
  CHECK_FALSE(lone_surrogate.read_string(out, "k"));
  JsonScanner control("\"a\nb\"");
  CHECK_FALSE(control.read_string(out, "k"));
  JsonScanner escape(R"("\q")");
  CHECK_FALSE(escape.read_string(out, "k"));
}

TEST_CASE("integers are exact over the whole int64 range; overflow and reals are schema errors") {
  std::int64_t v = 0;
  JsonScanner max("9223372036854775807");
  REQUIRE(max.read_int64(v, "n"));
  CHECK(v == INT64_MAX);
  JsonScanner min("-9223372036854775808");
  REQUIRE(min.read_int64(v, "n"));
  CHECK(v == INT64_MIN);
  JsonScanner over("9223372036854775808");
  CHECK_FALSE(over.read_int64(v, "n"));
  CHECK(over.error_kind() == ErrorKind::schema);
  JsonScanner real("1.5");
  CHECK_FALSE(real.read_int64(v, "the count"));
  CHECK(real.error_message() == "expected an integer for the count, found a real number");
  JsonScanner text("\"3\"");
  CHECK_FALSE(text.read_int64(v, "the count"));
  CHECK(text.error_message() == "expected an integer for the count, found a string");
  CHECK(text.error_kind() == ErrorKind::schema);
}

TEST_CASE("doubles parse exactly and reject non-JSON spellings") {
  double d = 0;
  JsonScanner a("4.47561e-05");
  REQUIRE(a.read_double(d, "x"));
  CHECK(d == 4.47561e-05);
  JsonScanner inf("inf");
  CHECK_FALSE(inf.read_double(d, "x"));
  JsonScanner nan("NaN");
  CHECK_FALSE(nan.read_double(d, "x"));
}

TEST_CASE("doubles are written shortest, in the layout a default C++ stream gives") {
  auto fmt = [](double v) {
    std::string s;
    crosstune::detail::append_double(s, v);
    return s;
  };
  CHECK(fmt(0.000429498) == "0.000429498");
  CHECK(fmt(4.47561e-05) == "4.47561e-05");
  CHECK(fmt(1e10) == "1e+10");
  CHECK(fmt(120000.0) == "120000");
  CHECK(fmt(1.59126) == "1.59126");
  CHECK(fmt(0.1 + 0.2) == "0.30000000000000004");
  CHECK(fmt(0.0) == "0");
  CHECK(fmt(-2.5) == "-2.5");
  for (double v : {1e-300, 3.14159265358979, 6.02214076e23, 1.0 / 3.0}) {
    double back = 0;
    const std::string s = fmt(v);
    JsonScanner in(s);
    REQUIRE(in.read_double(back, "x"));
    CHECK(back == v);
  }
}

TEST_CASE("strings are escaped so that they read back unchanged") {
  std::string out;
  crosstune::detail::append_json_string(out, "a\"b\\c\n\x01\xc3\xa9");
  CHECK(out == "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
  JsonScanner in(out);
  std::string back;
  REQUIRE(in.read_string(back, "s"));
  CHECK(back == "a\"b\\c\n\x01\xc3\xa9");
}

TEST_CASE("skip_value walks any JSON value and stops at runaway nesting") {
  JsonScanner in(R"({"a": [1, 2.5, "x", true, false, null, {"b": []}]} rest)");
  REQUIRE(in.skip_value("v"));
  CHECK(in.rest() == " rest");
  std::string deep(100, '[');
  JsonScanner nested(deep);
  CHECK_FALSE(nested.skip_value("v"));
  CHECK(nested.error_message().find("nesting too deep") != std::string::npos);
}

TEST_CASE("a mismatch names what was expected and what was found") {
  JsonScanner in("  ]");
  CHECK_FALSE(in.expect('[', "the steps"));
  CHECK(in.error_message() == "expected '[' for the steps, found ']'");
  CHECK(in.error_offset() == 2);
  CHECK(in.error_kind() == ErrorKind::parse);
  JsonScanner end("");
  CHECK_FALSE(end.expect('[', "the steps"));
  CHECK(end.error_message() == "truncated line: expected '[' for the steps, found end of line");
}
