"""The result loggers a sweep gives Ray Tune: JSON and CSV, but no TensorBoard event files.

Ray adds a JSON, a CSV and a TensorBoard (tensorboardX) logger unless the run's callbacks hold
one of each kind. The TensorBoard logger flushes an event file on every result, on the driver,
while the trial waits for the driver to take its result: on 2 cores it cost about 2 ms per
reported epoch (`BENCHMARKS.md`, overhead section). Nothing here reads those files
(`result.json` holds every epoch), so the sweep passes a logger of that kind that writes nothing.
"""

from __future__ import annotations

from typing import Any

from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback


class NoTensorBoardLogger(TBXLoggerCallback):
    """Takes the TensorBoard logger's place so Ray adds none; writes nothing."""

    def __init__(self) -> None:  # the parent imports tensorboardX and sets up writers
        pass

    def log_trial_start(self, trial: Any) -> None:
        pass

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        pass

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        pass


def result_loggers() -> list[Any]:
    """`result.json` and `progress.csv` per trial, no TensorBoard event files."""
    return [JsonLoggerCallback(), CSVLoggerCallback(), NoTensorBoardLogger()]
