#!/usr/bin/env bash
# setup.sh: installs what hrm needs on Debian 12, and nothing that is already there.
#   - Debian -dev packages by name (apt-get, as root);
#   - libtorch from the PyTorch wheel (torch==2.11.0, the GPU machine's version) in a virtual
#     environment outside the checkout ($HRM_VENV, default ~/.cache/hrm/venv), so fresh clones and
#     CI reuse it. The wheel brings NVIDIA runtime packages (a few GB); on a machine without a GPU
#     the same libtorch runs on the CPU.
#   - only if the wheel cannot be installed (or HRM_TORCH=debian): Debian's libtorch-dev 1.13, the CPU
#     fallback (scripts/torch_env.sh, docs/BUILD.md).
#   - with HRM_SETUP_TESTS=1 (scripts/test.sh sets it): what only the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/torch_env.sh

APT_PACKAGES=(build-essential cmake ninja-build ccache python3 python3-venv python3-pip
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev
  libgtest-dev libgmock-dev zlib1g-dev
  libgloo-dev)  # headers only, for ProcessGroupGloo.hpp (src/dist/gloo_backend.cpp); not linked
TEST_PACKAGES=(clang  # the libFuzzer targets (scripts/fuzz.sh)
  libclang-rt-14-dev  # libFuzzer's runtime: only a Recommends of clang's, absent where Recommends are off
  chromium)           # the headless render test of `hrm report`
# Debian's PyTorch 1.13: the tests load our checkpoints in it too. Without its Recommends (libtorch-dev,
# which would put a second libtorch on the system paths of a wheel build).
TEST_PACKAGES_NO_RECOMMENDS=(python3-torch)
DEBIAN_TORCH_PACKAGES=(libtorch-dev python3-torch python3-numpy
  libopenblas0-pthread)  # without it Debian's libtorch runs float32 matmuls about 20x slower

apt_install() {  # [--no-install-recommends] PACKAGE...
  local missing=() opts=()
  [[ $1 == --no-install-recommends ]] && { opts=("$1"); shift; }
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    local SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
      if ! command -v sudo >/dev/null; then
        echo "setup: these Debian packages are missing: ${missing[*]}" >&2
        echo "setup: installing them needs root, and there is no sudo: run as root" \
          "apt-get install ${opts[*]} ${missing[*]}, then this script again" >&2
        exit 1
      fi
      SUDO=sudo
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
  fi
}

install_wheel() {
  echo "setup: installing torch==$HRM_TORCH_VERSION into $HRM_VENV (a few GB, once)"
  python3 -m venv "$HRM_VENV" &&
    "$HRM_VENV/bin/pip" install -q --no-cache-dir --upgrade pip &&
    "$HRM_VENV/bin/pip" install -q --no-cache-dir "torch==$HRM_TORCH_VERSION" numpy  # no second copy in ~/.cache/pip
}

install_debian_torch() {
  apt_install "${DEBIAN_TORCH_PACKAGES[@]}"
  # The tests' Python: Debian's interpreter with its torch 1.13 and numpy.
  [[ -x "$hrm_debian_venv/bin/python" ]] || /usr/bin/python3 -m venv --system-site-packages "$hrm_debian_venv"
}

apt_install "${APT_PACKAGES[@]}"
if [[ "${HRM_SETUP_TESTS:-0}" == 1 ]]; then
  apt_install "${TEST_PACKAGES[@]}"
  apt_install --no-install-recommends "${TEST_PACKAGES_NO_RECOMMENDS[@]}"
fi

if [[ $HRM_TORCH == debian ]]; then
  install_debian_torch
elif ! hrm_wheel_ok; then
  if ! install_wheel; then
    if [[ $HRM_TORCH_CHOSEN == 1 ]]; then
      echo "setup: the torch wheel could not be installed into $HRM_VENV (HRM_TORCH=wheel: no fallback)" >&2
      exit 1
    fi
    echo "setup: the torch wheel could not be installed; falling back to Debian's libtorch-dev 1.13" \
      "(CPU only, no data parallel: docs/BUILD.md). Once pip works, rerun with HRM_TORCH=wheel." >&2
    install_debian_torch
  fi
fi
