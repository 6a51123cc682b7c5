#!/usr/bin/env bash
# setup.sh: installs what hrm needs on Debian 12, and nothing that is already there.
#   - Debian -dev packages by name (apt-get, as root);
#   - libtorch from the PyTorch wheel (torch==2.11.0, the GPU machine's version) in a virtual
#     environment outside the checkout ($HRM_VENV, default ~/.cache/hrm/venv), so fresh clones and
#     CI reuse it. The wheel brings NVIDIA runtime packages (a few GB); on a machine without a GPU
#     the same libtorch runs on the CPU.
set -euo pipefail

TORCH_VERSION=2.11.0
HRM_VENV=${HRM_VENV:-$HOME/.cache/hrm/venv}
APT_PACKAGES=(build-essential cmake ninja-build ccache python3 python3-venv python3-pip
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang zlib1g-dev
  libgloo-dev  # headers only, for ProcessGroupGloo.hpp (src/dist/gloo_backend.cpp); not linked
  chromium)  # chromium: the headless render test of `hrm report`

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! "$HRM_VENV/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
  echo "setup: installing torch==$TORCH_VERSION into $HRM_VENV (a few GB, once)"
  python3 -m venv "$HRM_VENV"
  "$HRM_VENV/bin/pip" install -q --upgrade pip
  "$HRM_VENV/bin/pip" install -q "torch==$TORCH_VERSION" numpy
fi
