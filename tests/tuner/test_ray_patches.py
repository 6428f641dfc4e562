"""The gate in front of the patches of Ray's internals: open on the Ray they were written for,
closed (stock Ray, one notice) when those internals differ or `TUNER_STOCK_RAY=1`; with it
closed, no patch touches Ray."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import ray
from ray.tune.execution import class_cache
from ray.tune.execution.tune_controller import TuneController
from ray.tune.registry import _global_registry

from tuner import ray_patches
from tuner.actor_reuse import actors_kept_while_starting
from tuner.asha import ResumableASHA
from tuner.local_ray import actors_on_prestarted_workers, lean_local_ray
from tuner.ray_patches import STOCK_ENV, fingerprint, mismatches, patches_enabled
from tuner.resumable import resumable_trainable
from tuner.trainable_lookup import remembered_trainables

#: the Ray release whose sources `FINGERPRINTS` were taken from
WRITTEN_FOR = "2.60.0"


@pytest.fixture
def fresh_gate() -> Iterator[None]:
    """The gate decides again in the test (it caches its answer per process)."""
    patches_enabled.cache_clear()
    yield
    patches_enabled.cache_clear()


@pytest.fixture
def stock(monkeypatch: pytest.MonkeyPatch, fresh_gate: None) -> None:
    monkeypatch.setenv(STOCK_ENV, "1")


@pytest.mark.skipif(ray.__version__ != WRITTEN_FOR, reason=f"fingerprints are of Ray {WRITTEN_FOR}")
def test_gate_is_open_on_the_ray_the_patches_were_written_for(
    monkeypatch: pytest.MonkeyPatch, fresh_gate: None, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(STOCK_ENV, raising=False)
    assert mismatches() == []
    assert patches_enabled() is True
    assert capsys.readouterr().err == ""


def test_every_fingerprinted_object_is_found_in_the_installed_ray() -> None:
    """A fingerprint of None would mean the name is misspelt (or Ray lacks it)."""
    if ray.__version__ != WRITTEN_FOR:
        pytest.skip(f"names are of Ray {WRITTEN_FOR}")
    assert [name for name in ray_patches.FINGERPRINTS if fingerprint(name) is None] == []


def test_a_changed_internal_closes_the_gate_with_one_notice(
    monkeypatch: pytest.MonkeyPatch, fresh_gate: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Ray whose touched code differs (here: one fingerprint that no longer matches) runs
    stock, and says so in one line naming what differs; asking again decides nothing anew."""
    monkeypatch.delenv(STOCK_ENV, raising=False)
    name = "ray.tune.execution.tune_controller:TuneController._maybe_reuse_cached_actor"
    monkeypatch.setitem(ray_patches.FINGERPRINTS, name, "0" * 16)
    differing = mismatches()
    assert name in differing  # on another Ray, others differ too; the notice names the first
    assert patches_enabled() is False
    assert patches_enabled() is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "running stock Ray behaviour" in err
    assert differing[0] in err and (len(differing) > 1 or name in err)


def test_missing_internal_closes_the_gate(
    monkeypatch: pytest.MonkeyPatch, fresh_gate: None
) -> None:
    monkeypatch.delenv(STOCK_ENV, raising=False)
    monkeypatch.setitem(ray_patches.FINGERPRINTS, "ray.tune.no_such_module:Thing.method", "x")
    assert fingerprint("ray.tune.no_such_module:Thing.method") is None
    assert patches_enabled() is False


def test_environment_forces_stock(stock: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert patches_enabled() is False
    assert STOCK_ENV in capsys.readouterr().err


def test_closed_gate_leaves_every_ray_object_as_it_is(stock: None) -> None:
    """With the gate closed no block replaces anything of Ray's and the trainable is the
    user's function, for Ray to wrap as usual."""
    from ray._private import node, parameter

    before = (
        parameter.RayParams.__init__,
        node.Node.start_api_server,
        class_cache._ActorClassCache.get,
        TuneController._maybe_reuse_cached_actor,
        _global_registry.get,
        _global_registry.contains,
    )
    with lean_local_ray(("json",)) as options, actors_on_prestarted_workers():
        with actors_kept_while_starting(), remembered_trainables():
            inside = (
                parameter.RayParams.__init__,
                node.Node.start_api_server,
                class_cache._ActorClassCache.get,
                TuneController._maybe_reuse_cached_actor,
                _global_registry.get,
                _global_registry.contains,
            )
    assert options == {}
    assert inside == before

    def train(config: dict) -> None:
        pass

    assert resumable_trainable(train) is train


def test_open_gate_patches_inside_the_blocks_only(
    monkeypatch: pytest.MonkeyPatch, fresh_gate: None
) -> None:
    """The patched side, for contrast: the blocks replace Ray's methods and put them back."""
    if ray.__version__ != WRITTEN_FOR:
        pytest.skip(f"patches are for Ray {WRITTEN_FOR}")
    monkeypatch.delenv(STOCK_ENV, raising=False)
    original = TuneController._maybe_reuse_cached_actor
    with actors_kept_while_starting():
        assert TuneController._maybe_reuse_cached_actor is not original
    assert TuneController._maybe_reuse_cached_actor is original
    with lean_local_ray(()) as options:
        assert options == {
            "_system_config": {
                "enable_worker_prestart": True,
                "idle_worker_killing_time_threshold_ms": 60_000,
            }
        }


def test_stock_asha_judges_a_resumed_trial_as_rays_asha(stock: None) -> None:
    """With the gate closed `ResumableASHA` ignores `passed`: Ray's ASHA decisions, which stop
    the resumed trial at the rung it had passed (tests/tuner/test_asha.py, patched side)."""
    from tests.tuner.test_asha import STOP, restarted_run, scheduler

    asha = scheduler(ResumableASHA)
    asha.passed = {"late": {1: 1.0, 2: 0.3, 3: 0.28, 4: 0.25, 5: 0.24}}
    assert restarted_run(asha)[0] == STOP
    assert asha.passed == {}  # used up at its first result, as on the patched side
