"""Tuning a training loop that owns its epochs (a lab's `trainer.train()`), without copying it.

The loop keeps its own code; it is handed three things by the trainable that calls it:

- `tuned.optimizer(model)` where it builds its optimizer: the LR plan's optimizer (groups,
  schedules, freezing from the sampled config; parameters at requires_grad False stay fixed);
- `tuned.report_epoch(metrics)` at the end of each epoch: steps the plan (`plan.step_epoch`
  with the metrics; `step_plan=False` when the loop steps it), reports to Ray Tune (so ASHA can
  stop the trial) and checkpoints every `checkpoint_every` epochs;
- `tuned.start_epoch`, where the loop starts: asking it puts back the last checkpoint (model,
  plan, random generators, `state` and the `track`ed attributes), so a trial Ray restarts goes
  on exactly where it stopped.

`tuned.trial_dir` is the trial's own folder for the loop's files (logs, TensorBoard writers).
Ray Tune ends a trial at its last report, so what a loop does after its last epoch (saving a
final model) runs only in the `with` form: there the last epoch is reported when the block ends.

    with tuned_loop(config) as tuned:
        trainer = Trainer(args, optimizer=tuned.optimizer, on_epoch_end=tuned.report_epoch,
                          log_dir=tuned.trial_dir)
        tuned.track(trainer, "alpha")      # annealed by the loop: saved, put back on resume
        trainer.train(start_epoch=tuned.start_epoch)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables.lr.errors import TunerError
from trainables.reporting import EpochReporter, Reporter, trial_folder

_TRACKED = "tracked"


class TunedLoop:
    """The tuner's side of a loop that owns its epochs (module docstring)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        reporter: Reporter | None = None,
        n_epochs: int | None = None,
        steps_per_epoch: int | None = None,
        step_plan: bool = True,
        trial_dir: str | Path | None = None,
    ) -> None:
        self.config = dict(config)
        self.n_epochs = int(n_epochs if n_epochs is not None else config["n_epochs"])
        self.steps_per_epoch = steps_per_epoch
        self.step_plan = step_plan
        self.plan: Any = None
        self._reporter = reporter
        self._default_dir = trial_dir
        self._epochs: EpochReporter | None = None
        self._tracked: list[tuple[Any, tuple[str, ...]]] = []
        self._start: int | None = None
        self._hold_last = False
        self._held: Mapping[str, Any] | None = None

    def __enter__(self) -> TunedLoop:
        self._hold_last = True
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        held, self._held, self._hold_last = self._held, None, False
        if kind is None and held is not None:
            epochs = self._reporter_of_epochs()
            epochs.report(held)
            epochs.state.pop(_TRACKED, None)

    @property
    def trial_dir(self) -> Path:
        """The trial's own folder (`results/<name>/<trial_id>` in a sweep)."""
        return trial_folder(self._default_dir)

    @property
    def state(self) -> dict[str, Any]:
        """The loop's own values to resume (tensors, numbers, strings, lists, dicts)."""
        return self._reporter_of_epochs().state

    def optimizer(self, model: Any) -> Any:
        """Build the LR plan for `model` from the config; its torch optimizer."""
        from trainables.lr import build_lr_plan

        if self.plan is not None:
            raise TunerError("tuned.optimizer(model) was called twice: build one optimizer")
        self.plan = build_lr_plan(model, self.config, self.n_epochs, self.steps_per_epoch)
        every = self.config.get("checkpoint_every") or 1
        self._epochs = EpochReporter(model, self.plan, self._reporter, checkpoint_every=every)
        return self.plan.optimizer

    def track(self, owner: Any, *attributes: str) -> None:
        """Checkpoint these attributes of `owner` (e.g. the trainer's annealed `alpha`) and put
        them back when `start_epoch` resumes."""
        self._tracked.append((owner, attributes))

    @property
    def start_epoch(self) -> int:
        """The epochs already done (0 unless resuming); asking restores the last checkpoint."""
        if self._start is None:
            epochs = self._reporter_of_epochs()
            self._start = epochs.restore()
            saved = epochs.state.pop(_TRACKED, {})
            for owner, attributes in self._tracked:
                for name in attributes:
                    if name in saved:
                        setattr(owner, name, saved[name])
        return self._start

    def report_epoch(self, metrics: Mapping[str, Any] | None = None, **more: Any) -> None:
        """At the end of each epoch: step the plan with the metrics, report, checkpoint."""
        epochs = self._reporter_of_epochs()
        if self._start is None:
            if epochs.reporter.load_checkpoint() is not None:
                raise TunerError(
                    "this trial resumes from a checkpoint, but the loop did not ask where to "
                    "start: begin its epochs at tuned.start_epoch"
                )
            self._start = epochs.restore()
        values = {**(metrics or {}), **more}
        if self.step_plan:
            self.plan.step_epoch(**values)
        epochs.state[_TRACKED] = {
            name: getattr(owner, name) for owner, names in self._tracked for name in names
        }
        if self._hold_last and epochs.epoch + 1 == self.n_epochs:
            self._held = values  # reported when the `with` block ends
            return
        epochs.report(values)
        epochs.state.pop(_TRACKED)

    def _reporter_of_epochs(self) -> EpochReporter:
        if self._epochs is None:
            raise TunerError("build the optimizer with tuned.optimizer(model) first")
        return self._epochs


def tuned_loop(config: Mapping[str, Any], **options: Any) -> TunedLoop:
    """The tuner's side of a loop that owns its epochs: Ray Tune in a trial, memory otherwise.

    `options`: `n_epochs` (default `config["n_epochs"]`), `steps_per_epoch`, `step_plan`,
    `reporter`, `trial_dir` (outside a trial; default the current folder).
    """
    return TunedLoop(config, **options)
