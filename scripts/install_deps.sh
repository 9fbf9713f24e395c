#!/usr/bin/env bash
# Installs the Debian packages this project builds with. Idempotent: packages
# already present are left alone, and apt runs only if something is missing.
set -euo pipefail

PACKAGES=(
  cmake g++ make pkg-config
  libopenblas-openmp-dev   # BLAS (OpenMP build, shares our thread pool)
  libgtest-dev googletest  # tests
  libbenchmark-dev         # apps/bench_ops (Google Benchmark)
  zlib1g-dev               # gzipped IDX datasets
  libstb-dev               # stb_image_write for PNG grids
  libplplot-dev plplot-driver-cairo  # plots with axes and legends (loss.png, rd.png, schedules)
  libcairo2-dev            # labelled picture montages (apps/plotting/montage.cpp)
  libgif-dev               # animated GIFs of the reverse process (sample --gif)
  nlohmann-json3-dev       # safetensors headers
  libcli11-dev             # command-line flags
  dataset-fashion-mnist    # --data fashion (Fashion-MNIST, the IDX files)
  openmpi-bin libopenmpi-dev openssh-client  # mpirun data-parallel runs (mpirun needs an rsh agent, one machine too)
  clang libclang-rt-14-dev libomp-dev  # scripts/fuzz.sh: libFuzzer, sanitizers, OpenMP
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "[deps] missing packages: ${missing[*]}; run as root (or install them with apt-get)" >&2
  exit 1
fi
echo "[deps] installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
