#!/usr/bin/env bash
# Installs the peers the benchmarks compare against (never library dependencies): nlohmann::json and
# simdjson for bench_log_io. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nlohmann-json3-dev libsimdjson-dev python3 >/dev/null
echo "bench peers installed"
