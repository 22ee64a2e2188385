// The LocalMeasurer keeps going through bad candidates of every kind (each gets its error code and the
// next good one is measured), logs one Ansor record per candidate with its provenance, and stops early
// only for the reasons it names: too many failures in a row, nothing but time-outs, the stop flag, a
// record it cannot log.
#include "crosstune/measure/local_measurer.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "crosstune/io/log_reader.hpp"
#include "crosstune/io/log_writer.hpp"
#include "measure_support.hpp"
#include "test_support.hpp"

using namespace crosstune;
using measure::BatchResult;
using measure::Candidate;
using measure::LocalMeasurer;
using measure::LocalMeasurerOptions;
using measure::Measurement;
using measure::MeasureTask;

namespace {
/// "name3" (built with +=: GCC 12 warns falsely about "literal" + std::to_string).
std::string numbered(const char* prefix, std::size_t i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

/// Quick settings: two compilers, a short time limit, two repeats; the log in `dir`.
LocalMeasurerOptions quick_options(const test::TempDir& dir, double timeout_s = 0.5) {
  LocalMeasurerOptions o;
  o.build.work_dir = dir / "build";
  o.build.jobs = 2;
  o.run.timeout_s = timeout_s;
  o.run.timing.repeat = 2;
  o.log = dir / "log.json";
  return o;
}

MeasureTask kernel_task(std::uint64_t seed = 1) {
  return MeasureTask{.signature = test::doubling_signature(), .seed = seed, .reference = test::kernel("reference", test::right_body)};
}

/// A candidate named `entry` with `body`, logged under `task` with one split step (its own `entry`-long
/// extent, so each record is recognisable).
Candidate candidate(const std::string& entry, const std::string& body, std::shared_ptr<const Task> task = test::record_task()) {
  Candidate c;
  c.kernel = test::kernel(entry, body);
  c.record.task = std::move(task);
  const std::int64_t lengths[] = {8};
  c.record.steps.add_split(0, 0, static_cast<std::int64_t>(entry.size()), lengths, true);
  return c;
}

/// A candidate whose library builds but lacks its entry: a failure that costs almost nothing.
Candidate missing_entry(std::size_t i) {
  Candidate c;
  c.kernel = measure::KernelSource{test::kernel_preamble, "", numbered("missing_", i)};
  c.record.task = test::record_task();
  return c;
}

LocalMeasurer make_measurer(const LocalMeasurerOptions& options, const MeasureTask& task = kernel_task()) {
  auto m = LocalMeasurer::make(options);
  REQUIRE_MESSAGE(m.has_value(), m.error().describe());
  auto set = m->set_task(task);
  REQUIRE_MESSAGE(set.has_value(), set.error().describe());
  return std::move(*m);
}


std::size_t count(const measure::FailureReport& report, ErrorCode code) { return report.by_code[static_cast<std::size_t>(code)].count; }

using crosstune::test::contains;

/// Files the builds left in `dir` (sources, logs, libraries).
std::size_t build_files_in(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    n += ext == ".so" || ext == ".cpp" || ext == ".log" ? 1 : 0;
  }
  return n;
}
}  // namespace

TEST_CASE("options: Ansor's 150 failures in a row, eight time-outs before a diagnosis; invalid ones are refused") {
  const LocalMeasurerOptions defaults;
  CHECK(defaults.max_consecutive_failures == 150);
  CHECK(defaults.timeouts_before_diagnosis == 8);
  CHECK(measure::failed_cost_seconds == 1e10);
  const test::TempDir dir;
  auto no_failures = quick_options(dir);
  no_failures.max_consecutive_failures = 0;
  auto refused = LocalMeasurer::make(no_failures);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message == "measure::LocalMeasurerOptions: max_consecutive_failures must be at least 1");
  auto bad_run = quick_options(dir);
  bad_run.run.timeout_s = 0;
  CHECK(LocalMeasurer::make(bad_run).error().message == "measure::RunOptions: timeout_s must be a positive time of at most 10^6 s");
  auto bad_build = quick_options(dir);
  bad_build.build.kernels_per_unit = 0;
  CHECK(LocalMeasurer::make(bad_build).error().message == "measure::BuildOptions: kernels_per_unit must be at least 1");
  auto bad_log = quick_options(dir);
  bad_log.log = dir / "no-such-folder" / "log.json";
  auto unloggable = LocalMeasurer::make(bad_log);
  REQUIRE_FALSE(unloggable.has_value());
  CHECK(contains(unloggable.error().describe(), "no-such-folder"));
}

TEST_CASE("every kind of bad candidate gets its error code, and the good candidate after it is measured") {
  const test::TempDir dir;
  auto measurer = make_measurer(quick_options(dir));
  CHECK(measurer.reference_seconds() > 0);
  struct Case {
    std::string entry, body;
    ErrorCode error;
    std::string message;  // a part of it
  };
  const bool overflows = test::huge_stack_overflows();
  const std::vector<Case> bad = {
      {"segfault", test::segfault_body, ErrorCode::runtime_device, "the worker died of SIGSEGV (segmentation fault)"},
      {"endless", test::endless_body, ErrorCode::run_timeout, "ran past the 0.5 s time limit"},
      {"aborts", test::abort_body, ErrorCode::runtime_device, "the worker died of SIGABRT (aborted)"},
      {"wrong", test::wrong_body, ErrorCode::wrong_answer, "output 'B': element "},
      {"unwritten", test::unwritten_body, ErrorCode::wrong_answer, "output 'B': element 255 is nan where "},
      {"not_cpp", test::not_cpp_body, ErrorCode::compile_host, "error"},
      {"huge_stack", test::huge_stack_body, overflows ? ErrorCode::runtime_device : ErrorCode::no_error,
       overflows ? "the worker died of SIGSEGV (segmentation fault)" : ""},
      {"exits", test::exit_body, ErrorCode::runtime_device, "exit status 3"},
  };
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < bad.size(); ++i) {
    candidates.push_back(candidate(numbered("good", i), i % 2 == 0 ? test::right_body : test::also_right_body));
    candidates.push_back(candidate(bad[i].entry, bad[i].body));
  }
  candidates.push_back(candidate("last", test::right_body));
  std::vector<std::size_t> reported;
  const BatchResult batch = measurer.measure(candidates, [&](std::size_t i, const Measurement& m) {
    reported.push_back(i);
    CHECK(m.record.steps == candidates[i].record.steps);
  });
  CHECK_FALSE(batch.stopped());
  CHECK_FALSE(batch.interrupted);
  REQUIRE(batch.measurements.size() == candidates.size());
  CHECK(reported.size() == candidates.size());
  for (std::size_t i = 0; i < reported.size(); ++i) CHECK(reported[i] == i);
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Measurement& m = batch.measurements[i];
    CAPTURE(candidates[i].kernel.entry);
    CHECK(m.build_seconds > 0);
    if (i % 2 == 0) {  // a good one, right after a bad one (or first)
      CHECK_MESSAGE(m.ok(), m.message);
      REQUIRE(m.timing.costs_seconds.size() == 2);
      for (double c : m.timing.costs_seconds) CHECK(c > 0);
      CHECK(m.record.result.costs_seconds == m.timing.costs_seconds);
      CHECK(m.run_seconds > 0);
    } else {
      const Case& c = bad[i / 2];
      CHECK(m.record.result.error == c.error);
      CHECK_MESSAGE(contains(m.message, c.message), m.message);
      if (c.error != ErrorCode::no_error) CHECK(m.record.result.costs_seconds == std::vector<double>{1e10});
    }
    CHECK(m.record.result.all_cost_seconds >= m.build_seconds);
    CHECK(m.record.version == measurer.provenance().version_string());
  }
  const auto& failures = measurer.failures();
  CHECK(count(failures, ErrorCode::runtime_device) == (overflows ? 4u : 3u));
  CHECK(count(failures, ErrorCode::run_timeout) == 1);
  CHECK(count(failures, ErrorCode::wrong_answer) == 2);
  CHECK(count(failures, ErrorCode::compile_host) == 1);
  CHECK(failures.failures() == (overflows ? 8u : 7u));
  // One record per candidate, in order, as judged.
  const auto records = test::read_log(dir / "log.json");
  REQUIRE(records.size() == candidates.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    CAPTURE(i);
    CHECK(records[i].task->workload_key == candidates[i].record.task->workload_key);
    CHECK(records[i].steps == candidates[i].record.steps);
    CHECK(records[i].result.error == batch.measurements[i].record.result.error);
    CHECK(records[i].version == batch.measurements[i].record.version);
    if (records[i].result.ok()) {
      REQUIRE(records[i].result.costs_seconds.size() == 2);
      CHECK(records[i].result.costs_seconds[0] == doctest::Approx(batch.measurements[i].timing.costs_seconds[0]).epsilon(1e-6));
    } else {
      CHECK(records[i].result.costs_seconds == std::vector<double>{1e10});
    }
  }
  // The builds are cleaned up (only the reference outputs stay while the measurer lives).
  CHECK(build_files_in(dir / "build") == 0);
}

TEST_CASE("records carry the provenance in \"v\": the format version, then the compiler, flags and timing settings") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.run.threads = 1;
  options.run.timing.min_repeat_ms = 2.5;
  options.run.timing.flush_cache = true;
  options.run.timing.flush_bytes = 1 << 20;
  auto measurer = make_measurer(options);
  const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("good", test::right_body), candidate("bad", test::wrong_body)});
  REQUIRE(batch.measurements.size() == 2);
  const auto records = test::read_log(dir / "log.json");
  REQUIRE(records.size() == 2);
  for (const auto& r : records) {
    CHECK(measure::format_version(r.version) == "v0.6");
    std::map<std::string, std::string> pairs;
    for (const auto& [k, v] : measure::parse_provenance(r.version)) pairs[k] = v;
    for (const char* key : {"by", "cc", "flags", "threads", "pin", "flush", "number", "repeat", "min_repeat_ms", "warmup", "governor",
                            "cpu", "cpus", "host"}) {
      CAPTURE(key);
      CHECK(pairs.count(key) == 1);
    }
    CHECK(pairs["cc"] == measure::compiler_version("c++"));
    CHECK(pairs["flags"] == "-std=c++17 -O3 -shared -fPIC -w -march=native -fopenmp -mprefer-vector-width=512");
    CHECK(pairs["threads"] == "1");
    CHECK(pairs["pin"] == "none");
    CHECK(pairs["flush"] == "1");
    // The number min_repeat_ms grew to, for a measured candidate; the configured one for a failed one.
    CHECK(pairs["number"] == (r.result.ok() ? std::to_string(batch.measurements[0].timing.number) : std::string("1")));
    CHECK(pairs["repeat"] == "2");
    CHECK(pairs["min_repeat_ms"] == "2.5");
    CHECK(pairs["warmup"] == "1");
    CHECK(pairs["host"] == measure::Provenance::of_host().get("host"));
    CHECK(r.result.timestamp > 1.7e9);
  }
  CHECK(records[0].result.ok());
  CHECK(records[1].result.error == ErrorCode::wrong_answer);
}

TEST_CASE("each record is in the log as soon as its candidate is judged") {
  const test::TempDir dir;
  auto measurer = make_measurer(quick_options(dir));
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < 4; ++i) candidates.push_back(candidate(numbered("k", i), i == 2 ? test::segfault_body : test::right_body));
  std::vector<std::size_t> seen;
  measurer.measure(candidates, [&](std::size_t, const Measurement&) { seen.push_back(test::read_log(dir / "log.json").size()); });
  CHECK(seen == std::vector<std::size_t>{1, 2, 3, 4});
}

TEST_CASE("max_consecutive_failures in a row stop the batch with the reason; a success resets the count") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.max_consecutive_failures = 5;
  options.build.kernels_per_unit = 16;
  auto measurer = make_measurer(options);
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < 4; ++i) candidates.push_back(missing_entry(i));
  candidates.push_back(candidate("good", test::right_body));
  for (std::size_t i = 4; i < 14; ++i) candidates.push_back(missing_entry(i));
  const BatchResult batch = measurer.measure(candidates);
  REQUIRE(batch.measurements.size() == 4 + 1 + 5);
  CHECK(batch.measurements[4].ok());
  CHECK(batch.stopped());
  CHECK_FALSE(batch.interrupted);
  CHECK(batch.stop_reason.rfind("5 candidates in a row failed (the limit is 5); the last: runtime_device: cannot load 'missing_8'", 0) == 0);
  CHECK(contains(batch.stop_reason, "\nFailures so far:\nruntime_device (4) x 9: cannot load 'missing_0'"));
  CHECK(test::read_log(dir / "log.json").size() == 10);
  // The count carries over to the next batch: one more failure stops it at once.
  const BatchResult next = measurer.measure(std::vector<Candidate>{missing_entry(20), candidate("good", test::right_body)});
  CHECK(next.measurements.size() == 1);
  CHECK(contains(next.stop_reason, "6 candidates in a row failed (the limit is 5)"));
}

TEST_CASE("at the default limit, the 150th failure in a row stops the batch") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.build.kernels_per_unit = 200;  // one compiler run for all of them
  auto measurer = make_measurer(options);
  std::vector<Candidate> candidates;
  for (std::size_t i = 0; i < 160; ++i) candidates.push_back(missing_entry(i));
  const BatchResult batch = measurer.measure(candidates);
  CHECK(batch.measurements.size() == 150);
  CHECK(batch.stop_reason.rfind("150 candidates in a row failed (the limit is 150); the last: runtime_device: cannot load 'missing_149'", 0) == 0);
  CHECK(count(measurer.failures(), ErrorCode::runtime_device) == 150);
  const auto records = test::read_log(dir / "log.json");
  CHECK(records.size() == 150);
  for (const auto& r : records) CHECK(r.result.error == ErrorCode::runtime_device);
}

TEST_CASE("when the first candidates all time out, the batch stops with a diagnosis: -march, load, the time limit") {
  const test::TempDir dir;
  auto options = quick_options(dir, 0.3);
  options.timeouts_before_diagnosis = 2;
  SUBCASE("nothing but time-outs") {
    auto measurer = make_measurer(options);
    const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("endless_a", test::endless_body), candidate("endless_b", test::endless_body),
                                                                      candidate("endless_c", test::endless_body), candidate("good", test::right_body)});
    CHECK(batch.measurements.size() == 2);
    CHECK(batch.stop_reason.rfind("the first 2 candidates all ran past the 0.3 s time limit and none finished.", 0) == 0);
    CHECK(contains(batch.stop_reason, "compiled with -march=native for "));
    CHECK(contains(batch.stop_reason, "load average "));
    CHECK(contains(batch.stop_reason, "raise the run timeout"));
    CHECK(test::read_log(dir / "log.json").size() == 2);
  }
  SUBCASE("a success first: time-outs are the candidates' own") {
    auto measurer = make_measurer(options);
    const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("good", test::right_body), candidate("endless_a", test::endless_body),
                                                                      candidate("endless_b", test::endless_body), candidate("good2", test::right_body)});
    CHECK(batch.measurements.size() == 4);
    CHECK_FALSE(batch.stopped());
    CHECK(batch.measurements[3].ok());
  }
  SUBCASE("a later task is judged afresh: another failure in an earlier task does not hide its time-outs") {
    auto measurer = make_measurer(options);
    CHECK(measurer.measure(std::vector<Candidate>{candidate("segfault", test::segfault_body)}).measurements.size() == 1);
    REQUIRE(measurer.set_task(kernel_task(2)));
    const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("endless_a", test::endless_body), candidate("endless_b", test::endless_body),
                                                                      candidate("good", test::right_body)});
    CHECK(batch.measurements.size() == 2);
    CHECK(batch.stop_reason.rfind("the first 2 candidates all ran past", 0) == 0);
  }
  SUBCASE("other failures among them: no diagnosis") {
    auto measurer = make_measurer(options);
    const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("segfault", test::segfault_body), candidate("endless_a", test::endless_body),
                                                                      candidate("endless_b", test::endless_body), candidate("good", test::right_body)});
    CHECK(batch.measurements.size() == 4);
    CHECK_FALSE(batch.stopped());
    CHECK(batch.measurements[3].ok());
  }
}

TEST_CASE("the stop flag ends the batch; every candidate judged before it is in the log") {
  const test::TempDir dir;
  std::atomic<bool> stop{false};
  SUBCASE("raised between candidates") {
    auto measurer = make_measurer(quick_options(dir));
    measurer.set_stop_flag(&stop);
    std::vector<Candidate> candidates;
    for (std::size_t i = 0; i < 6; ++i) candidates.push_back(candidate(numbered("k", i), test::right_body));
    candidates[3].kernel.body = test::not_cpp_body;  // judged without running: the flag must stop it too
    const BatchResult batch = measurer.measure(candidates, [&](std::size_t i, const Measurement&) {
      if (i == 2) stop = true;
    });
    CHECK(batch.interrupted);
    CHECK(batch.stop_reason == "stopped on request (the stop flag was raised); every candidate judged before is logged");
    CHECK(batch.measurements.size() == 3);
    CHECK(test::read_log(dir / "log.json").size() == 3);
    // Raised before a batch: nothing is measured.
    const BatchResult none = measurer.measure(candidates);
    CHECK(none.interrupted);
    CHECK(none.measurements.empty());
    CHECK(test::read_log(dir / "log.json").size() == 3);
  }
  SUBCASE("raised while a candidate runs: it is abandoned at once, and not logged") {
    auto measurer = make_measurer(quick_options(dir, 20));
    measurer.set_stop_flag(&stop);
    std::thread raiser;
    const auto start = std::chrono::steady_clock::now();
    const BatchResult batch = measurer.measure(
        std::vector<Candidate>{candidate("good", test::right_body), candidate("endless", test::endless_body), candidate("good2", test::right_body)},
        [&](std::size_t i, const Measurement&) {
          if (i == 0)
            raiser = std::thread([&] {
              std::this_thread::sleep_for(std::chrono::milliseconds(300));
              stop = true;
            });
        });
    const double seconds = test::seconds_since(start);
    REQUIRE(raiser.joinable());
    raiser.join();
    CHECK(batch.interrupted);
    CHECK(batch.measurements.size() == 1);
    CHECK(seconds < 5);  // not the 20 s limit
    const auto records = test::read_log(dir / "log.json");
    REQUIRE(records.size() == 1);
    CHECK(records[0].result.ok());
    // Lowered again, the measurer goes on.
    stop = false;
    const BatchResult after = measurer.measure(std::vector<Candidate>{candidate("good3", test::right_body)});
    REQUIRE(after.measurements.size() == 1);
    CHECK(after.measurements[0].ok());
  }
}

TEST_CASE("the reference: a kernel, or values; without one nothing is compared") {
  const test::TempDir dir;
  const std::vector<Candidate> candidates = {candidate("right", test::right_body), candidate("wrong", test::wrong_body),
                                             candidate("unwritten", test::unwritten_body)};
  auto verdicts = [&](const MeasureTask& task) {
    auto measurer = make_measurer(quick_options(dir), task);
    std::vector<ErrorCode> out;
    for (const auto& m : measurer.measure(candidates).measurements) out.push_back(m.record.result.error);
    return out;
  };
  const std::vector<ErrorCode> checked = {ErrorCode::no_error, ErrorCode::wrong_answer, ErrorCode::wrong_answer};
  CHECK(verdicts(kernel_task(4)) == checked);
  CHECK(verdicts({.signature = test::doubling_signature(), .seed = 4, .reference_values = {test::doubled_inputs(4)}}) == checked);
  CHECK(verdicts({.signature = test::doubling_signature(), .seed = 4}) ==
        std::vector<ErrorCode>{ErrorCode::no_error, ErrorCode::no_error, ErrorCode::no_error});
  auto unchecked = make_measurer(quick_options(dir), {.signature = test::doubling_signature(), .seed = 4});
  CHECK(unchecked.reference_seconds() == 0);
}

TEST_CASE("set_task fails for a reference that does not build or crashes, and for values or buffers that do not fit") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.build.timeout_s = 1;
  auto measurer = LocalMeasurer::make(options).value();
  auto fails = [&](const MeasureTask& task) {
    auto set = measurer.set_task(task);
    REQUIRE_FALSE(set.has_value());
    return set.error().message;
  };
  MeasureTask broken = kernel_task();
  broken.reference = test::kernel("reference", "return missing_thing;");
  const std::string not_built = fails(broken);
  CHECK(not_built.rfind("the reference kernel does not build (compile_host):\n", 0) == 0);
  CHECK(contains(not_built, "missing_thing"));
  REQUIRE(test::make_fifo(dir / "fifo"));
  MeasureTask hanging_build = kernel_task();
  hanging_build.reference->body = test::hanging_include(dir / "fifo") + hanging_build.reference->body;
  CHECK(fails(hanging_build).rfind("the reference kernel does not build (build_timeout):\n", 0) == 0);
  MeasureTask crashing = kernel_task();
  crashing.reference = test::kernel("reference", test::segfault_body);
  CHECK(contains(fails(crashing), "SIGSEGV (segmentation fault)"));
  MeasureTask short_values{.signature = test::doubling_signature(), .seed = 1, .reference_values = {std::vector<float>(3)}};
  CHECK(fails(short_values) == "measure::RunTask: the reference for 'B' holds 3 values, the buffer 256");
  MeasureTask extra_values{.signature = test::doubling_signature(), .seed = 1, .reference_values = {std::vector<float>(256), std::vector<float>(256)}};
  CHECK(fails(extra_values) == "measure::RunTask: 2 reference vectors for 1 outputs");
  CHECK(fails({.signature = {{{"A", 4}}}}) == "measure::KernelSignature: no buffer is marked as an output");
  // A good task afterwards: the measurer works.
  REQUIRE(measurer.set_task(kernel_task()).has_value());
  const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("good", test::right_body)});
  REQUIRE(batch.measurements.size() == 1);
  CHECK(batch.measurements[0].ok());
}

TEST_CASE("a candidate without a task cannot be logged: the batch stops and says which") {
  const test::TempDir dir;
  auto measurer = make_measurer(quick_options(dir));
  std::vector<Candidate> candidates = {candidate("a", test::right_body), candidate("b", test::right_body), candidate("c", test::right_body)};
  candidates[1].record.task = nullptr;
  const BatchResult batch = measurer.measure(candidates);
  CHECK(batch.measurements.size() == 2);
  CHECK(batch.stop_reason == "candidate 1 has no task in its record, so it cannot be logged");
  CHECK(test::read_log(dir / "log.json").size() == 1);
  // Without a log, records need no task.
  auto options = quick_options(dir);
  options.log.clear();
  auto unlogged = make_measurer(options);
  const BatchResult fine = unlogged.measure(candidates);
  CHECK(fine.measurements.size() == 3);
  CHECK_FALSE(fine.stopped());
}

TEST_CASE("without a work_dir the builds go to a temporary folder, removed with the measurer") {
  std::filesystem::path folder;
  {
    LocalMeasurerOptions options;
    options.run.timing.repeat = 1;
    auto measurer = make_measurer(options);
    folder = measurer.work_dir();
    CHECK(folder.filename().string().rfind("crosstune-measure-", 0) == 0);
    CHECK(std::filesystem::is_directory(folder));
    const BatchResult batch = measurer.measure(std::vector<Candidate>{candidate("good", test::right_body)});
    REQUIRE(batch.measurements.size() == 1);
    CHECK(batch.measurements[0].ok());
    LocalMeasurer moved = std::move(measurer);
    CHECK(std::filesystem::is_directory(folder));
    CHECK(moved.work_dir() == folder);
  }
  CHECK_FALSE(std::filesystem::exists(folder));
}

namespace {
/// Forks `writers` children that wait for the parent's word and then run `work(k)`; returns whether
/// every child exited with 0.
template <class Work>
bool run_concurrently(int writers, Work work) {
  int go[2];
  REQUIRE(::pipe(go) == 0);
  std::vector<pid_t> children;
  for (int k = 0; k < writers; ++k) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(go[1]);
      char c;
      while (::read(go[0], &c, 1) < 0) {
      }
      ::_exit(work(k) ? 0 : 1);  // no doctest, no destructors in the child
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ::close(go[1]);  // the word: every child's read returns
  bool ok = true;
  for (pid_t pid : children) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}
}  // namespace

TEST_CASE("two processes appending to one log at once: every line whole, every record there") {
  const test::TempDir dir;
  SUBCASE("LogWriter, flushed per record, long lines") {
    const std::size_t per_writer = 400;
    const bool ok = run_concurrently(2, [&](int k) {
      auto writer = io::LogWriter::open(dir / "log.json", io::WriteMode::append, io::FlushPolicy::each_record);
      if (!writer) return false;
      Record r;
      r.task = test::record_task(numbered("writer", static_cast<std::size_t>(k)));
      r.version = "v0.6";
      for (std::size_t i = 0; i < per_writer; ++i) {
        r.steps = StepSequence();
        const std::int64_t lengths[] = {2, 4, 8};
        for (int s = 0; s < 200; ++s) r.steps.add_split(s, static_cast<std::int64_t>(i), 64, lengths, true);  // lines of ~8 KB
        r.result.costs_seconds = {static_cast<double>(i) * 1e-6 + 1e-6};
        if (!writer->write(r)) return false;
      }
      return writer->close().has_value();
    });
    REQUIRE(ok);
    const auto records = test::read_log(dir / "log.json");
    CHECK(records.size() == 2 * per_writer);
    std::map<std::string, std::size_t> per_key;
    for (const auto& r : records) {
      ++per_key[r.task->workload_key];
      CHECK(r.steps.size() == 200);
    }
    CHECK(per_key.size() == 2);
    for (const auto& [key, n] : per_key) CHECK(n == per_writer);
    const std::string text = test::read_file(dir / "log.json");
    CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) == 2 * per_writer);
  }
  SUBCASE("two LocalMeasurers") {
    const std::size_t per_measurer = 10;
    const bool ok = run_concurrently(2, [&](int k) {
      LocalMeasurerOptions options;
      options.build.work_dir = dir / numbered("build", static_cast<std::size_t>(k));
      options.build.jobs = 1;
      options.run.timing.repeat = 1;
      options.log = dir / "shared.json";
      auto measurer = LocalMeasurer::make(options);
      if (!measurer) return false;
      if (!measurer->set_task({.signature = test::doubling_signature(), .seed = 1, .reference_values = {test::doubled_inputs(1)}})) return false;
      const auto task = test::record_task(numbered("measurer", static_cast<std::size_t>(k)));
      std::vector<Candidate> candidates;
      for (std::size_t i = 0; i < per_measurer; ++i) candidates.push_back(candidate(numbered("k", i), test::right_body, task));
      const BatchResult batch = measurer->measure(candidates);
      if (batch.measurements.size() != per_measurer || batch.stopped()) return false;
      for (const auto& m : batch.measurements)
        if (!m.ok()) return false;
      return true;
    });
    REQUIRE(ok);
    const auto records = test::read_log(dir / "shared.json");
    CHECK(records.size() == 2 * per_measurer);
    std::map<std::string, std::size_t> per_key;
    for (const auto& r : records) {
      ++per_key[r.task->workload_key];
      CHECK(r.result.ok());
    }
    CHECK(per_key.size() == 2);
    for (const auto& [key, n] : per_key) CHECK(n == per_measurer);
  }
}

TEST_CASE("a measurer's log must be plain JSON lines, and is created only when the first record is written") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.log = dir / "log.json.gz";
  auto refused = LocalMeasurer::make(options);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message == "a measurer's log must be plain JSON lines, not gzip");
  CHECK(refused.error().hint.find("several processes can append") != std::string::npos);
  options.log = dir / "missing" / "log.json";
  auto no_folder = LocalMeasurer::make(options);
  REQUIRE_FALSE(no_folder.has_value());
  CHECK(no_folder.error().message.find("does not exist") != std::string::npos);
  options.log = dir / "log.json";
  {
    auto measurer = make_measurer(options);
    CHECK_FALSE(std::filesystem::exists(dir / "log.json"));  // nothing measured, nothing created
    const auto batch = measurer.measure(std::vector<Candidate>{candidate("good", test::right_body)});
    REQUIRE(batch.measurements.size() == 1);
  }
  CHECK(test::read_log(dir / "log.json").size() == 1);
}

TEST_CASE("the early stops judge each task afresh: failures of one task do not stop the next") {
  const test::TempDir dir;
  auto options = quick_options(dir);
  options.max_consecutive_failures = 2;
  auto measurer = make_measurer(options);
  const auto bad = measurer.measure(std::vector<Candidate>{candidate("w1", test::wrong_body), candidate("w2", test::wrong_body)});
  CHECK(bad.stopped());
  REQUIRE(measurer.set_task(kernel_task(2)));
  const auto next = measurer.measure(std::vector<Candidate>{candidate("w3", test::wrong_body), candidate("good", test::right_body)});
  CHECK_FALSE(next.stopped());
  REQUIRE(next.measurements.size() == 2);
  CHECK(next.measurements[1].ok());
}
