"""A reporter that kills its run right after a given epoch, as a dying worker would."""

from __future__ import annotations

from trainables.reporting import MemoryReporter


class RunKilled(Exception):
    """Raised by `KilledAfter` to end a run mid-way."""


class KilledAfter(MemoryReporter):
    """Reports like a MemoryReporter, then raises `RunKilled` once `epoch` was reported."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def report(self, metrics, checkpoint=None) -> None:
        super().report(metrics, checkpoint)
        if metrics["epoch"] == self.epoch:
            raise RunKilled
