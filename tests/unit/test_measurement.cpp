// The measurers' vocabulary: measurements, the failure report grouped by error code, batch results.
#include "crosstune/measure/measurement.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace crosstune;

TEST_CASE("a measurement is ok when its record's result is; result() is the record's") {
  measure::Measurement m;
  CHECK(m.ok());
  CHECK(&m.result() == &m.record.result);
  m.record.result.error = ErrorCode::run_timeout;
  CHECK_FALSE(m.ok());
  CHECK(m.result().error == ErrorCode::run_timeout);
  CHECK(m.timing.costs_seconds.empty());
  CHECK(m.build_seconds == 0);
  CHECK(m.run_seconds == 0);
}

TEST_CASE("the failure report counts each code and keeps its first message") {
  measure::FailureReport report;
  CHECK(report.failures() == 0);
  CHECK(report.describe().empty());
  report.add(ErrorCode::run_timeout, "first timeout");
  report.add(ErrorCode::run_timeout, "second timeout");
  report.add(ErrorCode::compile_host, "k.cpp:1: error: expected ';'");
  report.add(ErrorCode::run_timeout, "third timeout");
  CHECK(report.failures() == 4);
  CHECK(report.by_code[static_cast<std::size_t>(ErrorCode::run_timeout)].count == 3);
  CHECK(report.by_code[static_cast<std::size_t>(ErrorCode::run_timeout)].first_message == "first timeout");
  CHECK(report.by_code[static_cast<std::size_t>(ErrorCode::wrong_answer)].count == 0);
  // One line per code that occurred, in code order.
  CHECK(report.describe() ==
        "compile_host (2) x 1: k.cpp:1: error: expected ';'\n"
        "run_timeout (7) x 3: first timeout\n");
}

TEST_CASE("successes added to the report are not failures") {
  measure::FailureReport report;
  report.add(ErrorCode::no_error, "");
  report.add(ErrorCode::wrong_answer, "output 'C': element 3 is 1 where 2 is expected");
  CHECK(report.failures() == 1);
  CHECK(report.describe() == "wrong_answer (5) x 1: output 'C': element 3 is 1 where 2 is expected\n");
}

TEST_CASE("first messages are kept to 2000 characters, and a message of several lines to 600 in describe") {
  measure::FailureReport report;
  report.add(ErrorCode::unknown_error, std::string(5000, 'x'));
  CHECK(report.by_code[static_cast<std::size_t>(ErrorCode::unknown_error)].first_message.size() == 2000);
  std::string compiler_output;
  for (int line = 0; line < 100; ++line) {
    compiler_output += "k.cpp:";
    compiler_output += std::to_string(line);
    compiler_output += ": error: something is wrong here\n";
  }
  report.add(ErrorCode::compile_host, compiler_output);
  const std::string text = report.describe();
  const std::string head = "compile_host (2) x 1: ";
  REQUIRE(text.rfind(head, 0) == 0);
  const auto unknown = text.find("unknown_error (8) x 1: ");
  REQUIRE(unknown != std::string::npos);
  CHECK(unknown == head.size() + 600 + 1);  // 600 characters of the compiler's, then the line break
  CHECK(text.size() == unknown + std::string("unknown_error (8) x 1: ").size() + 2000 + 1);
}

TEST_CASE("a batch is stopped when it has a reason; interrupted only by the stop flag") {
  measure::BatchResult batch;
  CHECK_FALSE(batch.stopped());
  CHECK_FALSE(batch.interrupted);
  batch.stop_reason = "150 candidates in a row failed";
  CHECK(batch.stopped());
  CHECK(batch.measurements.empty());
}

TEST_CASE("a task and a candidate start empty: no reference, seed 0, no record task") {
  const measure::MeasureTask task;
  CHECK_FALSE(task.reference.has_value());
  CHECK(task.reference_values.empty());
  CHECK(task.seed == 0);
  CHECK(task.signature.buffers.empty());
  const measure::Candidate candidate;
  CHECK(candidate.record.task == nullptr);
  CHECK(candidate.kernel.entry.empty());
}
