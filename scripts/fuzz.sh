#!/usr/bin/env bash
# Fuzzes the readers of untrusted files (tests/fuzz): builds the libFuzzer
# harnesses with clang, AddressSanitizer and UBSan in build-fuzz, then runs
# each from its seed corpus for FUZZ_SECONDS (default 60), all at once.
# Fails on any crash, hang, leak or broken invariant, leaving the input that
# found it in build-fuzz/findings/<harness>/ (replay: the harness with that
# file as its argument). Prints one line per harness with its run count.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build-fuzz
harnesses=(idx cifar10 safetensors checkpoint unet_config)

mkdir -p "$build"
echo "[fuzz] building ${harnesses[*]} in $build"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DAG_FUZZ=ON -DAG_CUDA=OFF \
  -DAG_NATIVE=OFF -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" --target fuzz > "$build/build.log" 2>&1 ||
  { tail -n 40 "$build/build.log"; exit 1; }

# One harness: new inputs go to build-fuzz/corpus/<h> (the committed seeds
# are only read), with tests/fuzz/<h>.dict's tokens where there is one;
# -timeout catches a hang, -rss_limit_mb a blow-up.
fuzz_one() {
  local h=$1
  local dict=()
  [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  mkdir -p "$build/corpus/$h" "$build/findings/$h"
  OMP_NUM_THREADS=1 "$build/tests/fuzz/fuzz_$h" "$build/corpus/$h" "tests/fuzz/corpus/$h" \
    "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build/findings/$h/" > "$build/fuzz_$h.log" 2>&1
}

# The "Done N runs in S second(s)" line libFuzzer ends with, or the failure.
report() {
  local h=$1 status=$2
  local log="$build/fuzz_$h.log"
  if [ "$status" -eq 0 ]; then
    sed -n "s/^Done \([0-9]*\) runs in \([0-9]*\) second.*/[fuzz] $h: \1 execs in \2 s, no findings/p" "$log"
  else
    echo "[fuzz] $h: FAILED (exit $status); the end of $log:"
    tail -n 30 "$log"
  fi
}

# All at once: CI's 60 s of wall time each, on however many cores there are
# (on 2 cores each harness gets about half of its 60 s of CPU).
failed=0
pids=()
for h in "${harnesses[@]}"; do
  fuzz_one "$h" &
  pids+=($!)
done
for k in "${!harnesses[@]}"; do
  status=0
  wait "${pids[$k]}" || status=$?
  report "${harnesses[$k]}" "$status"
  [ "$status" -eq 0 ] || failed=1
done
exit $failed
