"""The experiment's Optuna storage: a journal file by default, database URLs as given."""

from __future__ import annotations

import fcntl
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.trial import TrialState

from tuner.storage import JOURNAL, LEGACY_SQLITE, default_storage, drop_torn_tail, open_storage


def _study(storage: str, name: str = "s") -> optuna.Study:
    return optuna.create_study(study_name=name, storage=open_storage(storage), load_if_exists=True)


def _finish(study: optuna.Study, x: float) -> None:
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.report(x, 1)
    study.tell(trial, x)


def test_a_new_folder_uses_its_journal_and_an_old_one_its_sqlite_file(tmp_path: Path) -> None:
    assert default_storage(tmp_path) == str((tmp_path / JOURNAL).resolve())
    assert isinstance(open_storage(default_storage(tmp_path)), JournalStorage)
    old = tmp_path / "old"
    old.mkdir()
    url = f"sqlite:///{old / LEGACY_SQLITE}"
    _finish(_study(url), 0.5)
    assert default_storage(old) == f"sqlite:///{(old / LEGACY_SQLITE).resolve()}"
    assert [t.value for t in _study(default_storage(old)).trials] == [0.5]
    assert not isinstance(open_storage(url), JournalStorage)


def test_the_journal_holds_every_write_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / JOURNAL)
    study = _study(path)
    for x in (0.1, 0.2, 0.3):
        _finish(study, x)
    running = study.ask()
    running.report(7.0, 1)
    script = (
        "import optuna, sys; from tuner.storage import open_storage; "
        "s = optuna.load_study(study_name='s', storage=open_storage(sys.argv[1])); "
        "print([(t.state.name, t.value, t.intermediate_values) for t in s.trials])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, path], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == str(
        [("COMPLETE", x, {1: x}) for x in (0.1, 0.2, 0.3)] + [("RUNNING", None, {1: 7.0})]
    )


def test_a_write_cut_short_is_dropped_and_the_journal_goes_on(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    _finish(_study(str(path)), 0.25)
    intact = path.read_bytes()
    path.write_bytes(intact + b'{"op_code": 4, "worker_id": "cut sh')  # SIGKILL mid-write
    study = _study(str(path))  # opening drops the torn line
    assert path.read_bytes()[: len(intact)] == intact
    _finish(study, 0.75)
    again = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    assert [(t.state, t.value) for t in again.trials] == [
        (TrialState.COMPLETE, 0.25),
        (TrialState.COMPLETE, 0.75),
    ]


@pytest.mark.parametrize(
    ("content", "left"),
    [(b"", b""), (b"a\nb\n", b"a\nb\n"), (b"a\nb\nc", b"a\nb\n"), (b"abc", b""), (b"\nx", b"\n")],
)
def test_drop_torn_tail_keeps_whole_lines_only(tmp_path: Path, content: bytes, left: bytes) -> None:
    path = tmp_path / "j"
    path.write_bytes(content)
    assert drop_torn_tail(path) == (content != left)
    assert path.read_bytes() == left


def test_a_killed_writer_leaves_no_lock_behind(tmp_path: Path) -> None:
    """The lock is an `flock`: the kernel drops it with the process that held it."""
    path = str(tmp_path / JOURNAL)
    script = (
        "import sys, time; from tuner.storage import FlockLock; "
        "lock = FlockLock(sys.argv[1] + '.lock'); lock.acquire(); print('held', flush=True); "
        "time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with open(f"{path}.lock", "ab") as lock_file, pytest.raises(BlockingIOError):
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with open(f"{path}.lock", "ab") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
    _finish(_study(path), 0.5)


def test_a_pickled_journal_storage_reads_what_was_written_after_it(tmp_path: Path) -> None:
    """Ray saves the searcher (and its study's storage) by pickling it: the copy replays the
    journal, including what was written after the pickle was taken."""
    study = _study(str(tmp_path / JOURNAL))
    _finish(study, 0.1)
    saved = pickle.dumps(study)
    _finish(study, 0.2)
    restored = pickle.loads(saved)
    assert [t.value for t in restored.trials] == [0.1, 0.2]
    _finish(restored, 0.3)
    assert [t.value for t in _study(str(tmp_path / JOURNAL)).trials] == [0.1, 0.2, 0.3]


def test_reading_from_any_record_gives_the_records_from_there(tmp_path: Path) -> None:
    from tuner.storage import JournalFile

    journal = JournalFile(tmp_path / "optuna.journal")
    study = optuna.create_study(storage=JournalStorage(journal))
    study.enqueue_trial({"x": 1.0})
    with open(journal.path, "ab") as handle:
        handle.write(b"not json\n")  # a damaged line: skipped, the numbers do not shift
    study.optimize(lambda t: t.suggest_float("x", 0, 2), n_trials=3)
    logs = list(JournalFile(journal.path).read_logs(0))
    assert len(logs) > 10
    for start in (0, 1, 2, len(logs) // 2, len(logs) - 1, len(logs), len(logs) + 5):
        assert list(journal.read_logs(start)) == logs[start:]
    assert list(JournalFile(journal.path).read_logs(7)) == logs[7:]  # a new reader
