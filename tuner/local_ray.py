"""The embedded local Ray, started with only what a sweep on one machine uses.

`ray.init` has no arguments for these; Ray's node parameters (`RayParams`) and Tune's actor
class cache do, so `lean_local_ray()` sets them for a Ray started inside its block:

- no autoscaler monitor (what `ray start --no-monitor` sets): one node has nothing to scale, and
  the monitor ignores SIGTERM, so `ray.shutdown()` waited a second for it before killing it;
- no log monitor: the sweep runs with `log_to_driver=False`, so nothing reads what it forwards
  (worker output stays in Ray's log files);
- no API server: Ray's dashboard head, which `include_dashboard=False` still starts in its
  minimal mode (usage statistics only), and `ray.init` waited for it to come up;
- the workers Ray prestarts start with the raylet (`LEAN_SYSTEM_CONFIG`), not once the driver
  has connected, and import the sweep's modules (Ray Tune, torch, the trainable) as soon as they
  start, through Ray's own `--worker-preload-modules` option, while `ray.init` is finishing and
  the driver sets up the sweep; each worker process starts one interpreter, not two
  (`tuner/_local_worker.py`). A prestarted worker belongs to no job yet, so it lacks the
  driver's folders on its path, which Ray gives a job's workers: the folder the trainable's
  module is found in is put on it (`TUNER_WORKER_PATH`), or that module's preload failed;
- idle workers live a minute, not Ray's one second (`LEAN_SYSTEM_CONFIG`): Ray kills the idle
  workers beyond its count of free CPUs, which drops to 0 as Tune reserves the trials' CPUs
  (placement groups) just before it asks for their workers, so on a busy machine the prestarted
  workers were killed in between and new ones were started for the first trials;
- Tune's trainable actors run on those prestarted workers: Tune gives every actor a runtime env
  (`{"env_vars": {"PL_DISABLE_FORK": "1"}}` plus variables copied from the driver), which no
  prestarted worker matches, so each actor waited for a new worker process while the prestarted
  ones idled and were then killed. A local Ray's workers inherit the environment the driver had
  when it started Ray, so those variables are set in it for `ray.init` and the actors get no
  runtime env of their own.

All of it reaches into Ray's private code, so it runs only when `tuner.ray_patches` finds that
code as it was written for; otherwise the blocks change nothing (stock Ray).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tuner.ray_patches import patches_enabled

#: the modules a worker imports before taking work, comma-separated (read by the worker script)
PRELOAD_ENV = "TUNER_WORKER_PRELOAD"
#: the folders those modules are found in, `os.pathsep`-separated (read by the worker script)
PATH_ENV = "TUNER_WORKER_PATH"
SETUP_WORKER_SCRIPT = Path(__file__).with_name("_local_worker.py")
#: Ray's system config for the lean local Ray (`ray.init(_system_config=...)`)
LEAN_SYSTEM_CONFIG = {
    "enable_worker_prestart": True,
    "idle_worker_killing_time_threshold_ms": 60_000,
}
#: what Ray Tune puts in every trainable actor's runtime env besides variables it copies from the
#: driver's environment (`ray.tune.execution.class_cache.DEFAULT_ENV_VARS`)
TUNE_ACTOR_ENV_VARS = {"PL_DISABLE_FORK": "1"}


@contextmanager
def lean_local_ray(preload: Sequence[str] = ()) -> Iterator[dict[str, Any]]:
    """A local Ray started inside the block with the options it yields (`ray.init(
    address="local", **options, ...)`) is lean, as the module docstring says; `preload` names
    the modules its workers import before taking work. Ray's processes inherit
    `TUNE_ACTOR_ENV_VARS`; `ray_session` runs its trials in `actors_on_prestarted_workers()`.
    With the patches off (`tuner.ray_patches`) it yields no options and changes nothing."""
    if not patches_enabled():
        yield {}
        return
    from ray._private import node, parameter

    original_params = parameter.RayParams.__init__
    original_api_server = node.Node.start_api_server

    def params(self: Any, *args: Any, **kwargs: Any) -> None:
        original_params(self, *args, **kwargs)
        self.no_monitor = True
        self.include_log_monitor = False
        self.setup_worker_path = str(SETUP_WORKER_SCRIPT)

    parameter.RayParams.__init__ = params
    node.Node.start_api_server = lambda self, **kwargs: None
    try:
        folders = os.pathsep.join(module_folders(preload))
        with _environment(
            {**TUNE_ACTOR_ENV_VARS, PRELOAD_ENV: ",".join(preload), PATH_ENV: folders}
        ):
            yield {"_system_config": LEAN_SYSTEM_CONFIG}
    finally:
        parameter.RayParams.__init__ = original_params
        node.Node.start_api_server = original_api_server


@contextmanager
def actors_on_prestarted_workers() -> Iterator[None]:
    """Within the block, Tune creates trainable actors without a runtime env, so they start on
    the idle (prestarted) workers of a Ray started by `lean_local_ray`, whose environment
    already holds what that runtime env would set. Only for that Ray: a cluster's other nodes
    do not inherit the driver's environment. Stock Tune with the patches off."""
    if not patches_enabled():
        yield
        return
    import ray
    from ray.tune.execution import class_cache

    original = class_cache._ActorClassCache.get  # noqa: SLF001

    def get(self: Any, trainable_cls: Any) -> Any:
        if trainable_cls not in self._cache:  # noqa: SLF001
            self._cache[trainable_cls] = ray.remote(trainable_cls)  # noqa: SLF001
        return self._cache[trainable_cls]  # noqa: SLF001

    class_cache._ActorClassCache.get = get  # noqa: SLF001
    try:
        yield
    finally:
        class_cache._ActorClassCache.get = original  # noqa: SLF001


def module_folders(modules: Sequence[str]) -> list[str]:
    """The folders the top-level packages of `modules` are found in from this process (none
    is imported), in order, once each; modules not found are left out."""
    folders: list[str] = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name.partition(".")[0])
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            found = Path(next(iter(spec.submodule_search_locations))).parent
        elif spec.has_location and spec.origin:
            found = Path(spec.origin).parent
        else:
            continue
        if str(found) not in folders:
            folders.append(str(found))
    return folders


def worker_modules(trainable_module: str | None) -> tuple[str, ...]:
    """What a sweep's workers import before their first trial: Ray Tune, the tuner's trainable
    wrapper and the trainable's own module (torch with it)."""
    modules = ("ray.tune", "tuner.resumable", "tuner.recovery")
    return (*modules, trainable_module) if trainable_module else modules


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """`variables` set in this process's environment within the block (Ray's processes started
    inside it inherit them), restored afterwards."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
