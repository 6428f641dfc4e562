"""Run-ahead (`tuner.run_ahead`): a short epoch starts while the driver records the last one,
except where Ray's ASHA may judge that result; a pruned trial never trains past it."""

from __future__ import annotations

import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ray import tune
from ray.train._internal.storage import StorageContext
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tests.tuner.patched_side import patched_side
from tests.tuner.spaces import TOY, ray_curves, toy_space
from tuner.api import run_space
from tuner.asha import ResumableASHA
from tuner.resumable import resumable_trainable
from tuner.run_ahead import RunAhead, asha_rungs
from tuner.searcher import RAY_TRIAL_ID
from tuner.space import parse_space
from tuner.sweep import build_scheduler, run_ahead_of

BASE = {
    "name": "run_ahead",
    "trainable": TOY,
    "n_epochs": 27,
    "metric": "score",
    "mode": "min",
    "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
}


@pytest.mark.parametrize("n_epochs", [27, 52])
@pytest.mark.parametrize(
    "asha",
    [
        {},
        {"grace_period": 1, "reduction_factor": 3},
        {"grace_period": 1, "reduction_factor": 3, "brackets": 3},
        {"grace_period": 2, "reduction_factor": 2.5, "brackets": 2},
    ],
)
def test_rungs_are_the_milestones_of_every_bracket_ray_builds(
    asha: dict[str, Any], n_epochs: int
) -> None:
    space = parse_space({**BASE, "n_epochs": n_epochs, "asha": asha})
    scheduler = build_scheduler(space)
    assert isinstance(scheduler, ResumableASHA)
    built = sorted({m for bracket in scheduler._brackets for m, _ in bracket._rungs})  # noqa: SLF001
    policy = run_ahead_of(space)
    assert policy is not None and list(policy.rungs) == built


def test_no_asha_no_rungs_and_no_run_ahead_in_a_population() -> None:
    assert run_ahead_of(parse_space({**BASE, "asha": None})) == RunAhead("score", (), 27)
    population = {**BASE, "trainable": "tests.tuner.toy_population:trainable", "population": 4}
    assert run_ahead_of(parse_space(population)) is None


@pytest.mark.parametrize("seed", range(40))
def test_every_result_rays_asha_judges_is_one_the_worker_waits_on(seed: int) -> None:
    """Ray's ASHA (3 brackets) fed random runs of a trial: results without the metric, restored
    runs that start past rungs the driver already judged. Whenever ASHA records the trial at a
    rung or stops it, the worker's bookkeeping of that run called the result judged."""
    rng = random.Random(seed)
    asha = ASHAScheduler(
        time_attr="training_iteration", max_t=27, grace_period=1, reduction_factor=3, brackets=3
    )
    asha.set_search_properties(metric="score", mode="min")
    policy = RunAhead("score", tuple(asha_rungs(27, 1, 3, 3)), 27)
    others = [Trial("toy", stub=True, trial_id=f"o{i}") for i in range(6)]
    trial = Trial("toy", stub=True, trial_id="t")
    for t in [*others, trial]:
        asha.on_trial_add(None, t)
    for epoch in range(1, 28):  # others fill the rungs, so that cutoffs exist
        for t in others:
            asha.on_trial_result(None, t, {"training_iteration": epoch, "score": rng.random()})
    iteration, judged_anywhere = rng.randint(0, 10), 0
    while iteration < 27:
        run = policy.start()  # a new run: a restore from `iteration`
        for _ in range(rng.randint(1, 8)):
            iteration += 1
            metrics = {"score": rng.random()} if rng.random() < 0.6 else {"other": 1.0}
            before = _recorded(asha, trial)
            action = asha.on_trial_result(None, trial, {"training_iteration": iteration, **metrics})
            decided = action == TrialScheduler.STOP or _recorded(asha, trial) != before
            waits = run.judged(iteration, metrics)
            if decided:
                judged_anywhere += 1
                assert waits, (iteration, metrics)
            if action == TrialScheduler.STOP or iteration >= 27:
                return
    assert judged_anywhere or iteration >= 27


def _recorded(asha: ASHAScheduler, trial: Trial) -> list[float]:
    bracket = asha._trial_info[trial.trial_id]  # noqa: SLF001
    return [m for m, recorded in bracket._rungs if trial.trial_id in recorded]  # noqa: SLF001


#: how long the test, as the driver, takes over each result: epochs of 10 ms that start before
#: it asks again ran ahead
DRIVER_S = 0.4


def _drive(
    function: Callable[[dict], None], policy: RunAhead | None, results: int, stop_after: int = 0
) -> tuple[dict[int, float], dict[int, float]]:
    """Run `function` as the tuner's trainable in this process, taking `results` results (or
    stopping it after `stop_after`) like a slow driver: -> when each epoch started, and when the
    driver asked for the result after each (epoch -> time.monotonic())."""
    trainable_class = resumable_trainable(function, run_ahead=policy)
    storage = StorageContext(
        storage_path=tempfile.mkdtemp(), experiment_dir_name="e", trial_dir_name="t"
    )
    trainable = trainable_class(config={}, storage=storage)
    asked: dict[int, float] = {}
    function.times = {}  # type: ignore[attr-defined]
    try:
        for _ in range(stop_after or results):
            result = trainable.train()
            iteration = result["training_iteration"]
            function.times[iteration] = result["time_this_iter_s"]  # type: ignore[attr-defined]
            time.sleep(DRIVER_S)
            asked[iteration] = time.monotonic()
    finally:
        trainable.stop()
    return function.started, asked  # type: ignore[attr-defined]


def _epochs(n: int, seconds: float = 0.01, metric_on: Callable[[int], bool] = bool) -> Callable:
    started: dict[int, float] = {}
    done = threading.Event()

    def function(config: dict) -> None:
        for epoch in range(1, n + 1):
            started[epoch] = time.monotonic()
            time.sleep(seconds)
            tune.report({"score": 1.0 / epoch} if metric_on(epoch) else {"other": 0.0})
        done.set()

    function.started, function.done = started, done  # type: ignore[attr-defined]
    return function


def _ran_ahead(started: dict[int, float], asked: dict[int, float]) -> list[int]:
    """The epochs that started before the driver asked for the previous one's successor."""
    return [e for e in sorted(started) if e - 1 in asked and started[e] < asked[e - 1]]


@patched_side
def test_epochs_start_before_the_driver_asks_except_after_a_result_asha_may_judge(
    ray_local: None,
) -> None:
    # rungs 1 and 3, max_t 8: result 1 is the run's first (and rung 1), 3 is a rung, 8 the end
    function = _epochs(8)
    started, asked = _drive(function, RunAhead("score", (1.0, 3.0), 8), results=8)
    assert sorted(started) == list(range(1, 9))
    assert _ran_ahead(started, asked) == [3, 5, 6, 7, 8]
    # an epoch that ran ahead counts its own time, not Ray's (shorter) wait for its result
    ahead = {e: function.times[e] for e in (3, 5, 6, 7, 8)}
    assert all(0.01 <= t < DRIVER_S for t in ahead.values()), ahead


@patched_side
def test_a_rung_result_without_the_metric_is_not_judged_the_next_one_is(
    ray_local: None,
) -> None:
    """The metric on even epochs only: ASHA lets result 3 continue and judges rung 3 at 4."""
    function = _epochs(8, metric_on=lambda epoch: epoch % 2 == 0)
    started, asked = _drive(function, RunAhead("score", (1.0, 3.0), 8), results=8)
    # 1 has no metric but is the run's first; 2 judges rung 1; 3 passes; 4 judges rung 3
    assert _ran_ahead(started, asked) == [4, 6, 7, 8]


@patched_side
def test_long_epochs_and_no_policy_wait_for_the_driver_every_time(ray_local: None) -> None:
    slow = RunAhead("score", (), 6, max_epoch_s=0.005)  # epochs of 10 ms count as long here
    assert _ran_ahead(*_drive(_epochs(6), slow, results=6)) == []
    function = _epochs(4)
    started, asked = _drive(function, None, results=4)
    assert sorted(started) == [1, 2, 3, 4] and _ran_ahead(started, asked) == []


@patched_side
def test_a_trial_stopped_while_ahead_ends_after_that_one_epoch(ray_local: None) -> None:
    """Stopped after result 4 (no rungs: nothing judges it), the thread had started epoch 5; it
    ends there, its result never taken."""
    function = _epochs(8)
    started, asked = _drive(function, RunAhead("score", (), 8), results=8, stop_after=4)
    assert sorted(asked) == [1, 2, 3, 4]
    assert sorted(started) == [1, 2, 3, 4, 5]  # the stop waited for epoch 5 to end
    time.sleep(0.3)  # a thread left running outside its session would start epoch 6 here
    assert sorted(started) == [1, 2, 3, 4, 5] and not function.done.is_set()


def _logged_sweep(
    tmp_path: Path, results_dir: Path, **fields: Any
) -> tuple[dict[str, dict[int, float]], dict[str, int], dict[str, int]]:
    """A real sweep of 12 toy trials of 9 epochs of 5 ms (`fields` override) -> per Ray trial
    id: the Optuna record's values, the epochs its function started (the toy's `epoch_log`;
    "None" for an epoch run outside any trial's session), the results Ray logged."""
    log = tmp_path / "epochs"
    log.mkdir()
    space = toy_space(
        tmp_path,
        results_dir,
        n_epochs=9,
        num_samples=12,
        searcher={"name": "random", "seed": 3},
        fixed={"epoch_log": str(log), "sleep": 0.005},
        **fields,
    )
    outcome = run_space(space)
    records = outcome.experiment.load_study().get_trials(deepcopy=False)
    recorded = {r.user_attrs[RAY_TRIAL_ID]: r.intermediate_values for r in records}
    trained = {f.stem: len(f.read_text().split()) for f in log.glob("*.txt")}
    logged = {t: len(rows) for t, rows in ray_curves(outcome.experiment.dir).items()}
    return recorded, trained, logged


def test_pruned_trials_train_no_epoch_past_the_result_that_pruned_them(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """ASHA with rungs 1, 3, 9: every trial started exactly the epochs its Optuna record and
    Ray's results hold, pruned ones included."""
    recorded, trained, logged = _logged_sweep(tmp_path, results_dir)
    epochs = {t: len(values) for t, values in recorded.items()}
    assert min(epochs.values()) < 9  # some were pruned
    assert trained == epochs
    assert logged == epochs


def test_a_budget_without_asha_stops_trials_with_their_records_whole(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """No ASHA: the budget's stop can catch a trial one epoch ahead; that epoch is never
    recorded, and Optuna's record and Ray's results still agree epoch for epoch."""
    recorded, trained, logged = _logged_sweep(
        tmp_path, results_dir, asha=None, budget={"epochs": 20}
    )
    assert set(trained) == set(recorded)  # no epoch ran outside its trial's session ("None")
    assert all(trained[t] - len(values) in (0, 1) for t, values in recorded.items())
    assert all(sorted(values) == list(range(1, len(values) + 1)) for values in recorded.values())
    assert logged == {t: len(values) for t, values in recorded.items()}
