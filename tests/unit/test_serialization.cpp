#include "crosstune/model/serialization.hpp"

#include <doctest/doctest.h>

#include "test_support.hpp"

using namespace crosstune;
using namespace crosstune::model;

namespace {
BiLstmAttentionConfig config() {
  BiLstmAttentionConfig c;
  c.step_dims = 5;
  c.workload_dims = 3;
  c.hardware_dims = 2;
  c.embedding = 4;
  c.hidden = 3;
  c.layers = 2;
  c.heads = 2;
  c.head_hidden = 4;
  return c;
}
const features::FeatureLayout layout{"steps", 111, 5, 16, 3, 2};
}  // namespace

TEST_CASE("a saved model loads with the same weights and layout, and saves to identical bytes") {
  Rng rng(1);
  BiLstmAttentionNet<float> net(config(), rng);
  test::TempDir dir;
  REQUIRE(save_model(dir / "m.bin", net, layout));
  auto loaded = load_model(dir / "m.bin");
  REQUIRE(loaded);
  CHECK(loaded->layout == layout);
  CHECK(loaded->net->config() == net.config());
  auto a = net.parameters();
  auto b = loaded->net->parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(*a[i].value == *b[i].value);
  CHECK(serialize_model(*loaded->net, loaded->layout) == test::read_file(dir / "m.bin"));
}

TEST_CASE("truncated, corrupted, foreign and mismatched files are refused with a clear error") {
  Rng rng(2);
  BiLstmAttentionNet<float> net(config(), rng);
  const std::string good = serialize_model(net, layout);
  auto truncated = deserialize_model(good.substr(0, good.size() / 2), "m.bin");
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().message.find("checksum mismatch") != std::string::npos);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  CHECK(deserialize_model(flipped).error().message.find("checksum") != std::string::npos);
  CHECK(deserialize_model("hello world, not a model").error().message.find("bad magic") != std::string::npos);
  CHECK(deserialize_model("").error().message.find("bad magic") != std::string::npos);
  // A well-formed file of another version.
  std::string other = good.substr(0, good.size() - 8);
  other[8] = 9;
  detail::put(other, detail::fnv1a(other));
  CHECK(deserialize_model(other).error().message.find("version 9") != std::string::npos);
  test::TempDir dir;
  CHECK(load_model(dir / "missing.bin").error().kind == ErrorKind::io);
}
