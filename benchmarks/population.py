"""Fused populations: DSR trial-epochs per second at K = 1, 4, 16, 64 vs one trial per process.

Both ways run in this process on one torch thread (one core), on the same configs (learning
rate log-uniform in [1e-3, 3e-2] and DSR subject multiplier in {1, 3, 10, 30}, drawn with seed 0),
with the DSR defaults otherwise, evaluation included (prediction error every epoch, D_stsp/D_H
every `eval_every` epochs), the data built and torch warmed up (one epoch each way) beforehand:

- one process per trial: `train_dsr(config)` in a fresh Python process per config (two of them
  timed one after the other; each pays the interpreter, `import torch`, the data and torch's
  first-call costs, as a trial process without actor reuse does);
- unfused: `train_dsr(config)` for each config in turn in this process, as a reused trial
  process trains (what the tuner's actor reuse pays at the least: no start, no imports);
- fused: `train_dsr_population(configs[:K])`, the K members as one stacked model;
- with `--concurrent C`: C warm processes at once on the same device, each training its share of
  the largest K's configs in turn (on a GPU: C fractional-GPU trials with reused actors).

Throughput = trials x epochs / wall time. The unfused run is timed before and after the fused
ones; its median is the baseline of the ratios, the stricter one.

    python -m benchmarks.population                 # K = 1, 4, 16, 64; 10 epochs
    python -m benchmarks.population --quick         # K = 1, 4; 2 epochs on small data
    python -m benchmarks.population --write         # also rewrite its BENCHMARKS.md section
    python -m benchmarks.population --device cuda --concurrent 4   # on a GPU, vs 4 trials
                                                    # sharing it (fractional GPUs, reused actors)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np
import torch

from benchmarks._common import header, spread, write_section

TITLE = "Fused populations: trial-epochs per second vs one trial per process"
MULTIPLIERS = (1.0, 3.0, 10.0, 30.0)
QUICK_FIXED = {"n_subjects": 2, "train_steps": 300, "test_steps": 300}


def draw_configs(n: int, epochs: int, fixed: dict[str, Any], seed: int = 0) -> list[dict]:
    """`n` DSR configs differing in the base lr and the DSR subject multiplier."""
    rng = np.random.default_rng(seed)
    lrs = np.exp(rng.uniform(np.log(1e-3), np.log(3e-2), size=n))
    multipliers = rng.choice(MULTIPLIERS, size=n)
    return [
        {"learning_rate": float(lr), "dsr_subject_multiplier": float(m), "n_epochs": epochs} | fixed
        for lr, m in zip(lrs, multipliers, strict=True)
    ]


def unfused(configs: list[dict]) -> float:
    """Trial-epochs per second of `train_dsr` over `configs`, one after another."""
    from trainables.dsr import train_dsr

    start = time.perf_counter()
    for config in configs:
        train_dsr(config)
    return len(configs) * configs[0]["n_epochs"] / (time.perf_counter() - start)


def fresh_processes(configs: list[dict]) -> float:
    """Trial-epochs per second of `train_dsr` with a fresh Python process per config."""
    import json
    import subprocess

    code = (
        "import json, sys, torch; torch.set_num_threads(1); "
        "from trainables.dsr import train_dsr; train_dsr(json.loads(sys.argv[1]))"
    )
    start = time.perf_counter()
    for config in configs:
        subprocess.run([sys.executable, "-c", code, json.dumps(config)], check=True)
    return len(configs) * configs[0]["n_epochs"] / (time.perf_counter() - start)


_WORKER = """
import json, sys, torch
torch.set_num_threads(1)
from trainables.dsr import train_dsr
configs = json.loads(sys.argv[1])
train_dsr({**configs[0], "n_epochs": 1})
print("ready", flush=True)
sys.stdin.readline()
for config in configs:
    train_dsr(config)
print("done", flush=True)
"""


def concurrent_processes(configs: list[dict], processes: int) -> float:
    """Trial-epochs per second of `processes` warm processes at once on the same device, each
    training its share of `configs` in turn (Ray trials with actor reuse on fractional GPUs, or
    one per core), timed from a common start after each has warmed up to the last one's end."""
    import json
    import subprocess

    shares = [configs[i::processes] for i in range(processes)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, json.dumps(share)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for share in shares
        if share
    ]
    for worker in workers:
        if worker.stdout is None or worker.stdout.readline().strip() != "ready":
            raise RuntimeError("a benchmark worker failed before training")
    start = time.perf_counter()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    for worker in workers:  # timed to their last trial, not to the interpreters' teardown
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "done":
            raise RuntimeError("a benchmark worker failed while training")
    wall = time.perf_counter() - start
    for worker in workers:
        worker.wait()
    return len(configs) * configs[0]["n_epochs"] / wall


def fused(configs: list[dict]) -> tuple[float, float]:
    """Wall time and trial-epochs per second of one population of `configs`."""
    from trainables.dsr.population import train_dsr_population

    start = time.perf_counter()
    reports = train_dsr_population(configs)
    wall = time.perf_counter() - start
    epochs = sum(len(member) for member in reports)
    return wall, epochs / wall


def measure(
    sizes: list[int],
    epochs: int,
    unfused_trials: int,
    quick: bool,
    device: str = "cpu",
    concurrent: int = 0,
) -> dict[str, Any]:
    torch.set_num_threads(1)
    fixed = (dict(QUICK_FIXED) if quick else {}) | {"device": device}
    configs = draw_configs(max(sizes), epochs, fixed)
    from trainables.dsr import load_data
    from trainables.dsr.settings import settings_of

    load_data(settings_of(configs[0]).data_key)  # built once, outside every timing
    warm = [{**config, "n_epochs": 1} for config in configs[:2]]
    unfused(warm[:1])  # torch's first-call costs, outside every timing
    fused(warm)
    baseline = [unfused(configs[:unfused_trials])]
    rows = []
    for k in sizes:
        wall, rate = fused(configs[:k])
        rows.append({"k": k, "wall": wall, "rate": rate})
        print(f"K={k}: {wall:.2f} s, {rate:.2f} trial-epochs/s", flush=True)
    baseline.append(unfused(configs[:unfused_trials]))
    per_process = fresh_processes(configs[:2])
    shared = None
    if concurrent:
        shared = concurrent_processes(configs[: max(sizes)], concurrent)
        print(f"{concurrent} processes at once: {shared:.2f} trial-epochs/s", flush=True)
    return {
        "device": device,
        "concurrent": concurrent,
        "shared": shared,
        "baseline": baseline,
        "per_process": per_process,
        "rows": rows,
        "epochs": epochs,
        "unfused_trials": unfused_trials,
    }


def to_markdown(m: dict[str, Any]) -> str:
    base, fresh = statistics.median(m["baseline"]), m["per_process"]
    lines = [
        "| way | trials | wall time | trial-epochs per second | vs a fresh process per trial "
        "| vs `train_dsr` in turn |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| a fresh process per trial | 2 | - | {fresh:.2f} | 1 | {fresh / base:.2f}x |",
        f"| `train_dsr` in turn, one process | {m['unfused_trials']} | - | "
        f"{spread(m['baseline'])} | {base / fresh:.2f}x | 1 |",
    ]
    if m.get("shared") is not None:
        shared = m["shared"]
        lines.append(
            f"| {m['concurrent']} warm processes at once on the {m['device'].upper()} | "
            f"{max(r['k'] for r in m['rows'])} | - | {shared:.2f} | {shared / fresh:.2f}x | "
            f"{shared / base:.2f}x |"
        )
    for row in m["rows"]:
        lines.append(
            f"| fused population, K = {row['k']} | {row['k']} | {row['wall']:.2f} s | "
            f"{row['rate']:.2f} | {row['rate'] / fresh:.2f}x | {row['rate'] / base:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 1, 4; 2 epochs, small data")
    parser.add_argument("--sizes", default="1,4,16,64", help="population sizes K")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--unfused-trials", type=int, default=4)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument(
        "--concurrent",
        type=int,
        default=0,
        help="also time this many warm trial processes at once on the device (e.g. 4 on a GPU: "
        "fractional-GPU trials)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    args = parser.parse_args(argv)
    sizes = [1, 4] if args.quick else [int(k) for k in args.sizes.split(",")]
    epochs = 2 if args.quick else args.epochs
    trials = 2 if args.quick else args.unfused_trials
    m = measure(sizes, epochs, trials, args.quick, args.device, args.concurrent)
    table = to_markdown(m)
    print(table)
    if args.write:
        body = (
            f"{header('benchmarks.population', [a for a in argv if a != '--write'])}"
            f"- Work: DSR defaults on the {args.device.upper()}, {m['epochs']} epochs per trial, "
            "evaluation included, one torch thread, the data built beforehand; the unfused rate "
            "is measured before and after the fused runs (median (min-max) of the two).\n\n"
            f"{table}\n"
        )
        write_section(TITLE, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
