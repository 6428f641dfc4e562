"""A trainable that reports what its worker process looked like, for the local Ray's tests."""

from __future__ import annotations

import os
import sys
from typing import Any

from ray import tune

from trainables.declare import trainable as declare_trainable


@declare_trainable
def trainable(config: dict[str, Any]) -> None:
    """Reports `(x - 0.3) ** 2` each epoch, with the worker's `PL_DISABLE_FORK`, whether the
    worker was started with this module in its preload list, and whether its interpreter was
    started on the tuner's worker script (not exec'd again on Ray's)."""
    preloaded = any(
        arg.startswith("--worker-preload-modules=") and __name__ in arg.split("=", 1)[1].split(",")
        for arg in sys.argv
    )
    for _ in range(int(config["n_epochs"])):
        tune.report(
            {
                "score": (float(config["x"]) - 0.3) ** 2,
                "pl_disable_fork": os.environ.get("PL_DISABLE_FORK", ""),
                "preloaded": preloaded,
                "one_interpreter": sys.orig_argv[1].endswith("_local_worker.py"),
            }
        )
