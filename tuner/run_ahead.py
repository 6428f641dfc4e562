"""Short epochs run on while the driver records the last one, where no decision can stop them.

Ray's function trainable reports synchronously: after each `report` the training thread waits
until the driver has taken the result, passed it to the scheduler, the searcher, the stoppers
and the loggers, and asked for the next one. For epochs of a few milliseconds that round trip
is most of a sweep's overhead (BENCHMARKS.md "Bookkeeping"). Here the worker lets the training
thread go on as soon as result k is handed over, so epoch k + 1 overlaps the round trip, but
only where the driver's answer to k cannot be "stop at k":

- ASHA cannot judge k: Ray's ASHA judges a result that holds the metric at the highest rung at
  or below k that has not judged the trial yet (any bracket), and stops every trial at `max_t`.
  The worker keeps its own list of rungs not yet judged (all of them at the start of a run);
  it only ever holds more than the driver's, so a result ASHA could judge always waits, and a
  pruned trial never trains past the result that pruned it;
- k is not the first result of this run of the trial (a restored trial is judged at its first
  result, by the rungs its record had passed) and follows k - 1 in the same run;
- the epoch behind k took under `MAX_EPOCH_S` (long epochs gain nothing from it).

Only what nobody decides at known epochs can catch a trial one epoch ahead: a stopper (the
budget without ASHA, a non-finite metric, `fail_fast`), the end of a sweep, an interrupt. The
trial then stops after that one more epoch, whose result the driver never takes: the Optuna
record, Ray's results and the curves end at k as before; the epoch's compute (under
`MAX_EPOCH_S`) is lost, and a checkpoint it wrote has no marker (`tuner.checkpoint_marker`), so
nothing resumes from it.

Stopping a trial whose thread ran ahead waits for that epoch to end (Ray's own stop does not
wait: the thread would train on outside its session). The `time_this_iter_s` of a result the
thread ran ahead to is its time from its release to its report, not Ray's (shorter) wait for it.

The release reaches into Ray's private `_TrainSession` (its `continue_lock`, `_first_report`,
`stop_event` and `training_thread`), so it runs only where `tuner.ray_patches` allows; otherwise
every report waits for the driver, as in stock Ray.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from ray.tune.utils import flatten_dict

#: epochs this long or longer wait for the driver as in stock Ray
MAX_EPOCH_S = 1.0


def asha_rungs(max_t: int, grace_period: int, reduction_factor: float, brackets: int) -> list:
    """The milestones of every bracket of Ray's asynchronous Hyperband (its `_Bracket` rule:
    `grace_period * reduction_factor ** (k + s)`, `int(log(max_t / grace) / log(rf)) - s + 1`
    rungs in bracket s), ascending and without repeats."""
    found: set[float] = set()
    for s in range(brackets):
        count = int(math.log(max_t / grace_period) / math.log(reduction_factor) - s + 1)
        found.update(grace_period * reduction_factor ** (k + s) for k in range(count))
    return sorted(found)


@dataclass(frozen=True)
class RunAhead:
    """When a trial's training thread may go on before the driver asks (module docstring):
    `metric` and `rungs` of the sweep's ASHA (no rungs: no ASHA), `max_t` its last epoch."""

    metric: str
    rungs: tuple[float, ...]
    max_t: int
    max_epoch_s: float = MAX_EPOCH_S

    def start(self) -> RunAheadRun:
        """The bookkeeping of one run of a trial (from its start, a restore or a reuse)."""
        return RunAheadRun(self, list(self.rungs))


@dataclass
class RunAheadRun:
    """One run of a trial: its last result, the rungs that may not have judged it yet, and
    whether (and when) the thread went on after the last result without waiting."""

    policy: RunAhead
    unjudged: list[float]
    previous: int | None = None
    #: whether the thread went on after the last result (and may be inside an epoch now)
    ahead: bool = False
    released_at: float = 0.0

    def epoch_seconds(self, reported_at: float, asked_at: float) -> float:
        """The time inside the trainable behind the result reported at `reported_at`: since
        the thread was let go after the previous result (early, or when the driver asked at
        `asked_at`); Ray's own measure, its wait for the result, is shorter after a run-ahead."""
        return reported_at - (self.released_at if self.ahead else asked_at)

    def after(self, iteration: int, metrics: dict, epoch_s: float) -> bool:
        """Whether the thread may start the next epoch now that result `iteration` (its
        `metrics`; `epoch_s` from `epoch_seconds`) is taken."""
        previous, self.previous = self.previous, iteration
        judged = self.judged(iteration, metrics)
        self.ahead = previous == iteration - 1 and not judged and epoch_s < self.policy.max_epoch_s
        if self.ahead:
            self.released_at = time.time()
        return self.ahead

    def judged(self, iteration: int, metrics: dict) -> bool:
        """Whether ASHA may decide on result `iteration` (`metrics`); if so, the highest rung
        it reached counts as judged from now on, as in Ray's `_Bracket.on_result`."""
        if not self.policy.rungs:
            return False
        if iteration >= self.policy.max_t:
            return True
        metric = self.policy.metric
        if metric not in metrics and metric not in flatten_dict(metrics):
            return False  # Ray's ASHA lets a result without the metric continue
        reached = [rung for rung in self.unjudged if rung <= iteration]
        if not reached:
            return False
        self.unjudged.remove(max(reached))
        return True


#: how long stopping a trial waits for a thread that ran ahead to end its epoch
STOP_WAIT_S = 30.0


def release_training_thread(session: object) -> None:
    """Let `session`'s training thread (waiting after its `report`) go on now, and have the
    session's next `get_next` not release it a second time (Ray's synchronous reporting
    releases at the start of `get_next`, except before the first result)."""
    session.continue_lock.release()  # type: ignore[attr-defined]
    session._first_report = True  # type: ignore[attr-defined]  # noqa: SLF001


def end_training_thread(session: object, timeout: float = STOP_WAIT_S) -> bool:
    """Have `session`'s training thread, which may be inside an epoch it ran ahead into, end at
    its next `report` (as Ray's `finish` does) and wait for it, up to `timeout` s: Ray's own
    stop waits for nothing, and a thread outside its session would train on, its reports
    dropped. -> whether it ended."""
    session.stop_event.set()  # type: ignore[attr-defined]
    session.continue_lock.release()  # type: ignore[attr-defined]
    thread = session.training_thread  # type: ignore[attr-defined]
    threading.Thread.join(thread, timeout)  # Ray's `join` would raise the thread's error here
    return not thread.is_alive()
