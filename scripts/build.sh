#!/usr/bin/env bash
# build.sh: set up (scripts/setup.sh), configure and build into ./build (or $HRM_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
HRM_VENV=${HRM_VENV:-$HOME/.cache/hrm/venv}
BUILD_DIR=${HRM_BUILD_DIR:-build}
TORCH_PREFIX=$("$HRM_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" \
    -DPython3_EXECUTABLE="$HRM_VENV/bin/python" -DHRM_PCH=${HRM_PCH:-ON} "$@" >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$(nproc)"
