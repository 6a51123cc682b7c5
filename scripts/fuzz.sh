#!/usr/bin/env bash
# fuzz.sh: build the libFuzzer targets (fuzz/*.cpp) with clang in build-fuzz and run each briefly.
# Everything (hrm_base included) is compiled with coverage instrumentation, ASan and UBSan, so
# libFuzzer sees into the parsers. Seed corpora come from ../shared/fixtures at run time (nothing
# is copied into the repository). Usage: scripts/fuzz.sh [seconds per target, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-${HRM_FUZZ_SECONDS:-20}}
if [[ ! $SECONDS_PER_TARGET =~ ^[0-9]+$ ]]; then
  echo "fuzz.sh: seconds per target must be a whole number, got '$SECONDS_PER_TARGET'" >&2
  exit 2
fi
# 0 skips, as in scripts/test.sh (libFuzzer would read -max_total_time=0 as no limit at all).
[[ $SECONDS_PER_TARGET == 0 ]] && { echo "fuzz.sh: 0 seconds per target: nothing to run"; exit 0; }
HRM_SETUP_TESTS=1 scripts/setup.sh  # clang, among the tests' packages
source scripts/torch_env.sh
torch_args=$(hrm_torch_cmake_args)
BUILD_DIR=${HRM_FUZZ_BUILD_DIR:-build-fuzz}
SHARED=$(cd .. && pwd)/shared
# The top-level CMakeLists finds libtorch even when only the fuzzers are built.
if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DHRM_BUILD_FUZZERS=ON -DHRM_BUILD_TESTS=OFF $torch_args \
    -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" >/dev/null
fi
targets=()
for f in fuzz/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
cmake --build "$BUILD_DIR" --target "${targets[@]}" -j"$(nproc)"

seed() {  # seed <corpus dir> <files...>
  mkdir -p "$1"
  local dir=$1
  shift
  for f in "$@"; do [[ -f "$f" ]] && cp -f "$f" "$dir/$(echo "$f" | tr / _)"; done
  return 0
}
corpus=$BUILD_DIR/corpus
seed "$corpus/fuzz_npy" "$SHARED"/fixtures/datasets/*/*/*.npy
seed "$corpus/fuzz_dataset_json" "$SHARED"/fixtures/datasets/*/*/dataset.json "$SHARED"/fixtures/datasets/*/identifiers.json
seed "$corpus/fuzz_maze_csv" "$SHARED"/fixtures/datasets/maze-small/input/*.csv
mkdir -p "$corpus/fuzz_sudoku_text"
for f in "$SHARED"/data/sudoku/tdoku/puzzles* "$SHARED"/fixtures/datasets/sudoku-small/input/*.csv; do
  [[ -f "$f" ]] && head -c 4096 "$f" >"$corpus/fuzz_sudoku_text/$(echo "$f" | tr / _)"
done
seed "$corpus/fuzz_arc_task" $(ls "$SHARED"/data/arc/ARC-AGI-1/*/*.json 2>/dev/null | head -40)
mkdir -p "$corpus/fuzz_torch_file"  # the data.pkl records of the fixtures' torch.save files
"$HRM_VENV/bin/python" - "$corpus/fuzz_torch_file" "$SHARED"/fixtures/*/*.pt "$SHARED"/fixtures/*/*/*.pt <<'EOF'
import os, sys, zipfile
for path in sys.argv[2:]:
    if not os.path.isfile(path):  # a glob that matched nothing
        continue
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.endswith("/data.pkl"):
                with open(f"{sys.argv[1]}/{path.replace('/', '_')}.pkl", "wb") as f:
                    f.write(z.read(name))
EOF

status=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t" "$BUILD_DIR/artifacts/$t"
  echo "== $t (${SECONDS_PER_TARGET}s)"
  if ! "$BUILD_DIR/$t" "$corpus/$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD_DIR/artifacts/$t/" 2>"$BUILD_DIR/$t.log"; then
    echo "FAILED: $t (log $BUILD_DIR/$t.log, reproducer in $BUILD_DIR/artifacts/$t/)"
    tail -40 "$BUILD_DIR/$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$BUILD_DIR/$t.log" | tr '\n' ' '
    echo
  fi
done
exit $status
