# torch_env.sh (sourced by the other scripts): which libtorch this checkout builds on.
#   HRM_TORCH=wheel   torch==2.11.0 from PyPI in $HRM_VENV (default ~/.cache/hrm/venv): the build.
#   HRM_TORCH=debian  Debian 12's libtorch-dev 1.13: the fallback where the wheel cannot be installed
#                     (CPU only, no data parallel; docs/BUILD.md). Its Python for the tests is a venv over
#                     Debian's python3-torch and python3-numpy ($HRM_VENV, default ~/.cache/hrm/venv-debian).
# Unset: the wheel when its venv works, else the fallback when scripts/setup.sh installed it, else wheel.
# Exports HRM_TORCH, HRM_VENV, HRM_BUILD_DIR (default build, or build-debian for the fallback) and
# HRM_TORCH_CMAKE_ARGS (how CMake finds that libtorch).
HRM_TORCH_VERSION=2.11.0
hrm_wheel_venv=${HRM_WHEEL_VENV:-$HOME/.cache/hrm/venv}
hrm_debian_venv=${HRM_DEBIAN_VENV:-$HOME/.cache/hrm/venv-debian}
hrm_wheel_ok() {
  "$hrm_wheel_venv/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$HRM_TORCH_VERSION')" 2>/dev/null
}
if [[ -z "${HRM_TORCH:-}" ]]; then
  if hrm_wheel_ok || [[ ! -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake || ! -x "$hrm_debian_venv/bin/python" ]]; then
    HRM_TORCH=wheel
  else
    HRM_TORCH=debian
  fi
fi
case "$HRM_TORCH" in
  wheel) HRM_VENV=${HRM_VENV:-$hrm_wheel_venv}; HRM_BUILD_DIR=${HRM_BUILD_DIR:-build} ;;
  debian) HRM_VENV=${HRM_VENV:-$hrm_debian_venv}; HRM_BUILD_DIR=${HRM_BUILD_DIR:-build-debian} ;;
  *) echo "HRM_TORCH=$HRM_TORCH: expected wheel or debian" >&2; exit 2 ;;
esac
hrm_torch_cmake_args() {  # after set-up: the wheel's CMake prefix, or nothing (Debian's is on the system path)
  if [[ $HRM_TORCH == wheel ]]; then
    echo "-DCMAKE_PREFIX_PATH=$("$HRM_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
  fi
}
export HRM_TORCH HRM_VENV HRM_BUILD_DIR
