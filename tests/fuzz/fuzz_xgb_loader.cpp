// libFuzzer target: any bytes, made to pass the checksum, given to the XGBoost baseline's loader
// (XgbModel::deserialize) must load or be refused with an Error naming the file — never a crash or a
// hang, in crosstune or inside XGBoost, and no undefined behaviour. Whatever loads must save to the very
// bytes it came from and score a small batch of its feature layout. The raw input also goes to the UBJSON
// reader on its own (detail/ubjson.hpp), which must give a document or an Error with a byte offset.
//
// Byte mutations almost always break the UBJSON, so few would reach the tree checks and fewer XGBoost:
// half the mutations instead overwrite one value inside the ensemble in place (a child index, a split
// feature, a leaf value, a count written as a string), which keeps the file well-formed.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "crosstune/detail/ubjson.hpp"
#include "crosstune/model/xgboost.hpp"
#include "model_fuzz_support.hpp"

namespace {
/// Where one value of the ensemble can be overwritten in place: `bytes` bytes at `at`, of `marker`'s type
/// (a typed array's element, an integer, a string's characters as 'S').
struct Slot {
  std::size_t at, bytes;
  char marker;
};
void collect_slots(const crosstune::detail::UbjValue& value, const char* base, std::vector<Slot>& slots) {
  using Kind = crosstune::detail::UbjValue::Kind;
  const auto offset = [&](const char* p) { return static_cast<std::size_t>(p - base); };
  switch (value.kind) {
    case Kind::typed_array: {
      const std::size_t width = value.count == 0 ? 0 : value.text.size() / value.count;
      for (std::size_t i = 0; i < value.count; ++i)
        slots.push_back({offset(value.text.data()) + i * width, width, value.marker});
      return;
    }
    case Kind::integer:
    case Kind::number: {  // the value's bytes follow its marker
      const std::size_t width = value.marker == 'i' || value.marker == 'U'   ? 1
                                : value.marker == 'I'                        ? 2
                                : value.marker == 'l' || value.marker == 'd' ? 4
                                                                             : 8;
      slots.push_back({value.offset + 1, width, value.marker});
      return;
    }
    case Kind::string:
      if (!value.text.empty()) slots.push_back({offset(value.text.data()), value.text.size(), 'S'});
      return;
    case Kind::array:
    case Kind::object:
      for (const auto& item : value.items)
        collect_slots(item, base, slots);
      return;
    default: return;
  }
}

/// A value for a slot, drawn to hit the edges the checks guard: -1, 0, small indices, huge, NaN.
void overwrite(std::uint8_t* p, const Slot& slot, std::minstd_rand& rng) {
  if (slot.marker == 'S') {
    static constexpr char characters[] = "0123456789-.eE+ :nNaIif";
    p[rng() % slot.bytes] = static_cast<std::uint8_t>(characters[rng() % (sizeof characters - 1)]);
    return;
  }
  std::uint64_t bits = 0;
  if (slot.marker == 'd') {
    static constexpr float floats[] = {0.0f, 1.0f, -1.0f, 0.5f, 1e30f, -1e-30f, 3e38f};
    const float value = rng() % 8 == 0 ? std::numeric_limits<float>::quiet_NaN() : floats[rng() % 7];
    bits = std::bit_cast<std::uint32_t>(value);
  } else {
    static constexpr std::int64_t integers[] = {-1, 0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 0x7fffffff, -2};
    bits = static_cast<std::uint64_t>(integers[rng() % 13]);
  }
  for (std::size_t b = 0; b < slot.bytes; ++b)
    p[b] = static_cast<std::uint8_t>(bits >> (8 * (slot.bytes - 1 - b)));
}

/// The last input that loaded with trees: the semantic mutations start from it when the input they are
/// given is no longer a well-formed model file.
std::string& last_loaded() {
  static std::string bytes;
  return bytes;
}
}  // namespace

// libFuzzer's own mutation; weak, so that builds replaying the corpus without libFuzzer still link.
extern "C" __attribute__((weak)) std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size,
                                                              std::size_t max_size);

/// Half the time one value of the ensemble overwritten in place (see the header comment), else
/// libFuzzer's own byte mutations.
extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  std::minstd_rand rng(seed);
  if (rng() % 2 == 0) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (attempt == 1) {  // the input is not a model file any more: start again from the last one that was
        const std::string& model = last_loaded();
        if (model.empty() || model.size() > max_size) break;
        std::memcpy(data, model.data(), model.size());
        size = model.size();
      }
      // The ensemble follows the header: magic, version, layout (name), tree parameters, rounds, its size.
      std::uint32_t name_bytes = 0;
      if (size < 16) continue;
      std::memcpy(&name_bytes, data + 12, 4);
      const std::size_t ensemble_at = std::size_t{16} + name_bytes + 4 + 32 + 4 + 40 + 8 + 8 + 8;
      if (name_bytes >= size || ensemble_at + 8 >= size) continue;
      const std::string ensemble(reinterpret_cast<const char*>(data) + ensemble_at, size - 8 - ensemble_at);
      auto doc = crosstune::detail::parse_ubjson(ensemble);
      if (!doc) continue;
      std::vector<Slot> slots;
      collect_slots(*doc, ensemble.data(), slots);
      if (slots.empty()) continue;
      const Slot& slot = slots[rng() % slots.size()];
      overwrite(data + ensemble_at + slot.at, slot, rng);
      return size;
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace model = crosstune::model;
  namespace fuzz = crosstune::fuzz;
  const std::string raw(reinterpret_cast<const char*>(data), size);
  if (auto doc = crosstune::detail::parse_ubjson(raw); !doc) {
    if (doc.error().message.find(" at byte ") == std::string::npos) std::abort();
  }

  const std::string bytes = fuzz::with_valid_checksum(data, size);
  auto loaded = model::XgbModel::deserialize(bytes, fuzz::model_file_name);
  if (!loaded) {
    // A backend error (XGBoost refused an ensemble the checks passed) aborts: the checks missed a lie.
    fuzz::require_refusal(loaded.error());
    return 0;
  }
  if (loaded->serialize() != bytes) std::abort();
  if (loaded->rounds() > 0) last_loaded() = bytes;
  if (!loaded->set_threads(1)) std::abort();
  const auto batch = fuzz::small_batch(loaded->layout());
  std::vector<float> scores(batch.size());
  // A model without an ensemble refuses to predict; any other scores every candidate.
  if (auto scored = loaded->predict(batch, scores);
      !scored && (loaded->rounds() > 0 || scored.error().message.find("not trained") == std::string::npos)) {
    std::abort();
  }
  return 0;
}
