"""How a training loop talks to the outside: a reporter, and the error for a diverged run.

A loop takes a `Reporter`: `report(metrics, checkpoint)` once per epoch and `load_checkpoint()` once
at the start, so the same loop runs under Ray Tune (`RayReporter`), plainly in benchmarks and tests
(`MemoryReporter`), or under another engine later. This is the only module of `trainables` that
talks to Ray's reporting API. Checkpoints are plain state (tensors, numbers, strings, lists and
dicts) that `torch.load(..., weights_only=True)` reads back. A user's own loop reports through
`epoch_reporter(model, plan, config)`, which also checkpoints and resumes model and LR plan.
"""

from __future__ import annotations

import io
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch

from trainables.lr.errors import TunerError
from trainables.resume_state import check_state, rng_state, set_rng_state

CHECKPOINT_FILE = "state.pt"


class TrainingDiverged(TunerError):
    """The training loss became NaN or infinite: the trial ends with this error."""


class Reporter(Protocol):
    """Where a loop sends each epoch's metrics and checkpoints, and finds one to resume from."""

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None: ...

    def load_checkpoint(self) -> dict | None: ...


def weights_only_copy(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy through `torch.save`/`torch.load(weights_only=True)`, as a file would give."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, map_location="cpu", weights_only=True)


class MemoryReporter:
    """Keeps every report and the last checkpoint in memory; can start from a given checkpoint.

    Checkpoints are stored as a `weights_only` round trip, so they are independent copies and
    anything `torch.load(weights_only=True)` would refuse fails here as well.
    """

    def __init__(self, checkpoint: dict | None = None) -> None:
        self.reports: list[dict[str, float]] = []
        self.checkpoint = None if checkpoint is None else weights_only_copy(checkpoint)

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None:
        self.reports.append(dict(metrics))
        if checkpoint is not None:
            self.checkpoint = weights_only_copy(checkpoint)

    def load_checkpoint(self) -> dict | None:
        return None if self.checkpoint is None else weights_only_copy(self.checkpoint)


class RayReporter:
    """Reports through `ray.tune.report`; checkpoints are a `torch.save`d file in a directory."""

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None:
        from ray import tune

        if checkpoint is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            torch.save(checkpoint, Path(folder) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    def load_checkpoint(self) -> dict | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None:
            return None
        with checkpoint.as_directory() as folder:
            return torch.load(Path(folder) / CHECKPOINT_FILE, map_location="cpu", weights_only=True)


def ray_gpu_ids() -> list[int]:
    """The GPUs Ray gave the current trial (empty outside Ray or without GPUs)."""
    import ray

    return list(ray.get_gpu_ids()) if ray.is_initialized() else []


def in_tune_trial() -> bool:
    """Whether this code runs inside a Ray Tune trial (False without Ray imported)."""
    if "ray" not in sys.modules:
        return False
    from ray import tune

    with warnings.catch_warnings():  # Ray warns when asked outside a trial
        warnings.simplefilter("ignore")
        return tune.get_context().get_trial_id() is not None


def trial_folder(default: str | Path | None = None) -> Path:
    """The folder of the running trial, where its own files (logs, TensorBoard) belong.

    In a Ray Tune trial: the trial's folder in the experiment (`results/<name>/<trial_id>`) when
    the storage is a local or shared file system, else Ray's working folder of the trial.
    Outside a trial: `default` (the current folder when None). The folder exists on return.
    """
    if in_tune_trial():
        from ray import tune

        context = tune.get_context()
        folder = context.get_trial_dir()
        try:  # a developer API: the trial's folder in the storage (Ray's working folder if not)
            storage = context.get_storage()
            if type(storage.storage_filesystem).__name__ == "LocalFileSystem":
                folder = storage.trial_fs_path
        except (AttributeError, RuntimeError):
            pass
    else:
        folder = Path.cwd() if default is None else default
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


class EpochReporter:
    """Reports and checkpoints a user's own loop: epochs, metrics, lrs, model and LR plan.

    `epochs()` restores the last checkpoint and yields the epochs still to run; `report(metrics)`
    adds `epoch` and each group's `lr/<group>` (in force during the epoch) and checkpoints every
    `checkpoint_every` epochs and at the last one. A checkpoint holds the model, the plan, the
    generators of Python's `random`, numpy and torch (CPU, and CUDA once in use) and `state`:
    a dict of the loop's own values to resume (tensors, numbers, strings, booleans, None, lists,
    tuples, dicts; e.g. `reporter.state["alpha"] = alpha`), all put back before the first
    resumed epoch runs.
    """

    def __init__(
        self, model: Any, plan: Any, reporter: Reporter | None = None, checkpoint_every: int = 1
    ) -> None:
        self.model, self.plan = model, plan
        self.reporter = reporter or (RayReporter() if in_tune_trial() else MemoryReporter())
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.state: dict[str, Any] = {}
        self.epoch = 0
        self._lrs: dict[str, float] = {}

    @property
    def trial_dir(self) -> Path:
        """The trial's own folder for the loop's files (`trial_folder`)."""
        return trial_folder()

    def restore(self) -> int:
        """Put back the last checkpoint, if there is one (model, plan, generators, `state`);
        the number of epochs already done."""
        checkpoint = self.reporter.load_checkpoint()
        if checkpoint is not None:
            self.model.load_state_dict(checkpoint["model"])
            self.plan.load_state_dict(checkpoint["plan"])
            set_rng_state(checkpoint["rng"])
            self.state = dict(checkpoint["state"])
            self.epoch = int(checkpoint["epoch"])
        self._note_lrs()
        return self.epoch

    def epochs(self) -> Iterator[int]:
        """The 0-based epochs left to run, after restoring the last checkpoint if there is one."""
        self.restore()
        while self.epoch < self.plan.clock.n_epochs:
            started = self.epoch
            self._note_lrs()
            yield started
            if self.epoch == started:
                raise TunerError(f"epoch {started + 1} ended without reporter.report(...)")

    def _note_lrs(self) -> None:
        self._lrs = {f"lr/{n.replace('.', '/')}": lr for n, lr in self.plan.lrs().items()}

    def report(self, metrics: Mapping[str, float]) -> None:
        """Report this epoch's metrics (call once per epoch, after `plan.step_epoch`)."""
        self.epoch += 1
        due = self.epoch % self.checkpoint_every == 0 or self.epoch == self.plan.clock.n_epochs
        checkpoint = None
        if due:
            check_state(self.state)
            checkpoint = {
                "model": self.model.state_dict(),
                "plan": self.plan.state_dict(),
                "rng": rng_state(),
                "state": self.state,
                "epoch": self.epoch,
            }
        self.reporter.report({"epoch": self.epoch, **metrics, **self._lrs}, checkpoint)
        self._note_lrs()  # the plan has stepped: these are the next epoch's


def epoch_reporter(model: Any, plan: Any, config: Mapping[str, Any] | None = None) -> EpochReporter:
    """The reporter of a user's trainable: Ray Tune inside a trial, in memory otherwise.

    `checkpoint_every` comes from the config the tuner passes (default every epoch).

    >>> reporter = epoch_reporter(model, plan, config)
    >>> for epoch in reporter.epochs():
    ...     ...  # train one epoch; plan.step_epoch(train_loss=loss)
    ...     reporter.report({"val_loss": val_loss})
    """
    every = (config or {}).get("checkpoint_every") or 1
    return EpochReporter(model, plan, checkpoint_every=every)
