#include "crosstune/detail/ubjson.hpp"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include "test_support.hpp"

using crosstune::detail::parse_ubjson;
using crosstune::detail::UbjLimits;
using crosstune::detail::UbjValue;
using Kind = crosstune::detail::UbjValue::Kind;

namespace {
/// Byte strings joined (GCC 12 misreports `"literal" + std::string` as an overlapping copy, PR 105651).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (const auto part : parts)
    out += part;
  return out;
}
/// `bytes` bytes of `value`, big-endian.
std::string big_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int b = bytes - 1; b >= 0; --b)
    out += static_cast<char>((value >> (8 * b)) & 0xff);
  return out;
}
std::string int64(std::int64_t value) {
  return cat({"L", big_endian(static_cast<std::uint64_t>(value), 8)});
}
/// An object key as XGBoost writes it: an int64 length, then the bytes.
std::string key(const std::string& name) {
  return cat({int64(static_cast<std::int64_t>(name.size())), name});
}
std::string float32(float value) {
  return cat({"d", big_endian(std::bit_cast<std::uint32_t>(value), 4)});
}
std::string message_of(const std::string& bytes, UbjLimits limits = {}) {
  auto parsed = parse_ubjson(bytes, limits);
  REQUIRE_FALSE(parsed);
  CHECK(parsed.error().kind == crosstune::ErrorKind::parse);
  return parsed.error().message;
}
bool parses(const std::string& bytes, UbjLimits limits = {}) {
  return parse_ubjson(bytes, limits).has_value();
}
using crosstune::test::contains;
}  // namespace

TEST_CASE("every UBJSON value XGBoost writes parses with its kind, value and byte offset") {
  const std::string bytes = cat({"{",
                                 key("i"),
                                 "i",
                                 big_endian(0xfb, 1),  // -5
                                 key("U"),
                                 "U",
                                 big_endian(200, 1),  //
                                 key("I"),
                                 "I",
                                 big_endian(0xfed4, 2),  // -300
                                 key("l"),
                                 "l",
                                 big_endian(0x01020304, 4),  //
                                 key("L"),
                                 int64(std::int64_t{1} << 40),  //
                                 key("d"),
                                 float32(1.5f),  //
                                 key("D"),
                                 "D",
                                 big_endian(std::bit_cast<std::uint64_t>(2.25), 8),  //
                                 key("S"),
                                 "S",
                                 int64(2),
                                 "hi",  //
                                 key("T"),
                                 "T",
                                 key("F"),
                                 "F",
                                 key("Z"),
                                 "Z",
                                 "}"});
  auto doc = parse_ubjson(bytes);
  REQUIRE(doc);
  CHECK(doc->is(Kind::object));
  CHECK(doc->size() == 11);
  CHECK(doc->find("i")->integer == -5);
  CHECK(doc->find("U")->integer == 200);
  CHECK(doc->find("I")->integer == -300);
  CHECK(doc->find("l")->integer == 0x01020304);
  CHECK(doc->find("L")->integer == std::int64_t{1} << 40);
  CHECK(doc->find("d")->is(Kind::number));
  CHECK(doc->find("d")->number == 1.5);
  CHECK(doc->find("D")->number == 2.25);
  CHECK(doc->find("S")->text == "hi");
  CHECK(doc->find("T")->boolean);
  CHECK_FALSE(doc->find("F")->boolean);
  CHECK(doc->find("F")->is(Kind::boolean));
  CHECK(doc->find("Z")->is(Kind::null));
  CHECK(doc->find("missing") == nullptr);
  CHECK(doc->find("i")->offset == 1 + key("i").size());  // the value's marker
  CHECK(doc->find("i")->marker == 'i');
}

TEST_CASE("arrays parse in the plain, counted and typed forms, typed elements read big-endian") {
  const std::string plain_bytes = cat({"[i", big_endian(7, 1), "Z]"});
  auto plain = parse_ubjson(plain_bytes);
  REQUIRE(plain);
  REQUIRE(plain->is(Kind::array));
  REQUIRE(plain->size() == 2);
  CHECK(plain->items[0].integer == 7);
  CHECK(plain->items[1].is(Kind::null));

  const std::string counted_bytes = cat({"[#", int64(2), "T", float32(-0.5f)});
  auto counted = parse_ubjson(counted_bytes);
  REQUIRE(counted);
  REQUIRE(counted->size() == 2);
  CHECK(counted->items[1].number == -0.5);

  const std::string floats_bytes = cat({"[$d#", int64(2), big_endian(std::bit_cast<std::uint32_t>(0.25f), 4),
                                        big_endian(std::bit_cast<std::uint32_t>(-3.0f), 4)});
  auto floats = parse_ubjson(floats_bytes);
  REQUIRE(floats);
  CHECK(floats->is_typed_array('d'));
  CHECK(floats->count == 2);
  CHECK(floats->number_at(0) == 0.25);
  CHECK(floats->number_at(1) == -3.0);

  const std::string ints_bytes =
      cat({"[$l#", int64(3), big_endian(1, 4), big_endian(0xffffffff, 4), big_endian(0x7fffffff, 4)});
  auto ints = parse_ubjson(ints_bytes);
  REQUIRE(ints);
  CHECK(ints->is_typed_array('l'));
  CHECK(ints->integer_at(0) == 1);
  CHECK(ints->integer_at(1) == -1);
  CHECK(ints->integer_at(2) == 2147483647);

  const std::string u8s_bytes = cat({"[$U#i", big_endian(2, 1), big_endian(0, 1), big_endian(255, 1)});
  auto u8s = parse_ubjson(u8s_bytes);
  REQUIRE(u8s);
  CHECK(u8s->integer_at(1) == 255);
  const std::string int8s_bytes = cat({"[$i#U", big_endian(1, 1), big_endian(0x80, 1)});
  auto int8s = parse_ubjson(int8s_bytes);
  REQUIRE(int8s);
  CHECK(int8s->integer_at(0) == -128);
  const std::string int16s_bytes = cat({"[$I#i", big_endian(1, 1), big_endian(0x8000, 2)});
  auto int16s = parse_ubjson(int16s_bytes);
  REQUIRE(int16s);
  CHECK(int16s->integer_at(0) == -32768);
  const std::string int64s_bytes = cat({"[$L#i", big_endian(1, 1), big_endian(0xfffffffffffffffeULL, 8)});
  auto int64s = parse_ubjson(int64s_bytes);
  REQUIRE(int64s);
  CHECK(int64s->integer_at(0) == -2);
  const std::string doubles_bytes =
      cat({"[$D#i", big_endian(1, 1), big_endian(std::bit_cast<std::uint64_t>(1e300), 8)});
  auto doubles = parse_ubjson(doubles_bytes);
  REQUIRE(doubles);
  CHECK(doubles->number_at(0) == 1e300);
  const std::string empty_bytes = cat({"[$d#", int64(0)});
  auto empty = parse_ubjson(empty_bytes);
  REQUIRE(empty);
  CHECK(empty->size() == 0);
}

TEST_CASE("objects parse in the plain, counted and typed forms, with any integer key length") {
  const std::string counted_bytes =
      cat({"{#i", big_endian(2, 1), "i", big_endian(1, 1), "a", "Z", key("bb"), "[", "]"});
  auto counted = parse_ubjson(counted_bytes);
  REQUIRE(counted);
  CHECK(counted->keys.size() == 2);
  CHECK(counted->find("a")->is(Kind::null));
  CHECK(counted->find("bb")->is(Kind::array));

  const std::string typed_bytes = cat({"{$U#i", big_endian(2, 1), "i", big_endian(1, 1), "x",
                                       big_endian(5, 1), "U", big_endian(1, 1), "y", big_endian(6, 1)});
  auto typed = parse_ubjson(typed_bytes);
  REQUIRE(typed);
  CHECK(typed->find("x")->integer == 5);
  CHECK(typed->find("y")->integer == 6);
  CHECK(typed->find("y")->marker == 'U');

  const std::string nested_bytes = cat({"{", key("a"), "{", key("b"), "[", int64(3), "]}}"});
  auto nested = parse_ubjson(nested_bytes);
  REQUIRE(nested);
  CHECK(nested->find("a")->find("b")->items[0].integer == 3);
  auto empty = parse_ubjson(std::string_view("{}"));
  REQUIRE(empty);
  CHECK(empty->size() == 0);
}

TEST_CASE("every truncation of a document is refused with a byte offset inside it") {
  const std::string bytes = cat({"{", key("trees"), "[#", int64(1), "{", key("left_children"), "[$l#",
                                 int64(2), big_endian(1, 4), big_endian(0xffffffff, 4), key("name"), "S",
                                 int64(6), "gbtree", key("w"), float32(0.5f), "}", key("tail"), "[Z]}"});
  REQUIRE(parses(bytes));
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    const std::string message = message_of(bytes.substr(0, n));
    CHECK(contains(message, "UBJSON: "));
    const auto at = message.rfind(" at byte ");
    REQUIRE(at != std::string::npos);
    CHECK(std::stoul(message.substr(at + 9)) <= n);
  }
}

TEST_CASE("lengths and counts larger than the bytes left are refused before anything is allocated") {
  for (const std::uint64_t count :
       {std::uint64_t{1} << 31, std::uint64_t{1} << 62, std::uint64_t{0x7fffffffffffffff}}) {
    CAPTURE(count);
    const auto huge = static_cast<std::int64_t>(count);
    const std::string n = std::to_string(count);
    CHECK(message_of(cat({"[$d#", int64(huge), "abcd"})) ==
          cat({"UBJSON: a typed array of ", n, " elements of 4 bytes, only 4 bytes left at byte 0"}));
    CHECK(contains(message_of(cat({"[$L#", int64(huge)})), "only 0 bytes left"));
    CHECK(message_of(cat({"[#", int64(huge), "ZZ"})) ==
          cat({"UBJSON: an array of ", n, " elements cannot fit in the 2 bytes left at byte 0"}));
    CHECK(contains(message_of(cat({"{#", int64(huge), key("a"), "Z"})), cat({"an object of ", n})));
    CHECK(contains(message_of(cat({"{$d#", int64(huge)})), "cannot fit"));
    CHECK(message_of(cat({"S", int64(huge), "abc"})) ==
          cat({"UBJSON: a string of ", n, " bytes, only 3 left at byte 1"}));
    CHECK(contains(message_of(cat({"{", int64(huge), "abcZ}"})), cat({"a key of ", n})));
  }
  CHECK(message_of(cat({"S", int64(-1)})) == "UBJSON: negative string length -1 at byte 1");
  CHECK(message_of(cat({"[$d#i", big_endian(0xff, 1)})) == "UBJSON: negative array length -1 at byte 4");
  CHECK(message_of(cat({"Sd", big_endian(0, 4)})) ==
        "UBJSON: the string length must be an integer, found 'd' at byte 1");
}

TEST_CASE(
    "nesting is bounded: the limit's depth parses, one level more is refused, deep input cannot recurse") {
  auto nested = [](std::size_t depth) { return cat({std::string(depth, '['), std::string(depth, ']')}); };
  CHECK(parses(nested(64)));
  CHECK(message_of(nested(65)) == "UBJSON: nesting deeper than 64 levels at byte 64");
  CHECK(contains(message_of(std::string(1'000'000, '[')), "nesting deeper than 64 levels"));
  std::string objects;
  for (int i = 0; i < 100; ++i)
    objects += cat({"{", key("k")});
  CHECK(contains(message_of(objects), "nesting deeper than 64 levels"));
  CHECK(parses(nested(3), {.max_depth = 3}));
  CHECK(contains(message_of(nested(4), {.max_depth = 3}), "nesting deeper than 3 levels"));
}

TEST_CASE("unknown markers, bad optimized forms, trailing bytes and repeated keys are refused") {
  CHECK(message_of("[N]") == "UBJSON: unknown type marker 'N' at byte 1");
  CHECK(message_of("Ca") == "UBJSON: unknown type marker 'C' at byte 0");
  CHECK(message_of(cat({"Hi", big_endian(1, 1), "1"})) == "UBJSON: unknown type marker 'H' at byte 0");
  CHECK(message_of(std::string(1, '\0')) == "UBJSON: unknown type marker byte 0x00 at byte 0");
  CHECK(message_of("") == "UBJSON: truncated: a value expected at byte 0");
  CHECK(message_of(cat({"[$di", big_endian(1, 1)})) ==
        "UBJSON: an optimized array has '$' but no '#' at byte 3");
  CHECK(message_of(cat({"[$Z#", int64(1'000'000)})) ==
        "UBJSON: optimized array of 'Z' is not supported (only fixed-size numbers) at byte 2");
  CHECK(contains(message_of(cat({"[$S#", int64(1), int64(1), "a"})),
                 "optimized array of 'S' is not supported"));
  CHECK(contains(message_of(cat({"{$T#", int64(1), key("a")})), "optimized object of 'T' is not supported"));
  CHECK(message_of("ZZ") == "UBJSON: 1 unexpected bytes after the end of the document at byte 1");
  const std::string repeated = cat({"{", key("a"), "Z", key("b"), "Z", key("a"), "T}"});
  CHECK(message_of(repeated) == cat({"UBJSON: the key \"a\" appears twice in an object at byte ",
                                     std::to_string(1 + 2 * (key("a").size() + 1) + 9)}));
  CHECK(message_of(cat({"{", key("a"), "}"})) == "UBJSON: unknown type marker '}' at byte 11");
}

TEST_CASE("the value limit refuses documents with more values than allowed") {
  CHECK(parses("[ZZZ]", {.max_values = 4}));
  CHECK(message_of("[ZZZZ]", {.max_values = 4}) == "UBJSON: more than 4 values at byte 4");
  CHECK(message_of(cat({"[#", int64(4), "ZZZZ"}), {.max_values = 4}) ==
        "UBJSON: an array of 4 elements exceeds the 4 values allowed at byte 0");
  // Typed arrays hold their elements in the input: one value however long.
  CHECK(parses(cat({"[$U#", int64(100), std::string(100, '\1')}), {.max_values = 1}));
}

TEST_CASE("non-finite floats are read as they are; judging them is the caller's job") {
  const std::string nan_bytes = float32(std::nanf(""));
  auto nan = parse_ubjson(nan_bytes);
  REQUIRE(nan);
  CHECK(std::isnan(nan->number));
  const std::string inf_bytes = cat({"[$d#", int64(1), big_endian(0x7f800000, 4)});
  auto inf = parse_ubjson(inf_bytes);
  REQUIRE(inf);
  CHECK(std::isinf(inf->number_at(0)));
}

TEST_CASE("the markers a document used are reported, for callers that read only part of UBJSON") {
  const std::string bytes = cat({"{#i", big_endian(2, 1), "U", big_endian(1, 1), "a", "[$D#U",
                                 big_endian(1, 1), big_endian(0, 8), key("b"), "[#", int64(1), "F"});
  crosstune::detail::UbjMarkersSeen seen;
  REQUIRE(parse_ubjson(bytes, {}, &seen));
  CHECK(seen.counted_objects);
  CHECK(seen.lengths['i']);
  CHECK(seen.lengths['U']);
  CHECK(seen.lengths['L']);
  CHECK_FALSE(seen.lengths['l']);
  CHECK(seen.typed_arrays['D']);
  CHECK(seen.typed_arrays.count() == 1);
  CHECK(seen.values['{']);
  CHECK(seen.values['[']);
  CHECK(seen.values['F']);
  CHECK_FALSE(seen.values['T']);

  const std::string plain = cat({"{", key("x"), "S", int64(1), "y", "}"});
  crosstune::detail::UbjMarkersSeen plain_seen;
  REQUIRE(parse_ubjson(plain, {}, &plain_seen));
  CHECK_FALSE(plain_seen.counted_objects);
  CHECK(plain_seen.lengths.count() == 1);
  CHECK(plain_seen.values.count() == 2);  // { and S
}
