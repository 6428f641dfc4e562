"""`python -m tuner` ends without the interpreter's teardown, but loses nothing on the way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import atexit, sys, threading, time
from tuner.__main__ import exit_now

atexit.register(lambda: print("exit handler ran"))
def late():
    time.sleep(0.3)
    print("thread finished")
threading.Thread(target=late).start()
sys.stdout.write("buffered output, never flushed by hand\\n")
exit_now(3)
print("not reached")
"""


def test_exit_now_joins_threads_runs_handlers_flushes_and_keeps_the_code() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == [
        "buffered output, never flushed by hand",
        "thread finished",
        "exit handler ran",
    ]


def test_cli_exit_code_survives_the_fast_exit(tmp_path: Path) -> None:
    """A bad space file: the error on stderr and the bad-input exit code, as before."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntrainable: dsr\nn_epochs: 0\n")
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", str(bad)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "n_epochs" in done.stderr and str(bad) in done.stderr
