#!/usr/bin/env bash
# The test command: installs dependencies, builds (warnings are errors),
# runs the whole suite, then the CPU suite again under ASan and UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
AG_WERROR=ON scripts/build.sh
# Tests run side by side, each with OpenMP on every core: passive waiting
# keeps idle OpenMP threads from spinning on cores another test needs.
OMP_WAIT_POLICY=passive ctest --test-dir build --output-on-failure -j"$(nproc)"
# ctest lists skipped tests without their reason; say once why the CUDA
# tests skipped, where they did (the reason is in the test log).
grep -h -m1 '^CUDA tests skip:' build/Testing/Temporary/LastTest.log || true
scripts/sanitize.sh
scripts/fuzz.sh  # then the file readers under libFuzzer (tests/fuzz), a few minutes
