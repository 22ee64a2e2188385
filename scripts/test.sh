#!/usr/bin/env bash
# The tests: the release build (unit, cli, cmake, codegen, compile_fail, fuzz-corpus and, when
# ../shared/data is present, shared_data tests; the release preset leaves out the `long` label, which
# `ctest --test-dir build/release -L long` runs), then the unit tests and the fuzz targets under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"
cmake --preset asan-ubsan >/dev/null
cmake --build --preset asan-ubsan -j "$jobs"
ctest --preset asan-ubsan -j "$jobs"
