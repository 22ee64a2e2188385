// The parallel Builder: kernels share translation units, a unit that fails is rebuilt kernel by kernel
// so that only the broken kernel is blamed, a hanging compiler is stopped at the time limit, and several
// compilers run at once.
#include "crosstune/measure/builder.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <atomic>
#include <thread>
#include <vector>

#include "measure_support.hpp"
#include "test_support.hpp"

using namespace crosstune;
using measure::BuildOptions;
using measure::Builder;
using measure::KernelSource;

namespace {
/// A kernel that writes `value` to a[0][0].
KernelSource writes(const std::string& entry, int value, const std::string& preamble = "") {
  std::string body = "extern \"C\" void ";
  body += entry;
  body += "(float* const* a) { a[0][0] = ";
  body += std::to_string(value);
  body += "; }\n";
  return KernelSource{preamble, body, entry};
}

/// "k3" (built with +=: GCC 12 warns falsely about "literal" + std::to_string).
std::string numbered(const char* prefix, int i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

/// Loads `entry` from `library` and returns what it writes to a[0][0].
float call(const std::filesystem::path& library, const std::string& entry) {
  auto lib = measure::SharedLibrary::open(library);
  REQUIRE_MESSAGE(lib.has_value(), lib.error().describe());
  auto f = lib->function<void(float* const*)>(entry);
  REQUIRE(f.has_value());
  float out = -1;
  float* args[] = {&out};
  (*f)(args);
  return out;
}

std::string build_refusal(const BuildOptions& options) {
  auto ok = options.validate();
  REQUIRE_FALSE(ok.has_value());
  CHECK(ok.error().kind == ErrorKind::invalid_argument);
  auto made = Builder::make(options);
  REQUIRE_FALSE(made.has_value());
  CHECK(made.error().message == ok.error().message);
  return ok.error().message;
}
}  // namespace

TEST_CASE("build options need a folder and at least one kernel per unit") {
  CHECK(build_refusal({}) == "measure::BuildOptions: work_dir is empty");
  CHECK(build_refusal({.work_dir = "/tmp", .kernels_per_unit = 0}) == "measure::BuildOptions: kernels_per_unit must be at least 1");
  CHECK(BuildOptions{.work_dir = "x"}.validate().has_value());
  const BuildOptions defaults;
  CHECK(defaults.kernels_per_unit == 4);
  CHECK(defaults.timeout_s == 60);
  CHECK(defaults.jobs == 0);
  CHECK_FALSE(defaults.keep_files);
}

TEST_CASE("make creates the folder, refuses one it cannot create, and turns jobs 0 into one per hardware thread") {
  const test::TempDir dir;
  auto builder = Builder::make({.work_dir = dir / "a" / "b"});
  REQUIRE(builder.has_value());
  CHECK(std::filesystem::is_directory(dir / "a" / "b"));
  CHECK(builder->options().jobs == std::max(1u, std::thread::hardware_concurrency()));
  CHECK(Builder::make({.work_dir = dir.path(), .jobs = 3})->options().jobs == 3);
  test::write_file(dir / "file", "not a folder");
  auto refused = Builder::make({.work_dir = dir / "file" / "sub"});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::io);
  CHECK(refused.error().message.find("cannot create the build folder") != std::string::npos);
}

TEST_CASE("nothing to build gives no verdicts") {
  const test::TempDir dir;
  auto builder = Builder::make({.work_dir = dir.path()}).value();
  CHECK(builder.build({}).empty());
}

TEST_CASE("kernels share units of kernels_per_unit; each verdict names its library and entry and a share of the time") {
  const test::TempDir dir;
  auto builder = Builder::make({.work_dir = dir.path(), .jobs = 1, .kernels_per_unit = 3}).value();
  std::vector<KernelSource> kernels;
  for (int i = 0; i < 7; ++i) kernels.push_back(writes(numbered("k", i), 10 + i));
  const auto built = builder.build(kernels);
  REQUIRE(built.size() == 7);
  for (std::size_t i = 0; i < built.size(); ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(built[i].ok(), built[i].message);
    CHECK(built[i].entry == kernels[i].entry);
    CHECK(built[i].message.empty());
    CHECK(built[i].seconds > 0);
    CHECK(call(built[i].library, built[i].entry) == 10.0f + static_cast<float>(i));
  }
  // Units {0,1,2}, {3,4,5}, {6}: one library each, the unit's time shared equally.
  CHECK(built[0].library == built[1].library);
  CHECK(built[1].library == built[2].library);
  CHECK(built[3].library == built[5].library);
  CHECK(built[2].library != built[3].library);
  CHECK(built[5].library != built[6].library);
  CHECK(built[0].seconds == built[2].seconds);
  CHECK(std::set<std::filesystem::path>{built[0].library, built[3].library, built[6].library}.size() == 3);
  for (const auto& b : built) CHECK(b.library.parent_path() == dir.path());
}

TEST_CASE("one broken kernel in a unit: only it gets compile_host with the compiler's words, the others build") {
  for (const bool keep : {false, true}) {
    CAPTURE(keep);
    const test::TempDir dir;
    auto builder = Builder::make({.work_dir = dir.path(), .jobs = 2, .kernels_per_unit = 4, .keep_files = keep}).value();
    std::vector<KernelSource> kernels = {writes("k0", 0), writes("k1", 1), writes("k2", 2), writes("k3", 3)};
    kernels[2].body = "extern \"C\" void k2(float* const* a) { a[0][0] = undeclared_thing; }\n";
    const auto built = builder.build(kernels);
    REQUIRE(built.size() == 4);
    CHECK(built[2].error == ErrorCode::compile_host);
    CHECK(built[2].message.find("undeclared_thing") != std::string::npos);
    CHECK(built[2].message.find("error") != std::string::npos);
    CHECK(built[2].entry.empty());
    // Its source and the compiler's log stay next to the library that was not built.
    CHECK_FALSE(std::filesystem::exists(built[2].library));
    CHECK(std::filesystem::exists(std::filesystem::path(built[2].library).replace_extension(".cpp")));
    CHECK(std::filesystem::exists(std::filesystem::path(built[2].library).replace_extension(".log")));
    std::set<std::filesystem::path> libraries;
    for (std::size_t i : {0u, 1u, 3u}) {
      CAPTURE(i);
      REQUIRE_MESSAGE(built[i].ok(), built[i].message);
      CHECK(call(built[i].library, built[i].entry) == static_cast<float>(i));
      libraries.insert(built[i].library);
    }
    CHECK(libraries.size() == 3);  // rebuilt one by one
    // The unit that failed as a whole (a source with no library, other than the broken kernel's own) is
    // removed unless its files are kept.
    std::size_t unit_sources = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      if (e.path().extension() != ".cpp") continue;
      auto library = e.path();
      library.replace_extension(".so");
      if (!std::filesystem::exists(library) && library != built[2].library) ++unit_sources;
    }
    CHECK(unit_sources == (keep ? 1u : 0u));
  }
}

TEST_CASE("kernels with the same entry name, or different preambles, go to separate units") {
  const test::TempDir dir;
  auto builder = Builder::make({.work_dir = dir.path(), .jobs = 1, .kernels_per_unit = 8}).value();
  const std::vector<KernelSource> kernels = {writes("k", 1), writes("k", 2), writes("j", 3),
                                             writes("i", 4, "static int helper = 4;\n"), writes("h", 5, "static int helper = 4;\n")};
  const auto built = builder.build(kernels);
  REQUIRE(built.size() == 5);
  for (std::size_t i = 0; i < built.size(); ++i) {
    CAPTURE(i);
    REQUIRE_MESSAGE(built[i].ok(), built[i].message);
    CHECK(call(built[i].library, built[i].entry) == static_cast<float>(i + 1));
  }
  CHECK(built[0].library != built[1].library);  // both define k
  CHECK(built[1].library == built[2].library);  // k and j can share
  CHECK(built[2].library != built[3].library);  // another preamble
  CHECK(built[3].library == built[4].library);
}

TEST_CASE("a kernel whose compiler hangs gets build_timeout; the rest of its unit builds; nothing is left running") {
  const test::TempDir dir;
  REQUIRE(test::make_fifo(dir / "fifo"));
  auto builder = Builder::make({.work_dir = dir.path(), .jobs = 2, .kernels_per_unit = 3, .timeout_s = 1}).value();
  std::vector<KernelSource> kernels = {writes("k0", 0), writes("k1", 1), writes("k2", 2)};
  kernels[1].body = test::hanging_include(dir / "fifo") + kernels[1].body;
  const auto start = std::chrono::steady_clock::now();
  const auto built = builder.build(kernels);
  const double seconds = test::seconds_since(start);
  REQUIRE(built.size() == 3);
  CHECK(built[1].error == ErrorCode::build_timeout);
  CHECK(built[1].message.find("ran past the 1 s build time limit and was stopped") != std::string::npos);
  CHECK(built[1].seconds >= 1);
  CHECK(built[0].ok());
  CHECK(built[2].ok());
  CHECK(call(built[2].library, "k2") == 2.0f);
  CHECK(seconds >= 2);  // the unit, then the kernel alone
  CHECK(seconds < 8);
  CHECK(test::no_process_mentions(dir.path().string() + "/"));
}

TEST_CASE("up to `jobs` compilers run at once") {
  const test::TempDir dir;
  SUBCASE("eight kernels, two at a time, all built") {
    auto builder = Builder::make({.work_dir = dir.path(), .jobs = 2, .kernels_per_unit = 1}).value();
    std::vector<KernelSource> kernels;
    for (int i = 0; i < 8; ++i) kernels.push_back(writes(numbered("k", i), i));
    const auto built = builder.build(kernels);
    REQUIRE(built.size() == 8);
    std::set<std::filesystem::path> libraries;
    for (std::size_t i = 0; i < built.size(); ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(built[i].ok(), built[i].message);
      CHECK(call(built[i].library, built[i].entry) == static_cast<float>(i));
      libraries.insert(built[i].library);
    }
    CHECK(libraries.size() == 8);
  }
  SUBCASE("two hanging compilers: side by side with jobs 2, one after the other with jobs 1") {
    // Blocked compilers use no CPU, so the wall time shows the parallelism even on a busy machine.
    REQUIRE(test::make_fifo(dir / "fifo"));
    std::vector<KernelSource> kernels = {writes("k0", 0), writes("k1", 1)};
    for (auto& k : kernels) k.body = test::hanging_include(dir / "fifo") + k.body;
    for (const std::size_t jobs : {std::size_t{2}, std::size_t{1}}) {
      CAPTURE(jobs);
      auto builder = Builder::make({.work_dir = dir.path(), .jobs = jobs, .kernels_per_unit = 1, .timeout_s = 0.6}).value();
      const auto start = std::chrono::steady_clock::now();
      const auto built = builder.build(kernels);
      const double seconds = test::seconds_since(start);
      CHECK(built[0].error == ErrorCode::build_timeout);
      CHECK(built[1].error == ErrorCode::build_timeout);
      if (jobs == 2) {
        CHECK(seconds < 1.15);
      } else {
        CHECK(seconds >= 1.2);
      }
    }
    CHECK(test::no_process_mentions(dir.path().string() + "/"));
  }
}

TEST_CASE("a compiler that cannot be started is every kernel's compile_host, not a failed build") {
  const test::TempDir dir;
  BuildOptions options{.work_dir = dir.path(), .kernels_per_unit = 2};
  options.compile.compiler = "no-such-compiler-crosstune";
  auto builder = Builder::make(options).value();
  const auto built = builder.build(std::vector<KernelSource>{writes("k0", 0), writes("k1", 1), writes("k2", 2)});
  REQUIRE(built.size() == 3);
  for (const auto& b : built) {
    CHECK(b.error == ErrorCode::compile_host);
    CHECK(b.message.find("cannot run the compiler 'no-such-compiler-crosstune'") != std::string::npos);
  }
}

TEST_CASE("the stop flag kills the compilers running; the kernels not built get unknown_error") {
  const test::TempDir dir;
  REQUIRE(test::make_fifo(dir / "fifo"));
  auto builder = Builder::make({.work_dir = dir.path(), .jobs = 1, .kernels_per_unit = 1, .timeout_s = 60}).value();
  std::vector<KernelSource> kernels = {writes("k0", 0), writes("k1", 1), writes("k2", 2)};
  kernels[1].body = test::hanging_include(dir / "fifo") + kernels[1].body;  // hangs until stopped
  std::atomic<bool> stop{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    stop.store(true);
  });
  const auto start = std::chrono::steady_clock::now();
  const auto built = builder.build(kernels, &stop);
  const double seconds = test::seconds_since(start);
  stopper.join();
  REQUIRE(built.size() == 3);
  CHECK_MESSAGE(built[0].ok(), built[0].message);
  for (std::size_t k : {1u, 2u}) {
    CAPTURE(k);
    CHECK(built[k].error == ErrorCode::unknown_error);
    CHECK(built[k].message == "stopped before it was built");
  }
  CHECK(seconds < 10);  // not the 60 s limit
  CHECK(test::no_process_mentions(dir.path().string() + "/"));
}
