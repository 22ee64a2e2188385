// crosstune/core/target.hpp — a TVM target string, kept verbatim, with its kind and options readable.
//
// Records carry the target they were measured for ("cuda -keys=cuda,gpu -arch=sm_70 ..."). The string
// is kept byte for byte so a log round-trips; kind() and option() tokenise it on demand. Mapping a
// target to hardware parameters is the job of crosstune::hw.
//
//   Target t("llvm -mcpu=skylake-avx512 -num-cores 24");
//   t.kind();               // "llvm"
//   t.option("mcpu");       // "skylake-avx512"
//   t.option("num-cores");  // "24"
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace crosstune {

class Target {
 public:
  Target() = default;
  explicit Target(std::string text) : text_(std::move(text)) {}

  /// The target string exactly as given.
  [[nodiscard]] const std::string& str() const noexcept { return text_; }
  [[nodiscard]] bool empty() const noexcept { return text_.empty(); }

  /// The first token: "llvm", "cuda", "rocm", "opencl", ... (empty for an empty string).
  [[nodiscard]] std::string_view kind() const noexcept {
    std::size_t pos = 0;
    return next_token(pos);
  }

  /// True for targets whose code runs on a GPU-like device.
  [[nodiscard]] bool is_gpu() const noexcept {
    const auto k = kind();
    return k == "cuda" || k == "rocm" || k == "opencl" || k == "vulkan" || k == "metal";
  }

  /// Value of option `-name=value` or `-name value`; "" for a bare flag `-name`; nullopt if absent.
  [[nodiscard]] std::optional<std::string_view> option(std::string_view name) const noexcept {
    std::size_t pos = 0;
    (void)next_token(pos);  // kind
    for (std::string_view token = next_token(pos); !token.empty(); token = next_token(pos)) {
      if (token.size() < 2 || token[0] != '-') continue;
      token.remove_prefix(token[1] == '-' ? 2 : 1);
      const auto eq = token.find('=');
      if (eq != std::string_view::npos) {
        if (token.substr(0, eq) == name) return token.substr(eq + 1);
        continue;
      }
      if (token != name) continue;
      std::size_t peek = pos;
      const std::string_view value = next_token(peek);
      if (!value.empty() && value[0] != '-') return value;
      return std::string_view{};
    }
    return std::nullopt;
  }

  friend bool operator==(const Target&, const Target&) = default;
  friend auto operator<=>(const Target&, const Target&) = default;

 private:
  [[nodiscard]] std::string_view next_token(std::size_t& pos) const noexcept {
    const std::string_view s = text_;
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t'))
      ++pos;
    const std::size_t start = pos;
    while (pos < s.size() && s[pos] != ' ' && s[pos] != '\t')
      ++pos;
    return s.substr(start, pos - start);
  }

  std::string text_;
};

}  // namespace crosstune
