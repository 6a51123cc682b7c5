#!/usr/bin/env bash
# demo.sh: the main job on a built-in default, on the CPU of a fresh Debian 12 machine:
# install what is missing and build (scripts/build.sh), generate 4x4 Sudoku whose test solution
# grids never occur in training (hrm data sudoku --size 4), train a small HRM for about two
# minutes with the progress bar (hrm train; bfloat16 where the CPU has AVX-512, measured faster
# than float32 there and as accurate; float32 elsewhere: without AVX-512, ATen's bfloat16 matrix
# products are ~100x slower), evaluate the last checkpoint and draw solved and failed test puzzles
# (hrm eval show=N), solve one puzzle (hrm solve) and write an HTML report (hrm report).
# Output under runs/demo (HRM_DEMO_DIR), which each demo replaces.
# Measured on 2-core machines once built (docs/PERF.md): AVX-512, bfloat16: 194 of 200 held-out
# puzzles (97%) solved exactly, 2 min 17 s in all; AVX2 only, float32: 195 of 200, 3 min 44 s.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
source scripts/torch_env.sh
HRM=$HRM_BUILD_DIR/hrm
OUT=${HRM_DEMO_DIR:-runs/demo}
# Each demo replaces the previous one (runs/demo); a HRM_DEMO_DIR that holds anything else is kept.
if [[ -n "${HRM_DEMO_DIR:-}" && -e "$OUT" && ! -f "$OUT/.hrm-demo" ]] && [[ -n "$(ls -A "$OUT" 2>/dev/null)" || ! -d "$OUT" ]]; then
  echo "demo: $OUT exists and is not a folder of an earlier demo: not replacing it (set HRM_DEMO_DIR to another folder)" >&2
  exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/.hrm-demo"

echo "== 1. dataset: 2000 training and 200 test 4x4 Sudoku, 10 of 16 cells blank"
$HRM data sudoku "$OUT/data" --size 4 --blanks 10 --train-size 2000 --test-size 200 --seed 0
$HRM data info "$OUT/data" | sed -n '1,30p'

# ATen's fast bfloat16 CPU kernels (oneDNN) need AVX-512 (avx512bw) or AMX; hrm train prints a note
# with both measured rates when the dtype it was given is the slow one.
DTYPE=float32
grep -qwE 'avx512bw|amx_bf16' /proc/cpuinfo 2>/dev/null && DTYPE=bfloat16
echo "== 2. train a small HRM on the CPU ($DTYPE; hidden 64, 4 heads, 1+1 layers, up to 4 ACT steps)"
$HRM train device=cpu data_path="$OUT/data" checkpoint_path="$OUT/run" epochs=150 eval_interval=50 \
  global_batch_size=128 lr=3e-3 lr_min_ratio=0.1 lr_warmup_steps=50 \
  arch.hidden_size=64 arch.num_heads=4 arch.H_layers=1 arch.L_layers=1 arch.halt_max_steps=4 \
  arch.puzzle_emb_ndim=0 arch.pos_encodings=learned arch.forward_dtype=$DTYPE

echo "== 3. evaluate the last checkpoint on the 200 held-out puzzles; draw 3 solved and 3 failed"
ckpt=$(ls -d "$OUT"/run/step_* | grep -E '/step_[0-9]+$' | sort -V | tail -1)
$HRM eval checkpoint="$ckpt" show=3

echo "== 4. hrm solve: a puzzle as a string ('.' blank), halting when the model's Q-head says so (--halt q)"
$HRM solve --checkpoint "$ckpt" --halt q "$(sed -n 2p "$OUT/data/input/test.csv" | cut -d, -f2)"

echo "== 5. one self-contained HTML page of the run: curves, metrics, answers, the dataset"
$HRM report --run "$OUT/run"
