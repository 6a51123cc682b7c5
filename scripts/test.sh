#!/usr/bin/env bash
# test.sh: build, then run every test (unit, golden fixtures from ../shared, CLI, learning).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
export HRM_VENV=${HRM_VENV:-$HOME/.cache/hrm/venv}
ctest --test-dir "${HRM_BUILD_DIR:-build}" --output-on-failure -j"$(nproc)" "$@"
