#!/usr/bin/env bash
# The main job: installs dependencies, builds, and runs the engine demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
./build/apps/demo
