"""The marker a persisted checkpoint carries: its iteration, its result, the size of each file.

`MARKER` (JSON) is written into a checkpoint folder once Ray has persisted it, so its presence
says the checkpoint was complete; the sizes of its files (`files`) tell a checkpoint cut short
or emptied later (a full disk, a crash of the machine, a copy interrupted) from an intact one
without reading it; `metrics` is the result reported with it, so a trial resumed from it can
give the driver that result even when the driver never received it. Markers written before
`files` and `metrics` existed are trusted as they are.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Mapping
from typing import Any

import pyarrow.fs
from ray.air.constants import TRAINING_ITERATION
from ray.train import Checkpoint
from ray.tune.result import TIME_TOTAL_S

#: written into every persisted checkpoint folder
MARKER = ".tuner_checkpoint.json"
#: the only file of a folder standing in for a deleted checkpoint that Ray still names
PLACEHOLDER = ".tuner_rotated_out"
FILES, METRICS = "files", "metrics"
_PREFIX = "checkpoint_"


def exists(fs: pyarrow.fs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound


def folder_index(name: str) -> int | None:
    """The index of a folder named `checkpoint_000012`, or None for any other name."""
    digits = name[len(_PREFIX) :] if name.startswith(_PREFIX) else ""
    return int(digits) if digits.isdigit() else None


def file_sizes(fs: pyarrow.fs.FileSystem, folder: str) -> dict[str, int]:
    """Every file under `folder` (relative path -> bytes), the marker left out."""
    selector = pyarrow.fs.FileSelector(folder, recursive=True, allow_not_found=True)
    sizes = {}
    for info in fs.get_file_info(selector):
        if info.type == pyarrow.fs.FileType.File:
            name = posixpath.relpath(info.path, folder)
            if name != MARKER:
                sizes[name] = int(info.size)
    return sizes


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-storable entries of a result (numbers, strings, booleans, None)."""
    kept: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool | str) or value is None:
            kept[key] = value
        elif isinstance(value, int | float):
            kept[key] = value if math.isfinite(value) else str(value)  # JSON has no NaN
        elif hasattr(value, "item"):  # numpy and torch scalars
            kept.update(plain_metrics({key: value.item()}) if _scalar(value) else {})
    return kept


def _scalar(value: Any) -> bool:
    try:
        return isinstance(value.item(), int | float | bool)
    except (TypeError, ValueError, RuntimeError):
        return False


def result_of(marker: Mapping[str, Any]) -> dict[str, Any] | None:
    """The result stored in `marker` (non-finite numbers back as floats), or None."""
    stored = marker.get(METRICS)
    if not isinstance(stored, dict):
        return None
    special = {"nan", "inf", "-inf"}
    return {k: float(v) if isinstance(v, str) and v in special else v for k, v in stored.items()}


def write_marker(
    checkpoint: Checkpoint,
    iteration: int,
    time_total: float,
    metrics: Mapping[str, Any] | None = None,
) -> None:
    """Mark the persisted `checkpoint` complete: its iteration, file sizes and result."""
    fs = checkpoint.filesystem
    marker: dict[str, Any] = {TRAINING_ITERATION: iteration, TIME_TOTAL_S: time_total}
    marker[FILES] = file_sizes(fs, checkpoint.path)
    if metrics is not None:
        marker[METRICS] = plain_metrics(metrics)
    with fs.open_output_stream(posixpath.join(checkpoint.path, MARKER)) as stream:
        stream.write(json.dumps(marker).encode())


def read_marker(fs: pyarrow.fs.FileSystem, folder: str) -> dict[str, Any] | None:
    """The marker of checkpoint `folder`, or None when it has none (or none that reads back)."""
    try:
        with fs.open_input_stream(posixpath.join(folder, MARKER)) as stream:
            data = json.loads(stream.read())
    except (OSError, ValueError):
        return None
    iteration = data.get(TRAINING_ITERATION) if isinstance(data, dict) else None
    return data if isinstance(iteration, int) else None


def whole(fs: pyarrow.fs.FileSystem, folder: str, marker: Mapping[str, Any]) -> bool:
    """Whether `folder` still holds every file its marker lists, each at its recorded size."""
    recorded = marker.get(FILES)
    if not isinstance(recorded, dict):
        return True  # a marker from before sizes were recorded
    try:
        return file_sizes(fs, folder) == recorded
    except OSError:
        return False


def usable(checkpoint: Checkpoint) -> bool:
    """Whether `checkpoint` is on storage, is not a placeholder for a deleted one, and (when it
    is marked) holds its files whole."""
    fs, path = checkpoint.filesystem, checkpoint.path
    if not exists(fs, path) or exists(fs, posixpath.join(path, PLACEHOLDER)):
        return False
    marker = read_marker(fs, path)
    return marker is None or whole(fs, path, marker)


def checkpoint_folders(fs: pyarrow.fs.FileSystem, trial_dir: str) -> dict[int, str]:
    """Every `checkpoint_*` folder in `trial_dir`, by index."""
    try:
        infos = fs.get_file_info(pyarrow.fs.FileSelector(trial_dir, allow_not_found=True))
    except OSError:
        return {}
    folders = {}
    for info in infos:
        index = folder_index(info.base_name)
        if index is not None and info.type == pyarrow.fs.FileType.Directory:
            folders[index] = info.path
    return folders


def newest_intact(fs: pyarrow.fs.FileSystem, trial_dir: str) -> tuple[str, dict] | None:
    """(folder, marker) of the marked, whole checkpoint in `trial_dir` with the highest
    iteration."""
    marked = []
    for index, folder in checkpoint_folders(fs, trial_dir).items():
        marker = read_marker(fs, folder)
        if marker is not None and whole(fs, folder, marker):
            marked.append((marker[TRAINING_ITERATION], index, folder, marker))
    if not marked:
        return None
    _, _, folder, marker = max(marked)
    return folder, marker
