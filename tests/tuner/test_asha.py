"""`ResumableASHA`: a resumed trial is not judged again at rungs its record shows it had passed;
otherwise every decision is Ray's ASHA's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from tests.tuner.patched_side import patched_side
from tuner.asha import ResumableASHA, passed_rungs
from tuner.searcher import RAY_TRIAL_ID

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP
#: rungs at epochs 2 and 4 (max_t 6), lower is better
OPTIONS = {"time_attr": "training_iteration", "max_t": 6, "grace_period": 2, "reduction_factor": 2}


def scheduler(cls: type[ASHAScheduler]) -> ASHAScheduler:
    asha = cls(**OPTIONS)
    asha.set_search_properties(metric="loss", mode="min")
    return asha


def trial(trial_id: str) -> Trial:
    return Trial("toy", stub=True, trial_id=trial_id)


def result(epoch: int, loss: float) -> dict:
    return {"training_iteration": epoch, "loss": loss}


def restarted_run(asha: ASHAScheduler) -> list[str]:
    """Two fresh trials pass rung 2 with low losses; then `late` (restored from its epoch-2
    checkpoint: a worse loss at rung 2 than both) reports epochs 3 and 4."""
    trials = {name: trial(name) for name in ("a", "b", "late")}
    for t in trials.values():
        asha.on_trial_add(None, t)
    for name, losses in (("a", [0.5, 0.2]), ("b", [0.6, 0.1])):
        for epoch, loss in enumerate(losses, start=1):
            assert asha.on_trial_result(None, trials[name], result(epoch, loss)) == CONTINUE
    return [asha.on_trial_result(None, trials["late"], result(e, 0.9)) for e in (3, 4)]


def test_rays_asha_stops_a_resumed_trial_at_a_rung_it_had_passed() -> None:
    assert restarted_run(scheduler(ASHAScheduler))[0] == STOP  # what the subclass prevents


@patched_side
def test_resumed_trial_keeps_the_rungs_it_had_passed() -> None:
    asha = scheduler(ResumableASHA)
    # its record: epochs 1-5, so it had passed rung 2 (with 0.3) and rung 4 (with 0.25)
    asha.passed = {"late": {1: 1.0, 2: 0.3, 3: 0.28, 4: 0.25, 5: 0.24}}
    assert restarted_run(asha) == [CONTINUE, CONTINUE]
    rungs = dict(asha._trial_info["late"]._rungs)  # its recorded values at each rung
    assert rungs[2]["late"] == pytest.approx(-0.3) and rungs[4]["late"] == pytest.approx(-0.25)
    assert asha.passed == {}  # used once, at the trial's first result


@patched_side
def test_rung_at_the_last_recorded_epoch_is_judged_again() -> None:
    asha = scheduler(ResumableASHA)
    # recorded up to epoch 2 only: the decision at rung 2 may not have been made
    asha.passed = {"late": {1: 1.0, 2: 0.95}}
    assert restarted_run(asha)[0] == STOP


def test_passed_rungs_from_records() -> None:
    records = [
        SimpleNamespace(user_attrs={RAY_TRIAL_ID: "x_1"}, intermediate_values={1: 2.0, 2: 1.5}),
        SimpleNamespace(user_attrs={RAY_TRIAL_ID: "x_2"}, intermediate_values={}),
        SimpleNamespace(user_attrs={}, intermediate_values={1: 3.0}),
    ]
    assert passed_rungs(records) == {"x_1": {1: 2.0, 2: 1.5}}
