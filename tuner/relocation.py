"""Where the experiment folder is now, for the objects Ray pickles into it.

Ray saves the Tuner (`tuner.pkl`), the searcher and the search generator by pickling them, with
whatever paths they hold. Objects of ours that hold a path into the folder (the searcher's
journal, the state backup callback) pickle it relative to the folder and resolve it against
`current_folder()` when unpickled; the folder in use is set by `folder_in_use` around every
sweep and resume. So a copied folder resumes into the copy only, and a moved folder resumes.

Ray itself puts a moved folder's trials in their new place, but keeps the pickled storage of
the experiment that new trials are made from: `RelocatedSearch` points it at the folder in use.
Ray also restores the searcher from a staging folder of its session named after the
experiment, where an earlier resume of a copy of the same folder on the same Ray left its own
newer state: before restoring, `RelocatedSearch` leaves there only the files the folder in use
holds, byte for byte (the ones its signature covers).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ray.tune.search import SearchGenerator

from trainables.lr.errors import TunerError
from tuner.trust import sign_folder

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_folder: list[Path] = []


@contextmanager
def folder_in_use(exp_dir: Path) -> Iterator[Path]:
    """Within the block, `current_folder()` is `exp_dir` (resolved)."""
    folder = Path(exp_dir).resolve()
    with _lock:
        _folder.append(folder)
    try:
        yield folder
    finally:
        with _lock:
            _folder.remove(folder)


def current_folder() -> Path | None:
    """The experiment folder a sweep or resume is using in this process, if any."""
    with _lock:
        return _folder[-1] if _folder else None


def relative_to_folder(path: Path) -> str | None:
    """`path` relative to the folder in use, or None when it is outside it (or none is set)."""
    folder = current_folder()
    if folder is None:
        return None
    try:
        return Path(path).resolve().relative_to(folder).as_posix()
    except ValueError:
        return None


def resolve_in_folder(relative: str | None, recorded: str) -> Path:
    """Where a path pickled as (`relative`, `recorded` absolute) is now: inside the folder in
    use when it was inside its folder, else where it was recorded."""
    folder = current_folder()
    if relative is not None and folder is not None:
        return folder / relative
    return Path(recorded)


def _relocated_storage(storage: Any, folder: Path) -> Any:
    """A copy of Ray's storage context of an experiment, pointed at `folder` (as Ray's own
    restore does for the trials it restores)."""
    fields = ("storage_fs_path", "experiment_dir_name")
    if not all(hasattr(storage, name) for name in fields):
        raise TunerError(
            "this Ray version's saved experiment state cannot be pointed at a moved or "
            f"copied folder: resume {folder.name} in the folder it was made in"
        )
    moved = copy.copy(storage)
    moved.storage_fs_path = str(folder.parent)
    moved.experiment_dir_name = folder.name
    return moved


#: the searcher and callback state files Ray restores from its staging folder
_STAGED = ("search_gen_state-*.json", "searcher-state-*.pkl", "callback-states-*.pkl")


def keep_only_folder_state(staging: Path, folder: Path) -> list[str]:
    """Remove from Ray's staging folder every state file that `folder` does not hold with the
    same bytes; returns the names removed."""
    removed = []
    for pattern in _STAGED:
        for staged in staging.glob(pattern):
            twin = folder / staged.name
            if not twin.is_file() or twin.read_bytes() != staged.read_bytes():
                staged.unlink()
                removed.append(staged.name)
    return removed


class RelocatedSearch(SearchGenerator):
    """Ray's search generator whose restored experiment makes new trials in the folder in use
    (Ray keeps the pickled one, which names the folder the sweep was started in), restored
    from that folder's state only."""

    def save_to_dir(self, dirpath: str, session_str: str) -> None:
        """Ray's save into its staging folder `dirpath` (after the experiment state), then the
        signature of what it staged, before Ray copies it into the folder (`tuner.trust`)."""
        super().save_to_dir(dirpath, session_str)
        folder = current_folder()
        if folder is None:
            return
        try:  # a signature must never stop the sweep: the state backup signs again
            sign_folder(folder, staged=Path(dirpath))
        except (OSError, TunerError) as error:
            logger.warning("could not sign the state saved in %s: %s", folder, error)

    def restore_from_dir(self, dirpath: str) -> None:
        folder = current_folder()
        if folder is not None:
            keep_only_folder_state(Path(dirpath), folder)
        super().restore_from_dir(dirpath)

    def set_state(self, state: dict) -> None:
        folder = current_folder()
        experiment = state.get("experiment")
        storage = getattr(experiment, "storage", None)
        if folder is not None and storage is not None:
            moved = _relocated_storage(storage, folder)
            experiment = copy.copy(experiment)
            experiment.storage = moved
            if isinstance(getattr(experiment, "spec", None), dict):
                experiment.spec = {**experiment.spec, "storage": moved}
            state = {**state, "experiment": experiment}
        super().set_state(state)
