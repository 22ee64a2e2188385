// `crosstune codegen`: schedules and C++ for an operator, and replay of tuning logs onto compute DAGs.
//
//   crosstune codegen --op matmul --shape 512,512,512 --random 1 --seed 7   candidates' steps and C++
//   crosstune codegen --key '["conv2d_layer", 1, 64, 56, 56, 64, 3, 3, 1, 1]' --out k.cpp --compile
//   crosstune codegen --replay LOG... [--json] [--skip-bad]                 how many records replay, and why
//   not
//   crosstune codegen --replay tune.json --source --top 1 > best.cpp        the best kernel of each task, as C++
//
// Generation draws --random distinct candidates from the CPU sketches of the operator's DAG
// (schedule/cpu_sketch.hpp), sized for this machine's cores (--cores
// overrides the probe), and prints each one's steps as Ansor log JSON and its kernel as C++
// (codegen/lower.hpp, codegen/cpu.hpp). Everything on stdout but the kernels is a `//` comment, and only
// the first kernel carries the helper preamble, so the whole output compiles as one file.
//
// Usage errors (exit 2): an unknown --op, a --shape with the wrong number of values or a value below 1,
// a flag of another operator (--stride with matmul), --random 0, generation flags with --replay.
// Refused inputs (exit 1): parameters the operator builder refuses (groups that do not divide the
// channels, a kernel larger than the padded input, an axis out of range), a workload key that names no
// DAG crosstune can build, generated code that does not compile (--compile), unreadable logs.
#pragma once

#include <stdlib.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common.hpp"
#include "crosstune/measure/compiler.hpp"
#include "crosstune/codegen/cpu.hpp"
#include "crosstune/codegen/lower.hpp"
#include "crosstune/core/rng.hpp"
#include "crosstune/detail/json.hpp"
#include "crosstune/hw/host_probe.hpp"
#include "crosstune/io/atomic_file.hpp"
#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/record_format.hpp"
#include "crosstune/ir/operators.hpp"
#include "crosstune/ir/workloads.hpp"
#include "crosstune/schedule/cpu_sketch.hpp"
#include "crosstune/schedule/replay.hpp"
#include "progress.hpp"

namespace crosstune::cli {

struct CodegenOptions {
  // generation
  std::string op, key, shape;
  std::size_t random = 1;
  std::uint64_t seed = 0;
  std::size_t cores = 0;  // 0: from the host probe
  std::string out;
  bool compile = false;
  // operator parameters (given as text, checked by the validators below)
  bool bias = false;
  std::string activation = "none";
  std::string stride = "1", padding = "0", dilation = "1";
  std::size_t groups = 1, multiplier = 1;
  std::string layout = "NCHW";
  std::string pool = "max";
  std::string axis = "-1";
  std::string reduce_op = "sum";
  std::string axes = "-1";
  bool keepdims = false;
  // replay
  std::vector<std::string> replay;
  bool skip_bad = false;
  bool source = false;   // --replay: print each replayed record's C++ instead of the counts
  std::size_t top = 0;   // --source: only the K fastest successful records of each task (0: all)
  bool json = false;
};

namespace codegen_detail {

/// The operators --op builds: their --shape values, and the flags that apply to them.
struct OpSpec {
  std::string_view name;
  std::string_view shape;  // "M,K,N", or "" for any rank
  std::size_t values;      // the number of --shape values, 0 for any rank
};
inline constexpr std::array<OpSpec, 14> op_specs = {{
    {"matmul", "M,K,N", 3},
    {"dense", "M,K,N", 3},
    {"batch_matmul", "B,M,K,N", 4},
    {"conv2d", "N,CI,H,W,CO,KH,KW", 7},
    {"depthwise_conv2d", "N,C,H,W,KH,KW", 6},
    {"pool2d", "N,C,H,W,KH,KW", 6},
    {"relu", "", 0},
    {"gelu", "", 0},
    {"tanh", "", 0},
    {"sigmoid", "", 0},
    {"exp", "", 0},
    {"negate", "", 0},
    {"softmax", "", 0},
    {"reduce", "", 0},
}};

[[nodiscard]] inline const OpSpec& op_spec(std::string_view name) {
  for (const auto& spec : op_specs)
    if (spec.name == name) return spec;
  return op_specs[0];  // unreachable: --op is checked against op_specs
}

/// Operator flags and the operators they apply to.
struct OpFlag {
  std::string_view flag;
  std::vector<std::string_view> ops;
};
inline const std::vector<OpFlag>& op_flags() {
  static const std::vector<OpFlag> flags = {
      {"--bias", {"dense"}},
      {"--activation", {"dense"}},
      {"--stride", {"conv2d", "depthwise_conv2d", "pool2d"}},
      {"--padding", {"conv2d", "depthwise_conv2d", "pool2d"}},
      {"--dilation", {"conv2d", "depthwise_conv2d", "pool2d"}},
      {"--layout", {"conv2d", "depthwise_conv2d", "pool2d"}},
      {"--groups", {"conv2d"}},
      {"--multiplier", {"depthwise_conv2d"}},
      {"--pool", {"pool2d"}},
      {"--axis", {"softmax"}},
      {"--reduce-op", {"reduce"}},
      {"--axes", {"reduce"}},
      {"--keepdims", {"reduce"}},
  };
  return flags;
}

/// Whole numbers of a comma-separated list ("512,512,512"); the text has passed int_list().
[[nodiscard]] inline std::vector<std::int64_t> parse_ints(std::string_view text) {
  std::vector<std::int64_t> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto end = std::min(text.find(',', start), text.size());
    std::int64_t v = 0;
    std::from_chars(text.data() + start, text.data() + end, v);
    values.push_back(v);
    start = end + 1;
  }
  return values;
}

/// A comma-separated list of whole numbers in [lo, hi] with one of `counts` values (any count when
/// empty); e.g. "1" or "1,2" for a stride.
[[nodiscard]] inline CLI::Validator int_list(std::int64_t lo, std::int64_t hi,
                                             std::vector<std::size_t> counts = {}) {
  std::string what = "INT";
  if (counts.size() > 1 || counts.empty() || counts[0] != 1) what += "[,INT...]";
  return CLI::Validator(
      [lo, hi, counts](std::string& text) -> std::string {
        std::size_t n = 0, start = 0;
        while (start <= text.size()) {
          const auto end = std::min(text.find(',', start), text.size());
          const std::string_view item(text.data() + start, end - start);
          std::int64_t v = 0;
          const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
          if (item.empty() || ec == std::errc::invalid_argument || ptr != item.data() + item.size())
            return "\"" + std::string(item) + "\" in \"" + text + "\" is not a whole number";
          if (ec == std::errc::result_out_of_range || v < lo || v > hi)
            return std::string(item) + " in \"" + text + "\" is out of range [" + std::to_string(lo) + ", " +
                   std::to_string(hi) + "]";
          ++n;
          start = end + 1;
        }
        if (!counts.empty() && std::find(counts.begin(), counts.end(), n) == counts.end()) {
          std::string allowed;
          for (std::size_t i = 0; i < counts.size(); ++i)
            allowed += (i == 0 ? "" : i + 1 == counts.size() ? " or " : ", ") + std::to_string(counts[i]);
          return "\"" + text + "\" has " + std::to_string(n) + " values, expected " + allowed;
        }
        return {};
      },
      what);
}

/// Largest --shape value, stride, dilation and padding: sizes TVM's int32 loop extents can hold.
inline constexpr std::int64_t max_extent = std::numeric_limits<std::int32_t>::max();

/// --stride / --dilation: one value for both dimensions, or "H,W".
inline void pair_of(const std::string& text, std::int64_t& h, std::int64_t& w) {
  const auto v = parse_ints(text);
  h = v[0];
  w = v.size() > 1 ? v[1] : v[0];
}

/// --padding: one value for all sides, "H,W" (top = bottom, left = right) or "TOP,LEFT,BOTTOM,RIGHT".
template <class Params>
inline void padding_of(const std::string& text, Params& p) {
  const auto v = parse_ints(text);
  if (v.size() == 4) {
    p.pad_top = v[0], p.pad_left = v[1], p.pad_bottom = v[2], p.pad_right = v[3];
  } else if (v.size() == 2) {
    p.pad_top = p.pad_bottom = v[0];
    p.pad_left = p.pad_right = v[1];
  } else {
    p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = v[0];
  }
}

/// --layout's value (checked by the option to be NCHW or NHWC).
[[nodiscard]] inline ir::Layout layout_of(const CodegenOptions& o) {
  return o.layout == "NHWC" ? ir::Layout::nhwc : ir::Layout::nchw;
}

/// The compute DAG --op and its flags describe; the builder's Error when it refuses the parameters.
[[nodiscard]] inline Expected<ir::ComputeDag> build_op(const CodegenOptions& o) {
  const std::vector<std::int64_t> s = parse_ints(o.shape);
  const std::string& op = o.op;
  const ir::Layout layout = layout_of(o);
  if (op == "matmul") return ir::matmul(s[0], s[1], s[2]);
  if (op == "dense") {
    const ir::Activation a = o.activation == "relu"   ? ir::Activation::relu
                             : o.activation == "gelu" ? ir::Activation::gelu
                                                      : ir::Activation::none;
    return ir::dense(s[0], s[1], s[2], o.bias, a);
  }
  if (op == "batch_matmul") return ir::batch_matmul(s[0], s[0], s[1], s[2], s[3]);
  if (op == "conv2d" || op == "depthwise_conv2d") {
    ir::Conv2dParams p;
    p.layout = layout;
    p.batch = s[0], p.in_channels = s[1], p.in_height = s[2], p.in_width = s[3];
    if (op == "conv2d") {
      p.out_channels = s[4], p.kernel_h = s[5], p.kernel_w = s[6];
      p.groups = static_cast<std::int64_t>(o.groups);
    } else {
      p.kernel_h = s[4], p.kernel_w = s[5];
    }
    pair_of(o.stride, p.stride_h, p.stride_w);
    pair_of(o.dilation, p.dilation_h, p.dilation_w);
    padding_of(o.padding, p);
    if (op == "conv2d") return ir::conv2d(p);
    return ir::depthwise_conv2d(p, static_cast<std::int64_t>(o.multiplier));
  }
  if (op == "pool2d") {
    ir::Pool2dParams p;
    p.kind = o.pool == "avg" ? ir::PoolKind::avg : ir::PoolKind::max;
    p.layout = layout;
    p.batch = s[0], p.channels = s[1], p.in_height = s[2], p.in_width = s[3], p.kernel_h = s[4],
    p.kernel_w = s[5];
    pair_of(o.stride, p.stride_h, p.stride_w);
    pair_of(o.dilation, p.dilation_h, p.dilation_w);
    padding_of(o.padding, p);
    return ir::pool2d(p);
  }
  if (op == "softmax") return ir::softmax(s, parse_ints(o.axis)[0]);
  if (op == "reduce") {
    const ir::ReduceOp r = o.reduce_op == "max"    ? ir::ReduceOp::max
                           : o.reduce_op == "min"  ? ir::ReduceOp::min
                           : o.reduce_op == "mean" ? ir::ReduceOp::mean
                                                   : ir::ReduceOp::sum;
    return ir::reduce(s, parse_ints(o.axes), o.keepdims, r);
  }
  for (int i = 0; i < 6; ++i) {
    const auto unary = static_cast<ir::UnaryOp>(i);
    if (ir::to_string(unary) == op) return ir::unary(s, unary);
  }
  return unexpected(Error(ErrorKind::invalid_argument, "unknown operator " + op));  // --op is checked
}

/// Usage errors the parser cannot see: --shape's count for the operator, flags of other operators.
inline void check_generation_flags(const CLI::App& cmd, const CodegenOptions& o) {
  if (o.op.empty() && o.key.empty() && o.replay.empty())
    usage_error("give --op NAME with --shape, --key WORKLOAD_KEY, or --replay LOG...");
  for (const auto& f : op_flags()) {
    if (cmd.count(std::string(f.flag)) == 0) continue;
    if (std::find(f.ops.begin(), f.ops.end(), o.op) != f.ops.end()) continue;
    std::string ops;
    for (std::size_t i = 0; i < f.ops.size(); ++i)
      ops += (i == 0 ? "" : i + 1 == f.ops.size() ? " and " : ", ") + std::string(f.ops[i]);
    usage_error(std::string(f.flag) + " applies to --op " + ops + " only" +
                (o.op.empty() ? " (not to --key)" : " (not to --op " + o.op + ")"));
  }
  if (o.op.empty()) return;
  const OpSpec& spec = op_spec(o.op);
  const auto n = parse_ints(o.shape).size();
  if (spec.values != 0 && n != spec.values) {
    usage_error("--shape: --op " + o.op + " takes " + std::to_string(spec.values) + " values (" +
                std::string(spec.shape) + "), \"" + o.shape + "\" has " + std::to_string(n));
  }
}

/// Most loop iterations a stage may run (about 10^15: a day of a fast CPU): larger sizes are refused,
/// before their FLOP counts and loop extents leave the int64 range.
inline constexpr std::int64_t max_iterations = std::int64_t{1} << 50;

/// Refuses a DAG with a tensor or a stage's loop nest past max_iterations.
inline void check_size(const ir::ComputeDag& dag) {
  for (const auto& op : dag.ops()) {
    std::int64_t n = 1;
    bool over = false;
    for (const auto* axes : {&op->axes, &op->reduce_axes})
      for (const ir::Axis& a : *axes)
        over = over || __builtin_mul_overflow(n, a.extent, &n) || n > max_iterations;
    if (over) {
      fail(Error(ErrorKind::invalid_argument,
                 std::string(op->placeholder ? "tensor '" : "stage '") + op->name + "' of " +
                     dag.workload_key() + " has more than 2^50 " +
                     (op->placeholder ? "elements" : "loop iterations"),
                 {}, 0, 0, "use smaller sizes"));
    }
  }
}

/// CPU sketch options: the host's cores where the probe reads them, else 1; --cores overrides.
[[nodiscard]] inline schedule::CpuSketchOptions sketch_options(const CodegenOptions& o, std::string& source) {
  schedule::CpuSketchOptions options;
  const auto host = hw::probe_host();
  std::string probed;
  if (host.params.num_cores > 0) {
    options.cores = host.params.num_cores;
  } else {
    probed += " cores";
  }
  source = probed.empty() ? "this machine" : "this machine; default for unknown" + probed;
  if (o.cores > 0) options.cores = static_cast<std::int64_t>(o.cores);
  if (o.cores > 0) source += ", flags";
  return options;
}

/// `text` as a `//` comment line: a line break would end the comment early.
[[nodiscard]] inline std::string comment(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return "// " + text + "\n";
}

/// A temporary folder, removed with what is in it when the object goes.
class TempDir {
 public:
  TempDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::string pattern = (fs::temp_directory_path(ec) / "crosstune-codegen-XXXXXX").string();
    if (ec) pattern = "/tmp/crosstune-codegen-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      const int err = errno;
      fail(Error(ErrorKind::io, std::string("cannot create a temporary folder: ") + std::strerror(err),
                 pattern, 0, 0, "set TMPDIR to a writable folder"));
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

/// Compiles the kernels as one shared library in a temporary folder and looks up each function; a
/// compiler error is printed on stderr before the command fails.
inline void compile_check(const std::string& source, std::size_t kernels) {
  const TempDir dir;
  const measure::CompileOptions options;
  const auto start = std::chrono::steady_clock::now();
  if (auto built = measure::compile_shared_library(source, dir.path() / "kernels.so", options); !built) {
    Error e = std::move(built).error();
    if (e.message.starts_with("cannot run the compiler"))
      e.hint =
          "--compile runs `" + options.compiler + "` from PATH: install a C++ compiler, or drop --compile";
    if (const auto cut = e.message.find('\n'); cut != std::string::npos) {
      clear_progress_line();
      std::string messages = e.message.substr(cut + 1);
      if (!messages.empty() && messages.back() != '\n') messages += '\n';
      std::cerr << messages;
      e.message = "the generated C++ does not compile (the compiler's messages are above)";
      e.hint =
          "run without --compile to see the source; a kernel that does not compile is a bug in crosstune's "
          "code generator";
    }
    fail(e);
  }
  auto library = measure::SharedLibrary::open(dir.path() / "kernels.so");
  if (!library) fail(library.error());
  for (std::size_t i = 0; i < kernels; ++i) {
    const std::string name = "crosstune_kernel_" + std::to_string(i);
    if (auto f = library->function<void(float* const*)>(name + "_packed"); !f) fail(f.error());
  }
  const std::string command = measure::join_command(measure::compile_command(options, "kernels.cpp", "kernels.so"));
  note("compiled %zu kernel%s in %.1f s: %s", kernels, kernels == 1 ? "" : "s",
       std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), command.c_str());
}

/// Up to `count` distinct random candidates of `space` (a small space may hold fewer: a warning says so).
[[nodiscard]] inline std::vector<schedule::CpuCandidate> distinct_candidates(const schedule::CpuSketchSpace& space,
                                                                           const ir::ComputeDag& dag, std::size_t count,
                                                                           std::uint64_t seed) {
  const std::uint64_t space_size = space.size();
  const std::size_t wanted = static_cast<std::size_t>(std::min<std::uint64_t>(count, space_size));
  Rng rng(seed);
  std::vector<schedule::CpuCandidate> candidates;
  std::unordered_set<std::uint64_t> seen;
  const std::size_t max_draws = 64 * count + 1024;
  std::size_t draws = 0;
  while (candidates.size() < wanted && draws < max_draws) {
    ++draws;
    auto c = space.sample(rng);
    if (seen.insert(c.hash()).second) candidates.push_back(std::move(c));
  }
  if (candidates.size() < count) {
    const std::string asked = " (asked for " + std::to_string(count) + ")";
    if (wanted < count) {
      warn("the sketch space of " + dag.workload_key() + " holds only " + std::to_string(space_size) +
           " distinct candidate" + (space_size == 1 ? "" : "s") + asked);
    } else {
      warn("only " + std::to_string(candidates.size()) + " distinct candidates in " + std::to_string(draws) +
           " draws from the sketch space of " + dag.workload_key() + asked);
    }
  }

  return candidates;
}

inline void run_generate(const CodegenOptions& o) {
  check_outputs({}, {{"--out", o.out}});
  auto built = o.key.empty() ? build_op(o) : ir::dag_from_workload_key(o.key);
  if (!built) {
    Error e = std::move(built).error();
    if (!o.key.empty()) {
      if (e.file.empty() && e.column != 0)
        e.file = "--key";  // "--key:column 7: ..." for a key that does not parse
      if (e.hint.empty())
        e.hint = "--key takes crosstune's own keys and the named families of the public Ansor logs";
    }
    fail(e);
  }
  auto dag = std::make_shared<const ir::ComputeDag>(std::move(*built));
  check_size(*dag);
  std::string options_source;
  const auto options = sketch_options(o, options_source);
  auto space = schedule::CpuSketchSpace::make(dag, options);
  if (!space) fail(space.error());
  const std::size_t sketches = space->sketches().size();
  note("%s: %zu sketch%s for %lld cores (%s)", dag->workload_key().c_str(), sketches, sketches == 1 ? "" : "es",
       static_cast<long long>(options.cores), options_source.c_str());

  const std::vector<schedule::CpuCandidate> candidates = distinct_candidates(*space, *dag, o.random, o.seed);

  // Nothing is printed or written until every kernel is made (and compiled, with --compile): a command
  // that fails leaves no partial results on stdout and the file at --out as it was.
  std::string results;     // stdout
  std::string all_source;  // every kernel, one translation unit, for --out and --compile
  Progress progress("generating", candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    progress.update(i);
    const auto& candidate = candidates[i];
    const std::string& sketch = space->sketches()[static_cast<std::size_t>(candidate.sketch)].name;
    auto state = space->apply(candidate);
    if (!state) fail(state.error());
    auto nest = codegen::lower(*state);
    if (!nest) fail(nest.error());
    const std::string function = "crosstune_kernel_" + std::to_string(i);
    codegen::CpuCodegenOptions cpp;
    cpp.function_name = function;
    cpp.preamble = i == 0;
    if (!o.out.empty()) {
      cpp.comment = "candidate " + std::to_string(i + 1) + " of " + std::to_string(candidates.size()) + ": " +
                    dag->workload_key() + ", sketch \"" + sketch + "\"";
    }
    std::string source = codegen::emit_cpp(*nest, cpp);
    const StepSequence& steps = state->steps();
    if (o.json) {
      cpp.preamble = true;  // each object's source compiles on its own
      const std::string standalone = i == 0 ? source : codegen::emit_cpp(*nest, cpp);
      std::string line = "{\"workload_key\": ";
      detail::append_json_string(line, dag->workload_key());
      line += ", \"sketch\": ";
      detail::append_json_string(line, sketch);
      line += ", \"flops\": " + std::to_string(dag->flops()) + ", \"steps\": [";
      for (std::size_t s = 0; s < steps.size(); ++s) {
        if (s) line += ", ";
        io::append_step(line, steps[s]);
      }
      line += "], \"function\": ";
      detail::append_json_string(line, function);
      line += ", \"source\": ";
      detail::append_json_string(line, standalone);
      line += "}\n";
      results += line;
    } else {
      std::string quoted_sketch;
      detail::append_json_string(quoted_sketch, sketch);
      std::string text = comment(
          "candidate " + std::to_string(i + 1) + " of " + std::to_string(candidates.size()) + ": workload " +
          dag->workload_key() + ", sketch " + quoted_sketch + ", " + std::to_string(dag->flops()) +
          " FLOPs, " + std::to_string(steps.size()) + " steps (Ansor log JSON), function " + function);
      for (StepView step : steps) {
        std::string json;
        io::append_step(json, step);
        text += comment(json);
      }
      if (o.out.empty()) text += source;
      text += '\n';
      results += text;
    }
    if (!o.out.empty() || o.compile) all_source += (i == 0 ? "" : "\n") + source;
  }
  progress.finish();
  if (o.compile) compile_check(all_source, candidates.size());
  if (!o.out.empty()) {
    if (auto ok = io::write_file_atomically(o.out, all_source); !ok) fail(ok.error());
    note("%zu kernel%s written to %s", candidates.size(), candidates.size() == 1 ? "" : "s", o.out.c_str());
  }
  std::cout << results;
}

// ---- replay -------------------------------------------------------------------------------------

inline constexpr std::array<schedule::ReplayCause, schedule::replay_cause_count - 1> failure_causes = {
    schedule::ReplayCause::hashed_key, schedule::ReplayCause::unknown_workload,
    schedule::ReplayCause::bad_key, schedule::ReplayCause::step_refused};

inline void append_counts(std::string& out, const schedule::ReplayReport::Counts& c) {
  out += "\"records\": " + std::to_string(c.records) + ", \"replayed\": " + std::to_string(c.replayed()) +
         ", \"failed_by_cause\": {";
  for (std::size_t i = 0; i < failure_causes.size(); ++i) {
    out += i ? ", \"" : "\"";
    out += to_string(failure_causes[i]);
    out += "\": " + std::to_string(c.by_cause[static_cast<std::size_t>(failure_causes[i])]);
  }
  out += "}";
}

inline void print_replay_json(const schedule::ReplayReport& report, const io::ReadStats& totals,
                              std::size_t files, double per_second) {
  std::string out = "{";
  append_counts(out, report.total);
  out += ", \"by_family\": {";
  bool first = true;
  for (const auto& [family, counts] : report.by_family) {
    out += first ? "" : ", ";
    first = false;
    detail::append_json_string(out, family);
    out += ": {";
    append_counts(out, counts);
    out += "}";
  }
  out += "}, \"first_errors\": {";
  first = true;
  for (const auto& [where, error] : report.first_error) {
    out += first ? "" : ", ";
    first = false;
    detail::append_json_string(out, where);
    out += ": ";
    detail::append_json_string(out, error);
  }
  out += "}, \"files\": " + std::to_string(files) +
         ", \"skipped_lines\": " + std::to_string(totals.skipped_lines) + ", \"records_per_second\": ";
  detail::append_double(out, std::round(per_second));
  out += "}\n";
  std::cout << out;
}

inline void print_replay_table(const schedule::ReplayReport& report, const io::ReadStats& totals,
                               std::size_t files, double per_second) {
  const auto& t = report.total;
  std::printf("files             %zu\n", files);
  std::printf("records           %lld\n", static_cast<long long>(t.records));
  if (totals.skipped_lines) std::printf("skipped lines     %zu (malformed)\n", totals.skipped_lines);
  std::printf("replayed          %lld (%.1f%%)\n", static_cast<long long>(t.replayed()),
              t.records ? 100.0 * static_cast<double>(t.replayed()) / static_cast<double>(t.records) : 0.0);
  std::printf("records/second    %.0f\n", per_second);
  int width = 6;
  for (const auto& entry : report.by_family)
    width = std::max(width, static_cast<int>(entry.first.size()));
  std::printf("\n  %-*s %9s %9s", width, "family", "records", "replayed");
  for (const auto cause : failure_causes)
    std::printf(" %16s", std::string(to_string(cause)).c_str());
  std::printf("\n");
  auto row = [&](const std::string& name, const schedule::ReplayReport::Counts& c) {
    std::printf("  %-*s %9lld %9lld", width, name.empty() ? "(none)" : name.c_str(),
                static_cast<long long>(c.records), static_cast<long long>(c.replayed()));
    for (const auto cause : failure_causes)
      std::printf(" %16lld", static_cast<long long>(c.by_cause[static_cast<std::size_t>(cause)]));
    std::printf("\n");
  };
  for (const auto& [family, counts] : report.by_family)
    row(family, counts);
  row("total", t);
  if (!report.first_error.empty()) {
    std::printf("\nfirst error of each family and cause\n");
    for (const auto& [where, error] : report.first_error)
      std::printf("  %s: %s\n", where.c_str(), error.c_str());
  }
}

/// `--replay LOG --source`: the C++ of the records that replay, grouped by task in the order the tasks
/// first appear (with --top K the K fastest successful records of each, fastest first, else every record
/// in log order), as one translation unit on stdout. Each kernel's comment gives its task, its logged
/// result and its steps; records that do not replay are counted on stderr, the first reason with them.
inline void run_replay_source(const CodegenOptions& o) {
  const auto files = expand_log_paths(o.replay);
  std::vector<std::string> order;                        // workload keys, first appearance first
  std::map<std::string, std::vector<std::pair<std::size_t, Record>>> by_key;  // (record number, record)
  std::size_t number = 0;
  const io::ReadStats totals = for_each_record(files, o.skip_bad, "reading logs", [&](const Record& record) {
    auto& records = by_key[record.task->workload_key];
    if (records.empty()) order.push_back(record.task->workload_key);
    records.emplace_back(++number, record);
  });
  schedule::Replayer replayer;
  std::string results;
  std::size_t kernels = 0, refused = 0;
  std::string first_refusal;
  for (const auto& key : order) {
    auto& records = by_key[key];
    if (o.top > 0) keep_fastest(records, o.top, &std::pair<std::size_t, Record>::second);
    for (const auto& [n, record] : records) {
      auto state = replayer.replay(record);
      auto nest = state ? codegen::lower(*state) : unexpected(state.error());
      if (!nest) {
        if (refused++ == 0) first_refusal = "record " + std::to_string(n) + ": " + nest.error().describe();
        continue;
      }
      codegen::CpuCodegenOptions cpp;
      cpp.function_name = "crosstune_record_" + std::to_string(n);
      cpp.preamble = kernels == 0;
      const double flops = static_cast<double>(state->dag().flops());
      std::string result = "error " + std::string(to_string(record.result.error));
      if (record.result.ok()) {
        char text[96];
        const double seconds = record.result.mean_cost_seconds();
        std::snprintf(text, sizeof text, "%.4f ms", seconds * 1e3);
        result = text;
        if (flops > 0) {
          std::snprintf(text, sizeof text, ", %.1f GFLOP/s", flops / seconds * 1e-9);
          result += text;
        }
      }
      std::string text = comment("record " + std::to_string(n) + ": workload " + key + ", target " +
                                 record.task->target.str() + ", logged " + result + ", function " + cpp.function_name);
      for (StepView step : record.steps) {
        std::string json;
        io::append_step(json, step);
        text += comment(json);
      }
      results += (kernels == 0 ? "" : "\n") + text + codegen::emit_cpp(*nest, cpp);
      ++kernels;
    }
  }
  if (kernels == 0) {
    std::string what = number == 0 ? "the logs hold no records" : "no record replayed";
    if (!first_refusal.empty()) what += " (" + first_refusal + ")";
    fail(Error(ErrorKind::invalid_argument, what, o.replay.front(), 0, 0,
               o.top > 0 ? "--top keeps successful records only" : ""));
  }
  std::cout << results;
  note("%zu kernel%s from %zu record%s", kernels, kernels == 1 ? "" : "s", static_cast<std::size_t>(number),
       number == 1 ? "" : "s");
  if (refused > 0) note("%zu record%s did not replay; the first: %s", refused, refused == 1 ? "" : "s", first_refusal.c_str());
  if (totals.skipped_lines) std::cerr << "crosstune: skipped " << totals.skipped_lines << " malformed lines\n";
}

inline void run_replay(const CodegenOptions& o) {
  const auto files = expand_log_paths(o.replay);
  schedule::Replayer replayer;
  schedule::ReplayReport report;
  const auto start = std::chrono::steady_clock::now();
  const io::ReadStats totals = for_each_record(files, o.skip_bad, "replaying logs", [&](const Record& record) {
    auto state = replayer.replay(record);
    report.add(replayer.last_family(), replayer.last_cause(), state ? nullptr : &state.error());
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double per_second = static_cast<double>(report.total.records) / std::max(seconds, 1e-9);
  if (o.json) {
    print_replay_json(report, totals, files.size(), per_second);
  } else {
    print_replay_table(report, totals, files.size(), per_second);
  }
  if (totals.skipped_lines)
    std::cerr << "crosstune: skipped " << totals.skipped_lines << " malformed lines\n";
}

}  // namespace codegen_detail

/// The options that describe an operator (--op, --shape, --key and the operators' own flags), shared
/// by `crosstune codegen` and `crosstune measure`.
struct OperatorFlags {
  CLI::Option* op;
  CLI::Option* shape;
  CLI::Option* key;
  std::vector<CLI::Option*> op_options;
};
inline OperatorFlags add_operator_flags(CLI::App& app, CodegenOptions& options) {
  using namespace codegen_detail;
  CLI::App* cmd = &app;
  CodegenOptions* o = &options;
  std::vector<std::string> op_names;
  for (const auto& spec : op_specs)
    op_names.emplace_back(spec.name);
  auto* op = cmd->add_option("--op", o->op,
                             "Operator: matmul, dense (--shape M,K,N), batch_matmul (B,M,K,N), conv2d "
                             "(N,CI,H,W,CO,KH,KW), depthwise_conv2d (N,C,H,W,KH,KW), pool2d (N,C,H,W,KH,KW), "
                             "relu, gelu, tanh, sigmoid, exp, negate, softmax, reduce (any shape)")
                 ->check(CLI::IsMember(op_names));
  auto* shape = cmd->add_option("--shape", o->shape, "The operator's sizes, comma-separated (see --op)")
                    ->check(int_list(1, max_extent));
  auto* key =
      cmd->add_option("--key", o->key,
                      "A workload key instead of --op/--shape: crosstune's own, or a named family of the "
                      "public Ansor logs (matmul_layer, conv2d_layer, ...)");
  std::vector<CLI::Option*> op_options = {
      cmd->add_flag("--bias", o->bias, "dense: add a bias vector"),
      cmd->add_option("--activation", o->activation, "dense: none (default), relu or gelu")
          ->check(CLI::IsMember({"none", "relu", "gelu"})),
      cmd->add_option("--stride", o->stride, "conv2d, depthwise_conv2d, pool2d: S or SH,SW (default 1)")
          ->check(int_list(1, max_extent, {1, 2})),
      cmd->add_option("--padding", o->padding,
                      "conv2d, depthwise_conv2d, pool2d: P, PH,PW or TOP,LEFT,BOTTOM,RIGHT (default 0)")
          ->check(int_list(0, max_extent, {1, 2, 4})),
      cmd->add_option("--dilation", o->dilation, "conv2d, depthwise_conv2d, pool2d: D or DH,DW (default 1)")
          ->check(int_list(1, max_extent, {1, 2})),
      cmd->add_option("--layout", o->layout, "conv2d, depthwise_conv2d, pool2d: NCHW (default) or NHWC")
          ->check(CLI::IsMember({"NCHW", "NHWC"})),
      cmd->add_option("--groups", o->groups, "conv2d: channel groups (default 1)")
          ->check(count_in(1, max_extent)),
      cmd->add_option("--multiplier", o->multiplier, "depthwise_conv2d: filters per channel (default 1)")
          ->check(count_in(1, max_extent)),
      cmd->add_option("--pool", o->pool, "pool2d: max (default) or avg")
          ->check(CLI::IsMember({"max", "avg"})),
      cmd->add_option("--axis", o->axis, "softmax: the axis, negative from the end (default -1)")
          ->check(int_list(-64, 63, {1})),
      cmd->add_option("--reduce-op", o->reduce_op, "reduce: sum (default), max, min or mean")
          ->check(CLI::IsMember({"sum", "max", "min", "mean"})),
      cmd->add_option("--axes", o->axes,
                      "reduce: the axes, comma-separated, negative from the end (default -1)")
          ->check(int_list(-64, 63)),
      cmd->add_flag("--keepdims", o->keepdims, "reduce: keep the reduced axes with extent 1"),
  };
  return {op, shape, key, op_options};
}

inline void add_codegen_command(CLI::App& app) {
  using namespace codegen_detail;
  auto o = std::make_shared<CodegenOptions>();
  auto* cmd = app.add_subcommand(
      "codegen",
      "Sample schedules of an operator (--op/--shape or --key) and print their steps and C++, or replay "
      "tuning logs onto compute DAGs (--replay)");
  auto [op, shape, key, op_options] = add_operator_flags(*cmd, *o);
  auto* random = cmd->add_option("--random", o->random, "Distinct random candidates to generate (default 1)")
                     ->check(count_in(1, 10000));
  auto* seed = cmd->add_option("--seed", o->seed, "Random seed (default 0)")->check(count_in(0, UINT64_MAX));
  auto* cores =
      cmd->add_option("--cores", o->cores, "Cores the schedules parallelise for (default: this machine's)")
          ->check(count_in(1, 1u << 16));
  auto* out =
      cmd->add_option("--out", o->out, "Write the C++ to this file instead of stdout (steps stay on stdout)");
  auto* compile =
      cmd->add_flag("--compile", o->compile,
                    "Also compile the kernels (c++ -O3 -march=native -fopenmp -mprefer-vector-width=512) in a temporary folder; "
                    "exit 1 if they do not build");
  auto* replay =
      cmd->add_option("--replay", o->replay,
                      "Replay these logs (files or folders, plain or gzip) onto the DAGs their workload "
                      "keys name, and count the records that replay, by family and cause")
          ->check(CLI::ExistingPath);
  auto* skip_bad = cmd->add_flag("--skip-bad", o->skip_bad,
                                 "--replay: skip malformed lines (reported on stderr) instead of stopping");
  auto* source = cmd->add_flag("--source", o->source,
                               "--replay: print the C++ of every record that replays (one translation unit) "
                               "instead of the counts");
  auto* top = cmd->add_option("--top", o->top, "--source: only the K fastest successful records of each task")
                  ->check(count_in(1, 1000000));
  cmd->add_flag(
      "--json", o->json,
      "One JSON object per candidate (workload_key, sketch, flops, steps, function, source), or for "
      "--replay one object (records, replayed, failed_by_cause, by_family, ...)");
  op->needs(shape);
  shape->needs(op);
  op->excludes(key);
  for (auto* generation : {op, shape, key, random, seed, cores, out, compile})
    replay->excludes(generation);
  for (auto* flag : op_options)
    replay->excludes(flag);
  skip_bad->needs(replay);
  source->needs(replay);
  top->needs(source);
  source->excludes("--json");
  cmd->callback([o, cmd] {
    check_generation_flags(*cmd, *o);
    if (o->source) {
      run_replay_source(*o);
    } else if (!o->replay.empty()) {
      run_replay(*o);
    } else {
      run_generate(*o);
    }
  });
}

}  // namespace crosstune::cli
