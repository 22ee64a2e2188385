// The minimal build: compile C++ into a shared library and load its functions; failures carry the
// compiler's or the loader's own words.
#include "crosstune/measure/compiler.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

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

TEST_CASE("a target's -mcpu becomes -march; without one the host's") {
  CHECK(measure::CompileOptions::for_target(Target("llvm -mcpu=icelake-server -num-cores 8")).march == "icelake-server");
  CHECK(measure::CompileOptions::for_target(Target("llvm -keys=cpu")).march == "native");
}
