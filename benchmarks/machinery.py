"""Machinery cost: a DSR training epoch driven by `build_lr_plan` vs a hand-written loop.

Both runs train the same model (same seed, data and batches) in this process, on one torch
thread, with the same five param groups:

- plan: `DSRRun.train_epoch()` with a per-step cosine schedule (warmup), a freeze rule on the
  encoder's subject codes (due after the measured epochs), the value-scheduled alpha, and
  `plan.step_batch()` / `plan.step_epoch()`;
- hand: the same batches and loss with a plain `torch.optim.Adam` over the plan's param groups at
  constant rates, no schedule, no freeze checks.

Epochs alternate plan, hand, plan, ... after a warm-up epoch each; the overhead is the median of
the per-pair ratios minus one.

    python -m benchmarks.machinery            # 30 interleaved pairs of epochs
    python -m benchmarks.machinery --quick    # 3 pairs on 2 small subjects
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time
from typing import Any

import torch
from torch import nn

from benchmarks._common import header, spread, write_section
from trainables.dsr import load_data
from trainables.dsr.settings import settings_of
from trainables.dsr.training import DSRRun, gtf_loss

TITLE = "Machinery cost: build_lr_plan vs a hand-written loop"
#: the plan side: every LR lever that runs per step or per epoch (freeze_after set per run)
PLAN_CONFIG: dict[str, Any] = {
    "learning_rate": {
        "encoder": {"shared": {"lr": 1e-2}, "subjects": {"lr": 3e-2, "freeze_after": None}},
        "decoder": {"lr": 1e-2},
        "dsr": {"shared": {"lr": 1e-2}, "subjects": {"lr": 1e-1}},
    },
    "lr_scheduling": {"name": "Cosine", "hyperparameters": {"unit": "step", "warmup": 0.05}},
}
QUICK_FIXED = {"n_subjects": 2, "train_steps": 300, "test_steps": 300}


def make_run(config: dict[str, Any]) -> DSRRun:
    settings = settings_of(config)
    return DSRRun(config, settings, load_data(settings.data_key), torch.device("cpu"))


def plan_epoch(run: DSRRun) -> float:
    """One epoch with the plan: the trainable's own loop and the end-of-epoch step."""
    loss = run.train_epoch()
    run.plan.step_epoch(train_loss=loss)
    return loss


def hand_epoch(run: DSRRun, optimizer: torch.optim.Optimizer, alpha: float) -> float:
    """One epoch of the same batches and loss, a plain optimizer at constant rates."""
    run.model.train()
    offsets = torch.arange(run.window)
    batches = run.batches()
    total = 0.0
    for subjects, starts in batches:
        x = run.train[subjects[:, None], starts[:, None] + offsets]
        loss = gtf_loss(run.model, x, subjects, alpha)
        value = loss.item()
        if not math.isfinite(value):
            raise RuntimeError(f"training loss became {value}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(
            [p for p in run.model.parameters() if p.grad is not None], run.settings.grad_clip
        )
        optimizer.step()
        total += value
    return total / len(batches)


def measure(pairs: int, n_epochs: int, fixed: dict[str, Any]) -> dict[str, Any]:
    """Per-epoch seconds of both loops, interleaved, after one warm-up epoch each."""
    torch.set_num_threads(1)
    config = copy.deepcopy(PLAN_CONFIG)  # freezes at the last epoch, after the measured ones
    config["learning_rate"]["encoder"]["subjects"]["freeze_after"] = n_epochs - 1
    plan_run = make_run({**config, **fixed, "n_epochs": n_epochs})
    hand_run = make_run({"learning_rate": 1e-2, **fixed, "n_epochs": n_epochs})
    groups = [{"params": g["params"], "lr": g["lr"]} for g in plan_run.plan.optimizer.param_groups]
    hand_params = dict(hand_run.model.named_parameters())
    names = {id(p): n for n, p in plan_run.model.named_parameters()}
    for g in groups:  # the plan's groups, on the hand run's own parameters
        g["params"] = [hand_params[names[id(p)]] for p in g["params"]]
    optimizer = torch.optim.Adam(groups)
    alpha = float(plan_run.settings.alpha)
    plan_epoch(plan_run), hand_epoch(hand_run, optimizer, alpha)  # warm-up
    plan_s, hand_s = [], []
    for _ in range(pairs):
        start = time.perf_counter()
        plan_epoch(plan_run)
        plan_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        hand_epoch(hand_run, optimizer, alpha)
        hand_s.append(time.perf_counter() - start)
    ratios = [p / h for p, h in zip(plan_s, hand_s, strict=True)]
    return {
        "plan_s": plan_s,
        "hand_s": hand_s,
        "ratios": ratios,
        "overhead_pct": 100 * (statistics.median(ratios) - 1),
        "steps_per_epoch": plan_run.steps_per_epoch,
        "groups": len(groups),
    }


def to_markdown(m: dict[str, Any]) -> str:
    lines = [
        "| loop | s/epoch: median (min-max) |",
        "| --- | --- |",
        f"| `build_lr_plan` (schedule, freeze, alpha) | {spread(m['plan_s'], 4)} |",
        f"| hand-written, constant lr | {spread(m['hand_s'], 4)} |",
        f"| ratio plan / hand, per pair | {spread(m['ratios'], 4)} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 pairs on small data")
    parser.add_argument("--pairs", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    args = parser.parse_args(argv)
    pairs, fixed = (3, QUICK_FIXED) if args.quick else (args.pairs, {})
    m = measure(pairs, n_epochs=2 * (pairs + 1) + 10, fixed=fixed)
    table = to_markdown(m)
    print(table)
    print(f"overhead: {m['overhead_pct']:+.2f} %")
    if args.write:
        verdict = "meets" if m["overhead_pct"] <= 2 else "misses"
        write_section(
            TITLE,
            f"{header('benchmarks.machinery', [a for a in argv if a != '--write'])}"
            f"- DSR defaults (8 subjects, {m['steps_per_epoch']} optimizer steps per epoch, "
            f"{m['groups']} param groups), one torch thread, {pairs} interleaved pairs of "
            "epochs after a warm-up epoch each; the plan side runs a per-step cosine schedule "
            "with warmup, a freeze rule and the value-scheduled alpha.\n\n"
            f"{table}\n\nOverhead (median ratio - 1): {m['overhead_pct']:+.2f} %: {verdict} the "
            "target of 2 %.\n",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
