#include "crosstune/io/npy_writer.hpp"

#include <doctest/doctest.h>

#include <xtensor/xarray.hpp>
#include <xtensor/xnpy.hpp>

#include <numeric>

#include "test_support.hpp"

using crosstune::io::NpyWriter;

TEST_CASE("a streamed .npy file reads back with xtensor's reader") {
  crosstune::test::TempDir dir;
  std::vector<float> values(2 * 3 * 5);
  std::iota(values.begin(), values.end(), 0.5f);
  {
    auto npy = NpyWriter<float>::open(dir / "x.npy", {2, 3, 5});
    REQUIRE(npy);
    REQUIRE(npy->append(std::span<const float>(values.data(), 10)));
    REQUIRE(npy->append(std::span<const float>(values.data() + 10, 20)));
    REQUIRE(npy->close());
  }
  const auto back = xt::load_npy<float>((dir / "x.npy").string());
  REQUIRE(back.shape().size() == 3);
  CHECK(back.shape()[0] == 2);
  CHECK(back.shape()[2] == 5);
  CHECK(back(1, 2, 4) == values[29]);
  std::vector<std::int64_t> ints{7, -3};
  auto one_d = NpyWriter<std::int64_t>::open(dir / "i.npy", {2});
  REQUIRE(one_d);
  REQUIRE(one_d->append(ints));
  REQUIRE(one_d->close());
  const auto ib = xt::load_npy<std::int64_t>((dir / "i.npy").string());
  CHECK(ib(1) == -3);
}

TEST_CASE("writing more or fewer elements than the shape is an error") {
  crosstune::test::TempDir dir;
  std::vector<float> values(7, 1.0f);
  auto npy = NpyWriter<float>::open(dir / "x.npy", {2, 3});
  REQUIRE(npy);
  CHECK_FALSE(npy->append(values));
  REQUIRE(npy->append(std::span<const float>(values.data(), 5)));
  auto closed = npy->close();
  REQUIRE_FALSE(closed);
  CHECK(closed.error().message.find("only 5 of 6 elements") != std::string::npos);
  CHECK_FALSE(NpyWriter<float>::open(dir / "missing" / "x.npy", {1}));
}

TEST_CASE("an incomplete or abandoned array leaves the file that was there before") {
  crosstune::test::TempDir dir;
  crosstune::test::write_file(dir / "x.npy", "an older export");
  const std::vector<float> values(6, 2.0f);
  {
    auto npy = NpyWriter<float>::open(dir / "x.npy", {2, 3});
    REQUIRE(npy);
    REQUIRE(npy->append(std::span<const float>(values.data(), 4)));
    CHECK_FALSE(npy->close());  // two elements short: nothing replaces the old file
  }
  CHECK(crosstune::test::read_file(dir / "x.npy") == "an older export");
  {
    auto npy = NpyWriter<float>::open(dir / "x.npy", {2, 3});
    REQUIRE(npy);
    REQUIRE(npy->append(values));
  }  // dropped without close()
  CHECK(crosstune::test::read_file(dir / "x.npy") == "an older export");
  auto huge = NpyWriter<float>::open(dir / "huge.npy", {std::size_t{1} << 40, std::size_t{1} << 40});
  REQUIRE_FALSE(huge);
  CHECK(huge.error().message.find("too large") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir / "huge.npy"));
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}
