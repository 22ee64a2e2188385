#include "crosstune/data/export.hpp"

#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include "test_support.hpp"

using namespace crosstune;

TEST_CASE("labels, costs and task offsets are written as .npy files that read back equal") {
  auto ds = data::Dataset::load({test::sample_logs() / "k80" / "ansor_matmul_128_4032_1000.json.gz",
                                 test::sample_logs() / "v100" / "ansor_matmul_128_4032_1000.json.gz"});
  REQUIRE(ds);
  test::TempDir dir;
  REQUIRE(data::export_npy(*ds, dir / "out"));
  auto labels = xt::load_npy<float>((dir / "out" / "labels.npy").string());
  auto offsets = xt::load_npy<std::int64_t>((dir / "out" / "task_offsets.npy").string());
  auto task_index = xt::load_npy<std::int64_t>((dir / "out" / "task_index.npy").string());
  auto costs = xt::load_npy<double>((dir / "out" / "costs.npy").string());
  REQUIRE(labels.size() == ds->records());
  REQUIRE(offsets.size() == 3);
  CHECK(offsets(0) == 0);
  CHECK(offsets(2) == static_cast<std::int64_t>(ds->records()));
  CHECK(labels(0) == ds->tasks()[0].labels[0]);
  CHECK(labels(offsets(1)) == ds->tasks()[1].labels[0]);
  CHECK(task_index(offsets(1)) == 1);
  CHECK(costs(0) == ds->tasks()[0].mean_costs_seconds[0]);
  const std::string tsv = test::read_file(dir / "out" / "tasks.tsv");
  CHECK(tsv.find("0\tk80\tdense\t") != std::string::npos);
}
