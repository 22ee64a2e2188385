#!/usr/bin/env bash
# All tests: the release build (unit, cli, cmake, fuzz-corpus and, when ../shared/data is present,
# shared_data tests), then the unit tests and the fuzz target under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$jobs"
ctest --preset asan-ubsan -j "$jobs"
