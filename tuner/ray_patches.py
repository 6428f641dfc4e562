"""The one gate in front of every patch of Ray's private internals.

The tuner's speed patches (`tuner.local_ray`, `tuner._local_worker`, `tuner.actor_reuse`,
`tuner.trainable_lookup`, `tuner.run_ahead`) and the two repairs of Ray's own gaps
(`tuner.resumable`: resume from the newest intact checkpoint; `tuner.asha`: a resumed trial
keeps the rungs it had passed) reach into private Ray code. Each was written against the source
of the Ray objects it replaces or reads, and `patches_enabled()` checks once per process that
those objects are still that source (a fingerprint of each object's source text,
`FINGERPRINTS`). Any difference, a missing object, or `TUNER_STOCK_RAY=1` in the environment,
and every patch stands aside: the sweep runs Ray's stock behaviour, correct and only slower, and
one line on stderr says so. A Ray release whose touched code is unchanged keeps the patches,
whatever its version number.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from pathlib import Path

#: "1" (or "true", "yes") runs Ray's stock behaviour without any patch
STOCK_ENV = "TUNER_STOCK_RAY"

#: the Ray objects the patches were written for -> sha256 (first 16 hex digits) of their source,
#: as in Ray 2.60.0. `python -m tuner.ray_patches` prints the installed Ray's.
FINGERPRINTS: dict[str, str] = {
    # tuner.local_ray.lean_local_ray and tuner._local_worker
    "ray._private.parameter:RayParams.__init__": "9fc86dcd04dafbc4",
    "ray._private.node:Node.start_api_server": "e7363a57fb40cb59",
    "ray._private.node:Node.start_head_processes": "bde452f83cd29878",
    "ray._private.node:Node.start_ray_processes": "c294edacec86c5db",
    "ray._private.workers.setup_worker": "9b99dcb0e7405e3e",
    "ray._private.workers.default_worker": "797c8e149c698872",
    "ray._private.runtime_env.context:RuntimeEnvContext": "de02f94490ba15bf",
    "ray._private.utils:try_import_each_module": "f76d4b0595b3bbbe",
    "ray._private.ray_constants:LOGGER_FORMAT": "4e71976b685a9ee3",
    # tuner.local_ray.actors_on_prestarted_workers
    "ray.tune.execution.class_cache": "6dfdc4ebbdbf5fa6",
    # tuner.actor_reuse
    "ray.tune.execution.tune_controller:TuneController._maybe_reuse_cached_actor": "1ac2bb4aef4649b3",  # noqa: E501
    "ray.tune.execution.tune_controller:TuneController._maybe_add_actors": "4aebbaa074053ff9",
    "ray.tune.execution.tune_controller:TuneController._schedule_trial_actor": "d5bd2a3424a76960",
    "ray.air.execution._internal.actor_manager:RayActorManager.is_actor_started": "f51f68ad1fc0b5fd",  # noqa: E501
    # tuner.trainable_lookup
    "ray.tune.registry:_Registry": "6e1cf5644a418544",
    # tuner.resumable
    "ray.tune.trainable.function_trainable:FunctionTrainable.step": "0bc5e80faadabb6d",
    "ray.tune.trainable.function_trainable:FunctionTrainable.load_checkpoint": "19feff077be07c06",
    "ray.tune.trainable.trainable:Trainable.restore": "9eb81e0af1584b16",
    "ray.train._internal.session:_TrainingResult": "8007f0b045606fa9",
    # tuner.run_ahead (through tuner.resumable)
    "ray.train._internal.session:_TrainSession.get_next": "68aa1490739e3d96",
    "ray.train._internal.session:_TrainSession._report_training_result": "e789f16d431ba495",
    "ray.tune.trainable.trainable:Trainable.train": "a3fdb8da1659b0f5",
    # tuner.asha
    "ray.tune.schedulers.async_hyperband:_Bracket": "399111c4559eafb5",
    "ray.tune.schedulers.async_hyperband:AsyncHyperBandScheduler.on_trial_result": "b3b2258974494683",  # noqa: E501
}


def fingerprint(name: str) -> str | None:
    """The fingerprint of `name` (`module` or `module:Attr.attr`) in the installed Ray, or None
    when it does not exist. Read from Ray's source files, importing nothing but `ray` itself
    (the driver imports Ray Tune later, while the workers start)."""
    source = _source(name)
    return hashlib.sha256(source.encode()).hexdigest()[:16] if source is not None else None


def _source(name: str) -> str | None:
    import ray

    module_name, _, attributes = name.partition(":")
    base = Path(ray.__file__).parent.joinpath(*module_name.split(".")[1:])
    files = [base.with_suffix(".py"), base / "__init__.py"]
    path = next((file for file in files if file.is_file()), None)
    if path is None:
        return None
    lines = path.read_text().splitlines(keepends=True)
    start, end, indent = 0, len(lines), ""
    for attribute in filter(None, attributes.split(".")):
        found = _block(lines, attribute, start, end, indent)
        if found is None:
            return None
        start, end = found
        indent = _body_indent(lines, start, end)
    return "".join(lines[start:end])


def _block(
    lines: list[str], name: str, start: int, end: int, indent: str
) -> tuple[int, int] | None:
    """The lines [first, last) that define `name` (class, def or assignment) at `indent`."""
    head = re.compile(rf"{indent}(?:class |def |async def ){name}\b|{indent}{name}\s*[:=]")
    for first in range(start, end):
        if head.match(lines[first]):
            last = first + 1
            while last < end and (not lines[last].strip() or _deeper(lines[last], indent)):
                last += 1
            return first, last
    return None


def _deeper(line: str, indent: str) -> bool:
    """Whether `line` belongs to the block opened at `indent` (deeper, or a closing bracket)."""
    stripped = line.lstrip()
    return len(line) - len(stripped) > len(indent) or stripped[:1] in ")]}"


def _body_indent(lines: list[str], start: int, end: int) -> str:
    """The indentation of the first line of the body of the block at `start`."""
    for line in lines[start + 1 : end]:
        stripped = line.lstrip()
        if stripped and not stripped.startswith("#"):
            return line[: len(line) - len(stripped)]
    return ""


def mismatches() -> list[str]:
    """The names in `FINGERPRINTS` whose installed source differs (or is missing)."""
    return [name for name, expected in FINGERPRINTS.items() if fingerprint(name) != expected]


def forced_stock() -> bool:
    """Whether `TUNER_STOCK_RAY` asks for Ray's stock behaviour."""
    return os.environ.get(STOCK_ENV, "").strip().lower() in ("1", "true", "yes")


@functools.cache
def patches_enabled() -> bool:
    """Whether the patches may run in this process (checked once; module docstring)."""
    if forced_stock():
        _notice(f"{STOCK_ENV} is set")
        return False
    differing = mismatches()
    if differing:
        import ray

        more = f" and {len(differing) - 1} more" if len(differing) > 1 else ""
        _notice(f"Ray {ray.__version__}'s {differing[0]}{more} differ from what they were for")
        return False
    return True


def _notice(reason: str) -> None:
    print(
        f"lr-tuner: running stock Ray behaviour, without its patches of Ray internals ({reason})",
        file=sys.stderr,
    )


if __name__ == "__main__":
    for name in FINGERPRINTS:
        print(f'    "{name}": "{fingerprint(name)}",')
