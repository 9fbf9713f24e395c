#!/usr/bin/env bash
# Configures and builds the project (Release) into build/ with all cores.
# CUDA sources are compiled whenever nvcc is found (AG_CUDA=ON); pass
# -DAG_CUDA=OFF through CMAKE_ARGS to skip them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$jobs"
