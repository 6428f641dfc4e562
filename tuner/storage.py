"""Where an experiment's Optuna study lives: a journal file in its folder, or a database URL.

The default is Optuna's journal storage, `optuna.journal` in the experiment folder: an
append-only log of operations, read back in memory. It does the same bookkeeping as SQLite
several times faster (`benchmarks/scale.py`), which the driver pays for every trial it asks,
reports and tells. Every write reaches the file before the call returns, so a killed driver
loses nothing; `fsync` (which only a crash of the machine itself needs) runs at most once per
`SYNC_EVERY_S`, not on every write, where it cost a fifth of the driver's time. A database
URL (`optuna_storage:` in the space file: `sqlite:///...`, `postgresql://...`) is used as given,
and folders made with SQLite as their default (`optuna.db`) keep it.

Writers hold an `flock` on `<journal>.lock`: the kernel releases it when the process dies, so a
SIGKILLed driver never leaves a stale lock for `resume` to wait on (Optuna's own file locks
wait out a 30 s grace period). A last line cut short by a crash mid-write is removed before the
journal is opened, so that the next write does not glue onto it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import IO

import optuna
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.storages.journal._file import BaseJournalFileLock  # the lock interface it takes

JOURNAL = "optuna.journal"
#: seconds between two `fsync`s of the journal at most (each write is flushed at once)
SYNC_EVERY_S = 1.0
#: the default storage of experiment folders made before the journal
LEGACY_SQLITE = "optuna.db"


class FlockLock(BaseJournalFileLock):
    """An exclusive `flock` on a lock file next to the journal, released by the kernel when
    its holder dies."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._file: IO[bytes] | None = None

    def acquire(self) -> bool:
        self._file = open(self._path, "ab")  # held until release
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, object]:
        return {"_path": self._path, "_file": None}


class JournalFile(JournalFileBackend):
    """Optuna's journal file, each write flushed at once and fsynced at most every
    `SYNC_EVERY_S`, under an `FlockLock`."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), lock_obj=FlockLock(f"{path}.lock"))
        self._synced_at = 0.0

    def append_logs(self, logs: list[dict[str, object]]) -> None:
        lines = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        self._lock.acquire()
        try:
            data = lines.encode("utf-8")
            with open(self._file_path, "ab", buffering=0) as journal:  # each write at once
                end, written = journal.seek(0, os.SEEK_END), 0
                try:
                    while written < len(data):
                        written += journal.write(data[written:])
                except OSError:  # a full disk: no line left half-written for the next one
                    os.ftruncate(journal.fileno(), end)
                    raise
                if time.monotonic() - self._synced_at >= SYNC_EVERY_S:
                    os.fsync(journal.fileno())
                    self._synced_at = time.monotonic()
        finally:
            self._lock.release()


def is_url(storage: str) -> bool:
    """Whether `storage` is a database URL (else a journal file path)."""
    return "://" in storage


def default_storage(exp_dir: Path) -> str:
    """An experiment folder's own storage: its journal, or `optuna.db` if it was made with one."""
    legacy = exp_dir / LEGACY_SQLITE
    if legacy.is_file() and not (exp_dir / JOURNAL).exists():
        return f"sqlite:///{legacy.resolve()}"
    return str((exp_dir / JOURNAL).resolve())


def drop_torn_tail(path: Path) -> bool:
    """Cut a last line without its newline (a write cut short by a crash); True if one was."""
    data = path.read_bytes() if path.is_file() else b""  # replayed whole on opening anyway
    if not data or data.endswith(b"\n"):
        return False
    with open(path, "rb+") as journal:
        journal.truncate(data.rfind(b"\n") + 1)
    return True


def open_storage(storage: str) -> BaseStorage:
    """The Optuna storage `storage` names: a database URL or a journal file path."""
    if is_url(storage):
        return optuna.storages.get_storage(storage)
    path = Path(storage)
    drop_torn_tail(path)
    return JournalStorage(JournalFile(path))
