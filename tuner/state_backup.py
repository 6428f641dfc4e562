"""A last intact copy of Ray's experiment state, so a driver killed mid-write can still resume.

Ray rewrites `experiment_state-*.json`, `search_gen_state-*.json` and `searcher-state-*.pkl` in
the experiment folder in place; a driver killed while writing them (SIGKILL, lost machine) can
leave a truncated file that `Tuner.restore` cannot read. `StateBackup`, a Tune callback, copies
the three files into `.state_backup/` whenever they change and all read back whole; before a
restore, `repair_state` puts that copy back in place of damaged files.

Each new copy is signed with the folder's other pickled files (`tuner.trust`): `trusted_state`
lets a resume load only signed state, and puts the signed copy back when Ray saved newer state
that the driver did not live to sign. The callback pickles its folder relative to the folder in
use (`tuner.relocation`), so a copied folder's resume backs up the copy, not the original.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from ray.tune import Callback

from trainables.lr.errors import TunerError
from tuner.relocation import current_folder
from tuner.trust import BACKUPS, check_folder, refuse, sign_folder

logger = logging.getLogger(__name__)

BACKUP = ".state_backup"
PATTERNS = ("experiment_state-*.json", "search_gen_state-*.json", "searcher-state-*.pkl")


def state_files(folder: Path) -> list[Path]:
    """Ray's state files in `folder`, in a fixed order."""
    return sorted(path for pattern in PATTERNS for path in folder.glob(pattern))


def intact(path: Path) -> bool:
    """Whether a state file reads back whole: the experiment state parses as JSON; the other
    two are pickles (whatever their suffix), whole when they end with pickle's STOP opcode."""
    try:
        data = path.read_bytes()
        if path.name.startswith("experiment_state"):
            json.loads(data)
            return True
    except (OSError, ValueError):
        return False
    return data.endswith(b".")


def _complete(folder: Path) -> bool:
    files = state_files(folder)
    kinds = {pattern.split("-")[0] for pattern in PATTERNS}
    return {f.name.split("-")[0] for f in files} == kinds and all(intact(f) for f in files)


def _signature(files: list[Path]) -> tuple:
    return tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)


def backup_state(exp_dir: Path) -> bool:
    """Copy the state files into `exp_dir/.state_backup` if they are all whole and unchanged
    while copied; True when a new copy was made."""
    files = state_files(exp_dir)
    if not _complete(exp_dir):
        return False
    before = _signature(files)
    staging, target, old = (exp_dir / f"{BACKUP}{s}" for s in (".new", "", ".old"))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for file in files:
        shutil.copy2(file, staging / file.name)
    if _signature(files) != before or not _complete(staging):
        shutil.rmtree(staging, ignore_errors=True)
        return False
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return True


def repair_state(exp_dir: Path) -> bool:
    """Put the last intact copy back if Ray's state files are damaged; True when it did.

    Raises `TunerError` when they are damaged and no intact copy exists.
    """
    if _complete(exp_dir) or not state_files(exp_dir):
        return False
    for copy in (exp_dir / BACKUP, exp_dir / f"{BACKUP}.old"):
        if copy.is_dir() and _complete(copy):
            for file in state_files(exp_dir):
                file.unlink()
            for file in state_files(copy):
                shutil.copy2(file, exp_dir / file.name)
            logger.warning("Ray's state in %s was damaged; its last intact copy is back", exp_dir)
            return True
    raise TunerError(
        f"Ray's saved state in {exp_dir} is damaged (the driver stopped while writing it) "
        "and no intact copy exists: the finished trials are still in the Optuna study and the "
        "tables"
    )


def trusted_state(exp_dir: Path, trust: bool = False) -> None:
    """Let a resume load `exp_dir`'s pickled state only if it is signed with this user's key
    and unchanged (`tuner.trust`); with `trust`, sign it as it is instead.

    Live state files that are unsigned while the state backup is signed (Ray saved newer
    state, and the driver stopped before signing it) are replaced by that backup, which Ray
    then resumes from. Raises `tuner.trust.UntrustedFolder` otherwise."""
    if trust:
        logger.warning("trusting %s as told (--trust): its pickled state is loaded", exp_dir)
        sign_folder(exp_dir)
        return
    bad = check_folder(exp_dir)
    if not bad:
        return
    live = {path.name for path in state_files(exp_dir)}
    for name in BACKUPS:
        copy = exp_dir / name
        signed = not any(b.startswith(f"{name}/") for b in bad)
        usable = copy.is_dir() and _complete(copy) and signed
        if usable and all(b in live or b.split("/")[0] in BACKUPS for b in bad):
            for file in state_files(exp_dir):
                file.unlink()
            for file in state_files(copy):
                shutil.copy2(file, exp_dir / file.name)
            for other in BACKUPS:  # an unsigned copy is never put back later
                if other != name and any(b.startswith(f"{other}/") for b in bad):
                    shutil.rmtree(exp_dir / other, ignore_errors=True)
            logger.warning(
                "Ray's state in %s was saved after it was last signed (%s); resuming from its "
                "last signed copy",
                exp_dir,
                ", ".join(sorted(bad)[:5]),
            )
            sign_folder(exp_dir)
            return
    raise refuse(exp_dir, bad)


class StateBackup(Callback):
    """Keeps `.state_backup/` up to date with Ray's state files during a sweep, and signs
    each new copy with the folder's other pickled files."""

    def __init__(self, exp_dir: Path) -> None:
        self._dir = Path(exp_dir)
        self._seen: tuple = ()

    def __getstate__(self) -> dict[str, Any]:
        return {"_dir": None, "_recorded": str(self._dir), "_seen": ()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._dir = current_folder() or Path(state["_recorded"])
        self._seen = ()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        try:  # a backup must never stop the sweep (a file Ray is replacing, a moved folder)
            files = state_files(self._dir)
            signature = _signature(files) if files else ()
            if signature and signature != self._seen and backup_state(self._dir):
                self._seen = signature
                sign_folder(self._dir)
        except (OSError, TunerError) as error:
            logger.debug("state backup skipped: %s", error)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self.on_step_end(0, trials)
