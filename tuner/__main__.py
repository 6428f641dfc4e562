"""`python -m tuner ...` (see `tuner.cli`).

When the command is done, the exit handlers run (Ray's, logging's, ...) and the process ends
without the interpreter's teardown of every imported module: with torch, Ray Tune, Optuna and
pandas loaded that teardown took about 0.5 s and freed nothing the operating system would not.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

# Ray reads this once, at its first import: keep a local Ray on 127.0.0.1 (DESIGN.md §6).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

from tuner.cli import main  # noqa: E402


def exit_now(code: int) -> None:
    """Wait for the other non-daemon threads (as the interpreter would), run the exit handlers,
    flush stdout and stderr, and end the process with `code`."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # noqa: SLF001
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
