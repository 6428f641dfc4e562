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
SIGKILLed driver never leaves a stale lock for `resume` to wait on. A last line cut short by a
crash mid-write is cut off by a writer only while it holds that lock (so never a line another
writer is still writing), before its own next write. Readers (`writable=False`: `best`,
`report`, `export`) write nothing: no journal, lock or database file is created or changed; they
leave a torn last line alone and do not read it.

A damaged line (not JSON, NUL bytes, blank, an operation Optuna does not know or one lacking its
fields) is skipped with a warning naming the file and the line (`JournalFile.damage`); the
records of every other line are kept.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import BaseJournalBackend

from trainables.lr.errors import TunerError
from tuner._journal_records import record_problem

logger = logging.getLogger(__name__)

JOURNAL = "optuna.journal"
#: seconds between two `fsync`s of the journal at most (each write is flushed at once)
SYNC_EVERY_S = 1.0
#: the default storage of experiment folders made before the journal
LEGACY_SQLITE = "optuna.db"


class FlockLock:
    """An exclusive `flock` on a lock file next to the journal, released by the kernel when
    its holder dies (`acquire`/`release`, as Optuna's journal file locks)."""

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


def drop_torn_tail(path: Path) -> bool:
    """Cut a last line without its newline (a write cut short by a crash); True if one was.
    Call it only while holding the journal's lock (`JournalFile` does)."""
    if not path.is_file():
        return False
    with open(path, "rb+") as journal:
        return _cut_torn_tail(journal)


def _cut_torn_tail(journal: IO[bytes]) -> bool:
    size = journal.seek(0, os.SEEK_END)
    if size == 0:
        return False
    journal.seek(size - 1)
    if journal.read(1) == b"\n":
        return False
    journal.seek(0)
    data = journal.read()
    journal.truncate(data.rfind(b"\n") + 1)
    return True


class JournalFile(BaseJournalBackend):
    """Optuna's journal in one file: damaged lines skipped with a warning; writes (when
    `writable`) flushed at once, fsynced at most every `SYNC_EVERY_S`, under an `FlockLock`.

    Log numbers count the readable records only, so a skipped line never shifts the records
    after it. Pickled with its path relative to the folder in use (`tuner.relocation`)."""

    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = Path(path)
        self.writable = writable
        self._init_reading()
        if writable:
            with self._locked():
                self.path.touch(exist_ok=True)
                if drop_torn_tail(self.path):
                    logger.warning("%s: a last line cut short by a crash was removed", self.path)
        elif not self.path.is_file():
            raise TunerError(
                f"{self.path}: the Optuna journal is missing, so this folder's trial records "
                "are gone (the folder was copied without it, or it was deleted)"
            )

    def _init_reading(self) -> None:
        #: readable-record number -> (byte offset, lines read) where reading goes on
        self._positions: dict[int, tuple[int, int]] = {0: (0, 0)}
        self._warned: set[int] = set()
        self._synced_at = 0.0
        #: one message per damaged line seen: "<file> line <n>: <what>"
        self.damage: list[str] = []

    def _locked(self) -> Any:
        return _Held(FlockLock(f"{self.path}.lock"))

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        start = min(log_number_from, len(self._positions) - 1)  # its keys are 0, 1, ... in turn
        number, (offset, lines) = start, self._positions[start]
        with open(self.path, "rb") as journal:
            size = os.fstat(journal.fileno()).st_size
            journal.seek(offset)
            for raw in journal:
                if offset + len(raw) > size or not raw.endswith(b"\n"):
                    break  # written after we looked, or a torn last line: not read
                offset, lines = offset + len(raw), lines + 1
                log, problem = _parse(raw)
                if problem is None:
                    if number >= log_number_from:
                        yield log
                    number += 1
                else:
                    self._report(lines, problem)
                self._positions[number] = (offset, lines)

    def _report(self, line: int, problem: str) -> None:
        if line in self._warned:
            return
        self._warned.add(line)
        message = f"{self.path} line {line}: {problem}; the line is skipped"
        self.damage.append(message)
        logger.warning("%s", message)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        if not self.writable:
            raise TunerError(f"{self.path} is open for reading only")
        lines = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        data = lines.encode("utf-8")
        with self._locked(), open(self.path, "rb+", buffering=0) as journal:
            _cut_torn_tail(journal)  # a crashed writer's half line: never glued onto
            end, written = journal.seek(0, os.SEEK_END), 0
            try:
                while written < len(data):  # each write at once
                    written += journal.write(data[written:])
            except OSError:  # a full disk: no line left half-written for the next one
                os.ftruncate(journal.fileno(), end)
                raise
            if time.monotonic() - self._synced_at >= SYNC_EVERY_S:
                os.fsync(journal.fileno())
                self._synced_at = time.monotonic()

    def __getstate__(self) -> dict[str, Any]:
        from tuner.relocation import relative_to_folder  # imports Ray Tune: not at start-up

        return {
            "relative": relative_to_folder(self.path),
            "recorded": str(self.path),
            "writable": self.writable,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "_file_path" in state:  # pickled before paths were relative: a folder's journal
            recorded = str(state["_file_path"])
            state = {"recorded": recorded, "writable": True}
            state["relative"] = JOURNAL if Path(recorded).name == JOURNAL else None
        from tuner.relocation import resolve_in_folder

        self.path = resolve_in_folder(state["relative"], state["recorded"])
        self.writable = bool(state["writable"])
        self._init_reading()


class _Held:
    """`with _Held(lock):` holds an Optuna-style lock (`acquire`/`release`) for the block."""

    def __init__(self, lock: FlockLock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _parse(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """One journal line as a record, or why it is not one."""
    if not raw.strip():
        return {}, "blank line"
    if b"\0" in raw:
        return {}, "NUL bytes (a write lost in a crash)"
    try:
        log = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as error:
        return {}, f"not a JSON record ({str(error)[:80]})"
    return log, record_problem(log)


def is_url(storage: str) -> bool:
    """Whether `storage` is a database URL (else a journal file path)."""
    return "://" in storage


def default_storage(exp_dir: Path) -> str:
    """An experiment folder's own storage: its journal, or `optuna.db` if it was made with one."""
    legacy = exp_dir / LEGACY_SQLITE
    if legacy.is_file() and not (exp_dir / JOURNAL).exists():
        return f"sqlite:///{legacy.resolve()}"
    return str((exp_dir / JOURNAL).resolve())


def _read_only_url(url: str) -> str:
    """A SQLite URL opened read-only (never created); other database URLs as given."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = Path(url[len(prefix) :].split("?", 1)[0])
    if not path.is_file():
        raise TunerError(f"{path}: the Optuna database is missing")
    return f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"


def open_storage(storage: str, *, writable: bool = True) -> BaseStorage:
    """The Optuna storage `storage` names: a database URL or a journal file path. With
    `writable=False` nothing is created or changed on disk (see the module docstring)."""
    if is_url(storage):
        if writable:
            return optuna.storages.get_storage(storage)
        return RDBStorage(
            _read_only_url(storage), skip_table_creation=True, skip_compatibility_check=True
        )
    return JournalStorage(JournalFile(Path(storage), writable=writable))
