#!/usr/bin/env bash
# demo.sh: the main job on a built-in default, on the CPU of a fresh Debian 12 machine:
# install what is missing and build (scripts/build.sh), generate a small dataset of 8x8 mazes
# (hrm data maze), train a small HRM for a few minutes with the progress bar (hrm train), evaluate
# the last checkpoint (hrm eval), and show the dataset and metrics. Output under runs/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
HRM=build/hrm
OUT=${HRM_DEMO_DIR:-runs/demo}
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. dataset: 1000 training and 200 test mazes of 8x8 (shortest paths by BFS)"
$HRM data maze "$OUT/data" --side 8 --train-size 1000 --test-size 200 --min-path-length 6 \
  --wall-min 0.2 --wall-max 0.35 --seed 0
$HRM data info "$OUT/data" | sed -n '1,25p'

echo "== 2. train a small HRM on the CPU (float32; hidden 64, 1+1 layers, 4 ACT steps)"
$HRM train data_path="$OUT/data" checkpoint_path="$OUT/run" epochs=120 eval_interval=60 \
  global_batch_size=64 lr=1e-3 lr_warmup_steps=20 puzzle_emb_lr=1e-3 \
  arch.hidden_size=64 arch.num_heads=4 arch.H_layers=1 arch.L_layers=1 arch.halt_max_steps=4 \
  arch.puzzle_emb_ndim=0 arch.forward_dtype=float32

echo "== 3. evaluate the last checkpoint on the test mazes"
ckpt=$(ls -d "$OUT"/run/step_* | sort -V | tail -1)
$HRM eval checkpoint="$ckpt"
