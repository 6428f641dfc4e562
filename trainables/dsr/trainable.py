"""The DSR trainable: `train_dsr` (plain function) and `dsr_trainable` (Ray Tune function).

Both run the same loop and report once per epoch:

- `epoch` (1-based), `train_loss` (mean batch loss), `alpha` (teacher forcing at its start);
- `pred_error`: normalized n-step prediction error on the test series, every epoch;
- `d_stsp`, `d_h`: computed at epoch 1, every `eval_every` epochs and at the last epoch; the
  latest values are carried in between, so every report has every key (the columns stay dense
  and ASHA sees the same keys at every rung);
- `score = pred_error + d_stsp / 10 + d_h` (lower is better): each term is ~0 for a perfect model
  and reaches ~1 for a useless one (d_stsp is capped at 10, d_h at 1, pred_error at 10), so the
  smooth short-term error and the long-term geometry and spectrum weigh alike;
- `lr/<component>/<level>`: each group's lr in force at the start of that epoch.

A non-finite training loss raises `TrainingDiverged` naming the epoch, after which nothing more
is reported. Checkpoints (every `checkpoint_every` epochs and at the end) hold the model,
optimizer, LR plan, RNG states and carried metrics; resuming from one continues exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from trainables.declare import trainable
from trainables.dsr.data import load_data
from trainables.dsr.metrics import D_STSP_CAP
from trainables.dsr.settings import DSRSettings, data_problems, settings_of
from trainables.dsr.training import DSRRun
from trainables.lr import SEED_GROUPS
from trainables.lr.errors import ConfigError, Problem
from trainables.reporting import MemoryReporter, RayReporter, Reporter, ray_gpu_ids


def resolve_device(settings: DSRSettings, gpu_allowed: bool | None = None) -> torch.device:
    """`device: auto` is CUDA when a GPU is allowed (default: when one is visible), else CPU."""
    visible = torch.cuda.is_available()
    if settings.device == "cuda" and not visible:
        msg = "is 'cuda', but no GPU is visible to this process"
        raise ConfigError([Problem("device", msg, "use auto or cpu, or give the trial a GPU")])
    if settings.device == "auto":
        use_gpu = visible if gpu_allowed is None else gpu_allowed and visible
        return torch.device("cuda" if use_gpu else "cpu")
    return torch.device(settings.device)


def score_of(metrics: Mapping[str, float]) -> float:
    """The combined objective (lower is better); see the module docstring."""
    return metrics["pred_error"] + metrics["d_stsp"] / D_STSP_CAP + metrics["d_h"]


def is_eval_epoch(epoch: int, settings: DSRSettings) -> bool:
    return epoch == 1 or epoch % settings.eval_every == 0 or epoch == settings.n_epochs


def train_dsr(
    config: Mapping[str, Any], reporter: Reporter | None = None, gpu_allowed: bool | None = None
) -> list[dict[str, float]]:
    """Train one config (seed-format LR keys plus `DSRSettings` keys); the reports of this call.

    Resumes from `reporter.load_checkpoint()` when it returns one. Raises `ConfigError` for a bad
    config and `TrainingDiverged` when the loss turns non-finite.

    >>> reports = train_dsr({"learning_rate": 1e-2, "n_epochs": 2})  # doctest: +SKIP
    """
    settings = settings_of(config)
    problems = data_problems(settings)
    if problems:
        raise ConfigError(problems)
    reporter = MemoryReporter() if reporter is None else reporter
    data = load_data(settings.data_key)
    run = DSRRun(dict(config), settings, data, resolve_device(settings, gpu_allowed))
    checkpoint = reporter.load_checkpoint()
    if checkpoint is not None:
        run.load_state_dict(checkpoint)
    reports = []
    while run.epoch < settings.n_epochs:
        lrs = {f"lr/{name.replace('.', '/')}": lr for name, lr in run.plan.lrs().items()}
        alpha = run.alpha()
        train_loss = run.train_epoch()
        metrics = run.evaluate(long_term=is_eval_epoch(run.epoch, settings))
        metrics["score"] = score_of(metrics)
        run.plan.step_epoch(train_loss=train_loss, **metrics)
        run.alpha_schedule.observe({"train_loss": train_loss, **metrics})
        report = {"epoch": run.epoch, "train_loss": train_loss, "alpha": alpha, **metrics, **lrs}
        due = run.epoch % settings.checkpoint_every == 0 or run.epoch == settings.n_epochs
        reporter.report(report, run.state_dict() if due else None)
        reports.append(report)
    return reports


@trainable(groups=SEED_GROUPS)
def dsr_trainable(config: dict[str, Any]) -> None:
    """Ray Tune function trainable: one torch thread on CPU, CUDA when Ray gave the trial a GPU."""
    torch.set_num_threads(1)
    train_dsr(config, RayReporter(), gpu_allowed=bool(ray_gpu_ids()))
