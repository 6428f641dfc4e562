"""Fused DSR populations: K configs trained at once as one stacked model, one report per member.

`train_dsr_population(configs, reporter)` is the population counterpart of `train_dsr`: member
`i` is `configs[i]`, and its reports are exactly the reports `train_dsr(configs[i])` would give
(same keys, same values within float rounding: same init, same batches, same LR plan, same
optimizer math). Members must share every setting that shapes the model, the data or the batch
order; they may differ in every LR key (`learning_rate`, `lr_scheduling`, `optimizer`
hyperparameters, freezing, ...), in `alpha` and in `grad_clip`. See `population_settings` for the
rules; a violation raises `ConfigError` naming `members[i].<key>`.

Reporter protocol (`PopulationReporter`), one call per epoch:

    stop = reporter.report({member_index: metrics, ...})

- the mapping holds the members still active this epoch, by their index in `configs`;
- `metrics` of a member that trained is the dict `train_dsr` reports for that epoch (`epoch`,
  `train_loss`, `alpha`, `pred_error`, `d_stsp`, `d_h`, `score`, `lr/<component>/<level>`);
- a member whose training loss became NaN/inf during this epoch is reported once, that epoch,
  as `{"epoch": e, "failed": "<reason>"}` (what `train_dsr` raises as `TrainingDiverged`), and
  never again;
- the return value is an iterable of member indices to stop (e.g. pruned by ASHA), or None:
  they train no further (parameters and optimizer state frozen as they are) and are not
  reported again. Stopping a member that is already stopped or failed is a no-op.

The loop ends when every member is done (trained `n_epochs`, failed or stopped); the reporter is
not called for an epoch where no member is left. `MemoryPopulationReporter` keeps every report
and can stop members at chosen epochs (tests, benchmarks). `train_dsr_population` does not
checkpoint yet (a population restarts from scratch); `PopulationRun.state_dict()` and
`load_state_dict()` resume a population exactly and are the pieces to build it from.

>>> configs = [{"learning_rate": 1e-2}, {"learning_rate": 3e-2}]
>>> reports = train_dsr_population(configs)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from trainables.dsr.data import load_data
from trainables.dsr.population_run import PopulationRun
from trainables.dsr.population_settings import population_settings
from trainables.dsr.trainable import is_eval_epoch, resolve_device, score_of

__all__ = [
    "MemoryPopulationReporter",
    "PopulationReporter",
    "PopulationRun",
    "dsr_population_trainable",
    "population_settings",
    "train_dsr_population",
]


class PopulationReporter(Protocol):
    """Receives each epoch's reports by member index; answers which members to stop."""

    def report(self, reports: dict[int, dict[str, Any]]) -> Iterable[int] | None: ...


class MemoryPopulationReporter:
    """Keeps every epoch's reports; stops member `i` after epoch `e` for each `stop_at[i] = e`."""

    def __init__(self, stop_at: Mapping[int, int] | None = None) -> None:
        self.epochs: list[dict[int, dict[str, Any]]] = []
        self.stop_at = dict(stop_at or {})

    def report(self, reports: dict[int, dict[str, Any]]) -> list[int]:
        self.epochs.append({i: dict(r) for i, r in reports.items()})
        return [i for i, r in reports.items() if self.stop_at.get(i) == r.get("epoch")]


def train_dsr_population(
    configs: Sequence[Mapping[str, Any]],
    reporter: PopulationReporter | None = None,
    gpu_allowed: bool | None = None,
) -> list[list[dict[str, Any]]]:
    """Train K configs as one population; each member's reports, as `train_dsr` would give.

    A failed member's list ends with its `{"epoch", "failed"}` entry. Raises `ConfigError` for a
    bad config or for members that cannot share one population.
    """
    settings = population_settings(configs)[0]
    reporter = MemoryPopulationReporter() if reporter is None else reporter
    data = load_data(settings.data_key)
    run = PopulationRun(configs, settings, data, resolve_device(settings, gpu_allowed))
    reports: list[list[dict[str, Any]]] = [[] for _ in configs]
    while run.members():
        starting = run.members()
        lrs = {k: _lr_keys(run.runs[k].plan.lrs()) for k in starting}
        alphas = {k: run.runs[k].alpha() for k in starting}
        losses = run.train_epoch()
        epoch: dict[int, dict[str, Any]] = {}
        evaluated = run.evaluate(list(losses), long_term=is_eval_epoch(run.epoch, settings))
        for k in starting:
            if k in run.failed:
                epoch[k] = {"epoch": run.epoch, "failed": run.failed[k]}
                continue
            member = run.runs[k]
            metrics = evaluated[k]
            metrics["score"] = score_of(metrics)
            member.plan.step_epoch(train_loss=losses[k], **metrics)
            member.alpha_schedule.observe({"train_loss": losses[k], **metrics})
            epoch[k] = {
                "epoch": run.epoch,
                "train_loss": losses[k],
                "alpha": alphas[k],
                **metrics,
                **lrs[k],
            }
        for k, report in epoch.items():
            reports[k].append(report)
        for k in reporter.report(epoch) or ():
            run.stop(k)
        if run.epoch >= settings.n_epochs:
            for k in run.members():
                run.finish(k)
    return reports


def _lr_keys(lrs: Mapping[str, float]) -> dict[str, float]:
    return {f"lr/{name.replace('.', '/')}": lr for name, lr in lrs.items()}


def dsr_population_trainable(
    configs: Sequence[Mapping[str, Any]],
    reporter: PopulationReporter,
    gpu_allowed: bool | None = None,
) -> list[list[dict[str, Any]]]:
    """`train_dsr_population` as a Ray trial runs it: one torch thread on CPU, as
    `dsr_trainable` (the stacked members' work is many small ops; more threads only contend)."""
    import torch

    torch.set_num_threads(1)
    return train_dsr_population(configs, reporter, gpu_allowed=gpu_allowed)
