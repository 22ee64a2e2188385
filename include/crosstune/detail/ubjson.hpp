// crosstune/detail/ubjson.hpp — internal: a bounded reader for UBJSON, the binary JSON XGBoost saves in.
//
// Not API. XgbModel checks an XGBoost ensemble before XGBoost's own reader sees it (that reader trusts
// every length and index it reads), so this one trusts nothing: every length and count is checked
// against the bytes left before anything is allocated, nesting is bounded, the document must end where
// the input ends, an object may not repeat a key, and every refusal is an Error saying what was wrong
// and at which byte offset. It reads UBJSON draft 12 as XGBoost writes it: values Z T F i U I l L d D S,
// arrays and objects, plain or with the optimized `#count` and `$type #count` forms (the optimized type
// must be a fixed-size number, so a count can never outrun the bytes), big-endian numbers; keys are
// length-prefixed without an `S`. Not read: `N` (no-op), `C` (char), `H` (high-precision number).
//
// Strings and typed-array payloads are views into the input, which must outlive the parsed value. A
// caller that accepts only part of UBJSON (XgbModel accepts what XGBoost's reader reads) asks for the
// markers the document used (UbjMarkersSeen).
//
//   auto doc = crosstune::detail::parse_ubjson(bytes);   // Expected<UbjValue>
//   if (!doc) return unexpected(doc.error());            // "UBJSON: ... at byte 1234"
//   if (const auto* lefts = doc->find("left_children"); lefts && lefts->is_typed_array('l'))
//     for (std::size_t i = 0; i < lefts->count; ++i) use(lefts->integer_at(i));
#pragma once

#include <algorithm>
#include <bit>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/core/expected.hpp"

namespace crosstune::detail {

/// One parsed UBJSON value. Containers own their elements; strings and typed arrays view the input.
struct UbjValue {
  enum class Kind : std::uint8_t { null, boolean, integer, number, string, array, typed_array, object };

  Kind kind = Kind::null;
  char marker = 'Z';            ///< as written (Z T F i U I l L d D S [ {); a typed array: its element marker
  std::size_t offset = 0;       ///< byte offset of the value in the input (its marker, where it has one)
  bool boolean = false;         ///< T or F
  std::int64_t integer = 0;     ///< i U I l L
  double number = 0;            ///< d (float32, widened) or D (float64)
  std::string_view text;        ///< a string's bytes, or a typed array's big-endian payload
  std::size_t count = 0;        ///< elements of a typed array
  std::vector<UbjValue> items;  ///< an array's elements, or an object's values in order
  std::vector<std::string_view> keys;  ///< an object's keys, parallel to items

  [[nodiscard]] bool is(Kind k) const noexcept { return kind == k; }
  [[nodiscard]] bool is_typed_array(char element_marker) const noexcept {
    return kind == Kind::typed_array && marker == element_marker;
  }
  /// An object's member, or nullptr (also for a value that is not an object).
  [[nodiscard]] const UbjValue* find(std::string_view key) const noexcept {
    if (kind != Kind::object) return nullptr;
    for (std::size_t i = 0; i < keys.size(); ++i)
      if (keys[i] == key) return &items[i];
    return nullptr;
  }
  /// Elements of an array or typed array, members of an object, 0 otherwise.
  [[nodiscard]] std::size_t size() const noexcept { return kind == Kind::typed_array ? count : items.size(); }

  /// Element i (< count) of a typed array of integers (i U I l L); 0 for other element types.
  [[nodiscard]] std::int64_t integer_at(std::size_t i) const noexcept {
    const char* p = text.data();
    switch (marker) {
      case 'i': return static_cast<std::int8_t>(load_big_endian<std::uint8_t>(p + i));
      case 'U': return load_big_endian<std::uint8_t>(p + i);
      case 'I': return static_cast<std::int16_t>(load_big_endian<std::uint16_t>(p + 2 * i));
      case 'l': return static_cast<std::int32_t>(load_big_endian<std::uint32_t>(p + 4 * i));
      case 'L': return static_cast<std::int64_t>(load_big_endian<std::uint64_t>(p + 8 * i));
      default: return 0;
    }
  }
  /// Element i (< count) of a typed array of floats (d D); 0 for other element types.
  [[nodiscard]] double number_at(std::size_t i) const noexcept {
    if (marker == 'd') return std::bit_cast<float>(load_big_endian<std::uint32_t>(text.data() + 4 * i));
    if (marker == 'D') return std::bit_cast<double>(load_big_endian<std::uint64_t>(text.data() + 8 * i));
    return 0;
  }

  /// An unsigned big-endian number from the bytes at p (the caller checked that they are there).
  template <class Unsigned>
  [[nodiscard]] static Unsigned load_big_endian(const char* p) noexcept {
    Unsigned value = 0;
    for (std::size_t b = 0; b < sizeof(Unsigned); ++b)
      value = static_cast<Unsigned>((value << 8) | static_cast<unsigned char>(p[b]));
    return value;
  }
};

/// A kind's name, for messages ("expected an array, found a string").
[[nodiscard]] constexpr const char* to_string(UbjValue::Kind kind) noexcept {
  switch (kind) {
    case UbjValue::Kind::null: return "null";
    case UbjValue::Kind::boolean: return "boolean";
    case UbjValue::Kind::integer: return "integer";
    case UbjValue::Kind::number: return "number";
    case UbjValue::Kind::string: return "string";
    case UbjValue::Kind::array: return "array";
    case UbjValue::Kind::typed_array: return "typed array";
    case UbjValue::Kind::object: return "object";
  }
  return "unknown";
}

/// The markers a document used, for callers that accept only some of UBJSON (XGBoost's own reader reads
/// a subset). Bit c of a set stands for marker c.
struct UbjMarkersSeen {
  std::bitset<128> values;        ///< markers of values (Z T F i U I l L d D S [ {)
  std::bitset<128> lengths;       ///< markers of string and key lengths and of `#` counts
  std::bitset<128> typed_arrays;  ///< element markers of `$type` arrays
  bool counted_objects = false;   ///< an object with `#count` (with or without `$type`)
};

/// Bounds on a document beyond its byte length.
struct UbjLimits {
  std::size_t max_depth = 64;         ///< arrays and objects nested at most this deep
  std::size_t max_values = 1u << 22;  ///< values in all (elements of typed arrays are not values)
};

namespace ubjson_internal {

/// Payload bytes of a fixed-size number marker, 0 for any other marker.
[[nodiscard]] constexpr std::size_t number_bytes(char marker) noexcept {
  switch (marker) {
    case 'i':
    case 'U': return 1;
    case 'I': return 2;
    case 'l':
    case 'd': return 4;
    case 'L':
    case 'D': return 8;
    default: return 0;
  }
}

/// A marker as text for messages: 'x', or its byte value when it is not printable.
[[nodiscard]] inline std::string describe_marker(char marker) {
  const auto byte = static_cast<unsigned char>(marker);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + marker + "'";
  static constexpr char digits[] = "0123456789abcdef";
  return std::string("byte 0x") + digits[byte >> 4] + digits[byte & 15];
}

class Parser {
 public:
  Parser(std::string_view bytes, UbjLimits limits) : bytes_(bytes), limits_(limits) {}

  Expected<UbjValue> document(UbjMarkersSeen* seen) {
    UbjValue root;
    if (auto ok = value(root, 0); !ok) return unexpected(std::move(ok).error());
    if (pos_ != bytes_.size()) {
      return fail(pos_, std::to_string(left()) + " unexpected bytes after the end of the document");
    }
    if (seen) *seen = seen_;
    return root;
  }

 private:
  [[nodiscard]] std::size_t left() const noexcept { return bytes_.size() - pos_; }

  [[nodiscard]] static Unexpected fail(std::size_t at, const std::string& what) {
    return unexpected(Error(ErrorKind::parse, "UBJSON: " + what + " at byte " + std::to_string(at)));
  }

  /// A value with its marker.
  Expected<void> value(UbjValue& out, std::size_t depth) {
    if (left() == 0) return fail(pos_, "truncated: a value expected");
    if (++values_ > limits_.max_values) {
      return fail(pos_, "more than " + std::to_string(limits_.max_values) + " values");
    }
    out.offset = pos_;
    const char marker = bytes_[pos_++];
    return payload(marker, out, depth);
  }

  /// A value's payload, its marker already read (or given once by an optimized container).
  Expected<void> payload(char marker, UbjValue& out, std::size_t depth) {
    out.marker = marker;
    if (static_cast<unsigned char>(marker) < 128) seen_.values.set(static_cast<unsigned char>(marker));
    switch (marker) {
      case 'Z': out.kind = UbjValue::Kind::null; return {};
      case 'T':
      case 'F':
        out.kind = UbjValue::Kind::boolean;
        out.boolean = marker == 'T';
        return {};
      case 'i':
      case 'U':
      case 'I':
      case 'l':
      case 'L': {
        auto number = integer(marker);
        if (!number) return unexpected(std::move(number).error());
        out.kind = UbjValue::Kind::integer;
        out.integer = *number;
        return {};
      }
      case 'd':
      case 'D': {
        const std::size_t size = number_bytes(marker);
        if (left() < size)
          return fail(pos_, "truncated number (" + std::to_string(size) + " bytes expected)");
        out.kind = UbjValue::Kind::number;
        out.number =
            marker == 'd'
                ? double{std::bit_cast<float>(UbjValue::load_big_endian<std::uint32_t>(bytes_.data() + pos_))}
                : std::bit_cast<double>(UbjValue::load_big_endian<std::uint64_t>(bytes_.data() + pos_));
        pos_ += size;
        return {};
      }
      case 'S': {
        auto text = length_prefixed("string");
        if (!text) return unexpected(std::move(text).error());
        out.kind = UbjValue::Kind::string;
        out.text = *text;
        return {};
      }
      case '[': return array(out, depth + 1);
      case '{': return object(out, depth + 1);
      default: return fail(pos_ - 1, "unknown type marker " + describe_marker(marker));
    }
  }

  /// An integer of the given marker's width, big-endian.
  Expected<std::int64_t> integer(char marker) {
    const std::size_t size = number_bytes(marker);
    if (left() < size) return fail(pos_, "truncated integer (" + std::to_string(size) + " bytes expected)");
    const char* p = bytes_.data() + pos_;
    pos_ += size;
    switch (marker) {
      case 'i': return std::int64_t{static_cast<std::int8_t>(p[0])};
      case 'U': return std::int64_t{static_cast<unsigned char>(p[0])};
      case 'I': return std::int64_t{static_cast<std::int16_t>(UbjValue::load_big_endian<std::uint16_t>(p))};
      case 'l': return std::int64_t{static_cast<std::int32_t>(UbjValue::load_big_endian<std::uint32_t>(p))};
      default: return static_cast<std::int64_t>(UbjValue::load_big_endian<std::uint64_t>(p));
    }
  }

  /// A length or count: an integer marker and a non-negative value (not yet checked against the bytes).
  Expected<std::uint64_t> length(const char* what) {
    if (left() == 0) return fail(pos_, std::string("truncated: the ") + what + " length expected");
    const std::size_t at = pos_;
    const char marker = bytes_[pos_++];
    if (marker == 'd' || marker == 'D' || number_bytes(marker) == 0) {
      return fail(
          at, std::string("the ") + what + " length must be an integer, found " + describe_marker(marker));
    }
    seen_.lengths.set(static_cast<unsigned char>(marker));
    auto number = integer(marker);
    if (!number) return unexpected(std::move(number).error());
    if (*number < 0) return fail(at, std::string("negative ") + what + " length " + std::to_string(*number));
    return static_cast<std::uint64_t>(*number);
  }

  /// A length and that many bytes (a string, or an object key).
  Expected<std::string_view> length_prefixed(const char* what) {
    const std::size_t at = pos_;
    auto size = length(what);
    if (!size) return unexpected(std::move(size).error());
    if (*size > left()) {
      return fail(at, std::string("a ") + what + " of " + std::to_string(*size) + " bytes, only " +
                          std::to_string(left()) + " left");
    }
    const std::string_view text = bytes_.substr(pos_, static_cast<std::size_t>(*size));
    pos_ += text.size();
    return text;
  }

  /// The optional `$type` and `#count` after '[' or '{'. type 0: values carry their markers.
  struct ContainerHeader {
    char type = 0;
    bool counted = false;
    std::uint64_t count = 0;
  };
  Expected<ContainerHeader> container_header(const char* what) {
    ContainerHeader header;
    if (left() > 0 && bytes_[pos_] == '$') {
      const std::size_t at = pos_++;
      if (left() == 0) return fail(pos_, std::string("truncated: the ") + what + " element type expected");
      header.type = bytes_[pos_++];
      if (number_bytes(header.type) == 0) {  // Z, T, F or containers: counts the bytes could not bound
        return fail(at + 1, std::string("optimized ") + what + " of " + describe_marker(header.type) +
                                " is not supported (only fixed-size numbers)");
      }
      if (left() == 0 || bytes_[pos_] != '#')
        return fail(pos_, std::string("an optimized ") + what + " has '$' but no '#'");
    }
    if (left() > 0 && bytes_[pos_] == '#') {
      ++pos_;
      auto count = length(what);
      if (!count) return unexpected(std::move(count).error());
      header.counted = true;
      header.count = *count;
      seen_.counted_objects = seen_.counted_objects || std::string_view(what) == "object";
    }
    return header;
  }

  Expected<void> check_depth(std::size_t depth, std::size_t at) const {
    if (depth > limits_.max_depth)
      return fail(at, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    return {};
  }

  /// Reserves room for `count` more values, refusing counts the input or the value limit cannot hold.
  Expected<void> check_count(std::uint64_t count, std::uint64_t min_bytes_each, std::size_t at,
                             const char* what) const {
    if (count > left() / min_bytes_each) {
      return fail(at, std::string("an ") + what + " of " + std::to_string(count) +
                          " elements cannot fit in the " + std::to_string(left()) + " bytes left");
    }
    if (count > limits_.max_values - std::min(values_, limits_.max_values)) {
      return fail(at, std::string("an ") + what + " of " + std::to_string(count) + " elements exceeds the " +
                          std::to_string(limits_.max_values) + " values allowed");
    }
    return {};
  }

  Expected<void> array(UbjValue& out, std::size_t depth) {
    const std::size_t at = pos_ - 1;
    if (auto ok = check_depth(depth, at); !ok) return ok;
    auto header = container_header("array");
    if (!header) return unexpected(std::move(header).error());
    out.kind = UbjValue::Kind::array;
    if (header->type != 0) {  // a typed array: the payload stays in the input
      const std::size_t size = number_bytes(header->type);
      if (header->count > left() / size) {
        return fail(at, "a typed array of " + std::to_string(header->count) + " elements of " +
                            std::to_string(size) + " bytes, only " + std::to_string(left()) + " bytes left");
      }
      out.kind = UbjValue::Kind::typed_array;
      out.marker = header->type;
      seen_.typed_arrays.set(static_cast<unsigned char>(header->type));
      out.count = static_cast<std::size_t>(header->count);
      out.text = bytes_.substr(pos_, out.count * size);
      pos_ += out.text.size();
      return {};
    }
    if (header->counted) {
      if (auto ok = check_count(header->count, 1, at, "array"); !ok) return ok;
      out.items.resize(static_cast<std::size_t>(header->count));
      for (auto& item : out.items)
        if (auto ok = value(item, depth); !ok) return ok;
      return {};
    }
    while (true) {
      if (left() == 0) return fail(pos_, "truncated array (no ']')");
      if (bytes_[pos_] == ']') {
        ++pos_;
        return {};
      }
      out.items.emplace_back();
      if (auto ok = value(out.items.back(), depth); !ok) return ok;
    }
  }

  Expected<void> object(UbjValue& out, std::size_t depth) {
    const std::size_t at = pos_ - 1;
    if (auto ok = check_depth(depth, at); !ok) return ok;
    auto header = container_header("object");
    if (!header) return unexpected(std::move(header).error());
    out.kind = UbjValue::Kind::object;
    auto member = [&]() -> Expected<void> {
      auto key = length_prefixed("key");
      if (!key) return unexpected(std::move(key).error());
      out.keys.push_back(*key);
      out.items.emplace_back();
      if (header->type == 0) return value(out.items.back(), depth);
      if (++values_ > limits_.max_values) {
        return fail(pos_, "more than " + std::to_string(limits_.max_values) + " values");
      }
      out.items.back().offset = pos_;
      return payload(header->type, out.items.back(), depth);
    };
    if (header->counted) {
      // A member is at least a key (marker, one length byte) and, when typed, its fixed-size value.
      const std::uint64_t min_bytes_each = 2 + number_bytes(header->type);
      if (auto ok = check_count(header->count, min_bytes_each, at, "object"); !ok) return ok;
      out.keys.reserve(static_cast<std::size_t>(header->count));
      out.items.reserve(static_cast<std::size_t>(header->count));
      for (std::uint64_t i = 0; i < header->count; ++i)
        if (auto ok = member(); !ok) return ok;
    } else {
      while (true) {
        if (left() == 0) return fail(pos_, "truncated object (no '}')");
        if (bytes_[pos_] == '}') {
          ++pos_;
          break;
        }
        if (auto ok = member(); !ok) return ok;
      }
    }
    return check_unique_keys(out);
  }

  /// Readers disagree on which of two equal keys wins, so a repeated key is refused.
  Expected<void> check_unique_keys(const UbjValue& object) const {
    std::vector<std::string_view> sorted = object.keys;
    std::sort(sorted.begin(), sorted.end(), [](std::string_view a, std::string_view b) {
      return a != b ? a < b : a.data() < b.data();  // equal keys in input order
    });
    const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
    if (repeated == sorted.end()) return {};
    const auto second = *(repeated + 1);
    return fail(static_cast<std::size_t>(second.data() - bytes_.data()),
                "the key \"" + std::string(second.substr(0, 64)) + "\" appears twice in an object");
  }

  std::string_view bytes_;
  UbjLimits limits_;
  std::size_t pos_ = 0;
  std::size_t values_ = 0;
  UbjMarkersSeen seen_;
};

}  // namespace ubjson_internal

/// Parses one UBJSON document that fills `bytes` exactly. Errors (ErrorKind::parse) say what and at
/// which byte offset; the result views `bytes`. `seen`, when given, receives the markers it used.
[[nodiscard]] inline Expected<UbjValue> parse_ubjson(std::string_view bytes, UbjLimits limits = {},
                                                     UbjMarkersSeen* seen = nullptr) {
  return ubjson_internal::Parser(bytes, limits).document(seen);
}
/// The result views its input: a temporary string would leave it dangling.
Expected<UbjValue> parse_ubjson(std::string&& bytes, UbjLimits limits = {},
                                UbjMarkersSeen* seen = nullptr) = delete;

}  // namespace crosstune::detail
