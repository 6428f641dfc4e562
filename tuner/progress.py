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
    """Prints trial starts and ends with running/completed/pruned/failed counts and best so far.

    Counts are recomputed from Ray's trial list at every event, so a resumed sweep shows the
    totals of the whole experiment, not only of the resumed part.
    """

    def __init__(
        self, metric: str, mode: str, max_t: int, out: TextIO | Callable[[], TextIO] | None = None
    ) -> None:
        self._metric, self._mode, self._max_t = metric, mode, max_t
        self._out = out
        self._start = time.monotonic()

    def setup(self, **info: Any) -> None:
        self._start = time.monotonic()  # also after `Tuner.restore` in a new process

    def _stream(self) -> TextIO:
        if self._out is None:
            return sys.stdout
        return self._out() if callable(self._out) else self._out

    def _state(self, trial: Any, current: Any, event: TrialState | None) -> TrialState | None:
        """A trial's outcome so far: RUNNING, COMPLETE, PRUNED, FAIL, or None (not started)."""
        if trial is current and event is not None:
            return event
        if trial.status == "RUNNING":
            return TrialState.RUNNING
        if trial.status == "TERMINATED":
            return final_state(trial.last_result, self._metric, self._max_t)
        return TrialState.FAIL if trial.status == "ERROR" else None

    def _line(self, trials: list, current: Any, event: TrialState, text: str) -> None:
        states = {t.trial_id: self._state(t, current, event) for t in trials}
        running = sum(s == TrialState.RUNNING for s in states.values())
        counts = " · ".join(
            f"{word} {sum(s == state for s in states.values())}" for state, word in _WORDS.items()
        )
        done = [
            (finite(t.last_result.get(self._metric)), t.trial_id)
            for t in trials
            if states[t.trial_id] == TrialState.COMPLETE
        ]
        done = [(v, i) for v, i in done if v is not None]
        if done:
            value, trial_id = min(done) if self._mode == "min" else max(done)
            best = f"best {self._metric} {value:.6g} ({trial_id})"
        else:
            best = f"best {self._metric} -"
        elapsed = time.monotonic() - self._start
        line = f"[{elapsed:5.0f}s] {text} | running {running} · {counts} | {best}"
        print(line, file=self._stream(), flush=True)

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._line(trials, trial, TrialState.RUNNING, f"trial {trial.trial_id} started")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trials, trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trials, trial, error=True)

    def _end(self, trials: list, trial: Any, error: bool) -> None:
        result = trial.last_result or {}
        state = final_state(result, self._metric, self._max_t, error)
        value = finite(result.get(self._metric))
        shown = f"{self._metric} {value:.6g}" if value is not None else "no finite value"
        epochs = result.get("training_iteration", 0)
        text = f"trial {trial.trial_id} {_WORDS[state]} at epoch {epochs} ({shown})"
        self._line(trials, trial, state, text)
