#!/usr/bin/env bash
# The main job: build crosstune's command-line tool (release) and summarise the shipped sample logs.
# (Once the tuning loop exists this becomes: tune a network end to end.)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset release >/dev/null
cmake --build --preset release --target crosstune_cli -j "$(nproc)"
build/release/bin/crosstune logs stats tests/data/ansor-logs
