"""Population sweeps interrupted and resumed on a real Ray: members go on from their checkpoint.

The toy population here reports `tests.tuner.toy.score(x, epoch)` per member, checkpoints
(`{"epoch", "active"}`) every `checkpoint_every` epochs and resumes from `load_checkpoint()`;
members with `x > nan_above` diverge at epoch 2. Every attempt appends the epoch it starts at to
`<attempts_dir>/<x>.txt` for each member it trains, so a test sees where each member went on
from. After the interruption (a Ray trial that raises once, or a SIGKILLed driver and
`python -m tuner resume`) every member must be one Optuna record with one value per epoch, the
closed form, no gap, a state its values decide, and none RUNNING.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from optuna.trial import TrialState
from ray.tune import ExperimentAnalysis

from tests.tuner.cluster_driver import (
    REPO,
    discard,
    driver_env,
    end_pids,
    ray_pids,
    ray_tmpdir,
    start_cli,
    wait_until,
)
from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.test_population_units import _reference_asha
from tests.tuner.toy import score
from tests.tuner.toy_population import trainable as _lone
from trainables.declare import trainable as declare_trainable
from tuner.api import run_space
from tuner.experiment import load_experiment
from tuner.population_asha import LOG_FILE
from tuner.population_search import POPULATION_TRIAL
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID

N_EPOCHS, GRACE, RF = 6, 2, 3  # one rung, at epoch 2
NAN_ABOVE = 0.8


def train_population(configs: list[dict[str, Any]], reporter: Any) -> None:
    """All `configs` at once, checkpointing and resuming (module docstring). With
    `raise_after: e`, the first attempt of each population raises after reporting epoch e."""
    first = configs[0]
    n_epochs, every = int(first["n_epochs"]), int(first.get("checkpoint_every") or 1)
    active, start = set(range(len(configs))), 1
    saved = reporter.load_checkpoint()
    if saved is not None:
        start = int(saved["checkpoint"]["epoch"]) + 1
        active = set(saved["checkpoint"]["active"]) - set(saved["stop"])
    log = Path(first["attempts_dir"])
    for index in sorted(active):
        with open(log / f"{float(configs[index]['x'])!r}.txt", "a") as attempts:
            attempts.write(f"{start}\n")
    marker = log / f"raised-{float(first['x'])!r}"
    for epoch in range(start, n_epochs + 1):
        if not active:
            return
        time.sleep(float(first.get("sleep", 0.0)))
        reports: dict[int, dict[str, Any]] = {}
        for index in sorted(active):
            x = float(configs[index]["x"])
            if epoch >= 2 and x > float(first.get("nan_above", math.inf)):
                reports[index] = {"epoch": epoch, "failed": f"loss is nan (x={x:.3f})"}
            else:
                reports[index] = {"score": score(x, epoch), "epoch": epoch, "start": start}
        active -= {i for i, r in reports.items() if "failed" in r}
        due = epoch % every == 0 or epoch == n_epochs
        checkpoint = {"epoch": epoch, "active": sorted(active)} if due else None
        active -= set(reporter.report(reports, checkpoint) or ())
        if epoch == first.get("raise_after") and not marker.exists():
            marker.write_text("raised once")
            raise RuntimeError("the population's worker dies on purpose")


@declare_trainable
def trainable(config: dict[str, Any]) -> None:
    """One config alone (unused: these sweeps train populations)."""
    _lone(config)


trainable.population = train_population


def _space(tmp: Path, results: Path, name: str, attempts: Path, **fields: Any) -> Path:
    fixed = {"nan_above": NAN_ABOVE, "attempts_dir": str(attempts), **fields.pop("fixed", {})}
    return toy_space(
        tmp,
        results,
        name=name,
        trainable="tests.tuner.test_population_resume:trainable",
        n_epochs=N_EPOCHS,
        searcher={"name": "random", "seed": 3},  # x > 0.8 in the second population
        asha={"grace_period": GRACE, "reduction_factor": RF},
        fixed=fixed,
        **fields,
    )


def _attempts(attempts: Path, x: float) -> list[int]:
    return [int(s) for s in (attempts / f"{x!r}.txt").read_text().split()]


def check_members(exp_dir: Path) -> dict[int, Any]:
    """Every member of the populations Ray knows: one record, each epoch once from 1 on with the
    closed form, the state its values decide; records of populations Ray never saved are FAIL
    as never run. Returns the members by number."""
    study = load_experiment(exp_dir).load_study()
    records = study.get_trials(deepcopy=False)
    assert TrialState.RUNNING not in {t.state for t in records}
    ids = [t.user_attrs[RAY_TRIAL_ID] for t in records]
    assert len(ids) == len(set(ids))  # a member is one record
    log = json.loads((exp_dir / LOG_FILE).read_text())
    decided = [(e["number"], e["epoch"]) for e in log]
    assert len(decided) == len(set(decided))  # each decision logged once
    stopped = {e["number"]: e["epoch"] for e in log if e["stop"]}
    populations = {t.trial_id for t in ExperimentAnalysis(str(exp_dir)).trials}
    members = {}
    for trial in records:
        steps = sorted(trial.intermediate_values)
        if trial.user_attrs[POPULATION_TRIAL] not in populations:
            # asked after Ray's last saved state (and maybe trained a little before the crash):
            # Ray never goes on with it, a new population is asked instead
            assert trial.state == TrialState.FAIL
            lost = f"lost with the driver after epoch {steps[-1] if steps else 0}:"
            assert trial.user_attrs[FAIL_REASON].startswith(
                lost if steps else "created but never run"
            )
            continue
        members[trial.number] = trial
        x = trial.params["x"]
        assert steps == list(range(1, steps[-1] + 1)), trial.number  # no gap
        values = [trial.intermediate_values[s] for s in steps]
        if x > NAN_ABOVE:
            assert trial.state == TrialState.FAIL and steps == [1, 2] and math.isnan(values[1])
            assert trial.user_attrs[FAIL_REASON].startswith("diverged at epoch 2: loss is nan")
            values = values[:1]
        assert values == pytest.approx([score(x, s) for s in steps[: len(values)]], rel=1e-12)
        if x > NAN_ABOVE:
            continue
        if steps[-1] == N_EPOCHS:
            assert trial.state == TrialState.COMPLETE and trial.value == values[-1]
        else:
            assert trial.state == TrialState.PRUNED and stopped[trial.number] == steps[-1] == GRACE
    assert {t.state for t in members.values()} == {
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
    }
    curves = pd.read_parquet(exp_dir / "curves.parquet")
    for number, trial in members.items():
        mine = curves[curves["number"] == number]
        assert list(mine["epoch"]) == sorted(trial.intermediate_values), number
    return members


def test_a_restarted_population_goes_on_from_its_checkpoint(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each population's worker dies after epoch 3; Ray restarts it from its checkpoint of
    epoch 2 (pruned and failed members ended there stay ended): epoch 3 is reported again and
    recorded once, and every member ends as an uninterrupted sweep would end it."""
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    path = _space(
        tmp_path, results_dir, "restarted", attempts, population=4, num_samples=8,
        checkpoint_every=2, max_failures=1, fixed={"raise_after": 3},
    )  # fmt: skip
    outcome = run_space(path)
    assert outcome.ok and outcome.unfinished == 0
    exp_dir = outcome.experiment.dir
    members = check_members(exp_dir)
    assert len(members) == 8
    log = json.loads((exp_dir / LOG_FILE).read_text())  # one actor throughout: the plain rule
    assert [e["stop"] for e in log] == _reference_asha(log, GRACE, RF, N_EPOCHS, "min")
    populations = {t.user_attrs[POPULATION_TRIAL] for t in members.values()}
    curves = ray_curves(exp_dir)
    went_on = {
        t.user_attrs[POPULATION_TRIAL] for t in members.values() if t.state.name == "COMPLETE"
    }
    assert went_on, "no population got past epoch 3"
    for ray_id in populations:
        epochs = [row["training_iteration"] for row in curves[ray_id]]
        if ray_id in went_on:
            assert epochs == [1, 2, 3, 3, 4, 5, 6], ray_id  # epoch 3 again, from epoch 2 on
        else:
            assert epochs == [1, 2], ray_id  # every member ended at epoch 2
    for trial in members.values():
        runs = _attempts(attempts, trial.params["x"])
        if trial.state == TrialState.COMPLETE:
            assert runs == [1, 3], trial.number  # went on from its checkpoint
        else:
            assert runs == [1], trial.number  # ended at epoch 2: stayed ended
    counts = outcome.counts
    lines = [line for line in capsys.readouterr().out.splitlines() if "members running" in line]
    assert sum("] member " in line for line in lines) == 8  # one line per member that ended
    assert lines[-1].endswith(
        f"members running 0 · completed {counts['COMPLETE']} · pruned {counts['PRUNED']} · "
        f"failed {counts['FAIL']} | best score {outcome.experiment.load_study().best_value:.6g} "
        f"({outcome.experiment.load_study().best_trial.user_attrs[RAY_TRIAL_ID]})"
    )


def _population_rows(exp_dir: Path) -> dict[str, list[dict]]:
    """Each population's Ray results so far (member logs, `<ray id>-<n>`, left out)."""
    try:
        curves = ray_curves(exp_dir)
    except ValueError:  # a line being written
        return {}
    return {i: rows for i, rows in curves.items() if any("members_active" in r for r in rows)}


def _midway(exp_dir: Path) -> bool:
    """Whether some population has reported two to four of its epochs, members still active."""
    return any(
        2 <= len(rows) <= 4 and rows[-1]["members_active"] > 0
        for rows in _population_rows(exp_dir).values()
    )


def _resume(exp_dir: Path) -> subprocess.CompletedProcess:
    tmpdir = ray_tmpdir()
    try:
        return subprocess.run(
            [sys.executable, "-m", "tuner", "resume", str(exp_dir)],
            cwd=REPO, env=driver_env(tmpdir), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        discard(tmpdir)


@dataclass(frozen=True)
class Interrupted:
    """A population sweep whose driver was stopped midway, and what the study held then."""

    exp_dir: Path
    attempts: Path
    code: int
    output: str
    #: records finished before the stop: number -> (state, value, intermediate values)
    kept: dict[int, tuple]
    #: members RUNNING with some epochs recorded when the driver stopped
    midway: set[int]


def _interrupt(tmp_path: Path, results_dir: Path, name: str, sig: int) -> Interrupted:
    """Run a 9-member sweep (populations of 3) with `python -m tuner run`, send `sig` to the
    driver once a population is midway, and wait for it to exit (its Ray processes ended)."""
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    path = _space(
        tmp_path, results_dir, name, attempts, population=3, num_samples=9,
        checkpoint_every=1, max_concurrent_trials=2, fixed={"sleep": 0.8},
    )  # fmt: skip
    exp_dir = results_dir / name
    tmpdir, out = ray_tmpdir(), tmp_path / "run.log"
    driver = start_cli(["run", str(path)], tmpdir, out)
    try:
        wait_until(lambda: _midway(exp_dir), 180, "a population midway")
        time.sleep(1.5)  # Ray saves its state every few results
        if sig == signal.SIGKILL:
            os.killpg(driver.pid, sig)
        else:
            os.kill(driver.pid, sig)
        code = driver.wait(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        end_pids(ray_pids(tmpdir))
    discard(tmpdir)
    study = load_experiment(exp_dir).load_study()
    kept = {t.number: (t.state, t.value, t.intermediate_values) for t in study.trials}
    kept = {n: record for n, record in kept.items() if record[0] != TrialState.RUNNING}
    midway = {t.number for t in study.trials if t.state == TrialState.RUNNING}
    midway = {n for n in midway if study.trials[n].intermediate_values}
    return Interrupted(exp_dir, attempts, code, out.read_text(), kept, midway)


def _check_resumed(run: Interrupted) -> set[int]:
    """Resume `run` with `python -m tuner resume` and check it (docstrings of the tests);
    returns the members that went on from a checkpoint after epoch 1."""
    resumed = _resume(run.exp_dir)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stdout
    members = check_members(run.exp_dir)
    assert len(members) == 9
    for number, record in run.kept.items():  # ended before the stop: as they were
        trial = members.get(number)
        if trial is not None:
            assert (trial.state, trial.value, trial.intermediate_values) == record, number
    log = json.loads((run.exp_dir / LOG_FILE).read_text())
    fresh = [i for i, e in enumerate(log) if not e.get("rebuilt")]
    rule = _reference_asha(log, GRACE, RF, N_EPOCHS, "min")  # rebuilt ones: their rungs count
    assert [log[i]["stop"] for i in fresh] == [rule[i] for i in fresh]

    from_checkpoint = set()
    rows = _population_rows(run.exp_dir)
    midway = run.midway & set(members)  # in a population Ray had saved
    assert midway, "no member was midway in a saved population when the driver stopped"
    for number in midway:
        runs = _attempts(run.attempts, members[number].params["x"])
        assert runs == sorted(runs) and runs[0] == 1, number
        if len(runs) > 1 and runs[-1] > 1:
            from_checkpoint.add(number)
        population = members[number].user_attrs[POPULATION_TRIAL]
        epochs = [r["training_iteration"] for r in rows[population]]
        assert sorted(set(epochs)) == list(range(1, max(epochs) + 1))  # nothing skipped
        assert epochs.count(1) == 1 or number not in from_checkpoint
    assert from_checkpoint, "no member went on from its checkpoint"
    return from_checkpoint


@pytest.mark.slow
def test_a_killed_driver_resumes_populations_from_their_checkpoints(
    tmp_path: Path, results_dir: Path
) -> None:
    """The driver is SIGKILLed while a population is midway (no member_asha.json written);
    `python -m tuner resume` goes on from Ray's last saved state: the populations it had
    running go on from their checkpoints, the decisions lost with the driver are rebuilt from
    the study, and every member ends with one record, each epoch once, a true state; records
    finished before the crash keep their verdict."""
    run = _interrupt(tmp_path, results_dir, "killed", signal.SIGKILL)
    assert not (run.exp_dir / LOG_FILE).exists()  # the killed driver wrote no decisions
    _check_resumed(run)
    assert any(e.get("rebuilt") for e in json.loads((run.exp_dir / LOG_FILE).read_text()))


@pytest.mark.slow
def test_ctrl_c_stops_a_population_sweep_and_resume_finishes_it(
    tmp_path: Path, results_dir: Path
) -> None:
    """Ctrl-C once: Ray saves its state, member_asha.json gets the decisions so far, exit 130;
    `python -m tuner resume` goes on with every member midway from its last checkpoint."""
    run = _interrupt(tmp_path, results_dir, "ctrlc", signal.SIGINT)
    assert run.code == 130, run.output[-3000:]
    assert f"continue with: python -m tuner resume {run.exp_dir}" in run.output
    assert (run.exp_dir / LOG_FILE).is_file()
    assert _check_resumed(run) == run.midway  # Ray saved every one's last checkpoint


class _DiesAfter:
    """A population reporter whose worker dies right after reporting `epoch` (once)."""

    def __init__(self, inner: Any, epoch: int, marker: Path) -> None:
        self.inner, self.epoch, self.marker = inner, epoch, marker

    def load_checkpoint(self) -> Any:
        return self.inner.load_checkpoint()

    def report(self, reports: dict, checkpoint: Any = None) -> Any:
        stop = self.inner.report(reports, checkpoint)
        if self.inner.epoch == self.epoch:
            self.marker.write_text("died once")
            raise RuntimeError("the population's worker dies on purpose")
        return stop


def flaky_dsr_population(configs: list[dict[str, Any]], reporter: Any) -> Any:
    """The DSR population trainable, its first attempt dying after epoch 3."""
    from trainables.dsr.population import dsr_population_trainable

    marker = Path(configs[0]["fail_marker"])
    configs = [{k: v for k, v in c.items() if k != "fail_marker"} for c in configs]
    if not marker.exists():
        reporter = _DiesAfter(reporter, 3, marker)
    return dsr_population_trainable(configs, reporter)


@declare_trainable
def dsr_alone(config: dict[str, Any]) -> None:
    """One DSR config alone (unused: this sweep trains populations)."""
    from trainables.dsr import dsr_trainable

    dsr_trainable(config)


dsr_alone.population = flaky_dsr_population


@pytest.mark.slow
def test_a_restarted_dsr_population_records_the_uninterrupted_numbers(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """A DSR population whose worker dies after epoch 3 goes on from its checkpoint of epoch 2:
    every member's recorded values are those of the same population trained without
    interruption, with the same members stopped at the same epochs."""
    import torch

    from trainables.dsr.population import MemoryPopulationReporter, train_dsr_population

    small = {"n_subjects": 2, "hidden_dim": 8, "train_steps": 300, "test_steps": 300}
    path = toy_space(
        tmp_path, results_dir, name="dsr_restarted",
        trainable="tests.tuner.test_population_resume:dsr_alone", n_epochs=4, population=4,
        num_samples=4, checkpoint_every=2, max_failures=1,
        fixed={**small, "fail_marker": str(tmp_path / "died")},
        search={"learning_rate": {"lr": {"log_uniform": [1.0e-3, 3.0e-2]}}},
        searcher={"name": "random", "seed": 0}, asha={"grace_period": 2, "reduction_factor": 2},
    )  # fmt: skip
    outcome = run_space(path)
    assert outcome.ok and (tmp_path / "died").exists()
    exp_dir = outcome.experiment.dir
    trials = outcome.experiment.load_study().get_trials(deepcopy=False)
    (ray_id,) = {t.user_attrs[POPULATION_TRIAL] for t in trials}
    assert [r["training_iteration"] for r in ray_curves(exp_dir)[ray_id]] == [1, 2, 3, 3, 4]
    log = json.loads((exp_dir / LOG_FILE).read_text())
    stopped = {e["number"]: e["epoch"] for e in log if e["stop"]}
    assert stopped and len(stopped) < 4

    configs = [
        {k: v for k, v in t.user_attrs["config"].items() if k != "fail_marker"} for t in trials
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the trial ran
    try:
        stop_at = {i: stopped[t.number] for i, t in enumerate(trials) if t.number in stopped}
        plain = train_dsr_population(configs, MemoryPopulationReporter(stop_at))
    finally:
        torch.set_num_threads(threads)
    for trial, reports in zip(trials, plain, strict=True):
        assert trial.intermediate_values == {r["epoch"]: r["score"] for r in reports}
        expected = TrialState.PRUNED if trial.number in stopped else TrialState.COMPLETE
        assert trial.state == expected, trial.number
