"""Live progress of a sweep: one compact line per trial event, and the final summary table.

    [  41s] trial 3f2a1_00004 pruned at epoch 2 (score 0.5312) | running 2 · completed 1 ·
            pruned 3 · failed 0 | best score 0.2104 (3f2a1_00001)

A trial's outcome is classified exactly as the searcher tells Optuna (`final_state`), so the
counts printed here match the study.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from optuna.trial import TrialState
from ray.tune import Callback

from tuner.searcher import final_state, finite

_WORDS = {TrialState.COMPLETE: "completed", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}


class ProgressCallback(Callback):
    """Prints trial starts and ends with running/completed/pruned/failed counts and best so far."""

    def __init__(
        self, metric: str, mode: str, max_t: int, out: TextIO | Callable[[], TextIO] | None = None
    ) -> None:
        self._metric, self._mode, self._max_t = metric, mode, max_t
        self._out = out
        self._start = time.monotonic()
        self._running: set[str] = set()
        self._counts = dict.fromkeys(_WORDS.values(), 0)
        self._best: tuple[float, str] | None = None

    def _stream(self) -> TextIO:
        if self._out is None:
            return sys.stdout
        return self._out() if callable(self._out) else self._out

    def _better(self, value: float) -> bool:
        if self._best is None:
            return True
        return value < self._best[0] if self._mode == "min" else value > self._best[0]

    def _line(self, event: str) -> None:
        best = (
            f"best {self._metric} {self._best[0]:.6g} ({self._best[1]})"
            if self._best
            else f"best {self._metric} -"
        )
        counts = " · ".join(f"{k} {v}" for k, v in self._counts.items())
        elapsed = time.monotonic() - self._start
        line = f"[{elapsed:5.0f}s] {event} | running {len(self._running)} · {counts} | {best}"
        print(line, file=self._stream(), flush=True)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._running.add(trial.trial_id)
        self._line(f"trial {trial.trial_id} started")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, error=True)

    def _end(self, trial: Any, error: bool) -> None:
        if trial.trial_id not in self._running:
            return
        self._running.discard(trial.trial_id)
        result = trial.last_result or {}
        state = final_state(result, self._metric, self._max_t, error)
        self._counts[_WORDS[state]] += 1
        value = finite(result.get(self._metric))
        epochs = result.get("training_iteration", 0)
        if state == TrialState.COMPLETE and value is not None and self._better(value):
            self._best = (value, trial.trial_id)
        shown = f"{self._metric} {value:.6g}" if value is not None else "no finite value"
        self._line(f"trial {trial.trial_id} {_WORDS[state]} at epoch {epochs} ({shown})")
