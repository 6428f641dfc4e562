"""Why a trial failed, as its exception's own line, and `fail_fast`: stop a sweep whose first
trials all fail with the same exception (a deterministic error would burn the whole budget).

Ray hands the driver a trial's final error (after its retries) first to the scheduler, then to
the searcher, then to callbacks. The schedulers of a sweep (`FailureNotes`) read the error Ray
has just written into the trial's folder (`error.txt`: text, never unpickled) and keep its last
exception, `Type: message`, for the searcher (`take_reason`), which records it as the trial's
`fail_reason`, and for the progress lines (`reason_of`). A `FailFast` stopper, told of every
ending by the scheduler, stops the sweep once the first `n` trials to end all failed with the
same exception.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.schedulers import FIFOScheduler
from ray.tune.stopper import Stopper

#: trial id -> `Type: message` of its final error (this driver's trials only)
_REASONS: dict[str, str] = {}
#: study name -> why `fail_fast` stopped that sweep
_STOPPED: dict[str, str] = {}
_FRAME = re.compile(r'^\s*File "')
_FAILURE = re.compile(r"^Failure # \d+ \(occurred at .*\)$", re.MULTILINE)


def exception_text(error_text: str) -> str:
    """The last exception of Ray's `error.txt` text: `Type: message` (every line of it).

    The message follows the traceback's last frame (`File "..."` and its indented source
    lines); an error without a traceback (a worker that died) gives its first line.
    """
    last = _FAILURE.split(error_text)[-1].strip("\n")
    lines = last.splitlines()
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    if not frames:
        return next((line.strip() for line in lines if line.strip()), "unknown error")
    rest = lines[frames[-1] + 1 :]
    while rest and (rest[0].startswith("    ") or not rest[0].strip()):
        rest = rest[1:]  # the frame's source line and its ^^^ markers
    text = "\n".join(rest).strip()
    return text or "unknown error"


def note_reason(trial: Any) -> str | None:
    """Read the exception a trial has just failed with from its `error.txt` and keep it."""
    path = getattr(trial, "error_file", None)
    if not path or not Path(path).is_file():
        return None
    reason = exception_text(Path(path).read_text(encoding="utf-8", errors="replace"))
    _REASONS[trial.trial_id] = reason
    return reason


def reason_of(trial: Any) -> str | None:
    """The exception a trial failed with (None without one)."""
    return _REASONS.get(trial.trial_id) or note_reason(trial)


def take_reason(trial_id: str) -> str | None:
    """The exception noted for `trial_id` (None when none was), for the searcher."""
    return _REASONS.get(trial_id)


class FailFast(Stopper):
    """Stops the sweep once the first `n` trials to end all failed with the same exception
    (`n` 0: never). `reason` says which, once it has."""

    def __init__(self, n: int, study_name: str = "") -> None:
        self.n = n
        self.study_name = study_name
        self.endings: list[str | None] = []
        self.reason: str | None = None

    def ended(self, trial_id: str, exception: str | None) -> None:
        """A trial ended: with `exception` (its `Type: message`), or None (no exception)."""
        if len(self.endings) >= self.n or self.n == 0:
            return
        self.endings.append(exception)
        first = self.endings[0]
        if len(self.endings) == self.n and first is not None and set(self.endings) == {first}:
            self.reason = f"the first {self.n} trials failed with the same error: {first}"
            _STOPPED[self.study_name] = self.reason

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.reason is not None


class FailureNotes:
    """Scheduler mixin: notes each trial's final exception and tells `fail_fast` every ending."""

    fail_fast: FailFast | None = None

    def on_trial_error(self, tune_controller: Any, trial: Any) -> None:
        retried = getattr(trial, "should_recover", lambda: False)()  # Ray may requeue it
        reason = note_reason(trial)
        if self.fail_fast is not None and not retried:
            self.fail_fast.ended(trial.trial_id, reason or "unknown error")
        super().on_trial_error(tune_controller, trial)  # type: ignore[misc]

    def on_trial_complete(self, tune_controller: Any, trial: Any, result: dict) -> None:
        if self.fail_fast is not None:
            self.fail_fast.ended(trial.trial_id, None)
        super().on_trial_complete(tune_controller, trial, result)  # type: ignore[misc]


class NotingFIFO(FailureNotes, FIFOScheduler):
    """Ray's FIFO scheduler (no early stopping) with `FailureNotes`."""


def stopped_reason(study_name: str) -> str | None:
    """Why `fail_fast` stopped the sweep of `study_name` in this process (None if it did not)."""
    return _STOPPED.get(study_name)


def close_stopped(study: optuna.Study, reason: str) -> None:
    """FAIL every record still RUNNING after `fail_fast` stopped the sweep, with `reason`."""
    storage = study._storage  # noqa: SLF001 (Optuna's public storage API, reached via the study)
    for record in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        why = f"stopped by fail_fast: {reason}"
        storage.set_trial_user_attr(record._trial_id, "fail_reason", why)  # noqa: SLF001
        study.tell(record.number, state=TrialState.FAIL)
