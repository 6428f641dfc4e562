"""Growing a finished sweep from 8 to 12 trials in the same study (`tuner.growth`): the first 8
records unchanged, TPE's 9th proposal made from the first 8, ASHA's rungs holding them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import pytest
from optuna.trial import FrozenTrial, TrialState
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tests.tuner.spaces import toy_space
from tuner.cli import BAD_INPUT, OK, main
from tuner.experiment import create_experiment, load_experiment
from tuner.samplers import build_sampler
from tuner.space import load_space
from tuner.storage import open_storage

SEED, STARTUP = 0, 4


def snapshot(trial: FrozenTrial) -> tuple[Any, ...]:
    return (
        trial.number,
        trial.state,
        trial.value,
        trial.params,
        trial.intermediate_values,
        trial.user_attrs,
        trial.datetime_start,
        trial.datetime_complete,
    )


def replayed_asha_epochs(trials: list[FrozenTrial], max_t: int) -> list[int]:
    """Epochs each trial would run under one stock ASHA seeing all trials in order, one at a
    time (as the sweep ran them), each with its recorded values."""
    asha = ASHAScheduler(time_attr="training_iteration", max_t=max_t, grace_period=1,
                         reduction_factor=3)  # fmt: skip
    asha.set_search_properties(metric="score", mode="min")
    epochs = []
    for record in trials:
        trial = Trial("toy", stub=True, trial_id=f"t{record.number}")
        asha.on_trial_add(None, trial)
        for epoch in range(1, max_t + 1):
            result = {"training_iteration": epoch, "score": record.intermediate_values[epoch]}
            if asha.on_trial_result(None, trial, result) == TrialScheduler.STOP:
                break
        epochs.append(epoch)
    return epochs


@pytest.fixture(scope="module")
def grown(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("growth")
    path = toy_space(
        tmp,
        tmp / "results",
        name="grow",
        num_samples=8,
        max_concurrent_trials=1,  # one at a time: the order ASHA sees is the trial order
        # Optuna's own TPE: every proposal after the start-up trials comes from its model (the
        # default `tpe` draws a third of its proposals at random, which no study influences)
        searcher={"name": "tpe_optuna", "seed": SEED, "n_startup_trials": STARTUP},
    )
    assert main(["run", str(path)]) == OK
    exp_dir = tmp / "results" / "grow"
    before = load_experiment(exp_dir).load_study().get_trials()
    assert main(["run", str(path), "--resume", "--num-samples", "12"]) == OK
    return {"path": path, "dir": exp_dir, "before": before}


def test_grown_study_keeps_the_first_8_and_adds_4(grown: dict[str, Any]) -> None:
    experiment = load_experiment(grown["dir"])
    after = experiment.load_study().get_trials()
    assert len(grown["before"]) == 8 and len(after) == 12
    assert [snapshot(t) for t in after[:8]] == [snapshot(t) for t in grown["before"]]
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in after)
    ray_ids = [t.user_attrs["ray_trial_id"] for t in after]
    assert len(set(ray_ids)) == 12
    record = json.loads((grown["dir"] / "experiment.json").read_text())
    assert record["grown_from"] == 8 and record["overrides"]["num_samples"] == 12
    # the tables hold every trial, each with its epochs from Ray's logs
    trials = pd.read_csv(grown["dir"] / "trials.csv")
    assert trials["number"].tolist() == list(range(12))
    curves = pd.read_parquet(grown["dir"] / "curves.parquet")
    per_trial = curves.groupby("trial_id")["epoch"].max().to_dict()
    assert per_trial == {t.user_attrs["ray_trial_id"]: max(t.intermediate_values) for t in after}


def test_tpe_9th_proposal_is_made_from_the_first_8(grown: dict[str, Any]) -> None:
    after = load_experiment(grown["dir"]).load_study().get_trials()
    space = load_space(grown["path"])
    # TPE given exactly the first 8 records, seeded as the grown run (seed + 8), proposes it
    replay = optuna.create_study(
        direction="minimize", sampler=build_sampler("tpe_optuna", SEED + 8, STARTUP)
    )
    replay.add_trials(after[:8])
    ninth = replay.ask()
    space.define(ninth)
    assert ninth.params == after[8].params
    # ... and a study without them, under the same seed, proposes something else
    fresh = optuna.create_study(
        direction="minimize", sampler=build_sampler("tpe_optuna", SEED + 8, STARTUP)
    )
    alone = fresh.ask()
    space.define(alone)
    assert alone.params["x"] != pytest.approx(after[8].params["x"], abs=1e-9)
    # the grown run did not replay the first run's start-up draws either
    assert after[8].params["x"] not in [t.params["x"] for t in after[:8]]


def test_ashas_rungs_hold_the_earlier_trials(grown: dict[str, Any]) -> None:
    after = load_experiment(grown["dir"]).load_study().get_trials()
    epochs = [max(t.intermediate_values) for t in after]
    # one ASHA over all 12 in order decides exactly as the two runs did together
    assert epochs == replayed_asha_epochs(after, max_t=6)
    # whereas an ASHA that saw only the 4 new trials would have decided otherwise
    assert epochs[8:] != replayed_asha_epochs(after[8:], max_t=6)


def test_growing_is_a_no_op_at_or_below_the_trial_count(grown: dict[str, Any]) -> None:
    before = load_experiment(grown["dir"]).load_study().get_trials()
    assert main(["resume", str(grown["dir"]), "--num-samples", "12"]) == OK
    after = load_experiment(grown["dir"]).load_study().get_trials()
    assert [snapshot(t) for t in after] == [snapshot(t) for t in before]


def test_population_sweeps_refuse_to_grow_before_ray_starts(
    tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    path = toy_space(
        tmp_path, results_dir, trainable="tests.tuner.toy_population:trainable", population=2
    )
    experiment = create_experiment(
        path, name="pop", storage_path=results_dir, metric="score", mode="min", max_t=6
    )
    storage = open_storage(experiment.optuna_storage)  # the folder's study, as a run leaves it
    optuna.create_study(study_name=experiment.study_name, storage=storage)
    # made by hand here, so not signed as a run signs its folder: --trust
    command = ["resume", str(experiment.dir), "--num-samples", "12", "--trust"]
    assert main(command) == BAD_INPUT
    err = capsys.readouterr().err
    assert "pop: num_samples is 12, but a `population: 2` sweep cannot grow: " in err
    assert not (experiment.dir / "tuner.pkl").exists()  # Ray never ran


@pytest.mark.slow
def test_an_interrupted_sweep_is_resumed_then_grown(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """Ctrl-C mid-sweep (8 trials, one midway), then `resume DIR --num-samples 12`: the
    unfinished trials go on in their own records, then 4 more join the same study."""
    import os
    import signal

    from tests.tuner.test_reliability_driver import _driver_midway

    with _driver_midway(tmp_path, results_dir, "grow_after_ctrlc") as run:
        os.kill(run.driver.pid, signal.SIGINT)
        assert run.driver.wait(timeout=120) == 130
    study = load_experiment(run.exp_dir).load_study()
    before = study.get_trials()
    open_numbers = [t.number for t in before if t.state == TrialState.RUNNING]
    assert open_numbers, "no trial was left unfinished by Ctrl-C"

    assert main(["resume", str(run.exp_dir), "--num-samples", "12"]) == OK
    after = load_experiment(run.exp_dir).load_study().get_trials()
    assert len(after) == 12 and all(t.state == TrialState.COMPLETE for t in after)  # no ASHA
    for old, new in zip(before, after[: len(before)], strict=False):
        assert (old.number, old.params, old.user_attrs["ray_trial_id"]) == (
            new.number,
            new.params,
            new.user_attrs["ray_trial_id"],
        )
    record = json.loads((run.exp_dir / "experiment.json").read_text())
    assert record["overrides"]["num_samples"] == 12 and record["grown_from"] == 8


def test_progress_of_a_grown_run_counts_the_earlier_trials() -> None:
    import io
    from types import SimpleNamespace

    from optuna.distributions import FloatDistribution

    from tuner.progress import ProgressCallback

    def record(number: int, state: TrialState, value: float | None) -> FrozenTrial:
        return optuna.trial.create_trial(
            state=state,
            value=value,
            params={"x": 0.1 * number},
            distributions={"x": FloatDistribution(0, 1)},
            intermediate_values={1: 0.5 + number},
            user_attrs={"ray_trial_id": f"old_{number}"},
        )

    earlier = [record(0, TrialState.COMPLETE, 0.25), record(1, TrialState.PRUNED, None)]
    out = io.StringIO()
    progress = ProgressCallback("score", "min", 6, out=out, earlier=earlier)
    new = SimpleNamespace(trial_id="new_1", status="RUNNING", last_result={}, config={})
    progress.on_trial_start(0, [new], new)
    assert (
        out.getvalue()
        .rstrip()
        .endswith(
            "trial new_1 started | running 1 · completed 1 · pruned 1 · failed 0 "
            "| best score 0.25 (old_0)"
        )
    )
