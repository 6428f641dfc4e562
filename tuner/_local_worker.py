"""How a lean local Ray (`tuner.local_ray`) starts each Python worker process.

Ray starts a worker as `python setup_worker.py default_worker.py ARGS`: the first interpreter
imports Ray, then replaces itself with `bash -c "exec python default_worker.py ARGS"`, which
imports Ray again. This file takes `setup_worker.py`'s place. For a worker without a runtime
env (no variables, prefix or other interpreter to apply), it runs `default_worker.py` in this
same process, so each worker starts one interpreter instead of two; otherwise it hands over to
Ray's own code, as `setup_worker.py` would. Either way the worker gets Ray's own
`--worker-preload-modules` option (which `ray.init` cannot set) with the modules named in
`TUNER_WORKER_PRELOAD`: it imports them before it takes work, with the folders named in
`TUNER_WORKER_PATH` (where the driver finds them) added to its path. A module that fails to
import is logged by Ray and the worker goes on; a trial needing it then reports the error.

In this process the imports run with Python's cyclic garbage collector off (it scanned the
young objects of the imports again and again: importing Ray Tune, torch and the DSR trainable
took 1.76 s with it and 1.41 s without); once they are done it is turned on with the objects
they made frozen out of later collections (`gc.freeze`), which training's collections then no
longer scan either.
"""

from __future__ import annotations

import gc
import sys

gc.disable()  # until the preload is done (see the module docstring)

if sys.path and sys.path[0] == __file__.rpartition("/")[0]:
    del sys.path[0]  # this folder's modules must not shadow top-level names for Ray's imports

import argparse  # noqa: E402
import os  # noqa: E402
import runpy  # noqa: E402
from pathlib import Path  # noqa: E402

from ray._private.ray_constants import LOGGER_FORMAT, LOGGER_LEVEL  # noqa: E402
from ray._private.ray_logging import setup_logger  # noqa: E402
from ray._private.runtime_env.context import RuntimeEnvContext  # noqa: E402
from ray.core.generated.common_pb2 import Language  # noqa: E402

PRELOAD_ENV = "TUNER_WORKER_PRELOAD"  # tuner.local_ray.PRELOAD_ENV (this file imports no tuner)
PATH_ENV = "TUNER_WORKER_PATH"  # tuner.local_ray.PATH_ENV


def preload_without_gc() -> None:
    """Run Ray's preload (`ray._private.utils.try_import_each_module`, called by
    `default_worker.py` once connected) with the collector still off, then turn it on with
    everything imported so far frozen."""
    from ray._private import utils

    original = utils.try_import_each_module

    def try_import_each_module(module_names_to_import: list[str]) -> None:
        try:
            original(module_names_to_import)
        finally:
            gc.enable()
            gc.freeze()

    utils.try_import_each_module = try_import_each_module


def is_task_worker(worker_args: list[str]) -> bool:
    """Whether the arguments start a worker for tasks and actors (Ray's preload runs only in
    those), not one of Ray's spill or restore workers."""
    types = [arg.partition("=")[2] for arg in worker_args if arg.startswith("--worker-type=")]
    return all(kind == "WORKER" for kind in types)


def runs_in_process(context: RuntimeEnvContext, language: int, worker_args: list[str]) -> bool:
    """Whether exec'ing the worker would only start this interpreter again on the same script."""
    return (
        language == Language.PYTHON
        and not context.env_vars
        and not context.command_prefix
        and not context.override_worker_entrypoint
        and context.py_executable == sys.executable
        and bool(worker_args)
        and worker_args[0].endswith(".py")  # no interpreter flags (`-S`, `-s`) before it
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Start a Ray worker (see module docstring).")
    parser.add_argument("--serialized-runtime-env-context", type=str)
    parser.add_argument("--language", type=str)
    args, worker_args = parser.parse_known_args()
    language = Language.Value(args.language)
    modules = os.environ.get(PRELOAD_ENV, "")
    if modules and language == Language.PYTHON:
        worker_args.append(f"--worker-preload-modules={modules}")
    context = RuntimeEnvContext.deserialize(args.serialized_runtime_env_context or "{}")
    if runs_in_process(context, language, worker_args):
        if modules and is_task_worker(worker_args):
            preload_without_gc()
        else:
            gc.enable()
        sys.argv = worker_args
        sys.path[0] = str(Path(worker_args[0]).parent)  # as if Python had started that script
        folders = os.environ.get(PATH_ENV, "").split(os.pathsep)
        sys.path.extend(f for f in folders if f and f not in sys.path)
        runpy.run_path(worker_args[0], run_name="__main__")
    else:
        gc.enable()
        setup_logger(LOGGER_LEVEL, LOGGER_FORMAT)
        context.exec_worker(worker_args, language)
