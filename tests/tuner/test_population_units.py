"""`population: K` without Ray: the schema field, member ends, the member ASHA rule, what a
restarted population puts back, and the progress lines' member counts."""

from __future__ import annotations

import io
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from trainables.lr.errors import ConfigError
from trainables.population import PopulationReporter
from trainables.reporting import MemoryReporter
from tuner.population import expected_ray_trials, member_rows, ray_trial_count
from tuner.population_asha import MemberAsha, study_decisions
from tuner.population_search import POPULATION_TRIAL, PopulationOptunaSearch, member_id
from tuner.progress import ProgressCallback
from tuner.recovery import close_orphans
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID
from tuner.space import load_space

TOY_POPULATION = "tests.tuner.toy_population:trainable"


def test_population_defaults_to_one_and_must_be_positive(tmp_path: Path, results_dir: Path):
    assert load_space(toy_space(tmp_path, results_dir)).population == 1
    path = toy_space(tmp_path, results_dir, name="zero", population=0)
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    assert f"{path}: population is 0, but input should be greater than or equal to 1" in str(
        caught.value
    )


@pytest.mark.parametrize("trainable", ["tests.tuner.toy:trainable", "finetune"])
def test_population_without_support_is_refused_naming_file_and_path(
    tmp_path: Path, results_dir: Path, trainable: str
) -> None:
    path = toy_space(tmp_path, results_dir, trainable=trainable, population=8)
    if trainable == "finetune":  # its own search space: keep only what it needs
        path = toy_space(tmp_path, results_dir, trainable=trainable, population=8, search={})
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: population is 8, but the trainable {trainable!r} does not")
    assert [p.path for p in caught.value.problems] == ["population"]


def test_population_with_support_is_accepted(tmp_path: Path, results_dir: Path) -> None:
    space = load_space(toy_space(tmp_path, results_dir, trainable=TOY_POPULATION, population=8))
    assert space.population == 8


def dsr_space(tmp_path: Path, results_dir: Path, settings: dict, population: int) -> Path:
    search = {"learning_rate": {"lr": {"log_uniform": [1e-4, 3e-2]}}, "settings": settings}
    return toy_space(tmp_path, results_dir, trainable="dsr", search=search, population=population)


def test_a_searched_setting_members_must_share_is_refused_before_ray(
    tmp_path: Path, results_dir: Path
) -> None:
    """DSR members share the model's shape: searching `hidden_dim` with population 4 is refused
    with the file and the setting's path; alone (population 1) the same search is fine, and a
    setting members may differ in (`alpha`) is fine in a population."""
    hidden = {"hidden_dim": {"choice": [8, 16]}}
    path = dsr_space(tmp_path, results_dir, hidden, population=4)
    with pytest.raises(ConfigError) as caught:
        load_space(path)
    assert [p.path for p in caught.value.problems] == ["search.settings.hidden_dim"]
    assert "but member 0 has" in caught.value.problems[0].message
    assert str(caught.value).startswith(f"{path}: search.settings.hidden_dim is ")
    assert load_space(dsr_space(tmp_path, results_dir, hidden, population=1)).population == 1
    alpha = {"alpha": {"uniform": [0.1, 0.5]}}
    assert load_space(dsr_space(tmp_path, results_dir, alpha, population=4)).population == 4


@pytest.mark.parametrize(
    ("num_samples", "population", "expected"), [(10, 1, 10), (10, 4, 3), (8, 8, 1), (9, 8, 2)]
)
def test_ray_trial_count(num_samples: int, population: int, expected: int) -> None:
    assert ray_trial_count(num_samples, population) == expected


class _Trial:
    def __init__(self, sizes: int) -> None:
        self.config = {"population": {"members": [{}] * sizes}}


def test_expected_ray_trials_counts_members() -> None:
    assert expected_ray_trials([_Trial(4), _Trial(4), _Trial(2)], 10) == 3
    assert expected_ray_trials([_Trial(4), _Trial(4)], 10) == 3  # one population missing
    assert expected_ray_trials([], 10) == 10


def test_reporter_ends_members_completed_failed_and_reports_each() -> None:
    sent: list[dict] = []
    reporter = PopulationReporter(
        [7, 9, 12], metric="score", mode="min", n_epochs=2, report=sent.append
    )
    stop = reporter.report({0: {"score": 0.5, "epoch": 1}, 1: {"epoch": 1, "failed": "loss nan"},
                            2: {"score": math.inf}})  # fmt: skip
    assert stop == {1, 2}
    first = sent[0]
    assert first["score"] == 0.5 and first["member/7/score"] == 0.5
    assert (
        first["member_end/9"] == "FAIL"
        and first["member_reason/9"] == "diverged at epoch 1: loss nan"
    )
    assert first["member_end/12"] == "FAIL" and "score is inf" in first["member_reason/12"]
    assert "member_end/7" not in first and first["members_active"] == 1
    assert reporter.report({0: {"score": 0.25}}) == {0}
    assert sent[1]["member_end/7"] == "COMPLETE" and sent[1]["member/7/score"] == 0.25


def _reference_asha(log: list[dict], grace: int, rf: float, max_t: int, mode: str) -> list[bool]:
    """ASHA's stop rule written out plainly: at the first rung a member reaches, stop it when its
    reward is below the (1 - 1/rf) percentile of the rewards recorded there before it."""
    rungs = [grace * rf**k for k in range(int(math.log(max_t / grace) / math.log(rf)) + 1)]
    recorded: dict[float, dict[int, float]] = {r: {} for r in rungs}
    sign = -1.0 if mode == "min" else 1.0
    decisions = []
    for entry in log:
        reward, stop = sign * entry["value"], False
        for rung in sorted(rungs, reverse=True):
            if entry["epoch"] < rung or entry["number"] in recorded[rung]:
                continue
            earlier = list(recorded[rung].values())
            stop = bool(earlier) and reward < np.nanpercentile(earlier, (1 - 1 / rf) * 100)
            recorded[rung][entry["number"]] = reward
            break
        decisions.append(stop)
    return decisions


def test_member_asha_matches_the_rule() -> None:
    rng = np.random.default_rng(0)
    asha = MemberAsha(grace_period=1, reduction_factor=3, max_t=9, mode="min")
    alive = set(range(20))
    for epoch in range(1, 9):
        values = {n: float(rng.random()) / epoch for n in sorted(alive)}
        alive -= set(asha.decide(epoch, values))
    log = asha.log()
    assert [e["stop"] for e in log] == _reference_asha(log, 1, 3, 9, "min")
    assert 0 < sum(e["stop"] for e in log) < 20
    assert {e["epoch"] for e in log if e["stop"]} <= {1, 3}


def test_member_rows_pick_one_member() -> None:
    rows = [
        {"trial_id": "t", "training_iteration": 1, "time_total_s": 0.1, "score": 0.5,
         "member/3/score": 0.4, "member/3/epoch": 1, "member/4/score": 0.6},
        {"trial_id": "t", "training_iteration": 2, "time_total_s": 0.2, "member/4/score": 0.3},
    ]  # fmt: skip
    assert member_rows(rows, 3, "t-3") == [
        {"trial_id": "t-3", "training_iteration": 1, "time_total_s": 0.1, "score": 0.4, "epoch": 1}
    ]


def test_member_asha_replay_puts_the_rungs_back() -> None:
    rng = np.random.default_rng(1)
    rounds = [{n: float(rng.random()) for n in range(8 * k, 8 * k + 8)} for k in range(3)]
    whole = MemberAsha(grace_period=1, reduction_factor=2, max_t=4, mode="min")
    for values in rounds:
        whole.decide(1, values)
    first = MemberAsha(grace_period=1, reduction_factor=2, max_t=4, mode="min")
    first.decide(1, rounds[0])
    resumed = MemberAsha(grace_period=1, reduction_factor=2, max_t=4, mode="min")
    resumed.replay(first.log())
    for values in rounds[1:]:
        resumed.decide(1, values)
    assert first.log() + resumed.log() == whole.log()
    assert any(e["stop"] for e in resumed.log())


def test_reporter_checkpoint_puts_back_its_epoch_and_ended_members() -> None:
    """A checkpoint carries the reporter's epoch count, ended members and that epoch's result; a
    reporter restarted from it counts on from there, stops the ended members again, never ends
    them twice, and sends the checkpoint's epoch again with its first report."""
    store = MemoryReporter()
    first = PopulationReporter([4, 5, 6], metric="score", mode="min", n_epochs=4, store=store)
    assert first.load_checkpoint() is None and first.epoch == 0
    assert first.report({0: {"score": 0.5}, 1: {"score": 0.4}, 2: {"failed": "nan"}}) == {2}
    assert store.checkpoint is None  # no checkpoint handed in: none saved
    first.report({0: {"score": 0.3}, 1: {"score": 0.2}}, {"state": torch.tensor([2.0])})
    assert store.reports[1]["member/4/score"] == 0.3
    first.report({0: {"score": 0.25}, 1: {"score": 0.15}})  # epoch 3: lost with the worker

    again = PopulationReporter(
        [4, 5, 6], metric="score", mode="min", n_epochs=4, store=MemoryReporter(store.checkpoint)
    )
    saved = again.load_checkpoint()
    assert saved is not None and saved["stop"] == [2]
    assert torch.equal(saved["checkpoint"]["state"], torch.tensor([2.0]))
    assert again.epoch == 2 and again.ended == {2: "FAIL"}
    # epoch 3 again; a late report of the failed member is stopped, not ended again
    stop = again.report({0: {"score": 0.25}, 1: {"score": 0.15}, 2: {"score": 0.1}})
    assert stop == {2}
    result = again._store.reports[-1]
    assert "member_end/6" not in result and "member/6/score" not in result
    assert result["score"] == 0.15 and result["members_active"] == 2
    # epoch 2, the checkpoint's, again: in case its result never reached the driver
    assert result["previous_epoch"] == 2
    assert {k: v for k, v in result.items() if k.startswith("previous/")} == {
        "previous/member/4/score": 0.3,
        "previous/member/5/score": 0.2,
    }
    assert again.report({0: {"score": 0.2}, 1: {"score": 0.1}}) == {0, 1}  # epoch 4: the end
    assert again._store.reports[-1]["member_end/4"] == "COMPLETE"
    assert "previous_epoch" not in again._store.reports[-1]
    again.flush()  # sent already: nothing more
    assert len(again._store.reports) == 2


def test_a_restart_from_the_final_checkpoint_sends_its_epoch_alone() -> None:
    store = MemoryReporter()
    first = PopulationReporter([3, 8], metric="score", mode="max", n_epochs=1, store=store)
    first.report({0: {"score": 0.5}, 1: {"score": 0.7}}, {"done": 1})
    again = PopulationReporter(
        [3, 8], metric="score", mode="max", n_epochs=1, store=MemoryReporter(store.checkpoint)
    )
    assert again.load_checkpoint()["stop"] == [0, 1]  # both COMPLETE: the function trains none
    again.flush()
    (result,) = again._store.reports
    assert result["score"] == 0.7 and result["members_active"] == 0
    assert result["previous_epoch"] == 1 and result["previous/member_end/3"] == "COMPLETE"
    rows = [{"trial_id": "t", "training_iteration": 2, "time_total_s": 0.3, **result}]
    assert member_rows(rows, 8, "t-8") == [
        {"trial_id": "t-8", "training_iteration": 1, "time_total_s": 0.3, "score": 0.7}
    ]


def test_member_asha_answers_a_member_asked_again_as_before() -> None:
    """A restarted trial asks again about epochs decided already: the same answers, nothing
    recorded or logged twice, and later decisions as if it had not asked."""
    values = {n: 0.1 * (n + 1) for n in range(6)}
    asha = MemberAsha(grace_period=1, reduction_factor=2, max_t=4, mode="min")
    once = MemberAsha(grace_period=1, reduction_factor=2, max_t=4, mode="min")
    stopped = asha.decide(1, values)
    assert stopped == once.decide(1, values) and stopped  # the worst ones
    assert asha.decide(1, values) == stopped and asha.decide(1, {5: 0.0}) == [5]
    assert asha.log() == once.log()
    later = {6: 0.35, 7: 0.05}
    assert asha.decide(1, later) == once.decide(1, later)
    assert asha.log() == once.log()
    # a restarted trial's checkpoint puts back a decision of a lost actor: logged as rebuilt
    lost = {"number": 8, "epoch": 1, "value": 0.9, "stop": True}
    asha.replay([lost, once.log()[0]], True)
    assert asha.log() == [*once.log(), {**lost, "rebuilt": True}]
    assert asha.decide(1, {8: 0.0}) == [8]  # the lost actor's answer, not a new one


def _member_study(rows: list[tuple[TrialState, list[float]]]) -> optuna.Study:
    """An in-memory study of population members: (state, values of epochs 1, 2, ...)."""
    study = optuna.create_study(direction="minimize")
    for number, (state, values) in enumerate(rows):
        trial = study.ask()
        trial.set_user_attr(RAY_TRIAL_ID, member_id("pop_0", number))
        trial.set_user_attr(POPULATION_TRIAL, "pop_0")
        for epoch, value in enumerate(values, start=1):
            trial.report(value, epoch)
        if state == TrialState.COMPLETE:
            study.tell(trial, values[-1])
        elif state != TrialState.RUNNING:
            study.tell(trial, state=state)
    return study


def test_decisions_rebuilt_from_the_study_put_the_rungs_back() -> None:
    """What a killed driver could not write to member_asha.json is rebuilt from the study:
    the members' finite values before max_t, a stop where a PRUNED member's values end; a
    resumed actor given them decides new members as the one that was never interrupted."""
    rng = np.random.default_rng(3)
    whole = MemberAsha(grace_period=1, reduction_factor=2, max_t=3, mode="min")
    rows = []
    for _ in range(8):
        values = [float(rng.random()), float(rng.random())]
        number = len(rows)
        if whole.decide(1, {number: values[0]}):
            rows.append((TrialState.PRUNED, values[:1]))
        elif whole.decide(2, {number: values[1]}):
            rows.append((TrialState.PRUNED, values))
        else:
            rows.append((TrialState.COMPLETE, [*values, 0.01]))
    rows.append((TrialState.FAIL, [0.001, math.nan]))  # diverged at epoch 2: no decision
    assert whole.decide(1, {8: 0.001}) == []
    study = _member_study(rows)
    decisions = study_decisions(study, max_t=3)
    assert decisions == sorted(whole.log(), key=lambda d: (d["epoch"], d["number"]))
    assert any(d["stop"] for d in decisions) and not all(d["stop"] for d in decisions)

    resumed = MemberAsha(grace_period=1, reduction_factor=2, max_t=3, mode="min")
    resumed.replay(decisions)
    for epoch in (1, 2):  # every member asked again: the answers it had
        values = {d["number"]: d["value"] for d in decisions if d["epoch"] == epoch}
        expected = [d["number"] for d in decisions if d["epoch"] == epoch and d["stop"]]
        assert resumed.decide(epoch, values) == expected
    assert resumed.log() == []
    new = {9: 0.3, 10: 0.9, 11: 0.02}
    assert resumed.decide(1, new) == whole.decide(1, new)


class _RayTrial(SimpleNamespace):
    """What the progress callback reads of a Ray trial."""


def test_progress_of_a_population_sweep_counts_members() -> None:
    study = _member_study(
        [
            (TrialState.COMPLETE, [0.5, 0.2]),
            (TrialState.PRUNED, [0.9]),
            (TrialState.FAIL, [math.nan]),
            (TrialState.RUNNING, [0.4]),  # its population is still running
            (TrialState.RUNNING, [0.3]),
            (TrialState.RUNNING, []),  # a population Ray has not started
            (TrialState.COMPLETE, [0.6, 0.1]),
        ]
    )
    members = [[0, 1, 2], [3, 4], [5], [6]]
    trials = [
        _RayTrial(trial_id=f"pop_{i}", status=status, last_result={}, config={"population": {
            "members": [{"number": n, "config": {}} for n in numbers]}})
        for i, (status, numbers) in enumerate(
            zip(["TERMINATED", "RUNNING", "PENDING", "TERMINATED"], members, strict=True)
        )
    ]  # fmt: skip
    out = io.StringIO()
    progress = ProgressCallback("score", "min", 2, out=out, study=study)
    assert progress.member_counts(trials) == (
        "members running 2 · completed 2 · pruned 1 · failed 1 | best score 0.1 (pop_0-6)"
    )
    # member 4 ends in this result (the study may not show it yet): one line for it
    result = {"training_iteration": 1, "member/4/score": 0.3, "member_end/4": "PRUNED"}
    progress.on_trial_result(0, trials, trials[1], result)
    progress.on_trial_start(0, trials, trials[2])
    line, start = out.getvalue().splitlines()
    assert line.endswith(
        "] member pop_1-4 pruned at epoch 1 (score 0.3) | members running 1 · completed 2 · "
        "pruned 2 · failed 1 | best score 0.1 (pop_0-6)"
    )
    assert "] population pop_2 started (1 members) | members running 3 · " in start
    unfused = [_RayTrial(trial_id="t0", status="RUNNING", last_result={}, config={"x": 1})]
    progress.on_trial_start(0, unfused, unfused[0])
    assert (
        out.getvalue()
        .splitlines()[-1]
        .endswith(
            "] trial t0 started | running 1 · completed 0 · pruned 0 · failed 0 | best score -"
        )
    )


def test_close_orphans_judges_a_member_by_its_own_values() -> None:
    """A member left open when its population's Ray trial ended is COMPLETE when its values
    reach max_t, else FAIL with the reason; members of a population still running stay open."""
    study = _member_study(
        [(TrialState.RUNNING, [0.5, 0.2]), (TrialState.RUNNING, [0.4]), (TrialState.RUNNING, [0.3])]
    )
    study._storage.set_trial_user_attr(study.trials[2]._trial_id, POPULATION_TRIAL, "pop_1")
    ended = SimpleNamespace(trial_id="pop_0", status="TERMINATED", last_result={"done": True})
    running = SimpleNamespace(trial_id="pop_1", status="RUNNING", last_result={})
    assert close_orphans(study, [ended, running], "score", max_t=2) == 2
    complete, failed, open_ = study.trials
    assert complete.state == TrialState.COMPLETE and complete.value == 0.2
    assert failed.state == TrialState.FAIL
    assert failed.user_attrs[FAIL_REASON] == (
        "its Ray trial ended without a final report for this member"
    )
    assert open_.state == TrialState.RUNNING


def _define_x(trial: optuna.Trial) -> dict:
    return {"n_epochs": 3, "x": trial.suggest_float("x", 0.0, 1.0)}


def test_a_restored_searcher_catches_up_with_the_study(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ray's saved searcher state is older than the study: restored, the searcher leaves members
    the study finished as they are, records no epoch twice, and records the checkpoint epoch
    a restarted trial sends again (`previous/...`) where the study lacks it."""

    def searcher() -> PopulationOptunaSearch:
        search = PopulationOptunaSearch(
            _define_x, population=3, num_members=3, asha_actor=None, max_t=3,
            sampler=optuna.samplers.RandomSampler(seed=0), study_name="unit",
            storage=str(tmp_path / "optuna.journal"),
        )  # fmt: skip
        assert search.set_search_properties("score", "min", {"n_epochs": 3})
        return search

    first = searcher()
    first.suggest("t")
    first.on_trial_result("t", {"training_iteration": 1, "member/0/score": 0.5,
                                "member/1/score": 0.6, "member/2/score": 0.7})  # fmt: skip
    first.save(str(tmp_path / "searcher.pkl"))  # Ray's last saved state
    first.on_trial_result("t", {"training_iteration": 2, "member/0/score": 0.4,
                                "member/1/score": 0.65, "member_end/1": "PRUNED",
                                "member/2/score": 0.3})  # fmt: skip
    # the driver dies; the trial goes on from its checkpoint of epoch 2, which reached the
    # driver, and epoch 3's checkpoint, which did not (newer than its last result)
    resumed = searcher()
    resumed.restore(str(tmp_path / "searcher.pkl"))
    resumed.on_trial_result("t", {"training_iteration": 3, "member/0/score": 0.35,
                                  "member/2/score": 0.2, "previous_epoch": 2,
                                  "previous/member/0/score": 0.4,
                                  "previous/member/1/score": 0.65,
                                  "previous/member_end/1": "PRUNED"})  # fmt: skip
    resumed.on_trial_complete("t", {"training_iteration": 4, "previous_epoch": 3,
                                    "previous/member/0/score": 0.3,
                                    "previous/member_end/0": "COMPLETE",
                                    "previous/member/2/score": 0.2,
                                    "previous/member_end/2": "COMPLETE"})  # fmt: skip
    trials = resumed.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
    ]
    assert [t.intermediate_values for t in trials] == [
        {1: 0.5, 2: 0.4, 3: 0.35},  # epoch 3 as first recorded: a late copy changes nothing
        {1: 0.6, 2: 0.65},
        {1: 0.7, 2: 0.3, 3: 0.2},
    ]
    assert [t.value for t in trials] == [0.35, 0.65, 0.2]
    # nothing was written to a finished record (the restored state did not know it finished)
    assert not [r for r in caplog.records if "already recorded" in r.getMessage()]
