"""Ray's default worker process, importing the sweep's modules before it takes work.

A local Ray started by `tuner.local_ray.lean_local_ray` runs this file as its Python worker: it
adds Ray's own `--worker-preload-modules` option (which `ray.init` cannot set) with the modules
named in `TUNER_WORKER_PRELOAD`, then runs Ray's `default_worker.py` as Ray would have. A module
that fails to import is logged by Ray and the worker goes on; the trial then reports the error.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

import ray._private.workers

PRELOAD_ENV = "TUNER_WORKER_PRELOAD"  # tuner.local_ray.PRELOAD_ENV (this file imports no tuner)

if __name__ == "__main__":
    default_worker = Path(ray._private.workers.__file__).with_name("default_worker.py")
    modules = os.environ.get(PRELOAD_ENV, "")
    if modules:
        sys.argv.append(f"--worker-preload-modules={modules}")
    sys.path[0] = str(default_worker.parent)  # as if Ray had started its own script
    sys.argv[0] = str(default_worker)
    runpy.run_path(str(default_worker), run_name="__main__")
