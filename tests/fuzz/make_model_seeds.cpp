// Writes the seed corpora of the model-loader fuzz targets: a few tiny valid model files (hidden 2-4,
// layouts of 1-5 step features, hardware separate or joined per step), each well under 2 KB.
//
//   cmake --build build/release --target make_model_seeds
//   build/release/tests/fuzz/make_model_seeds tests/fuzz/corpus-bilstm tests/fuzz/corpus-mlp
#include <cstdio>
#include <filesystem>
#include <string>

#include "crosstune/core/rng.hpp"
#include "crosstune/model/bilstm_attention.hpp"
#include "crosstune/model/mlp.hpp"
#include "model_fuzz_support.hpp"

int main(int argc, char** argv) {
  namespace model = crosstune::model;
  using crosstune::features::FeatureLayout;
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s BILSTM_CORPUS_DIR MLP_CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path bilstm_dir = argv[1], mlp_dir = argv[2];
  std::filesystem::create_directories(bilstm_dir);
  std::filesystem::create_directories(mlp_dir);
  const FeatureLayout separate{"steps", 1, 3, 4, 2, 2}, joined{"steps", 1, 5, 4, 2, 0},
      tiny{"s", 2, 1, 1, 0, 0};
  struct BiLstmSeed {
    const char* name;
    FeatureLayout layout;
    std::size_t embedding, hidden, layers, heads, head_hidden;
  };
  bool ok = true;
  std::uint64_t seed = 1;
  for (const auto& s : {BiLstmSeed{"separate-hidden2.bin", separate, 2, 2, 1, 2, 2},
                        BiLstmSeed{"joined-2layers.bin", joined, 3, 2, 2, 1, 3},
                        BiLstmSeed{"tiny-4heads.bin", tiny, 2, 4, 1, 4, 2}}) {
    model::BiLstmAttentionConfig c = model::config_for(s.layout);
    c.embedding = s.embedding;
    c.hidden = s.hidden;
    c.layers = s.layers;
    c.heads = s.heads;
    c.head_hidden = s.head_hidden;
    crosstune::Rng rng(seed++);
    model::BiLstmAttentionNet<float> net(c, rng);
    ok = crosstune::fuzz::write_seed(bilstm_dir / s.name, model::serialize_model(net, s.layout)) && ok;
  }
  struct MlpSeed {
    const char* name;
    FeatureLayout layout;
    std::size_t hidden;
  };
  for (const auto& s : {MlpSeed{"separate-hidden2.bin", separate, 2},
                        MlpSeed{"joined-hidden4.bin", joined, 4}, MlpSeed{"tiny-hidden3.bin", tiny, 3}}) {
    model::MlpModel mlp(s.layout, s.hidden, seed++);
    ok = crosstune::fuzz::write_seed(mlp_dir / s.name, mlp.serialize()) && ok;
  }
  return ok ? 0 : 1;
}
