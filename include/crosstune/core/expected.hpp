// crosstune/core/expected.hpp — errors as values for expected failures.
//
// A malformed log line, a file that cannot be opened or a kernel that fails to build are expected at
// run time, so functions that can meet them return `Expected<T>` instead of throwing. An `Error` says
// what went wrong, where (file, line, column) and, where it can, what to do about it.
//
//   crosstune::Expected<int> parse_port(std::string_view s);
//   auto port = parse_port(text);
//   if (!port) std::cerr << port.error().describe() << '\n';
//   else use(*port);
//
// Calling value() on an Expected holding an error throws `ErrorException` carrying the same Error:
// ignoring an error is a programming mistake, and it must not pass silently.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace crosstune {

/// What kind of expected failure an Error reports; lets callers branch without parsing messages.
enum class ErrorKind {
  io,                ///< a file could not be opened, read or written
  parse,             ///< input is not valid JSON / not the expected shape
  schema,            ///< valid JSON, but a field has the wrong type, count or value
  unsupported,       ///< valid input that this version does not understand (e.g. unknown step kind)
  empty_input,       ///< a file or stream without any record
  invalid_argument,  ///< a caller-supplied value is out of range
  backend            ///< an external library (XGBoost, the CUDA runtime) reported a failure
};

[[nodiscard]] constexpr const char* to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::io: return "io";
    case ErrorKind::parse: return "parse";
    case ErrorKind::schema: return "schema";
    case ErrorKind::unsupported: return "unsupported";
    case ErrorKind::empty_input: return "empty_input";
    case ErrorKind::invalid_argument: return "invalid_argument";
    case ErrorKind::backend: return "backend";
  }
  return "unknown";
}

/// An expected failure: what, where, and what to do.
struct Error {
  Error() = default;
  Error(ErrorKind kind_, std::string message_, std::string file_ = {}, std::size_t line_ = 0,
        std::size_t column_ = 0, std::string hint_ = {})
      : kind(kind_),
        message(std::move(message_)),
        file(std::move(file_)),
        line(line_),
        column(column_),
        hint(std::move(hint_)) {}

  ErrorKind kind = ErrorKind::parse;
  std::string message;     ///< what was wrong, in one sentence
  std::string file;        ///< file it was found in, empty when not from a file
  std::size_t line = 0;    ///< 1-based line, 0 when unknown
  std::size_t column = 0;  ///< 1-based byte column in the line, 0 when unknown
  std::string hint;        ///< what to do about it, may be empty

  /// "file:line:column: message (hint)", leaving out the parts that are unknown.
  [[nodiscard]] std::string describe() const {
    std::string out;
    if (!file.empty()) out += file;
    if (line != 0) {
      if (!out.empty()) out += ':';
      out += "line " + std::to_string(line);
      if (column != 0) out += ", column " + std::to_string(column);
    } else if (column != 0) {
      if (!out.empty()) out += ':';
      out += "column " + std::to_string(column);
    }
    if (!out.empty()) out += ": ";
    out += message;
    if (!hint.empty()) out += " (" + hint + ")";
    return out;
  }
};

/// Thrown by Expected::value() on an error: carries the Error.
class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(Error error) : std::runtime_error(error.describe()), error_(std::move(error)) {}
  [[nodiscard]] const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

/// Tag wrapper so that `return unexpected(Error{...});` reads like std::expected.
struct Unexpected {
  Error error;
};
[[nodiscard]] inline Unexpected unexpected(Error error) {
  return Unexpected{std::move(error)};
}

/// A value or an Error (a C++20 stand-in for std::expected<T, Error>).
template <class T>
class [[nodiscard]] Expected {
 public:
  using value_type = T;

  Expected() requires std::is_default_constructible_v<T> : storage_(std::in_place_index<0>) {}
  Expected(T value) : storage_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Expected(Unexpected u) : storage_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return storage_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & {
    throw_if_error();
    return std::get<0>(storage_);
  }
  [[nodiscard]] const T& value() const& {
    throw_if_error();
    return std::get<0>(storage_);
  }
  [[nodiscard]] T&& value() && {
    throw_if_error();
    return std::get<0>(std::move(storage_));
  }
  [[nodiscard]] T& operator*() & { return value(); }
  [[nodiscard]] const T& operator*() const& { return value(); }
  [[nodiscard]] T&& operator*() && { return std::move(*this).value(); }
  [[nodiscard]] T* operator->() { return &value(); }
  [[nodiscard]] const T* operator->() const { return &value(); }

  /// The error; only valid when !has_value().
  [[nodiscard]] const Error& error() const& { return std::get<1>(storage_); }
  [[nodiscard]] Error&& error() && { return std::get<1>(std::move(storage_)); }

 private:
  void throw_if_error() const {
    if (!has_value()) throw ErrorException(std::get<1>(storage_));
  }
  std::variant<T, Error> storage_;
};

/// Success or an Error, for operations without a result value.
template <>
class [[nodiscard]] Expected<void> {
 public:
  using value_type = void;
  Expected() = default;
  Expected(Unexpected u) : error_(std::move(u.error)), failed_(true) {}  // NOLINT: implicit by design

  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (failed_) throw ErrorException(error_);
  }
  [[nodiscard]] const Error& error() const& { return error_; }
  [[nodiscard]] Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace crosstune
