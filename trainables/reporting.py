"""How a training loop talks to the outside: a reporter, and the error for a diverged run.

A loop takes a `Reporter`: `report(metrics, checkpoint)` once per epoch and `load_checkpoint()` once
at the start, so the same loop runs under Ray Tune (`RayReporter`), plainly in benchmarks and tests
(`MemoryReporter`), or under another engine later. This is the only module of `trainables` that
talks to Ray's reporting API. Checkpoints are plain state (tensors, numbers, strings, lists and
dicts) that `torch.load(..., weights_only=True)` reads back.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, Protocol

import torch

from trainables.lr.errors import TunerError

CHECKPOINT_FILE = "state.pt"


class TrainingDiverged(TunerError):
    """The training loss became NaN or infinite: the trial ends with this error."""


class Reporter(Protocol):
    """Where a loop sends each epoch's metrics and checkpoints, and finds one to resume from."""

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None: ...

    def load_checkpoint(self) -> dict | None: ...


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
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
        self.checkpoint = None if checkpoint is None else _roundtrip(checkpoint)

    def report(self, metrics: dict[str, float], checkpoint: dict | None = None) -> None:
        self.reports.append(dict(metrics))
        if checkpoint is not None:
            self.checkpoint = _roundtrip(checkpoint)

    def load_checkpoint(self) -> dict | None:
        return None if self.checkpoint is None else _roundtrip(self.checkpoint)


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
