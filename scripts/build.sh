#!/usr/bin/env bash
# build.sh: set up (scripts/setup.sh), configure and build into ./build (or $HRM_BUILD_DIR; the
# Debian libtorch fallback builds into ./build-debian: scripts/torch_env.sh). Arguments go to CMake.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/torch_env.sh
torch_args=$(hrm_torch_cmake_args)
if [[ ! -f "$HRM_BUILD_DIR/build.ninja" || $# -gt 0 ]]; then  # arguments (e.g. -DHRM_SHARED_DIR=DIR) reconfigure
  cmake -S . -B "$HRM_BUILD_DIR" -G Ninja $torch_args -DHRM_PCH=${HRM_PCH:-ON} -DHRM_UNITY=${HRM_UNITY:-ON} "$@" >/dev/null
fi
cmake --build "$HRM_BUILD_DIR" -j"$(nproc)"
