"""A disk filling up mid-sweep: every record closed, the tables written, the resume command said.

Every run and resume keeps `RESERVE` (`RESERVE_BYTES` of zeros) in the experiment folder. When
the sweep stops on `ENOSPC` (Ray could not save its state, the journal could not take a line,
a table could not be written), the reserve is deleted, which frees room on that disk for what
follows: every Optuna record still RUNNING is closed FAIL with the reason, then the tables are
written (as far as the room allows). The journal never keeps half a line from the failed write
(`tuner.storage`). Once space is freed, `resume` does not run a closed record's trial again
(`tuner.resumable`), so no curve runs on past its record's verdict; trials never started run.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path
from typing import Any

from trainables.lr.errors import TunerError

logger = logging.getLogger(__name__)

RESERVE = ".disk_reserve"
RESERVE_BYTES = 1 << 20


def keep_reserve(exp_dir: Path) -> None:
    """Write the reserve into `exp_dir` if it is not there whole (a warning if it cannot be)."""
    reserve = exp_dir / RESERVE
    try:
        if reserve.is_file() and reserve.stat().st_size == RESERVE_BYTES:
            return
        reserve.write_bytes(bytes(RESERVE_BYTES))
    except OSError as error:
        reserve.unlink(missing_ok=True)
        logger.warning("no room for %s (%s): a full disk may leave records open", reserve, error)


def is_disk_full(error: BaseException | None) -> bool:
    """Whether `error`, or an error it was raised from, is `ENOSPC` (no space left on device)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno == errno.ENOSPC:
            return True
        error = error.__cause__ or error.__context__
    return False


def closed_after_disk_full(experiment: Any, error: BaseException, k: int) -> TunerError:
    """Free the reserve, close every RUNNING record FAIL, write the tables; the error to raise."""
    from tuner.export import write_exports
    from tuner.recovery import close_running

    (experiment.dir / RESERVE).unlink(missing_ok=True)
    reason = f"the disk holding {experiment.dir} filled up mid-sweep (no space left on device)"
    study = experiment.load_study(writable=True)
    closed = close_running(study, lambda record: reason)
    try:
        write_exports(experiment.dir, study, experiment.metric, experiment.mode, k)
        tables = "the tables are written"
    except OSError as again:
        tables = f"the tables could not be written ({again.strerror})"
    return TunerError(
        f"no space left on the disk holding {experiment.dir}: {closed} unfinished record(s) "
        f"closed FAIL, {tables}; free some space, then start the trials that did not run with: "
        f"python -m tuner resume {experiment.dir}"
    )
