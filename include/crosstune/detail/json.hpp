// crosstune/detail/json.hpp — internal: a small pull scanner and writer helpers for JSON text.
//
// Not API. The log reader pulls exactly the values the Ansor schema expects, in order, straight into
// Records (no DOM, no per-value allocation), and every mismatch stops with a message naming what was
// expected, what was found and the byte position. Strings are validated as UTF-8 and unescaped.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include "crosstune/core/expected.hpp"

namespace crosstune::detail {

/// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
[[nodiscard]] inline bool is_valid_utf8(std::string_view text, std::size_t* bad_offset = nullptr) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t extra = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    if (i + extra >= n) {  // sequence runs past the end
      if (bad_offset) *bad_offset = i;
      return false;
    }
    if (s[i + 1] < lo || s[i + 1] > hi) {
      if (bad_offset) *bad_offset = i;
      return false;
    }
    for (std::size_t k = 2; k <= extra; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
        if (bad_offset) *bad_offset = i;
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

/// Appends `text` as a JSON string literal (quotes included). Non-ASCII bytes are copied as they are.
inline void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run_start, i - run_start);
    run_start = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        constexpr char hex[] = "0123456789abcdef";
        out += "\\u00";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      }
    }
  }
  out.append(text.data() + run_start, text.size() - run_start);
  out.push_back('"');
}

inline void append_int(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

/// Shortest text that reads back to the same double, laid out as printf's %g would lay it out with
/// at least six significant digits (C++ streams' default). TVM writes the numbers of its logs through a
/// default-precision stream, so values it wrote come out as the same bytes ("0.000429498", "1e+10",
/// "1607112214"), while values with more digits keep all of them.
inline void append_double(std::string& out, double value) {
  char buffer[40];
  auto scientific = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  const std::string_view text(buffer, static_cast<std::size_t>(scientific.ptr - buffer));
  const std::size_t e = text.find('e');
  if (e == std::string_view::npos) {  // inf or nan: callers reject these before writing
    out.append(text);
    return;
  }
  int exponent = 0;
  std::from_chars(text.data() + e + (text[e + 1] == '+' ? 2 : 1), text.data() + text.size(), exponent);
  int digits = 0;
  for (std::size_t i = 0; i < e; ++i)
    digits += (text[i] >= '0' && text[i] <= '9') ? 1 : 0;
  const int precision = digits > 6 ? digits : 6;
  if (exponent < -4 || exponent >= precision) {
    out.append(text);
    return;
  }
  const auto fixed = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
  out.append(buffer, fixed.ptr);
}

/// Pull scanner over one JSON text. Every read_* returns false on a mismatch and records the message
/// and the byte offset; after a failure the scanner must not be used further.
class JsonScanner {
 public:
  explicit JsonScanner(std::string_view text) noexcept
      : begin_(text.data()), cur_(text.data()), end_(text.data() + text.size()) {}

  [[nodiscard]] std::size_t offset() const noexcept { return static_cast<std::size_t>(cur_ - begin_); }
  [[nodiscard]] const char* cursor() const noexcept { return cur_; }
  [[nodiscard]] std::string_view rest() const noexcept {
    return {cur_, static_cast<std::size_t>(end_ - cur_)};
  }
  void advance(std::size_t bytes) noexcept { cur_ += bytes; }

  [[nodiscard]] const std::string& error_message() const noexcept { return error_; }
  [[nodiscard]] std::size_t error_offset() const noexcept { return error_offset_; }
  /// parse for text that is not JSON (truncated, bad bytes), schema for JSON of the wrong type or value.
  [[nodiscard]] ErrorKind error_kind() const noexcept { return error_kind_; }
  /// Appends context (" in SP step 3") to the message of a failure that already happened.
  void add_error_context(std::string_view context) { error_ += context; }

  // The hot path of every read: forced inline so the per-token cost is a few instructions.
  [[gnu::always_inline]] void skip_ws() noexcept {
    while (cur_ < end_ && static_cast<unsigned char>(*cur_) <= ' ' &&
           (*cur_ == ' ' || *cur_ == '\t' || *cur_ == '\r' || *cur_ == '\n'))
      ++cur_;
  }
  /// After whitespace: true at the end of the text.
  [[nodiscard]] bool at_end() noexcept {
    skip_ws();
    return cur_ == end_;
  }
  /// After whitespace: the next byte, or '\0' at the end.
  [[nodiscard]] char peek() noexcept {
    skip_ws();
    return cur_ < end_ ? *cur_ : '\0';
  }
  [[gnu::always_inline]] bool consume_if(char c) noexcept {
    skip_ws();
    if (cur_ < end_ && *cur_ == c) {
      ++cur_;
      return true;
    }
    return false;
  }
  [[gnu::always_inline]] bool expect(char c, std::string_view context) {
    skip_ws();
    if (cur_ < end_ && *cur_ == c) {
      ++cur_;
      return true;
    }
    return fail_expected(std::string("'") + c + "'", context);
  }

  /// Reads `,` between array items or `]` at the end; sets `more` to whether another item follows.
  [[gnu::always_inline]] bool next_item(bool& more, std::string_view context) {
    skip_ws();
    if (cur_ < end_) {
      if (*cur_ == ',') {
        ++cur_;
        more = true;
        return true;
      }
      if (*cur_ == ']') {
        ++cur_;
        more = false;
        return true;
      }
    }
    return fail_expected("',' or ']'", context);
  }

  [[gnu::always_inline]] bool read_int64(std::int64_t& out, std::string_view what) {
    skip_ws();
    const char* p = cur_;
    const bool negative = p < end_ && *p == '-';
    p += negative ? 1 : 0;
    const char* digits = p;
    // Up to 18 digits cannot overflow an unsigned 64-bit accumulator; longer numbers take the slow path.
    const char* fast_end = end_ - p > 18 ? p + 18 : end_;
    std::uint64_t magnitude = 0;
    while (p < fast_end && static_cast<unsigned char>(*p - '0') <= 9)
      magnitude = magnitude * 10 + static_cast<unsigned>(*p++ - '0');
    if (p == digits) [[unlikely]]
      return fail_expected("an integer", what);
    if (p < end_ && (static_cast<unsigned char>(*p - '0') <= 9 || *p == '.' || *p == 'e' || *p == 'E'))
        [[unlikely]]
      return read_int64_slow(out, what);
    out = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    cur_ = p;
    return true;
  }

  bool read_double(double& out, std::string_view what) {
    skip_ws();
    if (cur_ >= end_ || (*cur_ != '-' && static_cast<unsigned char>(*cur_ - '0') > 9)) {
      return fail_expected("a number", what);
    }
    const auto result = std::from_chars(cur_, end_, out, std::chars_format::general);
    if (result.ec == std::errc::result_out_of_range) {
      return fail_at(cur_, "number out of range for " + std::string(what), ErrorKind::schema);
    }
    if (result.ec != std::errc{}) return fail_expected("a number", what);
    cur_ = result.ptr;
    return true;
  }

  bool read_bool_int(bool& out, std::string_view what) {
    std::int64_t value = 0;
    const char* start = (skip_ws(), cur_);
    if (!read_int64(value, what)) return false;
    if (value != 0 && value != 1)
      return fail_at(start, std::string(what) + " must be 0 or 1", ErrorKind::schema);
    out = value == 1;
    return true;
  }

  /// Reads a JSON string into `out` (replacing its content), unescaping and validating UTF-8.
  bool read_string(std::string& out, std::string_view what) {
    skip_ws();
    if (cur_ >= end_ || *cur_ != '"') return fail_expected("a string", what);
    ++cur_;
    out.clear();
    const char* run = cur_;
    while (true) {
      // Fast path: plain printable ASCII.
      while (cur_ < end_ && static_cast<unsigned char>(*cur_) >= 0x20 && *cur_ != '"' && *cur_ != '\\' &&
             static_cast<unsigned char>(*cur_) < 0x80)
        ++cur_;
      if (cur_ >= end_)
        return fail_at(cur_, "truncated line: string of " + std::string(what) + " not closed");
      const auto c = static_cast<unsigned char>(*cur_);
      if (c == '"') {
        out.append(run, cur_);
        ++cur_;
        return true;
      }
      if (c < 0x20) return fail_at(cur_, "control character inside the string of " + std::string(what));
      if (c >= 0x80) {
        const std::size_t len = utf8_sequence_length(cur_);
        if (len == 0) return fail_at(cur_, "invalid UTF-8 in the string of " + std::string(what));
        cur_ += len;
        continue;
      }
      // Backslash escape.
      out.append(run, cur_);
      ++cur_;
      if (cur_ >= end_) return fail_at(cur_, "truncated line: escape not finished in " + std::string(what));
      switch (*cur_) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          if (!read_unicode_escape(out, what)) return false;
          run = cur_;
          continue;
        }
        default: return fail_at(cur_ - 1, "invalid escape sequence in the string of " + std::string(what));
      }
      ++cur_;
      run = cur_;
    }
  }

  /// Skips one JSON value of any kind (validating its syntax), to at most `max_depth` nesting.
  bool skip_value(std::string_view what, int max_depth = 64) {
    skip_ws();
    if (cur_ >= end_) return fail_expected("a value", what);
    switch (*cur_) {
      case '"': {
        std::string scratch;
        return read_string(scratch, what);
      }
      case '[':
      case '{': {
        if (max_depth <= 0) return fail_at(cur_, "nesting too deep in " + std::string(what));
        const char close = *cur_ == '[' ? ']' : '}';
        const bool object = close == '}';
        ++cur_;
        if (consume_if(close)) return true;
        while (true) {
          if (object) {
            std::string key;
            if (!read_string(key, what) || !expect(':', what)) return false;
          }
          if (!skip_value(what, max_depth - 1)) return false;
          skip_ws();
          if (cur_ < end_ && *cur_ == ',') {
            ++cur_;
            continue;
          }
          if (cur_ < end_ && *cur_ == close) {
            ++cur_;
            return true;
          }
          return fail_expected(object ? "',' or '}'" : "',' or ']'", what);
        }
      }
      case 't': return skip_literal("true", what);
      case 'f': return skip_literal("false", what);
      case 'n': return skip_literal("null", what);
      default: {
        double ignored = 0;
        return read_double(ignored, what);
      }
    }
  }

  /// A short description of what is at the cursor, for error messages ("a string", "end of line").
  [[nodiscard]] std::string describe_next() noexcept {
    skip_ws();
    if (cur_ >= end_) return "end of line";
    switch (*cur_) {
      case '"': return "a string";
      case '[': return "an array";
      case '{': return "an object";
      case 't':
      case 'f': return "a boolean";
      case 'n': return "null";
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9': return "a number";
      default: {
        const auto c = static_cast<unsigned char>(*cur_);
        if (c >= 0x20 && c < 0x7f) return std::string("'") + *cur_ + "'";
        constexpr char hex[] = "0123456789abcdef";
        return std::string("byte 0x") + hex[c >> 4] + hex[c & 15];
      }
    }
  }

  [[gnu::cold]] [[gnu::noinline]] bool fail_expected(std::string_view expected, std::string_view context) {
    std::string found = describe_next();
    std::string message = "expected " + std::string(expected);
    if (!context.empty()) message += " for " + std::string(context);
    message += ", found " + found;
    // Another JSON value where one kind was expected is a schema error; anything else is not JSON.
    const bool is_value = found == "a string" || found == "an array" || found == "an object" ||
                          found == "a boolean" || found == "null" || found == "a number";
    if (found == "end of line") message = "truncated line: " + message;
    return fail_at(cur_, std::move(message), is_value ? ErrorKind::schema : ErrorKind::parse);
  }
  [[gnu::cold]] [[gnu::noinline]] bool fail_at(const char* where, std::string message,
                                               ErrorKind kind = ErrorKind::parse) {
    if (error_.empty()) {
      error_ = std::move(message);
      error_offset_ = static_cast<std::size_t>(where - begin_);
      error_kind_ = kind;
    }
    return false;
  }

 private:
  // Integers of 19 or more digits, and reals where an integer was expected: exact checks, rarely run.
  [[gnu::cold]] [[gnu::noinline]] bool read_int64_slow(std::int64_t& out, std::string_view what) {
    const char* p = cur_;
    const bool negative = *p == '-';
    p += negative ? 1 : 0;
    const char* digits = p;
    std::uint64_t magnitude = 0;
    while (p < end_ && static_cast<unsigned char>(*p - '0') <= 9) {
      const auto digit = static_cast<std::uint64_t>(*p - '0');
      if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
        return fail_at(digits, "integer out of range for " + std::string(what), ErrorKind::schema);
      }
      magnitude = magnitude * 10 + digit;
      ++p;
    }
    if (p < end_ && (*p == '.' || *p == 'e' || *p == 'E')) {
      return fail_at(digits, "expected an integer for " + std::string(what) + ", found a real number",
                     ErrorKind::schema);
    }
    const std::uint64_t limit = negative
                                    ? std::uint64_t{1} << 63
                                    : static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (magnitude > limit) {
      return fail_at(digits, "integer out of range for " + std::string(what), ErrorKind::schema);
    }
    out = negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    cur_ = p;
    return true;
  }

  /// Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 when invalid.
  [[nodiscard]] std::size_t utf8_sequence_length(const char* p) const noexcept {
    std::size_t bad = 0;
    const auto c = static_cast<unsigned char>(*p);
    const std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (static_cast<std::size_t>(end_ - p) < len) return 0;
    return is_valid_utf8(std::string_view(p, len), &bad) ? len : 0;
  }

  static bool hex_value(char c, unsigned& out) noexcept {
    if (c >= '0' && c <= '9')
      out = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f')
      out = static_cast<unsigned>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      out = static_cast<unsigned>(c - 'A' + 10);
    else
      return false;
    return true;
  }

  bool read_hex4(unsigned& code, std::string_view what) {
    // cur_ points at 'u'.
    if (end_ - cur_ < 5) return fail_at(cur_, "truncated \\u escape in " + std::string(what));
    code = 0;
    for (int i = 1; i <= 4; ++i) {
      unsigned digit = 0;
      if (!hex_value(cur_[i], digit)) return fail_at(cur_, "invalid \\u escape in " + std::string(what));
      code = code * 16 + digit;
    }
    cur_ += 5;
    return true;
  }

  bool read_unicode_escape(std::string& out, std::string_view what) {
    const char* start = cur_ - 1;
    unsigned code = 0;
    if (!read_hex4(code, what)) return false;
    if (code >= 0xD800 && code <= 0xDBFF) {
      unsigned low = 0;
      if (end_ - cur_ < 2 || cur_[0] != '\\' || cur_[1] != 'u') {
        return fail_at(start, "unpaired UTF-16 surrogate in \\u escape of " + std::string(what));
      }
      ++cur_;
      if (!read_hex4(low, what)) return false;
      if (low < 0xDC00 || low > 0xDFFF) {
        return fail_at(start, "unpaired UTF-16 surrogate in \\u escape of " + std::string(what));
      }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
    } else if (code >= 0xDC00 && code <= 0xDFFF) {
      return fail_at(start, "unpaired UTF-16 surrogate in \\u escape of " + std::string(what));
    }
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
    return true;
  }

  bool skip_literal(std::string_view literal, std::string_view what) {
    if (static_cast<std::size_t>(end_ - cur_) >= literal.size() &&
        std::memcmp(cur_, literal.data(), literal.size()) == 0) {
      cur_ += literal.size();
      return true;
    }
    return fail_expected("a value", what);
  }

  const char* begin_;
  const char* cur_;
  const char* end_;
  std::string error_;
  std::size_t error_offset_ = 0;
  ErrorKind error_kind_ = ErrorKind::parse;
};

}  // namespace crosstune::detail
