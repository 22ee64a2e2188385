// The BiLSTM-attention model's weights files (model/bilstm_attention.hpp's serialize_model / load_model on
// model/serialization.hpp's envelope): round trips, and every kind of crafted file refused before it can
// make the process allocate without bound or read out of bounds.
#include "crosstune/model/serialization.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/model_card.hpp"
#include "model_file_surgery.hpp"
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
const features::FeatureLayout steps_layout{"steps", 111, 5, 16, 3, 2};
/// Where the fields of files of config() and `steps_layout` are.
const test::ModelFileOffsets offsets{8, 5};
enum ArchitectureField : std::size_t {
  step_dims,
  workload_dims,
  hardware_dims,
  embedding,
  hidden,
  layers,
  heads,
  head_hidden
};
const char* const field_names[] = {"step_dims", "workload_dims", "hardware_dims", "embedding",
                                   "hidden",    "layers",        "heads",         "head_hidden"};

std::string good_file() {
  Rng rng(2);
  BiLstmAttentionNet<float> net(config(), rng);
  return serialize_model(net, steps_layout);
}

using crosstune::test::contains;

/// The message of the error deserialize_model gives for `bytes` as "crafted.bin", after checking that the
/// file is refused with an error that names it and says what to do.
std::string refusal(const std::string& bytes) {
  auto loaded = deserialize_model(bytes, "crafted.bin");
  REQUIRE_FALSE(loaded);
  const Error& e = loaded.error();
  CHECK(e.file == "crafted.bin");
  CHECK((e.kind == ErrorKind::parse || e.kind == ErrorKind::schema));
  CHECK(contains(e.hint, "retrain"));
  return e.message;
}

/// A batch of `count` candidates of `l` with 1, 2, ... real steps of small values.
features::FeatureBatch batch_of(const features::FeatureLayout& l, std::size_t count) {
  features::FeatureBatch batch;
  batch.reset(count, l);
  for (std::size_t b = 0; b < count; ++b) {
    batch.lengths[b] = static_cast<std::uint32_t>(std::min(b + 1, l.max_steps));
    for (std::size_t t = 0; t < batch.lengths[b]; ++t) {
      batch.mask(b, t) = 1.0f;
      for (std::size_t k = 0; k < l.step_dims; ++k)
        batch.steps(b, t, k) = 0.1f * static_cast<float>(k + t);
    }
  }
  return batch;
}
}  // namespace

TEST_CASE("a saved model loads with the same weights and layout, and saves to identical bytes") {
  Rng rng(1);
  BiLstmAttentionNet<float> net(config(), rng);
  test::TempDir dir;
  REQUIRE(save_model(dir / "m.bin", net, steps_layout));
  auto loaded = load_model(dir / "m.bin");
  REQUIRE(loaded);
  CHECK(loaded->layout == steps_layout);
  CHECK(loaded->net->config() == net.config());
  auto a = net.parameters();
  auto b = loaded->net->parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(*a[i].value == *b[i].value);
  CHECK(serialize_model(*loaded->net, loaded->layout) == test::read_file(dir / "m.bin"));
}

TEST_CASE("the shipped pretrained models pass every check and save to identical bytes; each has a card that matches it") {
  for (const char* name : {"pretrained-gpu", "pretrained-cpu"}) {
    CAPTURE(name);
    const auto dir = test::data_dir() / ".." / ".." / "models";
    const auto path = dir / (std::string(name) + ".bin");
    REQUIRE(std::filesystem::exists(path));
    auto loaded = load_model(path);
    REQUIRE(loaded);
    CHECK(serialize_model(*loaded->net, loaded->layout) == test::read_file(path));
    // The card beside it names this model and the feature layout the file holds.
    const std::string json = model::read_model_card_json(test::read_file(dir / (std::string(name) + ".card.md")));
    REQUIRE_FALSE(json.empty());
    CHECK(json.find("\"name\": \"" + std::string(name) + "\"") != std::string::npos);
    CHECK(json.find("\"features\": \"" + loaded->layout.name + "\"") != std::string::npos);
    CHECK(json.find("\"features_version\": " + std::to_string(loaded->layout.version)) != std::string::npos);
    CHECK(json.find("\"step_dims\": " + std::to_string(loaded->layout.step_dims)) != std::string::npos);
    CHECK(json.find("\"max_steps\": " + std::to_string(loaded->layout.max_steps)) != std::string::npos);
  }
}

TEST_CASE("a configuration knows how many parameters and weights its network has before it is built") {
  BiLstmAttentionConfig joined = config();
  joined.step_dims = 7;
  joined.hardware_dims = 0;
  BiLstmAttentionConfig wide = config();
  wide.layers = 3;
  wide.hidden = 8;
  wide.heads = 4;
  wide.embedding = 6;
  BiLstmAttentionConfig single = config();
  single.layers = 1;
  single.heads = 1;
  single.workload_dims = 0;
  for (const auto& c : {config(), joined, wide, single}) {
    Rng rng(0);
    BiLstmAttentionNet<float> net(c, rng);
    CHECK(c.parameter_tensors() == net.parameters().size());
    CHECK(c.parameter_scalars() == net.parameter_count());
  }
}

TEST_CASE("truncated, corrupted, foreign and mismatched files are refused with a clear error") {
  const std::string good = good_file();
  auto truncated = deserialize_model(good.substr(0, good.size() / 2), "m.bin");
  REQUIRE_FALSE(truncated);
  CHECK(truncated.error().message.find("checksum mismatch") != std::string::npos);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  CHECK(deserialize_model(flipped).error().message.find("checksum") != std::string::npos);
  CHECK(deserialize_model("hello world, not a model").error().message.find("bad magic") != std::string::npos);
  CHECK(deserialize_model("").error().message.find("bad magic") != std::string::npos);
  // A well-formed file of another version.
  std::string other = good;
  other[8] = 9;
  CHECK(deserialize_model(test::with_valid_checksum(other)).error().message.find("version 9") !=
        std::string::npos);
  test::TempDir dir;
  CHECK(load_model(dir / "missing.bin").error().kind == ErrorKind::io);
}

TEST_CASE("an architecture that reads other features than its layout is refused despite a valid checksum") {
  // The file that read out of bounds in predict: a network of 5 step features stored with a layout of 3.
  Rng rng(3);
  BiLstmAttentionNet<float> net(config(), rng);
  features::FeatureLayout narrower = steps_layout;
  narrower.step_dims = 3;
  CHECK(contains(refusal(serialize_model(net, narrower)),
                 "the architecture reads 5 / 3 / 2 step / workload / hardware features, its feature layout "
                 "\"steps\" produces 3 / 3 / 2"));
  // Hardware joined per step: the layout has no hardware dims and 2 more step dims; the network must too.
  const features::FeatureLayout joined{"steps", 111, 7, 16, 3, 0};
  CHECK(contains(refusal(serialize_model(net, joined)), "produces 7 / 3 / 0 (hardware joined per step)"));
  BiLstmAttentionNet<float> joined_net(config_for(joined), rng);
  auto loaded = deserialize_model(serialize_model(joined_net, joined), "joined.bin");
  REQUIRE(loaded);
  const auto batch = batch_of(joined, 3);
  CHECK(loaded->net->forward(batch) == joined_net.forward(batch));
  // Workload dims in the header that disagree with the layout's.
  std::string workload = good_file();
  test::overwrite<std::uint64_t>(workload, offsets.architecture(workload_dims), 4);
  CHECK(contains(refusal(test::with_valid_checksum(workload)), "reads 5 / 4 / 2"));
}

TEST_CASE("every size field of the header is bounded before anything is allocated from it") {
  const std::string good = good_file();
  for (const std::uint64_t huge :
       {std::uint64_t{1} << 40, std::uint64_t{1} << 63, std::numeric_limits<std::uint64_t>::max()}) {
    for (std::size_t field = step_dims; field <= head_hidden; ++field) {
      CAPTURE(field_names[field]);
      CAPTURE(huge);
      std::string bytes = good;
      test::overwrite(bytes, offsets.architecture(field), huge);
      CHECK(contains(refusal(test::with_valid_checksum(bytes)), std::string("architecture field '") +
                                                                    field_names[field] + "' is " +
                                                                    std::to_string(huge) + ", outside"));
    }
    const char* const layout_fields[] = {"step dims", "max steps", "workload dims", "hardware dims"};
    for (std::size_t dim = 0; dim < 4; ++dim) {
      CAPTURE(layout_fields[dim]);
      std::string bytes = good;
      test::overwrite(bytes, offsets.layout_dim(dim), huge);
      CHECK(contains(
          refusal(test::with_valid_checksum(bytes)),
          std::string("the feature layout's ") + layout_fields[dim] + " is " + std::to_string(huge)));
    }
    std::string counted = good;
    test::overwrite(counted, offsets.parameter_count(), huge);
    CHECK(contains(refusal(test::with_valid_checksum(counted)),
                   "parameter count " + std::to_string(huge) + " does not match the architecture's 25"));
    std::string rows = good;
    test::overwrite(rows, offsets.parameter(good, 2), huge);
    CHECK(contains(refusal(test::with_valid_checksum(rows)),
                   "shape of parameter 2 ('w_ih') is " + std::to_string(huge) + " x 4"));
  }
  // Sizes within the bounds that together need far more weights than the file holds.
  std::string big = good;
  test::overwrite<std::uint64_t>(big, offsets.architecture(hidden), 1 << 16);
  test::overwrite<std::uint64_t>(big, offsets.architecture(layers), 64);
  CHECK(contains(refusal(test::with_valid_checksum(big)), "truncated weights"));
}

TEST_CASE("a layout name longer than 256 bytes is refused before it is read") {
  const std::string good = good_file();
  for (const std::uint32_t length : {std::uint32_t{257}, std::uint32_t{1} << 31, ~std::uint32_t{0}}) {
    CAPTURE(length);
    std::string bytes = good;
    test::overwrite(bytes, offsets.layout_name_length(), length);
    CHECK(contains(
        refusal(test::with_valid_checksum(bytes)),
        "the feature layout's name is " + std::to_string(length) + " bytes long, more than the 256 allowed"));
  }
  std::string past_end = good;
  test::overwrite<std::uint32_t>(past_end, offsets.layout_name_length(), 200);
  CHECK(contains(refusal(test::with_valid_checksum(past_end.substr(0, offsets.layout_name_length() + 100))),
                 "truncated header"));
}

TEST_CASE("zero sizes are refused") {
  const std::string good = good_file();
  for (const std::size_t field : {step_dims, embedding, hidden, layers, heads, head_hidden}) {
    CAPTURE(field_names[field]);
    std::string bytes = good;
    test::overwrite<std::uint64_t>(bytes, offsets.architecture(field), 0);
    CHECK(contains(refusal(test::with_valid_checksum(bytes)),
                   std::string("architecture field '") + field_names[field] + "' is 0, outside [1, "));
  }
  // Workload and hardware dims may be 0, but only when the layout has none either.
  std::string no_hardware = good;
  test::overwrite<std::uint64_t>(no_hardware, offsets.architecture(hardware_dims), 0);
  CHECK(contains(refusal(test::with_valid_checksum(no_hardware)), "reads 5 / 3 / 0"));
  for (const auto& [dim, what] : {std::pair{0, "step dims"}, std::pair{1, "max steps"}}) {
    std::string bytes = good;
    test::overwrite<std::uint64_t>(bytes, offsets.layout_dim(static_cast<std::size_t>(dim)), 0);
    CHECK(contains(refusal(test::with_valid_checksum(bytes)),
                   std::string("the feature layout's ") + what + " is 0, outside [1, "));
  }
  std::string four_heads = good;  // 2 * hidden = 6 splits into 2 or 3 heads, not into 4
  test::overwrite<std::uint64_t>(four_heads, offsets.architecture(heads), 4);
  CHECK(contains(refusal(test::with_valid_checksum(four_heads)), "must be divisible by heads (4)"));
}

TEST_CASE("parameter counts, shapes and weight bytes must be exactly the architecture's") {
  const std::string good = good_file();
  std::string count = good;
  test::overwrite<std::uint64_t>(count, offsets.parameter_count(), 24);
  CHECK(contains(refusal(test::with_valid_checksum(count)),
                 "parameter count 24 does not match the architecture's 25"));
  // The embedding's [4 x 5] weight stored as [5 x 4]: the same bytes, another shape.
  std::string transposed = good;
  test::overwrite<std::uint64_t>(transposed, offsets.parameter(good, 0), 5);
  test::overwrite<std::uint64_t>(transposed, offsets.parameter(good, 0) + 8, 4);
  CHECK(contains(refusal(test::with_valid_checksum(transposed)),
                 "shape of parameter 0 ('w') is 5 x 4, the architecture's is 4 x 5"));
  const std::string body = good.substr(0, good.size() - 8), checksum(8, '\0');
  CHECK(contains(refusal(test::with_valid_checksum(body.substr(0, body.size() - 4) + checksum)),
                 "truncated weights"));
  CHECK(contains(refusal(test::with_valid_checksum(body + std::string(4, '\0') + checksum)),
                 "unexpected bytes after the weights"));
  CHECK(contains(refusal(test::with_valid_checksum(body.substr(0, offsets.parameter_count()) + checksum)),
                 "the file holds 0 bytes of weights"));
  // A wider architecture than the weights that follow it.
  std::string wider = good;
  test::overwrite<std::uint64_t>(wider, offsets.architecture(hidden), 4);
  CHECK(contains(refusal(test::with_valid_checksum(wider)), "truncated weights"));
}

TEST_CASE("a NaN or infinite weight is refused, naming the parameter") {
  const std::string good = good_file();
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity()}) {
    CAPTURE(bad);
    std::string bytes = good;
    // The second value of parameter 9, the second layer's forward w_hh.
    test::overwrite(bytes, offsets.parameter(good, 9) + 16 + sizeof(float), bad);
    CHECK(contains(refusal(test::with_valid_checksum(bytes)),
                   "parameter 9 ('w_hh') holds a non-finite value (NaN or Inf) at index 1"));
  }
}

TEST_CASE("load_model refuses what is not a regular model file before reading it") {
  test::TempDir dir;
  auto refused = [](const std::filesystem::path& path, ErrorKind kind, const std::string& what) {
    CAPTURE(path);
    auto loaded = load_model(path);
    REQUIRE_FALSE(loaded);
    CHECK(loaded.error().kind == kind);
    CHECK(loaded.error().file == path.string());
    CHECK_FALSE(loaded.error().hint.empty());
    CHECK(contains(loaded.error().message, what));
  };
  refused(dir.path(), ErrorKind::io, "the model path is a folder, not a model file");
  refused("/dev/zero", ErrorKind::io, "the model path is a device, not a model file");
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);  // would block an unguarded open
  refused(dir / "fifo", ErrorKind::io, "the model path is a FIFO (named pipe), not a model file");
  test::write_file(dir / "empty.bin", "");
  refused(dir / "empty.bin", ErrorKind::parse, "the model file is empty");
  test::write_file(dir / "text.bin", "{\"not\": \"a model\"}");
  refused(dir / "text.bin", ErrorKind::parse, "not a crosstune model file (bad magic");
  // Over the 2 GiB bound: a sparse file, so the test writes (and the loader reads) no data.
  const auto huge = dir / "huge.bin";
  test::write_file(huge, std::string(model_file_magic, sizeof model_file_magic));
  REQUIRE(::truncate(huge.c_str(), static_cast<off_t>(max_model_file_bytes + 1)) == 0);
  refused(huge, ErrorKind::io, "the file is 2147483649 bytes, more than the 2147483648");
  // A file of another model kind gets past read_file and is refused by the BiLSTM-attention parser.
  test::write_file(dir / "mlp.bin",
                   std::string(mlp_file_magic, sizeof mlp_file_magic) + std::string(40, 'x'));
  refused(dir / "mlp.bin", ErrorKind::parse, "not a crosstune BiLSTM-attention model file");
}

TEST_CASE("read_file knows the magic of every model kind") {
  test::TempDir dir;
  for (const auto* magic : {model_file_magic, mlp_file_magic, xgb_file_magic}) {
    const std::string bytes = std::string(magic, 8) + "rest of the file";
    test::write_file(dir / "m.bin", bytes);
    auto read = model::detail::read_file(dir / "m.bin");
    REQUIRE(read);
    CHECK(*read == bytes);
  }
  test::write_file(dir / "short.bin", "CRTN");
  CHECK(contains(model::detail::read_file(dir / "short.bin").error().message, "bad magic"));
}
