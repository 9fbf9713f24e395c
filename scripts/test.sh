#!/usr/bin/env bash
# The test command: installs dependencies, builds (warnings are errors),
# runs the whole suite, then the CPU suite again under ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
# A unity build (several sources compiled as one, parsing the shared headers
# once a batch): 522 s of CPU time against 751 s for the separate files
# (2026-12-07, AMD EPYC Zen 1, AVX2, 2 cores; /usr/bin/time -v cmake --build of
# each in a fresh build folder), about two minutes of this command's wall time
# on 2 cores. scripts/build.sh alone (the main job, everyday work) keeps one
# object a file, so a change recompiles only its file.
CMAKE_ARGS="-DCMAKE_UNITY_BUILD=ON ${CMAKE_ARGS:-}" AG_WERROR=ON scripts/build.sh
# Tests run side by side, each with OpenMP on every core: passive waiting
# keeps idle OpenMP threads from spinning on cores another test needs.
OMP_WAIT_POLICY=passive ctest --test-dir build --output-on-failure -j"$(nproc)"
# ctest lists skipped tests without their reason; say once why the CUDA
# tests skipped, where they did (the reason is in the test log).
grep -h -m1 '^CUDA tests skip:' build/Testing/Temporary/LastTest.log || true
scripts/sanitize.sh
# Then the file readers under libFuzzer (tests/fuzz), 20 s each here (all at
# once) to keep the whole command under 20 minutes; scripts/fuzz.sh alone
# gives them 60 s, FUZZ_SECONDS any other time.
FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh
