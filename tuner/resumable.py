"""A function trainable that can resume from its newest intact checkpoint.

Ray rotates a trial's checkpoints (`num_to_keep`) as they come, but snapshots its experiment
state only now and then. A driver killed in between leaves a snapshot naming a checkpoint that
rotation already deleted, and Ray's `Trainable.restore` then fails the trial. Here every
checkpoint carries a marker file (`MARKER`, JSON with its `training_iteration` and
`time_total_s`), written after Ray persisted the checkpoint, so its presence also says the
checkpoint is complete. When the checkpoint Ray names is gone, the trial resumes from the marked
checkpoint in its folder with the highest `training_iteration` (not the highest folder index:
after a restore Ray numbers new checkpoints from its snapshot again).

Ray numbers a restored trial's new checkpoints on from its saved state, so folders of the
abandoned run are written again: before that, their marker is removed, so a marker always
describes the files beside it. Where Ray's bookkeeping still names a deleted checkpoint, an
empty folder holding `PLACEHOLDER` stands in for it, so that Ray's rotation can delete it later
(deleting a missing folder raises in Ray); a restore treats it as missing.

This overrides private parts of Ray's function trainable, so it applies only when
`tuner.ray_patches` allows; otherwise the trainable is Ray's own and a trial whose named
checkpoint is gone fails with Ray's error, as in stock Ray.
"""

from __future__ import annotations

import json
import logging
import posixpath
import time
from collections.abc import Callable
from typing import Any

import pyarrow.fs
from ray.air.constants import TRAINING_ITERATION
from ray.train import Checkpoint
from ray.tune.result import TIME_TOTAL_S

from tuner.ray_patches import patches_enabled

logger = logging.getLogger(__name__)

#: written into every persisted checkpoint folder: {"training_iteration": ..., "time_total_s": ...}
MARKER = ".tuner_checkpoint.json"
#: the only file of a folder standing in for a deleted checkpoint that Ray still names
PLACEHOLDER = ".tuner_rotated_out"
_PREFIX = "checkpoint_"


def _exists(fs: pyarrow.fs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound


def _index(name: str) -> int | None:
    """The index of a folder named `checkpoint_000012`, or None for any other name."""
    digits = name[len(_PREFIX) :] if name.startswith(_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


def usable(checkpoint: Checkpoint) -> bool:
    """Whether `checkpoint` is on storage and is not a placeholder for a deleted one."""
    fs, path = checkpoint.filesystem, checkpoint.path
    return _exists(fs, path) and not _exists(fs, posixpath.join(path, PLACEHOLDER))


def write_marker(checkpoint: Checkpoint, iteration: int, time_total: float) -> None:
    """Mark the persisted `checkpoint` as complete, with the iteration it belongs to."""
    data = json.dumps({TRAINING_ITERATION: iteration, TIME_TOTAL_S: time_total}).encode()
    marker = posixpath.join(checkpoint.path, MARKER)
    with checkpoint.filesystem.open_output_stream(marker) as stream:
        stream.write(data)


def read_marker(fs: pyarrow.fs.FileSystem, folder: str) -> dict[str, Any] | None:
    """The marker of checkpoint `folder`, or None when it has none (or none that reads back)."""
    try:
        with fs.open_input_stream(posixpath.join(folder, MARKER)) as stream:
            data = json.loads(stream.read())
    except (OSError, ValueError):
        return None
    iteration = data.get(TRAINING_ITERATION) if isinstance(data, dict) else None
    return data if isinstance(iteration, int) else None


def checkpoint_folders(fs: pyarrow.fs.FileSystem, trial_dir: str) -> dict[int, str]:
    """Every `checkpoint_*` folder in `trial_dir`, by index."""
    try:
        infos = fs.get_file_info(pyarrow.fs.FileSelector(trial_dir, allow_not_found=True))
    except OSError:
        return {}
    folders = {}
    for info in infos:
        index = _index(info.base_name)
        if index is not None and info.type == pyarrow.fs.FileType.Directory:
            folders[index] = info.path
    return folders


def newest_intact(fs: pyarrow.fs.FileSystem, trial_dir: str) -> tuple[str, dict] | None:
    """(folder, marker) of the marked checkpoint in `trial_dir` with the highest iteration."""
    marked = []
    for index, folder in checkpoint_folders(fs, trial_dir).items():
        marker = read_marker(fs, folder)
        if marker is not None:
            marked.append((marker[TRAINING_ITERATION], index, folder, marker))
    if not marked:
        return None
    _, _, folder, marker = max(marked)
    return folder, marker


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


def resumable_trainable(function: Callable[[dict], Any]) -> Any:
    """`function` as Ray's function trainable whose checkpoints carry `MARKER`, resuming from
    its newest intact checkpoint when the one Ray names is gone (`function` itself, for Ray to
    wrap as usual, with the patches off).

    Example: `tune.with_resources(resumable_trainable(train), {"cpu": 1})`.
    """
    if not patches_enabled():
        return function
    from ray.train._internal.session import _TrainingResult
    from ray.tune.trainable.function_trainable import wrap_function

    base = wrap_function(function)

    class ResumableTrainable(base):
        def step(self) -> dict:
            start = time.time()
            metrics = super().step()
            checkpoint = self._last_training_result.checkpoint
            if checkpoint is not None:  # persisted already, by the session's `report`
                iteration = metrics.get(TRAINING_ITERATION, self._iteration + 1)
                elapsed = self._time_total + (time.time() - start)
                try:
                    write_marker(checkpoint, int(iteration), elapsed)
                except OSError as error:  # the checkpoint stands; it just cannot be a fallback
                    logger.warning("could not mark checkpoint %s: %s", checkpoint.path, error)
                index = _index(posixpath.basename(checkpoint.path))
                if index is not None:
                    _drop_stale_marker(checkpoint.filesystem, checkpoint.path, index + 1)
            return metrics

        def restore(self, checkpoint_path: Any) -> None:
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
                "checkpoint %s is gone (rotated out after Ray's last saved state); "
                "resuming from %s (training_iteration %d) instead",
                named.path,
                folder,
                marker[TRAINING_ITERATION],
            )
            metrics = {k: marker[k] for k in (TRAINING_ITERATION, TIME_TOTAL_S) if k in marker}
            result = _TrainingResult(Checkpoint(folder, filesystem=fs), metrics=metrics)
            super().restore(result)
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
            if _index(posixpath.basename(checkpoint.path)) != index:
                _drop_stale_marker(checkpoint.filesystem, checkpoint.path, index)

    ResumableTrainable.__name__ = base.__name__
    ResumableTrainable.__qualname__ = base.__qualname__
    return ResumableTrainable
