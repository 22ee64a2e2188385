// crosstune/core/error_code.hpp — the outcome of one measurement, numbered as Ansor numbers it.
//
// The numbers are part of the log format (`"r": [costs, error_no, ...]`), so they must match Ansor's
// MeasureErrorNo exactly; names are the lower-case forms of Ansor's.
//
//   if (record.result.error == ErrorCode::no_error) train_on(record);
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace crosstune {

enum class ErrorCode : std::uint8_t {
  no_error = 0,             ///< measured successfully
  instantiation_error = 1,  ///< the schedule could not be applied to the compute DAG
  compile_host = 2,         ///< host code failed to build
  compile_device = 3,       ///< device code failed to build
  runtime_device = 4,       ///< the kernel failed while running
  wrong_answer = 5,         ///< the kernel ran but its output differs from the reference
  build_timeout = 6,        ///< building exceeded the time limit
  run_timeout = 7,          ///< running exceeded the time limit
  unknown_error = 8,        ///< anything else
};

inline constexpr std::size_t error_code_count = 9;

inline constexpr std::array<std::string_view, error_code_count> error_code_names = {
    "no_error",     "instantiation_error", "compile_host", "compile_device", "runtime_device",
    "wrong_answer", "build_timeout",       "run_timeout",  "unknown_error"};

[[nodiscard]] constexpr std::string_view to_string(ErrorCode code) noexcept {
  const auto index = static_cast<std::size_t>(code);
  return index < error_code_count ? error_code_names[index] : std::string_view{"invalid_error_code"};
}

/// The ErrorCode with Ansor number `number`, or nullopt when it is not one of 0..8.
[[nodiscard]] constexpr std::optional<ErrorCode> error_code_from_number(std::int64_t number) noexcept {
  if (number < 0 || number >= static_cast<std::int64_t>(error_code_count)) return std::nullopt;
  return static_cast<ErrorCode>(number);
}

}  // namespace crosstune
