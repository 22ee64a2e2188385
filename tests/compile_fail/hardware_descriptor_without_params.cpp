// Must NOT compile: the type has no params(). The build fails with crosstune's static_assert message,
// which tests/compile_fail/CMakeLists.txt checks for.
#include "crosstune/concepts.hpp"

struct NotADescriptor {
  int cores = 4;
};

int main() {
  return static_cast<int>(crosstune::hardware_params_of(NotADescriptor{}).num_cores);
}
