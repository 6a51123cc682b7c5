#!/usr/bin/env bash
# test.sh: build, then run every test (unit, golden fixtures from ../shared, CLI, learning), then
# each libFuzzer target for a short while (scripts/fuzz.sh; HRM_FUZZ_SECONDS per target, default 15;
# 0 skips). Arguments go to ctest (e.g. -R Sudoku); with arguments the fuzzers are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
HRM_SETUP_TESTS=1 scripts/build.sh
source scripts/torch_env.sh
ctest --test-dir "$HRM_BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
fuzz_seconds=${HRM_FUZZ_SECONDS:-15}
if [[ $# -eq 0 && "$fuzz_seconds" != 0 ]]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
