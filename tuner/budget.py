"""`budget: {epochs: N, wall_time: "2h"}` in a space file (`--budget` on the command line): a sweep
bounded by total training epochs and/or wall time, not only by `num_samples`.

Once the budget is spent the sweep asks for no new trial (`BudgetLimiter`, Ray's
`ConcurrencyLimiter` answering FINISHED), and each running trial is stopped cleanly after a
reported epoch (`BudgetStopper`): when the epochs are spent, at the end of its current ASHA rung
(so its value is comparable with the others' at that rung), when the wall time is spent, at its
next epoch. A trial stopped before `n_epochs` is PRUNED, as if ASHA had stopped it. The sweep
then ends as usual: tables written, exit 0, the summary saying the budget ended it.

Epochs count every epoch every trial of this run reports; the clock starts when the sweep first
asks for a trial (a resumed or grown run starts a new count and a new clock). The progress line
shows `budget 40/60 epochs · 1m05s/2h`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ray.tune.search import ConcurrencyLimiter, Searcher
from ray.tune.stopper import Stopper

from tuner._budget_settings import BudgetSettings, format_duration


class BudgetTracker:
    """Epochs reported and time passed in this run, against the budget."""

    def __init__(self, budget: BudgetSettings) -> None:
        self.budget = budget
        self.epochs = 0
        self.start: float | None = None

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.start = None  # a restored run starts a new clock

    def begin(self) -> None:
        """Start the clock (at the sweep's first request for a trial)."""
        if self.start is None:
            self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return 0.0 if self.start is None else time.monotonic() - self.start

    @property
    def epochs_spent(self) -> bool:
        return self.budget.epochs is not None and self.epochs >= self.budget.epochs

    @property
    def time_spent(self) -> bool:
        seconds = self.budget.seconds
        return seconds is not None and self.elapsed >= seconds

    @property
    def spent(self) -> bool:
        return self.epochs_spent or self.time_spent

    def line(self) -> str:
        """`budget 40/60 epochs · 1m05s/2h` for the progress line."""
        parts = []
        if self.budget.epochs is not None:
            parts.append(f"{self.epochs}/{self.budget.epochs} epochs")
        if self.budget.wall_time is not None:
            parts.append(f"{format_duration(self.elapsed)}/{self.budget.wall_time}")
        return "budget " + " · ".join(parts)


def rungs(max_t: int, grace_period: int | None, reduction_factor: float | None) -> list[int]:
    """ASHA's rung epochs (Ray's rule: grace x rf^k below max_t), then `max_t`."""
    found = []
    if grace_period is not None and reduction_factor is not None:
        epoch, k = grace_period, 0
        while epoch < max_t:
            found.append(int(epoch))
            k += 1
            epoch = grace_period * reduction_factor**k
    return [*found, max_t]


class BudgetStopper(Stopper):
    """Counts every reported epoch; once the budget is spent, stops each trial at the end of its
    rung (epochs spent) or at its next epoch (wall time spent)."""

    def __init__(self, tracker: BudgetTracker, rung_epochs: Sequence[int]) -> None:
        self.tracker = tracker
        self.rung_epochs = set(rung_epochs)

    def __call__(self, trial_id: str, result: dict) -> bool:
        self.tracker.begin()
        self.tracker.epochs += 1
        if self.tracker.time_spent:
            return True
        return self.tracker.epochs_spent and result.get("training_iteration") in self.rung_epochs

    def stop_all(self) -> bool:
        return False


class BudgetLimiter(ConcurrencyLimiter):
    """Ray's `ConcurrencyLimiter` that asks for no new trial once the budget is spent."""

    def __init__(self, searcher: Searcher, max_concurrent: int, tracker: BudgetTracker) -> None:
        super().__init__(searcher, max_concurrent=max_concurrent)
        self.tracker = tracker

    def suggest(self, trial_id: str) -> dict | None:
        self.tracker.begin()
        if self.tracker.spent:
            return Searcher.FINISHED
        return super().suggest(trial_id)


def budget_tracker(space: Any) -> BudgetTracker | None:
    """The tracker of the space's budget, None when it has none."""
    return None if space.budget is None else BudgetTracker(space.budget)


def budget_stopper(space: Any, tracker: BudgetTracker) -> BudgetStopper:
    """The stopper ending running trials at their rung (ASHA's, else at once) once spent."""
    asha = space.asha
    if asha is None or space.population > 1:
        return BudgetStopper(tracker, range(1, space.n_epochs + 1))
    return BudgetStopper(tracker, rungs(space.n_epochs, asha.grace_period, asha.reduction_factor))
