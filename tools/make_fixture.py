#!/usr/bin/env python3
"""Golden-fixture generator for the HRM C++ port, using the REAL reference code
(sapientinc/HRM @ 42410da: its models/ package, imported unmodified from $HRM_REFERENCE, a checkout
or extract of that repository; nothing of it is in this repository).

Output format = ../shared/fixtures/hrm-tiny (see its README.md): config.json, batch.pt,
weights.pt, eval_trace.pt, train_step.pt, optim_step.pt, train_loop.pt, losses.pt, README.md.

CPU-only stand-ins (not part of the reference):
  * flash_attn.flash_attn_func -> tools/shims/flash_attn.py (SDPA, non-causal, 1/sqrt(d)).
  * AdamATan2 (CUDA package adam_atan2) -> AdamATan2 below, the package kernel's formula in
    float32 (lerp moments, decoupled weight decay, atan2 update).
The sparse SignSGD optimizer is the reference's CastedSparseEmbeddingSignSGD_Distributed with
world_size=1 (that path makes no torch.distributed call, so no process group is needed).

Usage:
  HRM_REFERENCE=/path/to/HRM python tools/make_fixture.py [--out DIR] NAME [NAME...]
                                          generate DIR/NAME (DIR default: fixtures-generated)
  Needs torch >= 2.1 (CPU is enough; the venv of scripts/setup.sh) and pydantic (the reference's
  hrm_act_v1.py imports it: pip install --target DIR pydantic, then PYTHONPATH=DIR).
  make_fixture.py --selfcheck [DIR]       recompute hrm-tiny from its own weights/batches and compare
"""
import sys

import os

if not os.environ.get("HRM_REFERENCE") or not os.path.isdir(os.path.join(os.environ["HRM_REFERENCE"], "models")):
    sys.exit("make_fixture.py: set HRM_REFERENCE to a checkout of sapientinc/HRM (commit 42410da) holding models/")
sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "shims"), os.environ["HRM_REFERENCE"]]

import argparse
import json
import math
import os

import torch
import torch.nn.functional as F

from models.hrm.hrm_act_v1 import HierarchicalReasoningModel_ACTV1
from models.losses import ACTLossHead, IGNORE_LABEL_ID, log_stablemax, softmax_cross_entropy, stablemax_cross_entropy
from models.sparse_embedding import CastedSparseEmbeddingSignSGD_Distributed

OUT_ROOT = "fixtures-generated"  # --out
RETURN_KEYS = ["logits", "q_halt_logits", "q_continue_logits", "target_q_continue"]
NUM_TRAIN_STEPS = 4
NUM_OPTIM_STEPS = 2
OPTIM = {"adam_atan2": {"lr": 0.001, "betas": [0.9, 0.95], "weight_decay": 0.1},
         "sparse_sign_sgd": {"lr": 0.01, "weight_decay": 0.1},
         "loss_scale": "1/batch_size"}
# Robustness thresholds for accepting a seed (the brief asks for > 1e-3).
MIN_Q_MARGIN = 0.02
MIN_ARGMAX_GAP = 2e-3

CONFIGS = {
    "hrm-learned-softmax-p2": dict(
        model=dict(batch_size=3, seq_len=12, puzzle_emb_ndim=48, num_puzzle_identifiers=5, vocab_size=7,
                   H_cycles=1, L_cycles=3, H_layers=1, L_layers=2, hidden_size=32, expansion=2.0, num_heads=2,
                   pos_encodings="learned", rms_norm_eps=1e-05, rope_theta=10000.0, halt_max_steps=3,
                   halt_exploration_prob=0.0, forward_dtype="float32"),
        loss_type="softmax_cross_entropy", base_seed=20251201, q_halt_rows=1, pad=True),
    "hrm-rope-noemb": dict(
        model=dict(batch_size=5, seq_len=9, puzzle_emb_ndim=0, num_puzzle_identifiers=3, vocab_size=5,
                   H_cycles=2, L_cycles=1, H_layers=2, L_layers=1, hidden_size=48, expansion=4.0, num_heads=3,
                   pos_encodings="rope", rms_norm_eps=1e-05, rope_theta=10000.0, halt_max_steps=4,
                   halt_exploration_prob=0.0, forward_dtype="float32"),
        loss_type="stablemax_cross_entropy", base_seed=20251202, q_halt_rows=2, pad=False),
    # bfloat16 forward (float32 master weights), as the reference trains: the hrm-tiny shape.
    "hrm-bf16": dict(
        model=dict(batch_size=4, seq_len=16, puzzle_emb_ndim=32, num_puzzle_identifiers=3, vocab_size=6,
                   H_cycles=2, L_cycles=2, H_layers=2, L_layers=2, hidden_size=32, expansion=4.0, num_heads=4,
                   pos_encodings="rope", rms_norm_eps=1e-05, rope_theta=10000.0, halt_max_steps=4,
                   halt_exploration_prob=0.0, forward_dtype="bfloat16"),
        loss_type="stablemax_cross_entropy", base_seed=20251203, q_halt_rows=2, pad=False),
}


# ----------------------------------------------------------------------------------------------
# AdamATan2 in plain PyTorch (float32), following the adam_atan2 CUDA kernel:
#   p *= 1 - lr*wd; m = lerp(m, g, 1-b1); v = lerp(v, g*g, 1-b2);
#   p -= lr/(1-b1^t) * atan2(m, sqrt(v)/sqrt(1-b2^t))
class AdamATan2(torch.optim.Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            lr, (b1, b2), wd = group["lr"], group["betas"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if len(st) == 0:
                    st["step"] = 0
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                st["step"] += 1
                t = st["step"]
                bc1 = 1 - b1 ** t
                bc2 = 1 - b2 ** t
                g = p.grad
                p.mul_(1 - lr * wd)
                st["exp_avg"].lerp_(g, 1 - b1)
                st["exp_avg_sq"].lerp_(g * g, 1 - b2)
                denom = st["exp_avg_sq"].sqrt() / math.sqrt(bc2)
                p.add_(torch.atan2(st["exp_avg"], denom), alpha=-(lr / bc1))


# ----------------------------------------------------------------------------------------------
def c(t):
    """Detached contiguous copy (torch.save of a view would store the whole storage)."""
    return t.detach().clone().contiguous()


def build_head(model_cfg, loss_type, seed, state_dict=None):
    torch.manual_seed(seed)
    model = HierarchicalReasoningModel_ACTV1(dict(model_cfg))
    head = ACTLossHead(model, loss_type)
    if loss_type == "softmax_cross_entropy":
        # Reference quirk: softmax_cross_entropy does logits.to(float32).view(-1, V). With forward_dtype
        # float32 the cast is a no-op and logits = lm_head(z_H)[:, P:] is a non-contiguous slice when P > 0,
        # so .view raises. (With bfloat16 the cast makes a contiguous copy.) Feed the same values contiguous:
        # numerically identical, the reference function itself is unchanged.
        head.loss_fn = lambda logits, labels, ignore_index=IGNORE_LABEL_ID: softmax_cross_entropy(
            logits.contiguous(), labels, ignore_index=ignore_index)
    if state_dict is not None:
        head.load_state_dict(state_dict, strict=True)
    return head


def puzzle_emb(head):
    return getattr(head.model.inner, "puzzle_emb", None)


def clear_grads(head):
    for p in head.parameters():
        p.grad = None
    pe = puzzle_emb(head)
    if pe is not None:
        pe.local_weights.grad = None


def metric_entries(metrics, k):
    return {f"metric_{m}_{k}": c(metrics[m]) for m in sorted(metrics)}


def step_entries(k, carry, loss, metrics, outputs, training):
    """The per-step keys shared by eval_trace.pt and train_step.pt, in hrm-tiny's order."""
    out = {f"logits_{k}": c(outputs["logits"]), f"q_halt_{k}": c(outputs["q_halt_logits"]),
           f"q_continue_{k}": c(outputs["q_continue_logits"])}
    if training:
        out[f"target_q_continue_{k}"] = c(outputs["target_q_continue"])
    out.update({f"z_H_{k}": c(carry.inner_carry.z_H), f"z_L_{k}": c(carry.inner_carry.z_L),
                f"steps_{k}": c(carry.steps), f"halted_{k}": c(carry.halted), f"loss_{k}": c(loss)})
    out.update(metric_entries(metrics, k))
    return out


def run_eval(head, batch):
    head.eval()
    out, recs = {}, []
    with torch.no_grad():
        carry = head.initial_carry(batch)
        k = 0
        while True:
            k += 1
            carry, loss, metrics, outputs, all_halted = head(return_keys=RETURN_KEYS, carry=carry, batch=batch)
            out.update(step_entries(k, carry, loss, metrics, outputs, training=False))
            out[f"all_halted_{k}"] = c(all_halted)
            recs.append(dict(k=k, logits=out[f"logits_{k}"], labels=c(carry.current_data["labels"]),
                             q_halt=out[f"q_halt_{k}"], q_continue=out[f"q_continue_{k}"],
                             steps=out[f"steps_{k}"], halted=out[f"halted_{k}"], training=False))
            if bool(all_halted) or k > 1000:
                break
    out["num_steps"] = torch.tensor(k, dtype=torch.int64)
    return out, recs


def run_train_steps(head, batches):
    """train_step.pt: frozen weights, carry continues, gradients recorded."""
    head.train()
    B = batches[0]["inputs"].shape[0]
    out, recs = {}, []
    carry = head.initial_carry(batches[0])
    for k, batch in enumerate(batches, start=1):
        clear_grads(head)
        reset = c(carry.halted)
        carry, loss, metrics, outputs, all_halted = head(return_keys=RETURN_KEYS, carry=carry, batch=batch)
        ((1 / B) * loss).backward()
        out[f"batch_inputs_{k}"] = c(batch["inputs"])
        out[f"batch_labels_{k}"] = c(batch["labels"])
        out[f"batch_puzzle_identifiers_{k}"] = c(batch["puzzle_identifiers"])
        out[f"reset_{k}"] = reset
        out[f"cur_inputs_{k}"] = c(carry.current_data["inputs"])
        out[f"cur_labels_{k}"] = c(carry.current_data["labels"])
        out[f"cur_puzzle_identifiers_{k}"] = c(carry.current_data["puzzle_identifiers"])
        out.update(step_entries(k, carry, loss, metrics, outputs, training=True))
        pe = puzzle_emb(head)
        if pe is not None:
            out[f"local_ids_{k}"] = c(pe.local_ids)
        for name, p in head.named_parameters():
            assert p.grad is not None, name
            out[f"grad_{k}.{name}"] = c(p.grad)
        if pe is not None:
            out[f"grad_{k}.model.inner.puzzle_emb.local_weights"] = c(pe.local_weights.grad)
        recs.append(dict(k=k, logits=out[f"logits_{k}"], labels=out[f"cur_labels_{k}"], reset=reset,
                         q_halt=out[f"q_halt_{k}"], q_continue=out[f"q_continue_{k}"],
                         steps=out[f"steps_{k}"], halted=out[f"halted_{k}"], training=True))
    return out, recs


def run_optim_steps(head, train_out, n_steps):
    """optim_step.pt: AdamATan2 + sparse SignSGD from the initial weights with the recorded grads."""
    adam = AdamATan2(head.parameters(), lr=OPTIM["adam_atan2"]["lr"], betas=tuple(OPTIM["adam_atan2"]["betas"]),
                     weight_decay=OPTIM["adam_atan2"]["weight_decay"])
    pe = puzzle_emb(head)
    sparse = None
    if pe is not None:
        sparse = CastedSparseEmbeddingSignSGD_Distributed(pe.buffers(), lr=OPTIM["sparse_sign_sgd"]["lr"],
                                                          weight_decay=OPTIM["sparse_sign_sgd"]["weight_decay"],
                                                          world_size=1)
    out = {"lr": torch.tensor(OPTIM["adam_atan2"]["lr"], dtype=torch.float64),
           "beta1": torch.tensor(OPTIM["adam_atan2"]["betas"][0], dtype=torch.float64),
           "beta2": torch.tensor(OPTIM["adam_atan2"]["betas"][1], dtype=torch.float64),
           "weight_decay": torch.tensor(OPTIM["adam_atan2"]["weight_decay"], dtype=torch.float64),
           "puzzle_emb_lr": torch.tensor(OPTIM["sparse_sign_sgd"]["lr"], dtype=torch.float64),
           "puzzle_emb_weight_decay": torch.tensor(OPTIM["sparse_sign_sgd"]["weight_decay"], dtype=torch.float64)}
    named = list(head.named_parameters())
    for k in range(1, n_steps + 1):
        for name, p in named:
            p.grad = train_out[f"grad_{k}.{name}"].clone()
        adam.step()
        if pe is not None:
            with torch.no_grad():
                pe.local_ids.copy_(train_out[f"local_ids_{k}"])
            pe.local_weights.grad = train_out[f"grad_{k}.model.inner.puzzle_emb.local_weights"].clone()
            sparse.step()
        for name, p in named:
            st = adam.state[p]
            out[f"param_{k}.{name}"] = c(p)
            out[f"exp_avg_{k}.{name}"] = c(st["exp_avg"])
            out[f"exp_avg_sq_{k}.{name}"] = c(st["exp_avg_sq"])
        if pe is not None:
            out[f"puzzle_emb_weights_{k}"] = c(pe.weights)
        adam.zero_grad()
        if sparse is not None:
            sparse.zero_grad()
    return out


def run_train_loop(head, batches):
    """train_loop.pt: pretrain.py's train_batch (forward, (1/B)*loss backward, sparse SignSGD step,
    AdamATan2 step, zero_grad), constant lr."""
    head.train()
    B = batches[0]["inputs"].shape[0]
    adam = AdamATan2(head.parameters(), lr=OPTIM["adam_atan2"]["lr"], betas=tuple(OPTIM["adam_atan2"]["betas"]),
                     weight_decay=OPTIM["adam_atan2"]["weight_decay"])
    optims = [adam]
    pe = puzzle_emb(head)
    if pe is not None:  # pretrain.py order: [sparse SignSGD, AdamATan2]
        optims.insert(0, CastedSparseEmbeddingSignSGD_Distributed(
            pe.buffers(), lr=OPTIM["sparse_sign_sgd"]["lr"], weight_decay=OPTIM["sparse_sign_sgd"]["weight_decay"],
            world_size=1))
    out, recs = {}, []
    carry = head.initial_carry(batches[0])
    for k, batch in enumerate(batches, start=1):
        carry, loss, metrics, outputs, _ = head(return_keys=RETURN_KEYS, carry=carry, batch=batch)
        ((1 / B) * loss).backward()
        for o in optims:
            o.step()
            o.zero_grad()
        out[f"loss_{k}"] = c(loss)
        out.update(metric_entries(metrics, k))
        out[f"logits_{k}"] = c(outputs["logits"])
        out[f"q_halt_{k}"] = c(outputs["q_halt_logits"])
        out[f"q_continue_{k}"] = c(outputs["q_continue_logits"])
        out[f"target_q_continue_{k}"] = c(outputs["target_q_continue"])
        out[f"steps_{k}"] = c(carry.steps)
        out[f"halted_{k}"] = c(carry.halted)
        recs.append(dict(k=k, logits=out[f"logits_{k}"], labels=c(carry.current_data["labels"]),
                         q_halt=out[f"q_halt_{k}"], q_continue=out[f"q_continue_{k}"],
                         steps=out[f"steps_{k}"], halted=out[f"halted_{k}"], training=True))
    for name, p in head.named_parameters():
        out[f"final.{name}"] = c(p)
    if pe is not None:
        out["final.model.inner.puzzle_emb.weights"] = c(pe.weights)
    return out, recs


def run_losses(logits, labels):
    out = {"logits": c(logits), "labels": c(labels),
           "log_stablemax": c(log_stablemax(logits.to(torch.float64), dim=-1))}
    for name, fn in (("stablemax_cross_entropy", stablemax_cross_entropy),
                     ("softmax_cross_entropy", softmax_cross_entropy)):
        x = logits.clone().requires_grad_(True)
        loss = fn(x, labels, ignore_index=IGNORE_LABEL_ID)
        loss.sum().backward()
        out[name] = c(loss)
        out["grad_" + name] = c(x.grad)
    # hrm-tiny key order
    order = ["logits", "labels", "log_stablemax", "stablemax_cross_entropy", "grad_stablemax_cross_entropy",
             "softmax_cross_entropy", "grad_softmax_cross_entropy"]
    return {k: out[k] for k in order}


def make_loss_inputs(gen):
    logits = torch.randn(3, 7, 11, generator=gen) * 3.0  # N(0, 9)
    logits[0, 0, :4] = 0.0
    logits[1, 2, 3] = 0.0
    logits[0, 3, 5] = -40.0
    logits[2, 3, 1] = 35.0
    logits[1, 6, 0] = -40.0
    labels = torch.randint(0, 11, (3, 7), generator=gen, dtype=torch.int32)
    labels[0, 1] = IGNORE_LABEL_ID
    labels[1, 0] = IGNORE_LABEL_ID
    labels[1, 4] = IGNORE_LABEL_ID
    labels[2, :] = IGNORE_LABEL_ID
    labels[2, 3] = 4
    labels[0, 3] = 5   # label at the -40 logit
    labels[2, 3] = 1   # label at the +35 logit
    return logits, labels


# ----------------------------------------------------------------------------------------------
# Robustness
def argmax_gap_min(recs):
    """min top1-top2 gap over valid positions where the label is top1 or top2 (a swap there flips a
    correctness flag)."""
    best = math.inf
    for r in recs:
        lg, lab = r["logits"].double(), r["labels"].long()
        top = lg.topk(2, dim=-1)
        gap = top.values[..., 0] - top.values[..., 1]
        valid = lab != IGNORE_LABEL_ID
        rel = valid & ((top.indices[..., 0] == lab) | (top.indices[..., 1] == lab))
        if rel.any():
            best = min(best, gap[rel].min().item())
    return best


def q_margins(recs, halt_max):
    """(min |q_halt - q_continue| over Q-dependent halting decisions in training,
        min |q_halt| over counted rows (q_halt_accuracy))."""
    m_dec, m_sign = math.inf, math.inf
    for r in recs:
        d = (r["q_halt"] - r["q_continue"]).abs()
        if r["training"]:
            dep = r["steps"] < halt_max  # at max steps the row halts whatever Q says
            if dep.any():
                m_dec = min(m_dec, d[dep].min().item())
        counted = r["halted"] & ((r["labels"] != IGNORE_LABEL_ID).sum(-1) > 0)
        if counted.any():
            m_sign = min(m_sign, r["q_halt"][counted].abs().min().item())
    return m_dec, m_sign


def seq_correct(logits, labels):
    mask = labels != IGNORE_LABEL_ID
    is_correct = mask & (logits.argmax(-1) == labels)
    return (is_correct.sum(-1) == mask.sum(-1))


def halting_table(recs, halt_max, with_detail):
    rows = []
    for r in recs:
        e = {"step": r["k"]}
        if with_detail:
            e["reset"] = r["reset"].tolist()
        e["steps"] = r["steps"].tolist()
        e["halted"] = r["halted"].tolist()
        if with_detail:
            e["halted_by_q"] = (r["q_halt"] > r["q_continue"]).tolist()
            e["halted_by_max"] = (r["steps"] >= halt_max).tolist()
            e["seq_correct"] = seq_correct(r["logits"], r["labels"]).tolist()
        rows.append(e)
    if not with_detail:  # hrm-tiny order: step, halted, steps
        rows = [{"step": e["step"], "halted": e["halted"], "steps": e["steps"]} for e in rows]
    return rows


# ----------------------------------------------------------------------------------------------
# Data
def make_batches(mcfg, gen, pad):
    B, S, V, NP = mcfg["batch_size"], mcfg["seq_len"], mcfg["vocab_size"], mcfg["num_puzzle_identifiers"]
    batches, pad_rows = [], []
    for k in range(1, NUM_TRAIN_STEPS + 1):
        inputs = torch.randint(1, V, (B, S), generator=gen, dtype=torch.int32)
        labels = torch.randint(1, V, (B, S), generator=gen, dtype=torch.int32)
        pids = torch.randint(0, NP, (B,), generator=gen, dtype=torch.int32)
        if pad:
            if k == 1:
                # row B-1: a padding row (PAD inputs, every label ignored, puzzle id 0)
                inputs[B - 1] = 0
                labels[B - 1] = IGNORE_LABEL_ID
                pids[B - 1] = 0
                pad_rows.append({"batch": 1, "row": B - 1, "kind": "all labels ignored (PAD inputs, puzzle id 0)"})
                # row 1: the last 4 positions are padding (PAD input, label ignored)
                inputs[1, S - 4:] = 0
                labels[1, S - 4:] = IGNORE_LABEL_ID
                pad_rows.append({"batch": 1, "row": 1, "kind": f"labels ignored at positions {S - 4}..{S - 1} (PAD inputs)"})
            else:
                r = k % B
                m = torch.rand(S, generator=gen) < 0.35
                m[0] = True
                labels[r][m] = IGNORE_LABEL_ID
                pad_rows.append({"batch": k, "row": r, "kind": f"labels ignored at positions {m.nonzero().flatten().tolist()}"})
                if k in (3, 4):  # a padding row that can enter the carry at a later step
                    r2 = (k + 1) % B if k == 3 else 0
                    inputs[r2] = 0
                    labels[r2] = IGNORE_LABEL_ID
                    pids[r2] = 0
                    pad_rows.append({"batch": k, "row": r2, "kind": "all labels ignored (PAD inputs, puzzle id 0)"})
        batches.append({"inputs": inputs, "labels": labels, "puzzle_identifiers": pids})
    return batches, pad_rows


def clone_batches(batches):
    return [{k: v.clone() for k, v in b.items()} for b in batches]


# ----------------------------------------------------------------------------------------------
def generate(name, spec, attempts=200, out_root=OUT_ROOT):
    mcfg, loss_type = spec["model"], spec["loss_type"]
    B, H, halt_max = mcfg["batch_size"], mcfg["hidden_size"], mcfg["halt_max_steps"]
    P = -(mcfg["puzzle_emb_ndim"] // -H)
    log = []
    for attempt in range(attempts):
        seed = spec["base_seed"] + attempt
        gen = torch.Generator().manual_seed(seed)
        head = build_head(mcfg, loss_type, seed)
        with torch.no_grad():
            pe = puzzle_emb(head)
            if pe is not None:
                pe.weights.copy_(0.5 * torch.randn(pe.weights.shape, generator=gen))
            qh = head.model.inner.q_head
            qh.weight.copy_(torch.randn(qh.weight.shape, generator=gen) / math.sqrt(H))
            qh.bias.zero_()
        batches, pad_rows = make_batches(mcfg, gen, spec["pad"])

        # q bias: [0.25 - m, 0.25], m between the n-th and (n+1)-th largest (q_halt - q_cont) of batch 1
        ev, _ = run_eval(head, batches[0])
        d = (ev["q_halt_1"] - ev["q_continue_1"]).double()
        srt = d.sort(descending=True).values
        n = spec["q_halt_rows"]
        m = 0.5 * (srt[n - 1] + srt[n]).item()
        with torch.no_grad():
            qh.bias.copy_(torch.tensor([0.25 - m, 0.25]))
        weights = {k: c(v) for k, v in head.state_dict().items()}

        # pass 1 (labels do not influence the forward pass nor the halting of train_step)
        ev, _ = run_eval(build_head(mcfg, loss_type, seed, weights), batches[0])
        ts, ts_recs = run_train_steps(build_head(mcfg, loss_type, seed, weights), batches)
        designed = []
        # eval: batch 1 row 0 exactly correct at the last evaluation step
        last = int(ev["num_steps"])
        pred = ev[f"logits_{last}"].argmax(-1).to(torch.int32)
        lab = batches[0]["labels"]
        valid = lab[0] != IGNORE_LABEL_ID
        lab[0][valid] = pred[0][valid]
        designed.append({"batch": 1, "row": 0})
        # train: first row entering the carry at a step k >= 2 with valid labels: exactly correct there
        for r in ts_recs[1:]:
            k = r["k"]
            cand = [i for i in range(B) if bool(r["reset"][i]) and bool((batches[k - 1]["labels"][i] != IGNORE_LABEL_ID).any())]
            if cand:
                i = cand[0]
                pred = ts[f"logits_{k}"].argmax(-1).to(torch.int32)
                lab = batches[k - 1]["labels"]
                valid = lab[i] != IGNORE_LABEL_ID
                lab[i][valid] = pred[i][valid]
                designed.append({"batch": k, "row": i})
                break

        # final pass
        ev, ev_recs = run_eval(build_head(mcfg, loss_type, seed, weights), batches[0])
        ts, ts_recs = run_train_steps(build_head(mcfg, loss_type, seed, weights), clone_batches(batches))
        opt = run_optim_steps(build_head(mcfg, loss_type, seed, weights), ts, NUM_OPTIM_STEPS)
        tl, tl_recs = run_train_loop(build_head(mcfg, loss_type, seed, weights), clone_batches(batches))

        gap = argmax_gap_min(ev_recs + ts_recs + tl_recs)
        qdec, qsign = q_margins(ev_recs + ts_recs + tl_recs, halt_max)
        by_q = [bool(((r["q_halt"] > r["q_continue"]) & (r["steps"] < halt_max)).any()) for r in ts_recs]
        by_max = any(bool((r["steps"] >= halt_max).any()) for r in ts_recs)
        ok_designed = bool(ev[f"metric_exact_accuracy_{last}"] >= 1) and len(designed) == 2
        if ok_designed:
            k, i = designed[1]["batch"], designed[1]["row"]
            ok_designed = bool(seq_correct(ts[f"logits_{k}"], ts[f"cur_labels_{k}"])[i])
        not_all_q = not bool(ts_recs[0]["halted"].all())
        reasons = []
        if gap <= MIN_ARGMAX_GAP: reasons.append(f"argmax gap {gap:.3g}")
        if qdec <= MIN_Q_MARGIN: reasons.append(f"q decision margin {qdec:.3g}")
        if qsign <= MIN_Q_MARGIN: reasons.append(f"q_halt sign margin {qsign:.3g}")
        if not by_q[0] or not by_max or not not_all_q: reasons.append("halting pattern")
        if not ok_designed: reasons.append("designed rows")
        log.append({"seed": seed, "rejected": reasons})
        if reasons:
            print(f"[{name}] seed {seed} rejected: {', '.join(reasons)}")
            continue
        print(f"[{name}] seed {seed} accepted: argmax gap {gap:.4g}, q margin {qdec:.4g}, q_halt sign {qsign:.4g}")
        break
    else:
        raise SystemExit(f"{name}: no acceptable seed in {attempts} attempts")

    loss_gen = torch.Generator().manual_seed(seed + 7)
    losses = run_losses(*make_loss_inputs(loss_gen))

    d = os.path.join(out_root, name)
    os.makedirs(d, exist_ok=True)
    torch.save({"inputs": c(batches[0]["inputs"]), "labels": c(batches[0]["labels"]),
                "puzzle_identifiers": c(batches[0]["puzzle_identifiers"])}, os.path.join(d, "batch.pt"))
    torch.save(weights, os.path.join(d, "weights.pt"))
    torch.save(ev, os.path.join(d, "eval_trace.pt"))
    torch.save(ts, os.path.join(d, "train_step.pt"))
    torch.save(opt, os.path.join(d, "optim_step.pt"))
    torch.save(tl, os.path.join(d, "train_loop.pt"))
    torch.save(losses, os.path.join(d, "losses.pt"))

    inter = 256 * -(-round(mcfg["expansion"] * H * 2 / 3) // 256)
    head_dim = H // mcfg["num_heads"]
    gen_info = {
        "seed": seed,
        "num_train_steps": NUM_TRAIN_STEPS,
        "eval_steps": int(ev["num_steps"]),
        "q_head": f"weight ~ N(0, 1/hidden_size); bias = [0.25 - m, 0.25] with m chosen so that {spec['q_halt_rows']} "
                  f"row(s) of the first batch halt by Q at the first training step",
        "q_bias": weights["model.inner.q_head.bias"].tolist(),
    }
    if P > 0:
        gen_info["puzzle_emb_weights"] = "~ 0.5 * N(0, 1) (instead of the official zero init)"
    gen_info.update({
        "designed_correct_rows": designed,
        "min_q_decision_margin": qdec,
        "min_relevant_argmax_gap": gap,
        "min_q_halt_sign_margin_counted_rows": qsign,
        "train_step_halting": halting_table(ts_recs, halt_max, True),
        "train_loop_halting": halting_table(tl_recs, halt_max, False),
        "rejected_seeds": [e for e in log if e["rejected"]],
        "reference": "sapientinc/HRM @ 42410da models/ (unmodified); flash_attn_func -> CPU SDPA shim; "
                     "AdamATan2 -> plain PyTorch float32 (adam_atan2 kernel formula); sparse SignSGD = reference "
                     "CastedSparseEmbeddingSignSGD_Distributed(world_size=1); torch " + torch.__version__ + " CPU",
        "generator": "tools/make_fixture.py (hrm repository)",
    })
    config = {
        "name": name,
        "model": dict(mcfg),
        "loss": {"name": "ACTLossHead", "loss_type": loss_type, "ignore_label_id": IGNORE_LABEL_ID},
        "optimizer": OPTIM,
        "derived": {"puzzle_emb_len": P, "total_seq_len": mcfg["seq_len"] + P, "head_dim": head_dim,
                    "swiglu_intermediate": inter, "qkv_out_features": 3 * mcfg["num_heads"] * head_dim},
        "task": {"kind": "random_tokens",
                 "token_map": f"PAD=0; inputs and labels uniform in 1..{mcfg['vocab_size'] - 1}; IGNORE=-100",
                 "pad_rows": pad_rows},
        "generation": gen_info,
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    write_readme(d, name, config, weights, ev, ts_recs, tl_recs)
    return d


def write_readme(d, name, config, weights, ev, ts_recs, tl_recs):
    m, g, der = config["model"], config["generation"], config["derived"]
    P = der["puzzle_emb_len"]
    L = []
    L.append(f"# Golden fixture `{name}` for the Hierarchical Reasoning Model (HRM)\n")
    L.append("Reference values produced by the official HRM implementation (sapientinc/HRM @ 42410da, model\n"
             "`HierarchicalReasoningModel_ACTV1` wrapped in `ACTLossHead`, code unmodified) in float32 on the CPU,\n"
             "by tools/make_fixture.py of the hrm repository. **File format, keys, dtypes and procedures are exactly those of\n"
             "`hrm-tiny` (see fixtures/hrm-tiny/README.md)**; only the configuration differs. Stand-ins: flash_attn_func\n"
             "= torch SDPA (non-causal, scale 1/sqrt(head_dim)); AdamATan2 = the adam_atan2 kernel formula in plain\n"
             "PyTorch float32; sparse SignSGD = the reference optimizer with world_size 1.\n")
    L.append("## Configuration (`config.json`)\n")
    L.append("| field | value |\n|---|---|")
    for k, v in m.items():
        L.append(f"| {k} | {v} |")
    L.append(f"| loss_type | {config['loss']['loss_type']} |")
    L.append(f"| puzzle_emb_len P (derived) | {P} = ceil(puzzle_emb_ndim / hidden_size) |")
    L.append(f"| total sequence T (derived) | {der['total_seq_len']} = seq_len + P |")
    L.append(f"| head_dim (derived) | {der['head_dim']} |")
    L.append(f"| SwiGLU intermediate (derived) | {der['swiglu_intermediate']} |\n")
    L.append("## What differs from hrm-tiny\n")
    if P == 0:
        L.append("* puzzle_emb_ndim = 0: the model has **no** `puzzle_emb` module (P = 0, no prefix rows; q_head reads\n"
                 "  z_H[:, 0], the first token position). Hence there is no `model.inner.puzzle_emb.weights` in weights.pt,\n"
                 "  no `local_ids_<k>` / `grad_<k>.model.inner.puzzle_emb.local_weights` in train_step.pt, no\n"
                 "  `puzzle_emb_weights_<k>` in optim_step.pt and no `final.model.inner.puzzle_emb.weights` in train_loop.pt;\n"
                 "  the training loop has only AdamATan2 (batch.pt still holds `puzzle_identifiers`, unused).")
    else:
        L.append(f"* puzzle_emb_ndim = {m['puzzle_emb_ndim']} > hidden_size: P = {P} prefix rows; the puzzle embedding is\n"
                 f"  zero-padded from {m['puzzle_emb_ndim']} to {P * m['hidden_size']} values before the reshape to [P, hidden]\n"
                 f"  (prefix row 1 = [emb[{m['hidden_size']}:], zeros]). puzzle_emb.weights random 0.5*N(0,1).")
    if m["pos_encodings"] == "learned":
        L.append(f"* pos_encodings = learned: weights.pt has `model.inner.embed_pos.embedding_weight` [{der['total_seq_len']}, {m['hidden_size']}]\n"
                 "  (positions include the P prefix rows); x = sqrt(hidden) * 0.707106781 * (e + embed_pos).")
    if config["loss"]["loss_type"] == "softmax_cross_entropy":
        L.append("* loss_type = softmax_cross_entropy: per-token loss is float32, so `loss_<k>` and `metric_lm_loss_<k>`\n"
                 "  are **float32** here (float64 only with stablemax).")
    if config["task"]["pad_rows"]:
        L.append("* Ignored labels (IGNORE = -100), `config.json` task.pad_rows:")
        for p in config["task"]["pad_rows"]:
            L.append(f"  - batch {p['batch']} row {p['row']}: {p['kind']}")
        L.append("  A row with no valid label counts as seq_is_correct = true and is never counted in the metrics.")
    L.append("* Task: random tokens (inputs and labels uniform in 1..vocab-1, 0 = PAD); q_head weight N(0, 1/hidden),\n"
             f"  q_head bias = {[round(x, 6) for x in g['q_bias']]}.")
    L.append(f"* Designed exactly-correct rows (labels set to the model's own predictions): {g['designed_correct_rows']}.\n")
    L.append("## Halting pattern\n")
    L.append("train_step.pt (weights frozen):\n")
    L.append("| step | reset before step | steps after | halted by Q | halted by max steps | all valid tokens correct |\n|---|---|---|---|---|---|")
    for e in g["train_step_halting"]:
        L.append(f"| {e['step']} | {e['reset']} | {e['steps']} | {e['halted_by_q']} | {e['halted_by_max']} | {e['seq_correct']} |")
    L.append("\ntrain_loop.pt:\n")
    L.append("| iteration | steps | halted |\n|---|---|---|")
    for e in g["train_loop_halting"]:
        L.append(f"| {e['step']} | {e['steps']} | {e['halted']} |")
    L.append(f"\neval_trace.pt: {g['eval_steps']} steps (= halt_max_steps).\n")
    L.append("## Robustness\n")
    L.append("Discrete decisions are far from their thresholds, so a correct float32\n"
             "implementation reproduces them: min |q_halt - q_continue| over all Q-dependent\n"
             f"halting decisions = {g['min_q_decision_margin']:.4g}; min top-1/top-2 logit gap at\n"
             f"positions where it could flip a correctness flag = {g['min_relevant_argmax_gap']:.4g}\n"
             f"(min |q_halt| over counted rows = {g['min_q_halt_sign_margin_counted_rows']:.4g}).")
    L.append("Suggested tolerances for a float32 port: logits / z / q values atol 1e-4 rtol 1e-4\n"
             "(looser for later steps), gradients atol 1e-6 rtol 1e-3, exact equality for\n"
             "integer and boolean tensors.")
    with open(os.path.join(d, "README.md"), "w") as f:
        f.write("\n".join(L) + "\n")


# ----------------------------------------------------------------------------------------------
def selfcheck(d):
    """Recompute hrm-tiny from its weights.pt / batches with this generator's code paths and compare."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    mcfg, loss_type = cfg["model"], cfg["loss"]["loss_type"]
    weights = torch.load(os.path.join(d, "weights.pt"))
    ref = {f: torch.load(os.path.join(d, f + ".pt")) for f in
           ["batch", "eval_trace", "train_step", "optim_step", "train_loop", "losses"]}
    ts_ref = ref["train_step"]
    nb = sum(1 for k in ts_ref if k.startswith("batch_inputs_"))
    batches = [{"inputs": ts_ref[f"batch_inputs_{k}"], "labels": ts_ref[f"batch_labels_{k}"],
                "puzzle_identifiers": ts_ref[f"batch_puzzle_identifiers_{k}"]} for k in range(1, nb + 1)]
    mine = {}
    mine["batch"] = ref["batch"]
    mine["eval_trace"], _ = run_eval(build_head(mcfg, loss_type, 0, weights), ref["batch"])
    mine["train_step"], _ = run_train_steps(build_head(mcfg, loss_type, 0, weights), clone_batches(batches))
    mine["optim_step"] = run_optim_steps(build_head(mcfg, loss_type, 0, weights), ref["train_step"], 2)
    mine["train_loop"], _ = run_train_loop(build_head(mcfg, loss_type, 0, weights), clone_batches(batches))
    mine["losses"] = run_losses(ref["losses"]["logits"], ref["losses"]["labels"])
    sd = build_head(mcfg, loss_type, 0).state_dict()
    print("weights.pt keys == state_dict keys (same order):", list(sd.keys()) == list(weights.keys()))
    worst_all = 0.0
    for f in mine:
        a, b = mine[f], ref[f]
        ka, kb = list(a.keys()), list(b.keys())
        print(f"== {f}: keys equal: {set(ka) == set(kb)}  same order: {ka == kb}  "
              f"(mine-only {sorted(set(ka) - set(kb))[:5]}, ref-only {sorted(set(kb) - set(ka))[:5]})")
        groups = {}
        for k in kb:
            if k not in a:
                continue
            x, y = a[k], b[k]
            if x.dtype != y.dtype or x.shape != y.shape:
                print(f"   DTYPE/SHAPE {k}: {x.dtype}{tuple(x.shape)} vs {y.dtype}{tuple(y.shape)}")
                continue
            diff = (x.double() - y.double()).abs().max().item() if x.numel() else 0.0
            rel = ((x.double() - y.double()).abs() / y.double().abs().clamp_min(1e-12)).max().item() if x.numel() else 0.0
            import re
            gk = re.sub(r"_\d+(\.|$)", r"_<k>\1", k)
            gk = re.sub(r"\.model\.inner\..*", ".*", gk) if f != "batch" else gk
            ga, gr = groups.get(gk, (0.0, 0.0))
            groups[gk] = (max(ga, diff), max(gr, rel))
        for gk, (ga, gr) in groups.items():
            print(f"   {gk:40s} max_abs {ga:.3e}")
            worst_all = max(worst_all, ga)
    print("selfcheck worst abs diff:", worst_all)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*")
    ap.add_argument("--selfcheck", nargs="?", const="../shared/fixtures/hrm-tiny")
    ap.add_argument("--out", default=OUT_ROOT, help="where the fixture folders go")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.selfcheck:
        selfcheck(a.selfcheck)
    for n in a.names:
        print("wrote", generate(n, CONFIGS[n], out_root=a.out))


if __name__ == "__main__":
    main()
