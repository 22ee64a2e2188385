#!/usr/bin/env bash
# Installs the peers the benchmarks compare against (never library dependencies): nlohmann::json and
# simdjson for bench_log_io; PyTorch (Debian's python3-torch) on OpenBLAS for bench_cost_model, since
# Debian's reference BLAS is about 10x slower; TVM MetaSchedule for bench_measurer, in a virtual
# environment of its own (build/peer-venv), where a failure only skips that peer. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nlohmann-json3-dev libsimdjson-dev python3 \
  python3-torch libopenblas0-pthread >/dev/null
# libopenblas0-pthread registers itself as the libblas.so.3 alternative; make sure it is the one used.
$SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 || true
# TVM 0.25 from PyPI: its builder and runner are bench_measurer's peer. apache-tvm-ffi is pinned at 0.1.12
# (newer releases fail on `import tvm` with TVM 0.25). Guarded: without it the peer prints a skip message.
if [ ! -x build/peer-venv/bin/python ] || ! build/peer-venv/bin/python -c "import tvm.s_tir.meta_schedule" 2>/dev/null; then
  if python3 -m venv build/peer-venv && build/peer-venv/bin/pip install -q "apache-tvm[meta-schedule,popen-pool]==0.25.0" \
      "apache-tvm-ffi==0.1.12"; then
    echo "TVM MetaSchedule installed in build/peer-venv"
  else
    echo "TVM MetaSchedule could not be installed: bench/peers/metaschedule_measure.py will skip" >&2
  fi
fi
echo "bench peers installed"
