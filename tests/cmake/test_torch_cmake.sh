#!/usr/bin/env bash
# test_torch_cmake.sh SOURCE_DIR TORCH_CMAKE_PREFIX: cmake/torch.cmake on a machine without the CUDA
# toolkit. Configures the project in a private mount namespace where the toolkit's folder is an empty
# directory (nvcc gone, as on a CPU-only Debian) and checks that the configure succeeds on the wheel,
# with its CUDA runtime standing in, without NCCL, and with c10/torch taken from the wheel's lib/.
# Exit 77 (ctest: skipped) where there is no toolkit to hide or no mount namespace may be made.
set -euo pipefail
src=$1
prefix=$2
torch_lib=$(cd "$prefix/../.." && pwd)/lib

nvcc=$(command -v nvcc || true)
[[ -n $nvcc ]] || { echo "no nvcc on PATH: no toolkit to hide (the plain configure already runs without one)"; exit 77; }
toolkit=""
for d in /usr/local/cuda "$(dirname "$(dirname "$(readlink -f "$nvcc")")")"; do
  [[ -x $d/bin/nvcc ]] && toolkit=$(readlink -f "$d") && break
done
[[ -n $toolkit && $toolkit != / && $toolkit != /usr ]] ||
  { echo "cannot tell a toolkit folder of its own from $nvcc (a toolkit in /usr cannot be hidden)"; exit 77; }
unshare -m true 2>/dev/null || { echo "unshare -m is not permitted here"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/empty"
unshare -m bash -c "mount --bind '$work/empty' '$toolkit' &&
  cmake -S '$src' -B '$work/build' -G Ninja -DCMAKE_PREFIX_PATH='$prefix' -DHRM_BUILD_TESTS=OFF" >"$work/log" 2>&1 ||
  { cat "$work/log"; echo "FAIL: configure without the CUDA toolkit ($toolkit hidden)"; exit 1; }

fail=0
expect() { grep -q "$1" "$2" || { echo "FAIL: '$1' not in $2"; fail=1; }; }
expect "hrm: no CUDA toolkit; the wheel's CUDA runtime stands in" "$work/log"
expect "hrm: built without NCCL" "$work/log"
expect "c10_LIBRARY:FILEPATH=$torch_lib/libc10.so" "$work/build/CMakeCache.txt"
expect "TORCH_LIBRARY:FILEPATH=$torch_lib/libtorch.so" "$work/build/CMakeCache.txt"
[[ $fail == 0 ]] || { cat "$work/log"; exit 1; }
echo "configured without the CUDA toolkit ($toolkit hidden): the wheel's runtime stands in, no NCCL, c10 from $torch_lib"
