#!/usr/bin/env python3
"""The reference's own speed, measured the way `hrm bench model` and `hrm bench train` measure hrm's,
so that the two can be compared as a ratio taken on one machine in one sitting (docs/PERF.md,
"Against the reference").

It runs sapientinc/HRM's PyTorch code (commit 42410da), imported unmodified from $HRM_REFERENCE, a
checkout or extract of that repository (models/, puzzle_dataset.py, dataset/common.py); nothing of
it is in this repository. What the reference needs and cannot have here is stood in for, and said:
  * flash_attn.flash_attn_func (CUDA-only package) -> tools/shims/flash_attn.py: PyTorch's
    scaled_dot_product_attention, which runs FlashAttention-2 kernels on a CUDA GPU itself.
  * adam_atan2.AdamATan2 (a CUDA-only extension; `train` only) -> AdamATan2Foreach below: the same
    update in PyTorch's multi-tensor _foreach_ ops, the fastest form eager PyTorch offers.
  * pydantic, if it is not installed -> tools/shims/fallback/pydantic.py (attribute holder; the
    configs built here are already typed).
The training step is pretrain.py's train_batch (that file imports wandb, hydra and adam_atan2, so it
is not imported): the batch from the reference's PuzzleDataset through a DataLoader as pretrain.py
makes it (one worker, prefetch 8), to the device, the ACT forward, backward of loss/global_batch_size,
sign-SGD and AdamATan2 at the cosine-schedule lr, zero_grad, and the metrics read back to the host.
--compile wraps the loss head in torch.compile(dynamic=False), as pretrain.py does unless
DISABLE_COMPILE is set; compilation happens in the warm-up steps, which are not timed.

Usage (the same key=value overrides as the hrm commands):
  HRM_REFERENCE=DIR python tools/bench_reference.py model [key=value ...] [--device D] [--iters N]
        [--warmup N] [--threads T] [--compile]        like `hrm bench model` (random tokens)
  HRM_REFERENCE=DIR python tools/bench_reference.py train data_path=DIR [key=value ...] [same options]
                                                      like `hrm bench train` (a dataset hrm built)
"""
import argparse
import math
import os
import statistics
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if not os.environ.get("HRM_REFERENCE") or not os.path.isdir(os.path.join(os.environ["HRM_REFERENCE"], "models")):
    sys.exit("bench_reference.py: set HRM_REFERENCE to a checkout of sapientinc/HRM (commit 42410da)")
sys.path[:0] = [os.path.join(_HERE, "shims"), os.environ["HRM_REFERENCE"]]
try:
    import pydantic  # noqa: F401  (the real one, where installed)
except ImportError:
    sys.path.append(os.path.join(_HERE, "shims", "fallback"))

import torch

from models.hrm.hrm_act_v1 import HierarchicalReasoningModel_ACTV1
from models.losses import ACTLossHead

# config/arch/hrm_v1.yaml with the Sudoku dataset's sizes: the defaults of `hrm bench model`.
ARCH_DEFAULTS = dict(batch_size=768, seq_len=81, puzzle_emb_ndim=512, num_puzzle_identifiers=1, vocab_size=11,
                     H_cycles=2, L_cycles=2, H_layers=4, L_layers=4, hidden_size=512, expansion=4.0, num_heads=8,
                     pos_encodings="rope", rms_norm_eps=1e-5, rope_theta=10000.0, halt_max_steps=16,
                     halt_exploration_prob=0.1, forward_dtype="bfloat16", loss_type="stablemax_cross_entropy")
# config/cfg_pretrain.yaml (the keys a training step reads).
TRAIN_DEFAULTS = dict(data_path="", global_batch_size=768, epochs=100000, lr=1e-4, lr_min_ratio=1.0,
                      lr_warmup_steps=2000, beta1=0.9, beta2=0.95, weight_decay=0.1, puzzle_emb_weight_decay=0.1,
                      puzzle_emb_lr=1e-2, seed=0)
# hrm train's keys that do not change the work of a training step.
IGNORED_TRAIN_KEYS = {"eval_interval", "checkpoint_every_eval", "checkpoint_path", "project_name", "run_name",
                      "eval_save_outputs", "max_nonfinite_steps", "cuda_graphs", "ema", "ema_rate", "resume",
                      "log_interval", "dist_timeout", "dist_reducer"}


def follow_hidden_size(cfg, pairs, key):
    """config/arch/hrm_v1.yaml's puzzle_emb_ndim: ${.hidden_size}, unless the overrides set it (as hrm)."""
    if not any(kv.partition("=")[0] in (key, "arch." + key) for kv in pairs):
        cfg[key] = cfg[key.replace("puzzle_emb_ndim", "hidden_size")]


def parse_overrides(pairs, defaults, prefix_ok):
    """key=value pairs onto a copy of defaults, each value parsed as its default's type."""
    out = dict(defaults)
    for kv in pairs:
        key, eq, value = kv.partition("=")
        if not eq:
            sys.exit(f"bench_reference.py: expected key=value, got '{kv}'")
        if prefix_ok and key.startswith("arch."):
            key = key[len("arch."):]
        if key not in out:
            sys.exit(f"bench_reference.py: unknown key '{key}' (known: {', '.join(sorted(out))})")
        kind = type(out[key])
        out[key] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return out


class AdamATan2Foreach(torch.optim.Optimizer):
    """adam_atan2's AdamATan2 update in float32 multi-tensor ops: p *= 1 - lr*wd; m = lerp(m, g, 1-b1);
    v = lerp(v, g*g, 1-b2); p -= lr/(1-b1^t) * atan2(m, sqrt(v)/sqrt(1-b2^t))."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))
        self.t = 0

    @torch.no_grad()
    def step(self, closure=None):
        self.t += 1
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if not self.state[p]:
                    self.state[p] = dict(m=torch.zeros_like(p), v=torch.zeros_like(p))
            grads = [p.grad for p in params]
            ms = [self.state[p]["m"] for p in params]
            vs = [self.state[p]["v"] for p in params]
            torch._foreach_mul_(params, 1 - lr * wd)
            torch._foreach_lerp_(ms, grads, 1 - b1)
            torch._foreach_lerp_(vs, torch._foreach_mul(grads, grads), 1 - b2)
            denoms = torch._foreach_sqrt(vs)
            torch._foreach_div_(denoms, math.sqrt(1 - b2 ** self.t))
            torch._foreach_add_(params, [torch.atan2(m, d) for m, d in zip(ms, denoms)],
                                alpha=-(lr / (1 - b1 ** self.t)))


def build_head(arch, device, compile_head):
    model_cfg = {k: v for k, v in arch.items() if k != "loss_type"}
    with torch.device(device):
        torch.manual_seed(0)
        head = ACTLossHead(HierarchicalReasoningModel_ACTV1(model_cfg), arch["loss_type"])
    return head, (torch.compile(head, dynamic=False) if compile_head else head)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, warmup, iters, fn):
    """Median milliseconds of iters calls after warmup untimed ones."""
    ms = []
    for i in range(warmup + iters):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        if i >= warmup:
            ms.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(ms), statistics.fmean(ms)


def clear_grads(head):
    for p in head.parameters():
        p.grad = None
    emb = getattr(head.model.inner, "puzzle_emb", None)
    if emb is not None:
        emb.local_weights.grad = None


def bench_model(args, device):
    arch = parse_overrides(args.overrides, ARCH_DEFAULTS, prefix_ok=True)
    follow_hidden_size(arch, args.overrides, "puzzle_emb_ndim")
    head, run = build_head(arch, device, args.compile)
    B, L, V = arch["batch_size"], arch["seq_len"], arch["vocab_size"]
    gen = dict(dtype=torch.int32, device=device)
    batch = dict(inputs=torch.randint(1, V, (B, L), **gen), labels=torch.randint(1, V, (B, L), **gen),
                 puzzle_identifiers=torch.randint(0, arch["num_puzzle_identifiers"], (B,), **gen))
    print(f"reference bench model: device {device}, forward_dtype {arch['forward_dtype']}, batch {B}, seq_len {L}, "
          f"hidden {arch['hidden_size']}, H/L cycles {arch['H_cycles']}/{arch['L_cycles']}, layers "
          f"{arch['H_layers']}/{arch['L_layers']}, {sum(p.numel() for p in head.parameters())} parameters, "
          f"{torch.get_num_threads()} threads, compile {args.compile}")
    state = {}
    head.eval()
    with torch.no_grad(), torch.device(device):
        state["carry"] = head.initial_carry(batch)

        def forward():
            state["carry"] = run(carry=state["carry"], batch=batch, return_keys=[])[0]
        fwd, _ = timed(device, args.warmup, args.iters, forward)
    print(f"  forward (eval segment)           {fwd:10.2f} ms  {B * L / (fwd / 1000):12.0f} tokens/s")

    head.train()
    with torch.device(device):
        state["carry"] = head.initial_carry(batch)

    def train_segment():
        carry, loss, _, _, _ = run(carry=state["carry"], batch=batch, return_keys=[])
        ((1 / B) * loss).backward()
        clear_grads(head)
        state["carry"] = carry
    trn, _ = timed(device, args.warmup, args.iters, train_segment)
    print(f"  forward+backward (train segment) {trn:10.2f} ms  {B * L / (trn / 1000):12.0f} tokens/s")


def cosine_lr(base_lr, step, warmup, total, min_ratio):
    if step < warmup:
        return base_lr * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return base_lr * (min_ratio + max(0.0, (1 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))))


def bench_train(args, device):
    from models.sparse_embedding import CastedSparseEmbeddingSignSGD_Distributed
    from puzzle_dataset import PuzzleDataset, PuzzleDatasetConfig
    from torch.utils.data import DataLoader

    keys = dict(TRAIN_DEFAULTS, **{"arch." + k: v for k, v in ARCH_DEFAULTS.items()})
    pairs = [kv for kv in args.overrides if kv.partition("=")[0] not in IGNORED_TRAIN_KEYS | {"device"}]
    cfg = parse_overrides(pairs, keys, prefix_ok=False)
    follow_hidden_size(cfg, pairs, "arch.puzzle_emb_ndim")
    if not cfg["data_path"]:
        sys.exit("bench_reference.py train: data_path=DIR is required (a dataset built by hrm data ...)")
    B = cfg["global_batch_size"]
    dataset = PuzzleDataset(PuzzleDatasetConfig(seed=cfg["seed"], dataset_path=cfg["data_path"], global_batch_size=B,
                                                test_set_mode=False, epochs_per_iter=1000, rank=0, num_replicas=1),
                            split="train")
    meta = dataset.metadata
    arch = {k[len("arch."):]: v for k, v in cfg.items() if k.startswith("arch.")}
    arch.update(batch_size=B, vocab_size=meta.vocab_size, seq_len=meta.seq_len,
                num_puzzle_identifiers=meta.num_puzzle_identifiers)
    head, run = build_head(arch, device, args.compile)
    optimizers = [AdamATan2Foreach(head.parameters(), lr=0, weight_decay=cfg["weight_decay"],
                                   betas=(cfg["beta1"], cfg["beta2"]))]
    base_lrs = [cfg["lr"]]
    if arch["puzzle_emb_ndim"] > 0:
        optimizers.insert(0, CastedSparseEmbeddingSignSGD_Distributed(
            head.model.puzzle_emb.buffers(), lr=0, weight_decay=cfg["puzzle_emb_weight_decay"], world_size=1))
        base_lrs.insert(0, cfg["puzzle_emb_lr"])
    total_steps = int(cfg["epochs"] * meta.total_groups * meta.mean_puzzle_examples / B)
    loader = DataLoader(dataset, batch_size=None, num_workers=1, prefetch_factor=8, pin_memory=device.type == "cuda",
                        persistent_workers=True)
    batches = iter(loader)
    print(f"reference bench train: device {device}, forward_dtype {arch['forward_dtype']}, global_batch_size {B}, "
          f"seq_len {meta.seq_len}, hidden {arch['hidden_size']}, H/L cycles {arch['H_cycles']}/{arch['L_cycles']}, "
          f"layers {arch['H_layers']}/{arch['L_layers']}, halt_max_steps {arch['halt_max_steps']}, "
          f"{sum(p.numel() for p in head.parameters())} parameters, {torch.get_num_threads()} threads, "
          f"compile {args.compile}")
    state = dict(step=0, carry=None)

    def train_batch():
        _, batch, _ = next(batches)
        state["step"] += 1
        batch = {k: v.to(device) for k, v in batch.items()}
        if state["carry"] is None:
            with torch.device(device):
                state["carry"] = head.initial_carry(batch)
        state["carry"], loss, metrics, _, _ = run(carry=state["carry"], batch=batch, return_keys=[])
        ((1 / B) * loss).backward()
        for optim, base_lr in zip(optimizers, base_lrs):
            lr = cosine_lr(base_lr, state["step"], round(cfg["lr_warmup_steps"]), total_steps, cfg["lr_min_ratio"])
            for group in optim.param_groups:
                group["lr"] = lr
            optim.step()
            optim.zero_grad()
        torch.stack([metrics[k] for k in sorted(metrics)]).cpu().numpy()

    med, mean = timed(device, args.warmup, args.iters, train_batch)
    print(f"  {args.iters} steps: median {med:.2f} ms, mean {mean:.2f} ms per step; {1000 / med:.2f} steps/s, "
          f"{1000 / med * B * meta.seq_len:.0f} tokens/s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["model", "train"])
    ap.add_argument("overrides", nargs="*", help="key=value, as for hrm bench model / hrm bench train")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch's intra-op threads (default: torch's own)")
    ap.add_argument("--compile", action="store_true", help="torch.compile the loss head, as pretrain.py does")
    args = ap.parse_args()
    if args.iters < 1 or args.warmup < 0:
        sys.exit("bench_reference.py: --iters >= 1 and --warmup >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    # hrm bench train takes the device as an override (device=cuda); so does this.
    name = next((kv.partition("=")[2] for kv in args.overrides if kv.startswith("device=")), args.device)
    if name == "auto":  # as hrm's default: the GPU where there is one
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    (bench_model if args.what == "model" else bench_train)(args, device)


if __name__ == "__main__":
    main()
