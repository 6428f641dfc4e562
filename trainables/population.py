"""The Ray side of `population: K`: K members of a sweep trained in one Ray trial.

A population function `train(configs, reporter)` trains the member configs together and, once
per epoch, calls `reporter.report({member_index: metrics, ...})` for the members still active;
`report` returns the indices to stop. `PopulationReporter` decides each member's end where its
metrics arrive:

- reported as `{"epoch": e, "failed": reason}` (a diverged member, reported once), or with a
  non-finite metric: FAIL with that reason, its metric NaN at that epoch (as a diverged unfused
  trial records it);
- `n_epochs` reached: COMPLETE;
- otherwise the sweep's member ASHA (a named Ray actor, see `tuner.population_asha`) is asked
  which members to stop: PRUNED.

Each epoch becomes one Ray report: the metric is the best value of the members reported in it
(Ray's own bookkeeping and progress lines), each member's numbers are under
`member/<optuna number>/<key>` and each member that ended under `member_end/<number>` (its
state) and `member_reason/<number>` (for FAIL). The driver's searcher turns these into the
members' own Optuna records.

Checkpoints: a function calling `reporter.report(reports, checkpoint)` with a checkpoint (any
state `torch.load(..., weights_only=True)` reads back) has it saved with that epoch's Ray report
(through `trainables.reporting.RayReporter`), together with the reporter's own state: its epoch
count, the members that ended, that epoch's result and member ASHA decisions. When Ray restarts
the trial from that checkpoint (a node died, `max_failures`, `python -m tuner resume`),
`reporter.load_checkpoint()` puts that state back and returns `{"checkpoint": <the function's
checkpoint>, "stop": <every member that had ended>}`: the function continues from its checkpoint
with those members stopped, epochs are counted on from there (as Ray's `training_iteration` is),
and no member is ended twice. A function that never checkpoints starts again from epoch 1.

The checkpoint Ray restarts from may be newer than the last result the driver recorded (a
driver killed while the result was on its way, a snapshot naming a checkpoint rotated out since:
`tuner.resumable`). So the first report after a restart also carries the checkpoint's own
epoch again, its keys under `previous/` and its epoch as `previous_epoch` (the driver records
what it lacks of it; `flush()` sends it alone when nothing follows), and that epoch's ASHA
decisions are put back into the member ASHA (`replay`; known ones are skipped).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from trainables._lazy import import_object

#: the key of a trial config holding the population: metric, mode, asha actor name, members
POPULATION = "population"
#: the key a population function reports a diverged member under, once, with the reason
FAILED = "failed"
#: the prefix and the epoch of a restarted trial's checkpoint epoch, sent again (docstring)
PREVIOUS, PREVIOUS_EPOCH = "previous/", "previous_epoch"
#: result keys of one member: its metrics, its end and the reason
_MEMBER_KEYS = ("member/", "member_end/", "member_reason/")
#: the Ray namespace of the member ASHA actors (trial workers may run in another job's namespace)
ASHA_NAMESPACE = "lr-tuner-member-asha"

Report = Callable[[dict[str, Any]], Any]
#: what a function's `load_checkpoint()` gets: its checkpoint and the members to stop
Saved = dict[str, Any]
PopulationFunction = Callable[..., Any]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PopulationReporter:
    """Per-epoch reports of K members; the member ends and which members to stop (docstring).

    `numbers` are the members' Optuna trial numbers, in member-index order; `asha` a handle of
    the member ASHA actor (None: only completions and failures end members); `report` the
    Ray reporting call (`ray.tune.report`), or `store` a `trainables.reporting.Reporter`
    (`report(result, checkpoint)`, `load_checkpoint()`) that also keeps checkpoints.
    """

    def __init__(
        self,
        numbers: list[int],
        *,
        metric: str,
        mode: str,
        n_epochs: int,
        asha: Any = None,
        report: Report | None = None,
        store: Any = None,
    ) -> None:
        self.numbers = list(numbers)
        self.metric, self.mode, self.n_epochs = metric, mode, n_epochs
        self._asha = asha
        self._report = report
        self._store = store
        self.epoch = 0
        self.ended: dict[int, str] = {}
        self._previous: dict[str, Any] = {}
        self._previous_value = math.nan
        self._decisions: list[dict[str, Any]] = []

    def load_checkpoint(self) -> Saved | None:
        """The function's last checkpoint and every member ended by then (None: start afresh);
        the reporter's epoch count and ended members are put back as they were then."""
        saved = None if self._store is None else self._store.load_checkpoint()
        if saved is None:
            return None
        self.epoch = int(saved["epoch"])
        self.ended = {int(index): str(state) for index, state in saved["ended"]}
        result = saved.get("result") or {}
        self._previous = {PREVIOUS + k: v for k, v in result.items() if k.startswith(_MEMBER_KEYS)}
        if self._previous:
            self._previous[PREVIOUS_EPOCH] = self.epoch
            self._previous_value = result.get(self.metric, math.nan)
        if self._asha is not None and saved.get("decisions"):
            import ray

            ray.get(self._asha.replay.remote(list(saved["decisions"]), True))
        return {"checkpoint": saved["checkpoint"], "stop": sorted(self.ended)}

    def flush(self) -> None:
        """Send the restored checkpoint's epoch again if no report after the restart did."""
        if self._previous:
            active = len(self.numbers) - len(self.ended)
            result = {self.metric: self._previous_value, "members_active": active}
            self._send({**result, **self._previous}, None)

    def report(
        self, metrics_by_member: Mapping[int, Mapping[str, Any]], checkpoint: Any = None
    ) -> set[int]:
        """Report one epoch of the active members (and the function's checkpoint, if any);
        returns the member indices to stop."""
        self.epoch += 1
        result: dict[str, Any] = {}
        values: dict[int, float] = {}
        stop = {index for index in metrics_by_member if index in self.ended}
        # a member that ended already is stopped again; its late report changes nothing
        reported = {i: m for i, m in metrics_by_member.items() if i not in self.ended}
        for index, metrics in sorted(reported.items()):
            number = self.numbers[index]
            result.update({f"member/{number}/{k}": v for k, v in metrics.items() if _is_number(v)})
            value = _finite(metrics.get(self.metric))
            failed = metrics.get(FAILED)
            if failed is not None or (self.metric in metrics and value is None):
                reason = failed or f"{self.metric} is {metrics[self.metric]!r}, not a finite number"
                # recorded as an unfused trial records it: the metric NaN at the diverging epoch
                result[f"member/{number}/{self.metric}"] = math.nan
                self._end(result, index, "FAIL", f"diverged at epoch {self.epoch}: {reason}")
                stop.add(index)
            elif self.epoch >= self.n_epochs:
                self._end(result, index, "COMPLETE")
                stop.add(index)
            elif value is not None:  # an epoch without the metric is no rung decision
                values[number] = value
        pruned = self._pruned(values)
        self._decisions = [
            {"number": n, "epoch": self.epoch, "value": v, "stop": n in pruned}
            for n, v in sorted(values.items())
        ]
        for index, number in enumerate(self.numbers):
            if number in pruned:
                self._end(result, index, "PRUNED")
                stop.add(index)
        result[self.metric] = self._best(reported)
        result["members_active"] = len(self.numbers) - len(self.ended)
        self._send({**result, **self._previous}, self._saved(checkpoint, result))
        return stop

    def _send(self, result: dict[str, Any], saved: dict[str, Any] | None) -> None:
        self._previous = {}
        if self._store is not None:
            self._store.report(result, saved)
        elif self._report is not None:
            self._report(result)

    def _saved(self, checkpoint: Any, result: dict[str, Any]) -> dict[str, Any] | None:
        """The function's checkpoint with this reporter's state after this epoch."""
        if checkpoint is None:
            return None
        ended = [[index, state] for index, state in sorted(self.ended.items())]
        return {
            "checkpoint": checkpoint,
            "epoch": self.epoch,
            "ended": ended,
            "result": result,
            "decisions": self._decisions,
        }

    def _pruned(self, values: dict[int, float]) -> set[int]:
        if self._asha is None or not values:
            return set()
        import ray

        return set(ray.get(self._asha.decide.remote(self.epoch, values)))

    def _end(self, result: dict[str, Any], index: int, state: str, reason: str = "") -> None:
        number = self.numbers[index]
        self.ended[index] = state
        result[f"member_end/{number}"] = state
        if reason:
            result[f"member_reason/{number}"] = str(reason)

    def _best(self, metrics_by_member: Mapping[int, Mapping[str, Any]]) -> float:
        values = [_finite(m.get(self.metric)) for m in metrics_by_member.values()]
        finite = [v for v in values if v is not None]
        if not finite:
            return math.nan
        return min(finite) if self.mode == "min" else max(finite)


def population_trainable(train: PopulationFunction | str) -> Callable[[dict[str, Any]], None]:
    """A Ray function trainable running the population of its config with `train`.

    The config is `{"n_epochs": N, "population": {"metric", "mode", "asha", "members": [{"number",
    "config"}, ...]}}`; `train(configs, reporter)` receives the member configs in order, and
    `gpu_allowed` (whether Ray gave the trial a GPU) when it takes that argument. `train` may be
    given as `package.module:function`, imported in the worker (the driver never imports it).
    """
    name = train.rpartition(":")[2] if isinstance(train, str) else train.__name__

    def trainable(config: dict[str, Any]) -> None:
        import ray

        from trainables.reporting import RayReporter

        population = config[POPULATION]
        members = population["members"]
        asha = ray.get_actor(population["asha"], ASHA_NAMESPACE) if population.get("asha") else None
        reporter = PopulationReporter(
            [int(m["number"]) for m in members],
            metric=population["metric"],
            mode=population["mode"],
            n_epochs=int(config["n_epochs"]),
            asha=asha,
            store=RayReporter(),
        )
        function = import_object(train) if isinstance(train, str) else train
        options = {}
        if "gpu_allowed" in inspect.signature(function).parameters:
            options["gpu_allowed"] = bool(ray.get_gpu_ids())
        function([dict(m["config"]) for m in members], reporter, **options)
        reporter.flush()

    # named after `train` (Ray names trials after it), but not `functools.wraps`: Ray reads the
    # signature through `__wrapped__` and wants a single `config` parameter
    trainable.__name__ = trainable.__qualname__ = name
    return trainable
