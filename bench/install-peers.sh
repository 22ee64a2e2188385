#!/usr/bin/env bash
# Installs the peers the benchmarks compare against (never library dependencies): nlohmann::json and
# simdjson for bench_log_io; PyTorch (Debian's python3-torch) on OpenBLAS for bench_cost_model, since
# Debian's reference BLAS is about 10x slower. Needs root (or sudo).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nlohmann-json3-dev libsimdjson-dev python3 \
  python3-torch libopenblas0-pthread >/dev/null
# libopenblas0-pthread registers itself as the libblas.so.3 alternative; make sure it is the one used.
$SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 || true
echo "bench peers installed"
