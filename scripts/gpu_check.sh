#!/usr/bin/env bash
# The checks of the CUDA backend on a machine with a GPU, stage by stage, each
# writing its log (and pictures) under OUT (default gpu_check/):
#
#   build   build with CUDA (sm_90 unless CMAKE_CUDA_ARCHITECTURES is set)
#   test    the whole suite, CUDA parity tests included (none may skip)
#   train   the base preset on MNIST for MINUTES (default 3) on the GPU, a
#           grid of samples, and the classifier's scores of them
#   bench   apps/bench on cuda beside PyTorch for tiny, base and paper at
#           batch 128 (bench/unet_vs_torch.py --device cuda)
#   dp      with two GPUs or more and an MPI build: 20 steps of train_mnist
#           on cuda in one process and in one process per GPU (NCCL), whose
#           loss.csv must agree (docs/distributed.md)
#
#   scripts/gpu_check.sh build test train bench
#
# On a machine that cannot install Debian packages, run `scripts/gpu_check.sh
# prepare` on one that can first: it packs the build dependencies
# (scripts/offline_deps.sh) and gzipped MNIST into .offline/, which the stages
# then use.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check}
mkdir -p "$OUT"

offline() { [ -f .offline/deps.tar.xz ]; }

# Runs a command, logging to $OUT/$1.log as well as the terminal.
logged() {
  local log=$OUT/$1.log
  shift
  "$@" 2>&1 | tee "$log"
}

mnist_dir() {
  if [ -d .offline/mnist ]; then echo .offline/mnist; else echo mnist; fi
}

prepare() {
  scripts/offline_deps.sh pack
  [ -f data/mnist/train-images-idx3-ubyte ] || scripts/get_mnist.sh data/mnist
  mkdir -p .offline/mnist
  for f in data/mnist/*-ubyte; do gzip -c "$f" >".offline/mnist/$(basename "$f").gz"; done
  echo "[gpu_check] carry .offline ($(du -sh .offline | cut -f1))"
}

build() {
  nvidia-smi -L | tee "$OUT/gpu.txt"
  export CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-90} ${CMAKE_ARGS:-}"
  if offline; then
    scripts/offline_deps.sh build 2>&1 | tee "$OUT/build.log"
  else
    scripts/build.sh 2>&1 | tee "$OUT/build.log"
  fi
  grep -q "AG_CUDA:BOOL=ON" build/CMakeCache.txt || { echo "built without CUDA" >&2; exit 1; }
}

# AG_REQUIRE_CUDA=1: a CUDA test that finds no device fails instead of
# skipping, so this stage cannot pass without having run them.
suite() {
  AG_REQUIRE_CUDA=1 OMP_WAIT_POLICY=passive logged ctest ctest --test-dir build \
    --output-on-failure -j"$(nproc)"
}

train() {
  local run=$OUT/base_cuda
  logged train build/apps/train_mnist --preset base --device cuda --minutes "${MINUTES:-3}" \
    --data "$(mnist_dir)" --out "$run"
  logged evaluate build/apps/evaluate --quality --samples "$run/samples.safetensors" \
    --data "$(mnist_dir)" --classifier "$run/classifier.safetensors" --device cuda
}

bench() {
  TORCH_PYTHON=$(command -v python3) logged bench python3 bench/unet_vs_torch.py --device cuda \
    --presets tiny,base,paper --batches 128 --rounds 3 --markdown
}

data_parallel() {
  local gpus
  gpus=$(nvidia-smi -L | wc -l)
  if [ "$gpus" -lt 2 ] || ! grep -q "AG_MPI:BOOL=ON" build/CMakeCache.txt; then
    echo "[gpu_check] dp: needs 2 GPUs or more and an MPI build ($gpus GPU(s) here)" | tee "$OUT/dp.log"
    return
  fi
  local flags="--device cuda --steps 20 --batch 64 --sample-every 0 --sample-n $gpus --final-sampler ddim --data $(mnist_dir)"
  logged dp_one build/apps/train_mnist $flags --out "$OUT/dp_one"
  logged dp_many mpirun --allow-run-as-root -np "$gpus" build/apps/train_mnist $flags --out "$OUT/dp_many"
  python3 - "$OUT/dp_one/loss.csv" "$OUT/dp_many/loss.csv" <<'PY' | tee "$OUT/dp.log"
import sys
rows = [[float(r.split(",")[1]) for r in open(f).read().split()[1:]] for f in sys.argv[1:]]
worst = max(abs(a - b) / abs(a) for a, b in zip(*rows))
print(f"[gpu_check] dp: {len(rows[0])} steps, largest relative loss difference {worst:.2e}")
sys.exit(0 if len(rows[0]) == len(rows[1]) == 20 and worst < 1e-5 else 1)
PY
}

[ $# -gt 0 ] || { echo "usage: $0 prepare | build | test | train | bench | dp ..." >&2; exit 1; }
for stage in "$@"; do
  case "$stage" in
    prepare) prepare ;;
    build) build ;;
    test) suite ;;
    train) train ;;
    bench) bench ;;
    dp) data_parallel ;;
    *) echo "gpu_check: unknown stage '$stage'" >&2; exit 1 ;;
  esac
done
