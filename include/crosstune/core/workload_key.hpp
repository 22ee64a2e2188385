// crosstune/core/workload_key.hpp — the parsed form of an Ansor workload key.
//
// A workload key is a JSON array in a string: either a registered function name and its arguments
// (["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]]) or, for workloads extracted from a
// network, the 32-hex-digit hash of the compute DAG followed by the shapes of its tensors
// (["f3351bf9aef587a2fb1bf57b0fc78601", [128, 512], [512, 256], [128, 256]]).
//
//   auto key = crosstune::parse_workload_key(task.workload_key);
//   if (key && !key->hashed()) std::cout << key->name << " with " << key->args.size() << " args\n";
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crosstune/core/expected.hpp"
#include "crosstune/detail/json.hpp"

namespace crosstune {

/// One argument of a workload key: an integer, a real, a string, a boolean or a list of arguments.
struct WorkloadArg {
  enum class Type : std::uint8_t { integer, real, string, boolean, list, null };
  Type type = Type::null;
  std::int64_t integer = 0;  ///< also set for booleans, and for reals (truncated; 0 beyond int64's range)
  double real = 0.0;         ///< also set for integer and boolean
  std::string text;          ///< string arguments
  std::vector<WorkloadArg> items;  ///< list arguments

  [[nodiscard]] bool is_integer() const noexcept { return type == Type::integer; }
  [[nodiscard]] bool is_string() const noexcept { return type == Type::string; }
  [[nodiscard]] bool is_list() const noexcept { return type == Type::list; }

  friend bool operator==(const WorkloadArg&, const WorkloadArg&) = default;
};

struct WorkloadKey {
  std::string name;               ///< function name, or the compute-DAG hash
  std::vector<WorkloadArg> args;  ///< arguments after the name

  /// True for keys of workloads extracted from a network: name is a 32-hex-digit DAG hash and the
  /// arguments are tensor shapes.
  [[nodiscard]] bool hashed() const noexcept {
    if (name.size() != 32) return false;
    for (char c : name)
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
  }

  friend bool operator==(const WorkloadKey&, const WorkloadKey&) = default;
};

namespace detail {
inline bool parse_workload_arg(JsonScanner& in, WorkloadArg& arg, int depth) {
  const char next = in.peek();
  if (next == '"') {
    arg.type = WorkloadArg::Type::string;
    return in.read_string(arg.text, "a workload argument");
  }
  if (next == '[') {
    if (depth > 16) return in.fail_at(in.cursor(), "workload argument nested too deep");
    arg.type = WorkloadArg::Type::list;
    in.expect('[', "a list argument");
    if (in.consume_if(']')) return true;
    for (bool more = true; more;) {
      if (!parse_workload_arg(in, arg.items.emplace_back(), depth + 1)) return false;
      if (!in.next_item(more, "a list argument")) return false;
    }
    return true;
  }
  if (next == 't' || next == 'f' || next == 'n') {
    const std::string_view rest = in.rest();
    if (!in.skip_value("a workload argument")) return false;
    if (rest.starts_with("null")) {
      arg.type = WorkloadArg::Type::null;
    } else {
      arg.type = WorkloadArg::Type::boolean;
      arg.integer = rest.starts_with("true") ? 1 : 0;
      arg.real = static_cast<double>(arg.integer);
    }
    return true;
  }
  // A number: an integer when it has no fraction or exponent.
  const std::string_view rest = in.rest();
  std::size_t len = 0;
  while (len < rest.size() && rest[len] != ',' && rest[len] != ']' && rest[len] != ' ')
    ++len;
  const std::string_view number = rest.substr(0, len);
  if (number.find_first_of(".eE") == std::string_view::npos) {
    arg.type = WorkloadArg::Type::integer;
    if (!in.read_int64(arg.integer, "a workload argument")) return false;
    arg.real = static_cast<double>(arg.integer);
    return true;
  }
  arg.type = WorkloadArg::Type::real;
  if (!in.read_double(arg.real, "a workload argument")) return false;
  // Truncated when it fits (converting an out-of-range double to an integer is undefined behaviour).
  constexpr double limit = 9.2e18;
  arg.integer = (arg.real > -limit && arg.real < limit) ? static_cast<std::int64_t>(arg.real) : 0;
  return true;
}
}  // namespace detail

/// Parses a workload key string. Errors (ErrorKind::parse/schema) name the column within the key.
[[nodiscard]] inline Expected<WorkloadKey> parse_workload_key(std::string_view key) {
  detail::JsonScanner in(key);
  WorkloadKey out;
  const bool ok = [&] {
    if (!in.expect('[', "a workload key (a JSON array)") || !in.read_string(out.name, "the workload name"))
      return false;
    for (bool more = true; more;) {
      if (!in.next_item(more, "the workload arguments")) return false;
      if (more && !detail::parse_workload_arg(in, out.args.emplace_back(), 0)) return false;
    }
    if (!in.at_end()) return in.fail_at(in.cursor(), "unexpected text after the workload key");
    return true;
  }();
  if (ok) return out;
  return unexpected(
      Error(in.error_kind(), "in workload key: " + in.error_message(), {}, 0, in.error_offset() + 1));
}

}  // namespace crosstune
