#!/usr/bin/env bash
# Configures and builds the project (Release) into build/ with all cores,
# showing CMake's configuration summary. CUDA sources are compiled whenever
# nvcc is found (AG_CUDA=ON); pass -DAG_CUDA=OFF through CMAKE_ARGS to skip
# them, and -DAG_NATIVE=OFF for binaries that move between machines (no
# -march=native). AG_WERROR=ON (as scripts/test.sh sets it) makes warnings
# errors.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DAG_WERROR="${AG_WERROR:-OFF}" ${CMAKE_ARGS:-}
cmake --build build -j"$jobs"
