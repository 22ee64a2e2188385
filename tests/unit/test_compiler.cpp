// The minimal build: compile C++ into a shared library and load its functions; failures carry the
// compiler's or the loader's own words. A compiler that hangs (a real one, blocked on a FIFO it
// includes) is stopped at the time limit with every process it started.
#include "crosstune/measure/compiler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "measure_support.hpp"
#include "test_support.hpp"

using namespace crosstune;

TEST_CASE("a source compiles into a library whose functions can be called") {
  const test::TempDir dir;
  const std::string source = "extern \"C\" int twice(int x) { return 2 * x; }\n";
  auto built = measure::compile_shared_library(source, dir / "twice.so");
  REQUIRE_MESSAGE(built.has_value(), built.error().describe());
  CHECK(std::filesystem::exists(dir / "twice.cpp"));
  auto library = measure::SharedLibrary::open(dir / "twice.so").value();
  auto twice = library.function<int(int)>("twice").value();
  CHECK(twice(21) == 42);
  auto missing = library.function<int(int)>("thrice");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().message.find("no function 'thrice'") != std::string::npos);
  measure::SharedLibrary moved = std::move(library);
  CHECK(moved.function<int(int)>("twice").has_value());
}

TEST_CASE("a compile error reports the compiler's message") {
  const test::TempDir dir;
  auto built = measure::compile_shared_library("extern \"C\" void broken( { }\n", dir / "broken.so");
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().kind == ErrorKind::backend);
  CHECK(built.error().message.find("broken.cpp") != std::string::npos);
  CHECK(built.error().message.find("error") != std::string::npos);
}

TEST_CASE("a missing compiler or library is an error, not a crash") {
  const test::TempDir dir;
  measure::CompileOptions options;
  options.compiler = "no-such-compiler-crosstune";
  auto built = measure::compile_shared_library("int x;\n", dir / "x.so", options);
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().message.find("cannot run the compiler") != std::string::npos);
  auto opened = measure::SharedLibrary::open(dir / "absent.so");
  REQUIRE_FALSE(opened.has_value());
  CHECK(opened.error().message.find("cannot load") != std::string::npos);
}

namespace {
bool has_flag(const std::vector<std::string>& args, const std::string& flag) {
  return std::find(args.begin(), args.end(), flag) != args.end();
}
}  // namespace

TEST_CASE("the compile command carries the optimisation, the target and OpenMP") {
  measure::CompileOptions options;
  options.march = "znver4";
  const auto args = measure::compile_command(options, "k.cpp", "k.so");
  auto has = [&](const std::string& a) { return std::find(args.begin(), args.end(), a) != args.end(); };
  CHECK(has("-O3"));
  CHECK(has("-march=znver4"));
  CHECK(has("-fopenmp"));
  options.openmp = false;
  CHECK(has_flag(measure::compile_command(options, "k.cpp", "k.so"), "-fopenmp-simd"));
  CHECK(has("-shared"));
  CHECK(args.back() == "k.so");
}

TEST_CASE("kernels are built for the target's widest vectors unless told otherwise") {
  measure::CompileOptions options;
  options.march = "sapphirerapids";  // GCC's tuning for it alone would keep loops at 256 bits
  CHECK(has_flag(measure::compile_command(options, "k.cpp", "k.so"), "-mprefer-vector-width=512"));
  options.prefer_vector_width = 256;
  CHECK(has_flag(measure::compile_command(options, "k.cpp", "k.so"), "-mprefer-vector-width=256"));
  options.prefer_vector_width = 0;
  for (const auto& arg : measure::compile_command(options, "k.cpp", "k.so")) CHECK(arg.find("prefer-vector-width") == std::string::npos);
}

TEST_CASE("a target's -mcpu becomes -march; without one the host's") {
  CHECK(measure::CompileOptions::for_target(Target("llvm -mcpu=icelake-server -num-cores 8")).march == "icelake-server");
  CHECK(measure::CompileOptions::for_target(Target("llvm -keys=cpu")).march == "native");
}

TEST_CASE("seconds_text and join_command write times and command lines as short text") {
  CHECK(measure::seconds_text(10) == "10");
  CHECK(measure::seconds_text(0.5) == "0.5");
  CHECK(measure::join_command({"c++", "-O3", "k.cpp"}) == "c++ -O3 k.cpp");
  CHECK(measure::join_command({}).empty());
}

namespace {
/// Waits until the compiler driver and the compiler proper it starts (g++'s cc1plus) both mention
/// `needle`; true when at least the driver does (a driver that compiles in its own process, as clang's
/// does, is one process).
bool compiler_running(const std::string& needle) {
  const auto start = std::chrono::steady_clock::now();
  while (test::processes_mentioning(needle).size() < 2 && test::seconds_since(start) < 2)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return !test::processes_mentioning(needle).empty();
}

/// A shell script in `dir` standing in for the compiler.
std::string fake_compiler(const test::TempDir& dir, const std::string& name, const std::string& script) {
  const auto path = dir / name;
  test::write_file(path, "#!/bin/sh\n" + script + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}
}  // namespace

TEST_CASE("a compile job runs to success without blocking; its status and time then stay put") {
  const test::TempDir dir;
  auto job = measure::CompileJob::start("extern \"C\" int one() { return 1; }\n", dir / "one.so", {}, 60);
  REQUIRE_MESSAGE(job.has_value(), job.error().describe());
  CHECK(job->source_file() == dir / "one.cpp");
  CHECK(std::filesystem::exists(dir / "one.cpp"));
  CHECK(job->wait() == measure::CompileJob::Status::succeeded);
  CHECK(job->status() == measure::CompileJob::Status::succeeded);
  CHECK(job->poll() == measure::CompileJob::Status::succeeded);
  const double seconds = job->seconds();
  CHECK(seconds > 0);
  CHECK(job->seconds() == seconds);
  CHECK(job->messages().empty());  // -w: a clean build says nothing
  CHECK(std::filesystem::exists(dir / "one.so"));
  CHECK(std::filesystem::exists(dir / "one.log"));
}

TEST_CASE("a failed compile job keeps the compiler's messages, cut to the limit asked for") {
  const test::TempDir dir;
  auto job = measure::CompileJob::start("extern \"C\" int one() { return missing_name; }\n", dir / "bad.so", {});
  REQUIRE(job.has_value());
  CHECK(job->wait() == measure::CompileJob::Status::failed);
  CHECK(job->messages().find("missing_name") != std::string::npos);
  CHECK(job->messages().find("error") != std::string::npos);
  CHECK(job->messages(10).size() == 10);
  CHECK_FALSE(std::filesystem::exists(dir / "bad.so"));
}

TEST_CASE("a compiler killed by a signal is a failure that says which signal") {
  const test::TempDir dir;
  measure::CompileOptions options;
  options.compiler = fake_compiler(dir, "crashing-cc", "echo 'about to crash' >&2\nkill -SEGV $$");
  auto job = measure::CompileJob::start("int x;\n", dir / "x.so", options);
  REQUIRE(job.has_value());
  CHECK(job->wait() == measure::CompileJob::Status::failed);
  CHECK(job->messages() == "(the compiler was killed by signal 11)\nabout to crash\n");
  auto built = measure::compile_shared_library("int x;\n", dir / "y.so", options);
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().message.find("killed by signal 11") != std::string::npos);
}

TEST_CASE("a job that cannot write its source is an io error, before any compiler runs") {
  const test::TempDir dir;
  auto job = measure::CompileJob::start("int x;\n", dir / "no-such-folder" / "x.so", {});
  REQUIRE_FALSE(job.has_value());
  CHECK(job.error().kind == ErrorKind::io);
  CHECK(job.error().message.find("cannot write") != std::string::npos);
  CHECK(job.error().message.find("no-such-folder") != std::string::npos);
}

TEST_CASE("a real compiler that hangs is stopped at the time limit, with every process it started") {
  const test::TempDir dir;
  REQUIRE(test::make_fifo(dir / "never-written"));
  const std::string needle = dir.path().string() + "/";
  const auto start = std::chrono::steady_clock::now();
  auto built = measure::compile_shared_library(test::hanging_include(dir / "never-written"), dir / "hang.so", {}, 1);
  const double seconds = test::seconds_since(start);
  REQUIRE_FALSE(built.has_value());
  CHECK(built.error().kind == ErrorKind::backend);
  CHECK(built.error().message.find("hang.cpp took longer than the 1 s time limit; the compiler was stopped") != std::string::npos);
  CHECK(built.error().hint.find("raise the build timeout") != std::string::npos);
  CHECK(seconds >= 1);
  CHECK(seconds < 5);
  CHECK(test::no_process_mentions(needle));  // g++ and its cc1plus, which blocked on the FIFO, are gone
}

TEST_CASE("a compile job can be killed, and polling stops it at its time limit") {
  const test::TempDir dir;
  REQUIRE(test::make_fifo(dir / "fifo"));
  const std::string needle = dir.path().string() + "/";
  {
    auto job = measure::CompileJob::start(test::hanging_include(dir / "fifo"), dir / "a.so", {});
    REQUIRE(job.has_value());
    REQUIRE(compiler_running(needle));
    CHECK(job->poll() == measure::CompileJob::Status::running);
    CHECK(job->status() == measure::CompileJob::Status::running);
    job->kill();
    CHECK(job->status() == measure::CompileJob::Status::timed_out);
    CHECK(test::no_process_mentions(needle));
    job->kill();  // a second kill does nothing
    CHECK(job->poll() == measure::CompileJob::Status::timed_out);
  }
  {
    auto job = measure::CompileJob::start(test::hanging_include(dir / "fifo"), dir / "b.so", {}, 0.3);
    REQUIRE(job.has_value());
    const auto start = std::chrono::steady_clock::now();
    while (job->poll() == measure::CompileJob::Status::running && test::seconds_since(start) < 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    CHECK(job->status() == measure::CompileJob::Status::timed_out);
    CHECK(job->seconds() >= 0.3);
    CHECK(test::no_process_mentions(needle));
  }
}

TEST_CASE("a running job is killed when its CompileJob goes, also after being moved") {
  const test::TempDir dir;
  REQUIRE(test::make_fifo(dir / "fifo"));
  const std::string needle = dir.path().string() + "/";
  {
    auto job = measure::CompileJob::start(test::hanging_include(dir / "fifo"), dir / "a.so", {});
    REQUIRE(job.has_value());
    REQUIRE(compiler_running(needle));
  }
  CHECK(test::no_process_mentions(needle));
  {
    auto job = measure::CompileJob::start(test::hanging_include(dir / "fifo"), dir / "b.so", {});
    REQUIRE(job.has_value());
    measure::CompileJob moved = std::move(*job);
    REQUIRE(compiler_running(needle));
    CHECK(moved.poll() == measure::CompileJob::Status::running);
    // Assigning over a running job kills it; the one assigned keeps running.
    auto other = measure::CompileJob::start("int x;\n", dir / "c.so", {});
    REQUIRE(other.has_value());
    moved = std::move(*other);
    CHECK(test::no_process_mentions((dir / "b.cpp").string()));
    CHECK(moved.wait() == measure::CompileJob::Status::succeeded);
  }
  CHECK(test::no_process_mentions(needle));
}
