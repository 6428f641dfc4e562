"""The DSR learning-rate sweep behind the `DSR trainable` table of BENCHMARKS.md.

Trains every (learning_rate, dsr_subject_multiplier) pair with `train_dsr` on one torch thread and
prints a Markdown table: seconds per epoch (evaluations included, data building excluded) and
the final metrics. `--quick` runs a 3-epoch smoke version of the same grid.

    python -m benchmarks.dsr_lr_sweep            # the full table (8 configs x 50 epochs)
    python -m benchmarks.dsr_lr_sweep --quick
    python -m benchmarks.dsr_lr_sweep --device cuda --epochs 20 --lrs 1e-2 --multipliers 10
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from typing import Any

import torch

from trainables.dsr import TrainingDiverged, load_data, train_dsr
from trainables.dsr.settings import settings_of

LRS = (1e-4, 1e-3, 1e-2, 3e-2)
MULTIPLIERS = (1.0, 10.0)


def run_one(lr: float, multiplier: float, n_epochs: int, device: str) -> dict[str, Any]:
    """Train one config; its seconds per epoch and final metrics (or where it diverged)."""
    config = {
        "learning_rate": lr,
        "dsr_subject_multiplier": multiplier,
        "n_epochs": n_epochs,
        "device": device,
    }
    load_data(settings_of(config).data_key)  # built once per process, outside the timing
    row: dict[str, Any] = {"lr": lr, "multiplier": multiplier, "epochs": n_epochs}
    start = time.perf_counter()
    try:
        reports = train_dsr(config)
    except TrainingDiverged as error:
        row.update(seconds_per_epoch=None, diverged=str(error))
        return row
    elapsed = time.perf_counter() - start
    last = reports[-1]
    best = min(r["score"] for r in reports)
    row.update(
        seconds_per_epoch=elapsed / n_epochs,
        **{k: last[k] for k in ("score", "pred_error", "d_stsp", "d_h")},
        best_score=best,
    )
    return row


def to_markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, one line per config."""
    header = ["lr", "subject multiplier", "s/epoch", "final score", "pred_error", "D_stsp", "D_H"]
    header.append("best score")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for r in rows:
        if r.get("diverged"):
            cells = ["diverged"] + ["—"] * 5
        else:
            cells = [
                f"{r['seconds_per_epoch']:.3f}",
                *(f"{r[k]:.3f}" for k in ("score", "pred_error", "d_stsp", "d_h", "best_score")),
            ]
        lines.append(f"| {r['lr']:g} | {r['multiplier']:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs per config")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LRS))
    parser.add_argument("--multipliers", type=float, nargs="+", default=list(MULTIPLIERS))
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads on the CPU")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n_epochs = 3 if args.quick else args.epochs
    rows = []
    for lr in args.lrs:
        for multiplier in args.multipliers:
            rows.append(run_one(lr, multiplier, n_epochs, args.device))
            print(json.dumps(rows[-1]), flush=True)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"\n{platform.processor() or platform.machine()}, {args.device}, "
        f"{args.threads} torch thread(s), torch {torch.__version__}, {when}\n"
    )
    print(to_markdown(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
