"""A function trainable that can resume from its newest intact checkpoint.

Ray rotates a trial's checkpoints (`num_to_keep`) as they come, but snapshots its experiment
state only now and then. A driver killed in between leaves a snapshot naming a checkpoint that
rotation already deleted, and Ray's `Trainable.restore` then fails the trial. Here every
checkpoint carries a marker file (`tuner.checkpoint_marker`: its `training_iteration`, the size
of each file, the result reported with it), written after Ray persisted the checkpoint, so its
presence also says the checkpoint is complete. When the checkpoint Ray names is gone, or its
files are no longer whole (a `state.pt` cut short), the trial resumes from the whole marked
checkpoint in its folder with the highest `training_iteration` (not the highest folder index:
after a restore Ray numbers new checkpoints from its snapshot again).

That checkpoint can be newer than anything the driver recorded (the driver was killed while its
result was on the way): the trial's first result is then that checkpoint's own stored result
(`replay`), so Ray's last result, the Optuna record and the curves go on from the same epoch
instead of Ray ending the trial on a result epochs older than its state.

Ray numbers a restored trial's new checkpoints on from its saved state, so folders of the
abandoned run are written again: before that, their marker is removed, so a marker always
describes the files beside it. Where Ray's bookkeeping still names a deleted checkpoint, an
empty folder holding `PLACEHOLDER` stands in for it, so that Ray's rotation can delete it later
(deleting a missing folder raises in Ray); a restore treats it as missing.

On `resume`, the Ray trials whose Optuna record is finished already (`closed`: a trial that
ended after Ray's last snapshot, or failed while Ray could not save its state) end at once:
they are never run again, so no record is contradicted by a curve run on past its verdict.

`run_ahead` lets short epochs overlap the driver's round trip where no decision can stop the
trial (`tuner.run_ahead`).

The checkpoint fallback, the replay and the run-ahead override private parts of Ray's function
trainable, so they apply only when `tuner.ray_patches` allows; otherwise the trainable is Ray's
own (closed trials still end at once), a trial whose named checkpoint is gone fails with Ray's
error, and every report waits for the driver, as in stock Ray.
"""

from __future__ import annotations

import functools
import logging
import posixpath
import time
from collections.abc import Callable, Collection
from typing import Any

import pyarrow.fs
from ray.air.constants import TRAINING_ITERATION
from ray.train import Checkpoint
from ray.tune.result import (
    DONE,
    RESULT_DUPLICATE,
    SHOULD_CHECKPOINT,
    TIME_THIS_ITER_S,
    TIME_TOTAL_S,
)

from tuner.checkpoint_marker import (
    MARKER,
    PLACEHOLDER,
    folder_index,
    newest_intact,
    result_of,
    usable,
    write_marker,
)
from tuner.ray_patches import patches_enabled
from tuner.run_ahead import RunAhead, RunAheadRun, end_training_thread, release_training_thread

__all__ = [
    "MARKER",
    "PLACEHOLDER",
    "newest_intact",
    "resumable_trainable",
    "usable",
    "write_marker",
]

logger = logging.getLogger(__name__)
_PREFIX = "checkpoint_"


def _stand_in_for(named: Checkpoint) -> None:
    """An empty folder with `PLACEHOLDER` where `named` was: Ray's rotation will delete it."""
    named.filesystem.create_dir(named.path)
    with named.filesystem.open_output_stream(posixpath.join(named.path, PLACEHOLDER)):
        pass


def _drop_stale_marker(fs: pyarrow.fs.FileSystem, beside: str, index: int) -> None:
    """Remove the marker of checkpoint folder `index` next to `beside`, before it is rewritten."""
    folder = posixpath.join(posixpath.dirname(beside), f"{_PREFIX}{index:06d}")
    try:
        fs.delete_file(posixpath.join(folder, MARKER))
    except (FileNotFoundError, OSError):
        pass


def _skipping(function: Callable[[dict], Any], closed: Collection[str]) -> Callable:
    """`function`, returning at once (no result: Ray ends the trial) in the Ray trials of
    `closed`."""
    if not closed:
        return function

    @functools.wraps(function)
    def trainable(config: dict) -> Any:
        from ray import tune

        if tune.get_context().get_trial_id() in closed:
            return None
        return function(config)

    return trainable


def resumable_trainable(
    function: Callable[[dict], Any],
    closed: Collection[str] = (),
    replay: bool = True,
    run_ahead: RunAhead | None = None,
) -> Any:
    """`function` as Ray's function trainable whose checkpoints carry `MARKER`, resuming from
    its newest intact checkpoint when the one Ray names is gone or damaged.

    `closed`: Ray trial ids whose Optuna record is finished already (a resumed sweep): they end
    at once, neither restored nor run. `replay`: a trial resumed from a checkpoint other than
    the one Ray names first gives the driver that checkpoint's own result again (off for
    functions that do so themselves, as a population does). `run_ahead`: the epochs after
    which the training thread need not wait for the driver (`tuner.run_ahead`; None: never).

    With the patches off it is `function` itself (with `closed` skipped), for Ray to wrap.

    Example: `tune.with_resources(resumable_trainable(train), {"cpu": 1})`.
    """
    closed = frozenset(closed)
    if not patches_enabled():
        return _skipping(function, closed)
    from ray.train._internal.session import _TrainingResult
    from ray.tune.trainable.function_trainable import wrap_function

    base = wrap_function(_skipping(function, closed))

    class ResumableTrainable(base):
        _replay: dict | None = None
        _run: RunAheadRun | None = None  # this run's bookkeeping for `run_ahead`

        def step(self) -> dict:
            if self._replay is not None:  # the restored checkpoint's result, once
                result, self._replay = self._replay, None
                return result
            start = time.time()  # the driver asks for the next result
            metrics = super().step()
            checkpoint = self._last_training_result.checkpoint
            if checkpoint is not None:  # persisted already, by the session's `report`
                iteration = metrics.get(TRAINING_ITERATION, self._iteration + 1)
                elapsed = self._time_total + (time.time() - start)
                stored = metrics if replay else None
                try:
                    write_marker(checkpoint, int(iteration), elapsed, stored)
                except OSError as error:  # the checkpoint stands; it just cannot be a fallback
                    logger.warning("could not mark checkpoint %s: %s", checkpoint.path, error)
                index = folder_index(posixpath.basename(checkpoint.path))
                if index is not None:
                    _drop_stale_marker(checkpoint.filesystem, checkpoint.path, index + 1)
            if run_ahead is not None:
                self._maybe_run_ahead(metrics, start)
            return metrics

        def _maybe_run_ahead(self, metrics: dict, asked_at: float) -> None:
            """Release the training thread now if `run_ahead` allows it after this result
            (asked for at `asked_at`); a result the thread ran ahead to counts its own time."""
            from ray.train._internal.session import get_session

            if RESULT_DUPLICATE in metrics:
                return
            if self._run is None:
                self._run = run_ahead.start()
            session = get_session()
            epoch_s = self._run.epoch_seconds(session.last_report_time, asked_at)
            if self._run.ahead and metrics.get(TIME_THIS_ITER_S) is None:
                metrics[TIME_THIS_ITER_S] = epoch_s
            iteration = self._iteration + 1  # Ray counts this result after `step` returns
            if metrics.get(DONE):  # the trial ends here; its thread waits
                self._run.ahead = False
            elif self._run.after(iteration, metrics, epoch_s):
                release_training_thread(session)

        def cleanup(self) -> None:
            self._end_run()
            super().cleanup()

        def _end_run(self) -> None:
            """End this run's bookkeeping; first wait for a training thread that ran ahead
            (`tuner.run_ahead`) to end the epoch it is in, so that Ray's stop or reuse finds
            it waiting, as without run-ahead."""
            if self._run is not None and self._run.ahead:
                from ray.train._internal.session import get_session

                session = get_session()
                if session is not None and not end_training_thread(session):
                    logger.warning("trial %s: its training thread did not stop", self.trial_id)
            self._run = None

        def reset_config(self, new_config: dict) -> bool:
            self._replay = None  # an actor reused for another trial replays nothing of this one
            self._end_run()
            return super().reset_config(new_config)

        def restore(self, checkpoint_path: Any) -> None:
            self._end_run()
            if self.trial_id in closed:
                return  # ends at once (`_skipping`): nothing to restore
            if not isinstance(checkpoint_path, _TrainingResult) or usable(
                checkpoint_path.checkpoint
            ):
                super().restore(checkpoint_path)
                self._before_rewriting(checkpoint_path)
                return
            named = checkpoint_path.checkpoint
            fs, trial_dir = named.filesystem, posixpath.dirname(named.path)
            found = newest_intact(fs, trial_dir)
            if found is None:
                super().restore(checkpoint_path)  # Ray's own error: the trial fails with it
                return
            folder, marker = found
            logger.warning(
                "checkpoint %s is gone or damaged; resuming from %s (training_iteration %d) "
                "instead",
                named.path,
                folder,
                marker[TRAINING_ITERATION],
            )
            metrics = {k: marker[k] for k in (TRAINING_ITERATION, TIME_TOTAL_S) if k in marker}
            stored = result_of(marker) if replay else None
            if stored is not None:  # Ray counts the replayed result as that iteration
                metrics[TRAINING_ITERATION] -= 1
                dropped = (TRAINING_ITERATION, SHOULD_CHECKPOINT)
                self._replay = {k: v for k, v in stored.items() if k not in dropped}
                self._replay[TIME_THIS_ITER_S] = 0.0
            result = _TrainingResult(Checkpoint(folder, filesystem=fs), metrics=metrics)
            super().restore(result)
            if fs.get_file_info(named.path).type == pyarrow.fs.FileType.NotFound:
                _stand_in_for(named)
            self._before_rewriting(result)

        def _before_rewriting(self, restored: Any) -> None:
            """Drop the marker of the folder the next checkpoint goes to, if one from an
            abandoned run is there (Ray numbers on from its saved state)."""
            storage = getattr(self, "_storage", None)
            if storage is None or not isinstance(restored, _TrainingResult):
                return
            checkpoint = restored.checkpoint
            index = storage.current_checkpoint_index + 1
            if folder_index(posixpath.basename(checkpoint.path)) != index:
                _drop_stale_marker(checkpoint.filesystem, checkpoint.path, index)

    ResumableTrainable.__name__ = base.__name__
    ResumableTrainable.__qualname__ = base.__qualname__
    return ResumableTrainable
