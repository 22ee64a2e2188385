// A translation unit of the cuda.probe test built as if crosstune::cuda were not linked: a library of a
// CUDA program that includes the probe without the macro. Its probe must stay the "built without CUDA"
// one, however the other translation units of the program were compiled.
#undef CROSSTUNE_WITH_CUDA
#include "crosstune/hw/cuda_probe.hpp"

crosstune::Expected<std::vector<crosstune::hw::CudaDeviceProbe>> probe_compiled_without_cuda() {
  return crosstune::hw::probe_cuda_devices();
}
