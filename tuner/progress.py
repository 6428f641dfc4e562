"""Live progress of a sweep: one compact line per trial event, and the final summary table.

    [  41s] trial 3f2a1_00004 pruned at epoch 2 (score 0.5312) | running 2 · completed 1 ·
            pruned 3 · failed 0 | best score 0.2104 (3f2a1_00001)

A trial's outcome is classified exactly as the searcher tells Optuna (`final_state`), so the
counts printed here match the study.

A `population: K` sweep counts members, the study's trials, not Ray trials: a line when a
population starts and ends and one per member that ends, with the members running (in a
running Ray trial), completed, pruned and failed, and the best completed member:

    [  12s] member 3f2a1_00000-5 pruned at epoch 2 (score 0.5312) | members running 7 ·
            completed 0 · pruned 1 · failed 0 | best score -

Members' states are read from the study (which the searcher has told before Ray calls back),
so a resumed sweep counts the members of the whole experiment. A grown sweep's run counts the
study's earlier trials too (`earlier`), and a budget adds `| budget 40/60 epochs · 1m05s/2h`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from optuna.trial import TrialState
from ray.tune import Callback

from tuner.failures import reason_of
from tuner.population_search import member_id
from tuner.searcher import RAY_TRIAL_ID, final_state, finite

_WORDS = {TrialState.COMPLETE: "completed", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}


def population_members(trial: Any) -> list[int]:
    """The Optuna numbers of the members a population Ray trial trains ([] when unfused)."""
    population = (getattr(trial, "config", None) or {}).get("population") or {}
    return [int(m["number"]) for m in population.get("members", [])]


class ProgressCallback(Callback):
    """Prints trial starts and ends with running/completed/pruned/failed counts and best so far.

    Counts are recomputed from Ray's trial list at every event, so a resumed sweep shows the
    totals of the whole experiment, not only of the resumed part. For a population sweep they
    count members (module docstring); `study` (an Optuna study) is where their states are read,
    by default the study of the experiment folder the trials write to.
    """

    def __init__(
        self,
        metric: str,
        mode: str,
        max_t: int,
        out: TextIO | Callable[[], TextIO] | None = None,
        study: Any = None,
        budget: Any = None,
        earlier: Sequence[Any] = (),
        worst: bool = False,
    ) -> None:
        self._metric, self._mode, self._max_t = metric, mode, max_t
        self._worst = worst  # `on_nonfinite: worst`: a NaN/inf metric ends a trial, not FAIL
        self._budget = budget  # a `tuner.budget.BudgetTracker`, shown at the end of each line
        # a grown sweep's earlier Optuna records: counted with this run's trials
        self._earlier = [
            (t.state, finite(t.value) if t.state == TrialState.COMPLETE else None,
             str(t.user_attrs.get(RAY_TRIAL_ID, t.number)))
            for t in earlier
        ]  # fmt: skip
        self._out = out
        self._start = time.monotonic()
        self._study = study

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_study"] = None  # a study holds its storage: loaded again where needed
        return state

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
            return final_state(trial.last_result, self._metric, self._max_t, worst=self._worst)
        return TrialState.FAIL if trial.status == "ERROR" else None

    def _print(self, text: str, counts: str) -> None:
        elapsed = time.monotonic() - self._start
        budget = getattr(self, "_budget", None)
        used = f" | {budget.line()}" if budget is not None else ""
        print(f"[{elapsed:5.0f}s] {text} | {counts}{used}", file=self._stream(), flush=True)

    def _best(self, done: list[tuple[float | None, str]]) -> str:
        done = [(v, i) for v, i in done if v is not None]
        if not done:
            return f"best {self._metric} -"
        value, trial_id = min(done) if self._mode == "min" else max(done)
        return f"best {self._metric} {value:.6g} ({trial_id})"

    def _line(self, trials: list, current: Any, event: TrialState, text: str) -> None:
        if any(population_members(t) for t in trials):
            self._print(text, self.member_counts(trials, current, event))
            return
        states = {t.trial_id: self._state(t, current, event) for t in trials}
        earlier = getattr(self, "_earlier", [])
        every = [*states.values(), *(state for state, _, _ in earlier)]
        running = sum(s == TrialState.RUNNING for s in every)
        counts = " · ".join(
            f"{word} {sum(s == state for s in every)}" for state, word in _WORDS.items()
        )
        done = [
            (finite(t.last_result.get(self._metric)), t.trial_id)
            for t in trials
            if states[t.trial_id] == TrialState.COMPLETE
        ] + [(value, who) for state, value, who in earlier if state == TrialState.COMPLETE]
        self._print(text, f"running {running} · {counts} | {self._best(done)}")

    def member_counts(
        self, trials: list, current: Any = None, event: TrialState | None = None, ended: Any = None
    ) -> str:
        """`members running R · completed C · pruned P · failed F | best ...` of a population
        sweep; `ended` ({number: state}) are members the study may not show ended yet."""
        study = self._study_of(trials)
        records = {t.number: t for t in study.get_trials(deepcopy=False)} if study else {}
        states: dict[int, TrialState | None] = {}
        for trial in trials:
            started = trial.status == "RUNNING" or (trial is current and event is not None)
            for number in population_members(trial):
                record = records.get(number)
                state = record.state if record is not None else TrialState.RUNNING
                if state == TrialState.RUNNING and not started:
                    state = None  # waiting for its Ray trial, or left open by an ended one
                states[number] = state
        states.update(ended or {})
        running = sum(s == TrialState.RUNNING for s in states.values())
        counts = " · ".join(
            f"{word} {sum(s == state for s in states.values())}" for state, word in _WORDS.items()
        )
        done = [
            (finite(records[n].value), str(records[n].user_attrs.get(RAY_TRIAL_ID, n)))
            for n, s in states.items()
            if s == TrialState.COMPLETE and n in records
        ]
        return f"members running {running} · {counts} | {self._best(done)}"

    def _study_of(self, trials: list) -> Any:
        """The study of a population sweep: the one given, else that of the experiment folder
        (None when it cannot be read)."""
        if getattr(self, "_study", None) is None and trials:
            from tuner.experiment import load_experiment

            try:
                self._study = load_experiment(Path(trials[0].remote_experiment_path)).load_study()
            except Exception:  # progress lines never stop a sweep
                return None
        return self._study

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        members = population_members(trial)
        text = f"trial {trial.trial_id} started"
        if members:
            text = f"population {trial.trial_id} started ({len(members)} members)"
        self._line(trials, trial, TrialState.RUNNING, text)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: Mapping[str, Any], **info: Any
    ) -> None:
        ends = member_ends(result)
        if not ends:
            return
        epoch = result.get("training_iteration", 0)
        for number, state in ends.items():
            value = finite(result.get(f"member/{number}/{self._metric}"))
            shown = f"{self._metric} {value:.6g}" if value is not None else "no finite value"
            text = f"member {member_id(trial.trial_id, number)} {_WORDS[state]} at epoch {epoch}"
            text = f"{text} ({shown})"
            self._print(text, self.member_counts(trials, trial, TrialState.RUNNING, ends))

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trials, trial, error=False)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trials, trial, error=True)

    def _end(self, trials: list, trial: Any, error: bool) -> None:
        result = trial.last_result or {}
        epochs = result.get("training_iteration", 0)
        if population_members(trial):
            how = "failed" if error else "ended"
            text = f"population {trial.trial_id} {how} at epoch {epochs}"
            self._print(text, self.member_counts(trials))
            return
        state = final_state(result, self._metric, self._max_t, error, self._worst)
        value = finite(result.get(self._metric))
        shown = f"{self._metric} {value:.6g}" if value is not None else "no finite value"
        if value is None and state != TrialState.FAIL:
            shown = f"{self._metric} {result.get(self._metric)}, recorded as worst"
        exception = reason_of(trial) if error else None
        shown = exception.splitlines()[0] if exception else shown
        text = f"trial {trial.trial_id} {_WORDS[state]} at epoch {epochs}"
        self._line(trials, trial, state, f"{text} ({shown})")


def member_ends(result: Mapping[str, Any]) -> dict[int, TrialState]:
    """The members a population's result ends: {Optuna number: state}."""
    prefix = "member_end/"
    return {
        int(key[len(prefix) :]): TrialState[str(value)]
        for key, value in result.items()
        if key.startswith(prefix) and str(value) in TrialState.__members__
    }
