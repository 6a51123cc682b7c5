#!/usr/bin/env bash
# gpu-check.sh: the checks that need an NVIDIA GPU, in one run that ends with a summary table:
# build (with the Debian packages of .devcarry/ where the machine lacks them), the CUDA tests, `hrm
# verify-fixture --device cuda` on every fixture (float32, and bfloat16 normwise), the main job on the
# device (train, eval with and without CUDA graphs, solve), and the benches: `hrm bench model` float32
# and bfloat16, `hrm bench train` (bfloat16 with and without the finiteness check and --unfused,
# float32) and `hrm bench eval` (with and without CUDA graphs), with MFU and peak memory; last, the
# reference's own training step (tools/bench_reference.py, eager and torch.compile'd). Prepare on a
# development machine with scripts/device-kit.sh, then run on the
# GPU machine with carry [".devcarry"]. HRM_CHECK_DEVICE=cpu runs the same flow on the CPU with small
# sizes (how this script is tested without a GPU). Logs go to a /tmp/gpu-check-logs.* folder and, where
# $OUT is set (the device tool brings it back, at most 8 files), into $OUT/gpu-check-logs.tar.gz.
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE=${HRM_CHECK_DEVICE:-cuda}
KIT=.devcarry
LOGS=$(mktemp -d /tmp/gpu-check-logs.XXXXXX)
PY=${HRM_PYTHON:-python3}
BUILD=${HRM_BUILD_DIR:-build-gpu}
mkdir -p "$LOGS"
ROWS=()
row() { ROWS+=("$(printf '%-46s %s' "$1" "$2")"); }
summary() { echo; echo "== summary (device $DEVICE; logs in $LOGS)"; printf '%s\n' "${ROWS[@]}"; }
# The device tool brings back at most 8 files from $OUT: the logs travel as one archive, with the summary.
finish() {
  summary | tee "$LOGS/summary.txt"
  if [[ -n ${OUT:-} ]]; then
    tar czf "$OUT/gpu-check-logs.tar.gz" -C "$LOGS" . && cp "$LOGS/summary.txt" "$OUT/summary.txt"
  fi
}
trap finish EXIT

# ---- build ------------------------------------------------------------------------------------
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)') || { row build "FAILED: no torch in $PY"; exit 1; }
if [[ -d $KIT/debs ]]; then  # headers and libraries of Debian's -dev packages, unpacked beside the system
  ROOT=/tmp/hrm-devroot
  mkdir -p "$ROOT"
  for f in "$KIT"/debs/*.deb; do
    if command -v dpkg >/dev/null; then dpkg -x "$f" "$ROOT"
    else (cd "$ROOT" && ar p "$f" "$(ar t "$f" | grep '^data.tar')" | tar -xJ); fi  # a .deb without dpkg
  done
  PREFIX="$PREFIX;$ROOT/usr"
  export LD_LIBRARY_PATH="$ROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
SHARED=$(cd .. && pwd)/shared
[[ -d $KIT/shared ]] && SHARED=$PWD/$KIT/shared
t0=$SECONDS
configure_and_build() {  # extra cmake arguments
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" -DHRM_PCH=ON -DHRM_SHARED_DIR="$SHARED" "$@" \
    >"$LOGS/configure.log" 2>&1 && cmake --build "$BUILD" -j"$(nproc)" >"$LOGS/build.log" 2>&1
}
if configure_and_build -DHRM_WITH_CUDA_KERNELS=ON; then
  row build "ok, $((SECONDS - t0)) s"
elif {  # without the kernels, in a fresh folder (a failed CUDA set-up may be cached): the rest still gets checked
  mv "$LOGS/configure.log" "$LOGS/configure_with_kernels.log"
  mv "$LOGS/build.log" "$LOGS/build_with_kernels.log" 2>/dev/null
  BUILD=$BUILD-nokernels
  configure_and_build -DHRM_WITH_CUDA_KERNELS=OFF
}; then
  row build "ok WITHOUT the fused CUDA kernels ($((SECONDS - t0)) s; see *_with_kernels.log)"
else
  tail -25 "$LOGS/configure.log" "$LOGS/build.log"
  row build "FAILED (configure.log, build.log)"
  exit 1
fi
HRM=$BUILD/hrm
"$HRM" --version | tee "$LOGS/version.txt"
row "libtorch / CUDA devices" "$(sed -n 2p "$LOGS/version.txt" | cut -d' ' -f2) / $(sed -n 3p "$LOGS/version.txt" | cut -d' ' -f3)"
row "CUDA graphs" "$(grep -o 'CUDA graphs (cuda_graphs=true): .*' "$LOGS/version.txt" | sed 's/.*: //')"
row "fused CUDA kernels (SwiGLU, RoPE)" "$(grep -o 'fused CUDA kernels (SwiGLU, RoPE): .*' "$LOGS/version.txt" | sed 's/.*: //')"

# ---- tests that touch CUDA, the fixtures and the reference's checkpoints ---------------------
# The tests run $HRM_VENV/bin/python: a folder whose bin/python is this machine's Python with torch.
# A fresh folder each run: never write through a file an earlier run left there.
HRM_VENV=$(mktemp -d /tmp/hrm-gpu-check-python.XXXXXX)
export HRM_VENV
mkdir -p "$HRM_VENV/bin"
# A wrapper, not a symlink: a venv's python found through a symlink elsewhere loses its site-packages.
printf '#!/bin/sh\nexec "%s" "$@"\n' "$("$PY" -c 'import sys; print(sys.executable)')" >"$HRM_VENV/bin/python"
chmod +x "$HRM_VENV/bin/python"
# Not debian_torch113 (Debian's python3-torch 1.13, absent there) nor ArcBuild (needs ../shared/data).
ctest --test-dir "$BUILD" -R 'Cuda|Fixture|ReferenceCheckpoint|HrmVersion|EvalStepGraph|RmsNorm|FusedOps' -E 'debian_torch113|ArcBuild' --output-on-failure \
  >"$LOGS/ctest.log" 2>&1
row "ctest (CUDA, fixtures, checkpoints, graphs, fused)" "$(grep -E 'tests passed' "$LOGS/ctest.log"); skipped: $(grep -c '(Skipped)' "$LOGS/ctest.log"); failed: $(grep -E '^\s+[0-9]+ - ' "$LOGS/ctest.log" | grep -v Skipped | sed 's/^[[:space:]]*[0-9]* - //; s/ (.*//' | tr '\n' ' ')"

# ---- verify-fixture on the device -------------------------------------------------------------
# float32 goldens: elementwise in float32 (TF32 off), then normwise with a bfloat16 forward. bfloat16
# goldens (hrm-bf16, computed by the reference on a CPU): normwise, since another device's kernels
# round differently; the largest relative L2 error is shown either way.
worst_rel_l2() { grep -o ' rel_l2 [0-9.e+-]*' "$1" | awk '{ if ($2 > m) m = $2 } END { printf "%.3g", m }'; }
for d in "$SHARED"/fixtures/*/ "$KIT"/generated/*/; do
  [[ -f $d/config.json ]] || continue
  n=$(basename "$d")
  if grep -q '"forward_dtype": "float32"' "$d/config.json"; then
    "$HRM" verify-fixture --device "$DEVICE" "$d" >"$LOGS/verify_$n.log" 2>&1
    row "verify-fixture $n" "$(tail -1 "$LOGS/verify_$n.log" | sed 's|.*: ||')"
    "$HRM" verify-fixture --device "$DEVICE" --forward-dtype bfloat16 "$d" >"$LOGS/verify_${n}_bf16.log" 2>&1
    row "verify-fixture $n as bfloat16" \
      "$(tail -1 "$LOGS/verify_${n}_bf16.log" | sed 's|.*: ||'), worst rel_l2 $(worst_rel_l2 "$LOGS/verify_${n}_bf16.log")"
  else
    "$HRM" verify-fixture --device "$DEVICE" --rel-l2 0.3 "$d" >"$LOGS/verify_$n.log" 2>&1
    row "verify-fixture $n (rel_l2 0.3)" \
      "$(tail -1 "$LOGS/verify_$n.log" | sed 's|.*: ||'), worst rel_l2 $(worst_rel_l2 "$LOGS/verify_$n.log")"
  fi
done

# ---- the main job on the device: train (the demo's model, shorter), evaluate, solve ---------------
JOB=/tmp/hrm-gpu-check-job
rm -rf "$JOB"
{
  "$HRM" data sudoku "$JOB/data" --size 4 --blanks 10 --train-size 2000 --test-size 200 --seed 0 &&
    "$HRM" train data_path="$JOB/data" checkpoint_path="$JOB/run" device="$DEVICE" epochs=50 eval_interval=50 \
      global_batch_size=128 lr=3e-3 lr_min_ratio=0.1 lr_warmup_steps=50 arch.hidden_size=64 arch.num_heads=4 \
      arch.H_layers=1 arch.L_layers=1 arch.halt_max_steps=4 arch.puzzle_emb_ndim=0 arch.pos_encodings=learned \
      arch.forward_dtype=bfloat16 &&
    ckpt=$(ls -d "$JOB"/run/step_* | grep -E '/step_[0-9]+$' | sort -V | tail -1) &&
    "$HRM" eval checkpoint="$ckpt" device="$DEVICE" &&
    "$HRM" solve --device "$DEVICE" --checkpoint "$ckpt" --halt q "$(sed -n 2p "$JOB/data/input/test.csv" | cut -d, -f2)"
} >"$LOGS/job.log" 2>&1
job_rc=$?
row "train, eval, solve on $DEVICE" "$([[ $job_rc == 0 ]] && echo ok || echo 'FAILED (job.log)'); $(grep -o 'exact_accuracy [0-9.]*' "$LOGS/job.log" | tail -1)"
if [[ $DEVICE != cpu && $job_rc == 0 ]]; then  # the same evaluation from replayed CUDA graphs
  "$HRM" eval checkpoint="$ckpt" device="$DEVICE" cuda_graphs=true >"$LOGS/job_eval_graphs.log" 2>&1
  row "eval with CUDA graphs" "$(grep -o 'exact_accuracy [0-9.]*' "$LOGS/job_eval_graphs.log" | tail -1 || echo 'FAILED (job_eval_graphs.log)')"
fi

# ---- benchmarks --------------------------------------------------------------------------------
if [[ $DEVICE == cpu ]]; then
  MODEL_ARGS=(batch_size=4 --iters 1 --warmup 1)
  DATA_ARGS=(--size 4 --blanks 8 --train-size 200 --test-size 20)
  TRAIN_ARGS=(global_batch_size=32 arch.hidden_size=64 arch.num_heads=4 arch.H_layers=1 arch.L_layers=1
    arch.puzzle_emb_ndim=0 --iters 3 --warmup 1)
  EVAL_ARGS=(global_batch_size=20 arch.hidden_size=64 arch.num_heads=4 arch.H_layers=1 arch.L_layers=1
    arch.puzzle_emb_ndim=0 arch.halt_max_steps=4 --iters 2 --warmup 1)
else  # the reference's Sudoku configuration: batch 768, hidden 512, 4+4 layers
  MODEL_ARGS=(batch_size=768 --iters 10 --warmup 3)
  DATA_ARGS=(--generate 1100 --train-size 1000 --test-size 100 --num-aug 8)
  TRAIN_ARGS=(global_batch_size=768 --iters 20 --warmup 3)
  EVAL_ARGS=(global_batch_size=768 --iters 2 --warmup 1)  # 16 ACT steps per batch
fi
for dt in float32 bfloat16; do
  "$HRM" bench model --device "$DEVICE" forward_dtype=$dt "${MODEL_ARGS[@]}" >"$LOGS/bench_model_$dt.log" 2>&1
  row "bench model $dt forward" "$(grep 'forward (eval segment)' "$LOGS/bench_model_$dt.log" | sed 's/.*segment) *//')"
  row "bench model $dt forward+backward" "$(grep 'forward+backward' "$LOGS/bench_model_$dt.log" | sed 's/.*segment) *//')"
done
DATA=/tmp/hrm-gpu-check-sudoku
rm -rf "$DATA"
"$HRM" data sudoku "$DATA" "${DATA_ARGS[@]}" --seed 0 >"$LOGS/data.log" 2>&1 || row "data sudoku" "FAILED (data.log)"
# Training steps: bfloat16 with and without the finiteness check (its one host sync per step) and
# with the reference's unfused ops (--unfused: what ATen's fused rms_norm and hrm's SwiGLU and RoPE
# kernels bring), float32.
bench_train() {  # name, hrm's global flags ("" for none), overrides...
  local name=$1 flags=$2
  shift 2
  # shellcheck disable=SC2086  # flags: zero or more words
  "$HRM" $flags bench train data_path="$DATA" device="$DEVICE" "$@" "${TRAIN_ARGS[@]}" >"$LOGS/bench_train_$name.log" 2>&1
  row "bench train $name" "$(grep ' steps: median' "$LOGS/bench_train_$name.log" | sed 's/^ *//; s/ per step;.*//')"
  row "  MFU / memory" "$(grep -o 'MFU [0-9.]*%' "$LOGS/bench_train_$name.log") / $(grep -o 'peak [A-Za-z ]* [0-9.]* GiB' "$LOGS/bench_train_$name.log")"
}
# The default step also under PyTorch's profiler (3 steps after the timed ones): the trace travels in the
# logs archive, the tables are in bench_train_bfloat16.log.
bench_train bfloat16 "" arch.forward_dtype=bfloat16 --profile "$LOGS/trace_train_bfloat16.json"
row "  profiled: GPU busy per step" \
  "$(grep -o 'GPU kernels and copies by time (per step; % of [0-9.]* ms' "$LOGS/bench_train_bfloat16.log" | grep -o '[0-9.]* ms$' ||
    echo 'no GPU events (bench_train_bfloat16.log)'); $(grep -o '[0-9]* profiled steps, [0-9.]* ms per step' "$LOGS/bench_train_bfloat16.log")"
bench_train bfloat16_nocheck "" arch.forward_dtype=bfloat16 max_nonfinite_steps=0
bench_train bfloat16_unfused --unfused arch.forward_dtype=bfloat16
bench_train float32 "" arch.forward_dtype=float32
"$HRM" bench eval data_path="$DATA" device="$DEVICE" arch.forward_dtype=bfloat16 "${EVAL_ARGS[@]}" >"$LOGS/bench_eval.log" 2>&1
row "bench eval bfloat16" "$(grep 'ACT steps: median' "$LOGS/bench_eval.log" | sed 's/^ *//; s/ per ACT step;.*//')"
row "  MFU / memory" "$(grep -o 'MFU [0-9.]*%' "$LOGS/bench_eval.log") / $(grep -o 'peak [A-Za-z ]* [0-9.]* GiB' "$LOGS/bench_eval.log")"
# Evaluation is all no-grad passes: every SwiGLU and RoPE there runs fused; --unfused runs the op chains.
"$HRM" --unfused bench eval data_path="$DATA" device="$DEVICE" arch.forward_dtype=bfloat16 "${EVAL_ARGS[@]}" \
  >"$LOGS/bench_eval_unfused.log" 2>&1
row "bench eval bfloat16 --unfused" "$(grep 'ACT steps: median' "$LOGS/bench_eval_unfused.log" | sed 's/^ *//; s/ per ACT step;.*//')"
if [[ $DEVICE != cpu ]]; then  # replayed CUDA graphs (cuda_graphs needs device=cuda)
  "$HRM" bench eval data_path="$DATA" device="$DEVICE" arch.forward_dtype=bfloat16 cuda_graphs=true "${EVAL_ARGS[@]}" \
    >"$LOGS/bench_eval_graphs.log" 2>&1
  row "bench eval bfloat16, CUDA graphs" \
    "$(grep 'ACT steps: median' "$LOGS/bench_eval_graphs.log" | sed 's/^ *//; s/ per ACT step;.*//' || echo 'FAILED (bench_eval_graphs.log)')"
fi

# A fused kernel that differed from its op chain at its first use warned and was dropped (model/fused_ops.h).
differed=$(grep -h "warning: hrm's fused" "$LOGS"/*.log | sed "s/^warning: hrm's fused //; s/ differs.*(largest difference \([^)]*\)).*/ by \1/" |
  sort -u | tr '\n' ';' || true)
row "fused kernels that differed from the op chain" "${differed:-none}"

# ---- the reference's own training step on the same data and device (tools/bench_reference.py) ------
# Eager, and torch.compile'd as its pretrain.py runs by default; the sources come from .devcarry/reference
# (device-kit.sh with HRM_REFERENCE) or $HRM_REFERENCE. Last, and held to what is left of
# HRM_CHECK_BUDGET_S (default 500 s; compilation alone can take minutes), so that the rows above come back.
REF=${HRM_REFERENCE:-}
[[ -d $KIT/reference/models ]] && REF=$PWD/$KIT/reference
BUDGET=${HRM_CHECK_BUDGET_S:-500}
ref_train() {  # name, bench_reference flags...
  local name=$1 left=$((BUDGET - SECONDS))
  shift
  if ((left < 30)); then row "reference bench train $name" "skipped: ${left} s of HRM_CHECK_BUDGET_S left"; return; fi
  HRM_REFERENCE=$REF timeout "$left" "$PY" tools/bench_reference.py train data_path="$DATA" device="$DEVICE" \
    arch.forward_dtype=bfloat16 "${TRAIN_ARGS[@]}" "$@" >"$LOGS/reference_train_$name.log" 2>&1
  row "reference bench train $name" \
    "$(grep ' steps: median' "$LOGS/reference_train_$name.log" | sed 's/^ *//; s/ per step;.*//' || echo "FAILED (reference_train_$name.log)")"
}
median_ms() { grep -o 'median [0-9.]* ms' "$1" 2>/dev/null | awk '{ print $2 }'; }
if [[ -n $REF ]]; then
  ref_train bfloat16_eager
  ref_train bfloat16_compiled --compile
  # hrm's default training step (finiteness check on) against each: > 1 means hrm is faster.
  hrm_ms=$(median_ms "$LOGS/bench_train_bfloat16.log")
  for name in eager compiled; do
    ref_ms=$(median_ms "$LOGS/reference_train_bfloat16_$name.log")
    [[ -n $hrm_ms && -n $ref_ms ]] &&
      row "  reference $name step / hrm step" "$(awk -v r="$ref_ms" -v h="$hrm_ms" 'BEGIN { printf "%.2fx", r / h }')"
  done
else
  row "reference bench train" "skipped: no .devcarry/reference and no HRM_REFERENCE"
fi
