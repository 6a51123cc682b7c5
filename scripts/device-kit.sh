#!/usr/bin/env bash
# device-kit.sh: fills .devcarry/ (git-ignored) with what scripts/gpu-check.sh needs on a lent GPU
# machine, which has torch 2.11, nvcc, cmake, ninja and g++ but no network, none of Debian's -dev
# packages and no ../shared beside the checkout:
#   .devcarry/debs/            the Debian packages CMake needs (apt-get download, about 2 MB)
#   .devcarry/shared/fixtures  the reference's fixtures and checkpoints from ../shared (about 8 MB)
#   .devcarry/generated/       with HRM_REFERENCE set: the fixtures of tools/make_fixture.py (14 MB)
#   .devcarry/reference/       with HRM_REFERENCE set: the reference's Python sources that
#                              tools/bench_reference.py runs (models/, puzzle_dataset.py, dataset/common.py)
# Then call the device tool with carry [".devcarry"] and the command "scripts/gpu-check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.devcarry
rm -rf "$KIT"
mkdir -p "$KIT/debs" "$KIT/shared"
(cd "$KIT/debs" && apt-get download -qq libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libyaml-cpp0.7 libfmt-dev \
  libfmt9 libgtest-dev libgmock-dev libgloo-dev zlib1g-dev 2>/dev/null)
cp -r ../shared/fixtures "$KIT/shared/fixtures"
if [[ -n "${HRM_REFERENCE:-}" ]]; then
  "${HRM_PYTHON:-$HOME/.cache/hrm/venv/bin/python}" tools/make_fixture.py --out "$KIT/generated" hrm-learned-softmax-p2 hrm-rope-noemb \
    hrm-bf16
  mkdir -p "$KIT/reference/dataset"
  cp -r "$HRM_REFERENCE/models" "$HRM_REFERENCE/puzzle_dataset.py" "$KIT/reference/"
  cp "$HRM_REFERENCE/dataset/common.py" "$KIT/reference/dataset/"
fi
du -sh "$KIT"
