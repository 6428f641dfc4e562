"""Fused DSR populations: K configs trained at once as one stacked model, one report per member.

`train_dsr_population(configs, reporter)` is the population counterpart of `train_dsr`: member
`i` is `configs[i]`, and its reports are exactly the reports `train_dsr(configs[i])` would give
(same keys, same values within float rounding: same init, same batches, same LR plan, same
optimizer math). Members must share every setting that shapes the model, the data or the batch
order; they may differ in every LR key (`learning_rate`, `lr_scheduling`, `optimizer`
hyperparameters, freezing, ...), in `alpha` and in `grad_clip`. See `population_settings` for the
rules; a violation raises `ConfigError` naming `members[i].<key>`.

Reporter protocol (`PopulationReporter`), one call per epoch:

    stop = reporter.report({member_index: metrics, ...}, checkpoint)

- the mapping holds the members still active this epoch, by their index in `configs`;
- `metrics` of a member that trained is the dict `train_dsr` reports for that epoch (`epoch`,
  `train_loss`, `alpha`, `pred_error`, `d_stsp`, `d_h`, `score`, `lr/<component>/<level>`);
- a member whose training loss became NaN/inf during this epoch is reported once, that epoch,
  as `{"epoch": e, "failed": "<reason>"}` (what `train_dsr` raises as `TrainingDiverged`), and
  never again;
- `checkpoint` is None, or (every `checkpoint_every` epochs and at epoch `n_epochs`) the state
  to resume from: plain tensors, numbers and strings that `torch.load(..., weights_only=True)`
  reads back (`PopulationRun.state_dict()` and the member configs). It is taken before this
  epoch's answer is applied;
- the return value is an iterable of member indices to stop (e.g. pruned by ASHA), or None:
  they train no further (parameters and optimizer state frozen as they are) and are not
  reported again. Stopping a member that is already stopped or failed is a no-op.

On start, `reporter.load_checkpoint()` returns None (start from epoch 1) or
`{"checkpoint": <a checkpoint given to report>, "stop": [member indices]}`: the population
continues from that state, with the members in `stop` (at least those the `report` call that
carried the checkpoint answered) stopped before its next epoch. A checkpoint of another
population (other member configs, other size) is refused with `ConfigError` naming the
differing member keys. Both parts are optional: a reporter whose `report` takes no checkpoint
gets none, one without `load_checkpoint` always starts from epoch 1.

The loop ends when every member is done (trained `n_epochs`, failed or stopped); the reporter is
not called for an epoch where no member is left. `MemoryPopulationReporter` keeps every report
and every checkpoint, can stop members at chosen epochs and start from a given checkpoint
(tests, benchmarks).

>>> configs = [{"learning_rate": 1e-2}, {"learning_rate": 3e-2}]
>>> reports = train_dsr_population(configs)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from trainables.dsr.data import load_data
from trainables.dsr.population_checkpoint import population_checkpoint, resume_population
from trainables.dsr.population_run import PopulationRun
from trainables.dsr.population_settings import population_settings
from trainables.dsr.trainable import is_eval_epoch, resolve_device, score_of
from trainables.reporting import weights_only_copy

__all__ = [
    "MemoryPopulationReporter",
    "PopulationReporter",
    "PopulationRun",
    "dsr_population_trainable",
    "population_settings",
    "train_dsr_population",
]


class PopulationReporter(Protocol):
    """Receives each epoch's reports by member index; answers which members to stop.

    `report` may also take the epoch's checkpoint, and `load_checkpoint()` may give one to
    resume from (both optional, see the module docstring)."""

    def report(self, reports: dict[int, dict[str, Any]]) -> Iterable[int] | None: ...


class MemoryPopulationReporter:
    """Keeps every epoch's reports and every checkpoint with the members it stopped
    (`checkpoints`, each as `load_checkpoint()` gives it back); stops member `i` after epoch
    `e` for each `stop_at[i] = e`; starts from `checkpoint` (an entry of `checkpoints`).

    Checkpoints go through a `torch.save`/`torch.load(weights_only=True)` round trip, as a file
    would."""

    def __init__(
        self, stop_at: Mapping[int, int] | None = None, checkpoint: Mapping | None = None
    ) -> None:
        self.epochs: list[dict[int, dict[str, Any]]] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.stop_at = dict(stop_at or {})
        self._start = None if checkpoint is None else weights_only_copy(dict(checkpoint))

    def report(
        self, reports: dict[int, dict[str, Any]], checkpoint: dict | None = None
    ) -> list[int]:
        self.epochs.append({i: dict(r) for i, r in reports.items()})
        stop = [i for i, r in reports.items() if self.stop_at.get(i) == r.get("epoch")]
        if checkpoint is not None:
            self.checkpoints.append(weights_only_copy({"checkpoint": checkpoint, "stop": stop}))
        return stop

    def load_checkpoint(self) -> dict[str, Any] | None:
        return None if self._start is None else weights_only_copy(self._start)


def train_dsr_population(
    configs: Sequence[Mapping[str, Any]],
    reporter: PopulationReporter | None = None,
    gpu_allowed: bool | None = None,
) -> list[list[dict[str, Any]]]:
    """Train K configs as one population; each member's reports of this call, as `train_dsr`
    would give them (a resumed population: from the epoch after its checkpoint on).

    A failed member's list ends with its `{"epoch", "failed"}` entry. Raises `ConfigError` for a
    bad config, for members that cannot share one population and for a checkpoint of another
    population.
    """
    settings = population_settings(configs)[0]
    reporter = MemoryPopulationReporter() if reporter is None else reporter
    data = load_data(settings.data_key)
    run = PopulationRun(configs, settings, data, resolve_device(settings, gpu_allowed))
    checkpoints = _takes_checkpoint(reporter)
    load = getattr(reporter, "load_checkpoint", None)
    saved = load() if callable(load) else None
    if saved is not None:
        resume_population(run, saved, configs)
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
        due = run.epoch % settings.checkpoint_every == 0 or run.epoch >= settings.n_epochs
        if checkpoints:
            state = population_checkpoint(run, configs) if due else None
            stop = reporter.report(epoch, state)  # type: ignore[call-arg]
        else:
            stop = reporter.report(epoch)
        for k in stop or ():
            run.stop(k)
        if run.epoch >= settings.n_epochs:
            for k in run.members():
                run.finish(k)
    return reports


def _takes_checkpoint(reporter: Any) -> bool:
    """Whether `reporter.report` accepts a checkpoint after the reports."""
    try:
        inspect.signature(reporter.report).bind({}, None)
    except TypeError:
        return False
    except ValueError:  # no signature to read: assume the current protocol
        return True
    return True


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
