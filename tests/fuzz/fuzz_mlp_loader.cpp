// libFuzzer target: any bytes, made to pass the checksum, given to the MLP baseline's loader
// (MlpModel::deserialize) must load or be refused with an Error naming the file — never a crash, an
// allocation the file does not pay for, or undefined behaviour. Whatever loads must score a small batch
// of its feature layout (through its checked predict() and the training pass) and save to the very bytes
// it came from.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "crosstune/model/mlp.hpp"
#include "model_fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace model = crosstune::model;
  namespace fuzz = crosstune::fuzz;
  const std::string bytes = fuzz::with_valid_checksum(data, size);
  auto loaded = model::MlpModel::deserialize(bytes, fuzz::model_file_name);
  if (!loaded) {
    fuzz::require_refusal(loaded.error());
    return 0;
  }
  if (loaded->serialize() != bytes) std::abort();
  if (!model::MlpModel::deserialize(bytes, fuzz::model_file_name)) std::abort();
  if (fuzz::small_enough(loaded->layout())) {
    loaded->set_threads(1);
    const auto batch = fuzz::small_batch(loaded->layout());
    std::vector<float> scores(batch.size());
    if (!loaded->predict(batch, scores)) std::abort();
    (void)loaded->network().forward(batch);
  }
  return 0;
}
