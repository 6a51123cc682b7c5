# torch_env.sh (sourced by the other scripts): which libtorch this checkout builds on.
#   HRM_TORCH=wheel   torch==2.11.0 from PyPI in $HRM_VENV (default ~/.cache/hrm/venv): the build.
#   HRM_TORCH=debian  Debian 12's libtorch-dev 1.13: the fallback where the wheel cannot be installed
#                     (CPU only, no data parallel; docs/BUILD.md). Its Python for the tests is a venv over
#                     Debian's python3-torch and python3-numpy ($HRM_VENV, default ~/.cache/hrm/venv-debian).
# Unset: the wheel when its venv works, else the fallback when scripts/setup.sh installed it (after the
# wheel failed to install), else the wheel. To go back to the wheel from the fallback: HRM_TORCH=wheel. Exports HRM_TORCH, HRM_TORCH_CHOSEN (1 when the user set HRM_TORCH: then there is no automatic
# fallback), HRM_VENV and HRM_BUILD_DIR (default build, or build-debian for the fallback); defines
# hrm_torch_cmake_args (how CMake finds that libtorch).
HRM_TORCH_VERSION=2.11.0
if [[ -z "${HRM_TORCH_CHOSEN:-}" ]]; then
  HRM_TORCH_CHOSEN=0
  [[ -n "${HRM_TORCH:-}" ]] && HRM_TORCH_CHOSEN=1
fi
hrm_wheel_venv=$HOME/.cache/hrm/venv
hrm_debian_venv=$HOME/.cache/hrm/venv-debian
if [[ -n "${HRM_VENV:-}" ]]; then
  if [[ "${HRM_TORCH:-}" == debian ]]; then hrm_debian_venv=$HRM_VENV; else hrm_wheel_venv=$HRM_VENV; fi
fi
hrm_wheel_ok() {
  "$hrm_wheel_venv/bin/python" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$HRM_TORCH_VERSION')" 2>/dev/null
}
hrm_debian_torch_installed() {
  compgen -G "/usr/lib/*/cmake/Torch/TorchConfig.cmake" >/dev/null && [[ -x "$hrm_debian_venv/bin/python" ]]
}
if [[ -z "${HRM_TORCH:-}" ]]; then
  if ! hrm_wheel_ok && hrm_debian_torch_installed; then HRM_TORCH=debian; else HRM_TORCH=wheel; fi
fi
case "$HRM_TORCH" in
  wheel) HRM_VENV=$hrm_wheel_venv; HRM_BUILD_DIR=${HRM_BUILD_DIR:-build} ;;
  debian) HRM_VENV=$hrm_debian_venv; HRM_BUILD_DIR=${HRM_BUILD_DIR:-build-debian} ;;
  *) echo "HRM_TORCH=$HRM_TORCH: expected wheel or debian" >&2; exit 2 ;;
esac
hrm_torch_cmake_args() {  # after set-up: the wheel's CMake prefix, or nothing (Debian's is on the system path)
  if [[ $HRM_TORCH == wheel ]]; then
    local prefix
    prefix=$("$HRM_VENV/bin/python" -c 'import torch; print(torch.utils.cmake_prefix_path)') || return 1
    echo "-DCMAKE_PREFIX_PATH=$prefix"
  fi
}
export HRM_TORCH HRM_TORCH_CHOSEN HRM_VENV HRM_BUILD_DIR
