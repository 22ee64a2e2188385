// The loop-nest interpreter: it runs lowered nests exactly, and reports out-of-buffer accesses, reads of
// unwritten elements, outputs left unwritten and wrong inputs instead of reading garbage.
#include "crosstune/codegen/interpret.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "crosstune/ir/evaluate.hpp"
#include "crosstune/ir/operators.hpp"
#include "operator_cases.hpp"

using namespace crosstune;

namespace {
codegen::LoopNest matmul_nest(std::int64_t m, std::int64_t k, std::int64_t n) {
  auto dag = std::make_shared<const ir::ComputeDag>(ir::matmul(m, k, n).value());
  return codegen::lower(schedule::State(dag)).value();
}
bool mentions(const Error& e, const std::string& text) { return e.message.find(text) != std::string::npos; }
}  // namespace

TEST_CASE("the interpreter runs an unscheduled nest as the DAG evaluator does") {
  Rng rng(1);
  for (auto& c : test::operator_cases(rng)) {
    CAPTURE(c.name);
    auto nest = codegen::lower(schedule::State(c.dag)).value();
    auto got = codegen::interpret(nest, c.inputs);
    REQUIRE_MESSAGE(got.has_value(), got.error().describe());
    CHECK(test::worst_relative_error((*got)[0], c.expected) < 1e-4);
  }
}

TEST_CASE("an index outside a buffer is an error naming the buffer") {
  auto nest = matmul_nest(3, 2, 4);
  // make the output store one row past the end
  std::vector<codegen::Stmt*> stack;
  std::function<void(std::vector<codegen::Stmt>&)> find = [&](std::vector<codegen::Stmt>& body) {
    for (auto& s : body) {
      if (s.kind == codegen::StmtKind::store) stack.push_back(&s);
      find(s.body);
    }
  };
  find(nest.body);
  REQUIRE_FALSE(stack.empty());
  stack.front()->index[0] = nest.pool.binary(ir::ExprOp::add, stack.front()->index[0], nest.pool.index(3).id);
  Rng rng(2);
  auto out = codegen::interpret(nest, std::vector<std::vector<float>>{test::random_values(6, rng), test::random_values(8, rng)});
  REQUIRE_FALSE(out.has_value());
  CHECK(mentions(out.error(), "store to compute at index 3"));
}

TEST_CASE("reading an element nothing has written is an error") {
  auto nest = matmul_nest(2, 2, 2);
  // drop the initialisation: the update then reads an unwritten accumulator
  auto& y_body = nest.body[0].body[0].body;
  REQUIRE(y_body.front().kind == codegen::StmtKind::store);
  y_body.erase(y_body.begin());
  Rng rng(3);
  auto out = codegen::interpret(nest, std::vector<std::vector<float>>{test::random_values(4, rng), test::random_values(4, rng)});
  REQUIRE_FALSE(out.has_value());
  CHECK(mentions(out.error(), "nothing has written"));
}

TEST_CASE("outputs left partly unwritten and wrong inputs are errors") {
  auto nest = matmul_nest(2, 2, 2);
  nest.loops[0].extent = 1;  // only the first row is computed
  Rng rng(4);
  const std::vector<std::vector<float>> in = {test::random_values(4, rng), test::random_values(4, rng)};
  auto out = codegen::interpret(nest, in);
  REQUIRE_FALSE(out.has_value());
  CHECK(mentions(out.error(), "no store wrote"));
  auto good = matmul_nest(2, 2, 2);
  CHECK(mentions(codegen::interpret(good, std::vector<std::vector<float>>{in[0]}).error(), "more inputs"));
  CHECK(mentions(codegen::interpret(good, std::vector<std::vector<float>>{in[0], std::vector<float>(3)}).error(), "holds 3 values"));
}
