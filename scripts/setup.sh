#!/usr/bin/env bash
# Installs everything crosstune's build, tests and examples need, from Debian's packages.
# Safe to run again: packages already present are left alone. Needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake git pkg-config
  libeigen3-dev libxtensor-dev libtbb-dev zlib1g-dev   # library dependencies
  doctest-dev libbenchmark-dev libcli11-dev             # tests, benchmarks, command-line tool
  libxgboost-dev                                        # the XGBoost baseline (crosstune::xgboost; optional)
  clang libclang-rt-14-dev                              # asan-ubsan preset and the libFuzzer target
  libomp-dev                                            # OpenMP for generated kernels built with Clang
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
