"""Actor reuse without killing actors that are already starting.

With `reuse_actors=True`, Ray Tune gives an actor freed by a finished trial to a pending trial,
and if that trial had already been given a new actor, removes that one. When trials are shorter
than an actor's start (a worker process, Ray Tune and torch imported there, the data built),
that new actor is always being started when the freed one takes its trial: Tune then starts and
kills a process for nearly every trial, while one or two processes run them all
(`benchmarks/scale.py`: 41-77 processes started for 1,000 trivial trials at four per CPU, 1-2
of them used). `actors_kept_while_starting()` changes one decision of Tune's controller: a
pending trial whose own actor already holds its resources (its process is starting) keeps it;
the freed actor goes to a pending trial whose actor still waits for resources (taking over that
request costs nothing), or stays cached for the next new trial. Trials waiting for resources are
served exactly as before, so no trial waits for resources a cached actor holds. It reads Tune's
private controller state, so it runs only when `tuner.ray_patches` allows (else stock Tune).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tuner.ray_patches import patches_enabled


def _launched(controller: Any, trial: Any) -> bool:
    """Whether `trial` has an actor of its own that already holds its resources."""
    actor = controller._trial_to_actor.get(trial)  # noqa: SLF001
    return actor is not None and controller._actor_manager.is_actor_started(actor)  # noqa: SLF001


def _waiting_for_resources(controller: Any, like: Any) -> Any | None:
    """A pending trial with `like`'s resources whose actor still waits for them, if any."""
    by_resources = controller._resources_to_pending_trials  # noqa: SLF001
    pending = by_resources.get(like.placement_group_factory, ())
    with_request = controller._trial_to_actor  # noqa: SLF001
    for trial in pending:
        if trial is not like and trial in with_request and not _launched(controller, trial):
            return trial
    return None


@contextmanager
def actors_kept_while_starting() -> Iterator[None]:
    """Within the block, Tune's controllers reuse cached actors as described above."""
    if not patches_enabled():
        yield
        return
    from ray.tune.execution.tune_controller import TuneController

    reuse = TuneController._maybe_reuse_cached_actor  # noqa: SLF001

    def maybe_reuse_cached_actor(self: Any, trial: Any) -> bool:
        if trial in self._resetting_trials or not _launched(self, trial):  # noqa: SLF001
            return reuse(self, trial)
        other = _waiting_for_resources(self, trial)
        if other is not None:
            reuse(self, other)  # `other` is staged already: it has an actor request
        return False

    TuneController._maybe_reuse_cached_actor = maybe_reuse_cached_actor  # noqa: SLF001
    try:
        yield
    finally:
        TuneController._maybe_reuse_cached_actor = reuse  # noqa: SLF001
