"""Where a sweep runs: the Ray already running in this process, a cluster, or a new local Ray.

- Ray already initialized in this process (tests, notebooks): reuse it, leave it running.
- An address (`--address`, else the space file's `address`, else `RAY_ADDRESS`): connect to that
  cluster (`auto`, `ray://host:port`, `host:port`) and disconnect at the end.
- Otherwise, the embedded default: a new local Ray (`address="local"`: a bare `ray.init()` would
  attach to a cluster recorded by an earlier run), dashboard off, one CPU per core, bound to
  127.0.0.1. Ray reads `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` once, when `ray` is first imported
  (DESIGN.md §6): `python -m tuner` sets it before that; `pin_loopback` sets it for the
  processes Ray starts and, for a driver that imported Ray earlier, updates Ray's constant too.
  The local Ray starts without the autoscaler monitor (`without_autoscaler_monitor`): one node
  has nothing to scale, and the monitor ignores SIGTERM, so `ray.shutdown()` waited a second for
  it before killing it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclass(frozen=True)
class RaySession:
    """What `ray_session` connected to: `kind` is 'reused', 'cluster' or 'local'."""

    kind: str
    address: str | None
    node_ip: str
    num_cpus: float


def resolve_address(address: str | None) -> str | None:
    """The cluster to connect to: the explicit address, else `RAY_ADDRESS`, else None (a new
    local Ray); `"local"` asks for a new local Ray even when `RAY_ADDRESS` is set."""
    if address == "local":
        return None
    if address:
        return address
    return os.environ.get("RAY_ADDRESS") or None


def pin_loopback() -> None:
    """Keep a new local Ray on 127.0.0.1 unless the environment explicitly says otherwise."""
    os.environ.setdefault(LOOPBACK_ENV, "0")
    if os.environ[LOOPBACK_ENV].lower() in ("0", "false"):
        from ray._private import ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False  # Ray evaluates the variable only on import


@contextmanager
def without_autoscaler_monitor() -> Iterator[None]:
    """A new local Ray started inside this block has no autoscaler monitor process.

    `ray.init` has no argument for it; Ray's node parameters do (`RayParams.no_monitor`, what
    `ray start --no-monitor` sets), so it is set on the parameters made inside the block.
    """
    from ray._private import parameter

    original = parameter.RayParams.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.no_monitor = True

    parameter.RayParams.__init__ = init
    try:
        yield
    finally:
        parameter.RayParams.__init__ = original


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[RaySession]:
    """Ray for one sweep; shuts down only what it started.

    >>> with ray_session() as session:  # a new local Ray on 127.0.0.1
    ...     print(session.kind)
    """
    import ray

    if ray.is_initialized():
        yield _describe("reused", None)
        return
    target = resolve_address(address)
    if target is not None:
        ray.init(address=target, log_to_driver=True)
        kind = "cluster"
    else:
        pin_loopback()
        with without_autoscaler_monitor():
            ray.init(
                address="local",
                include_dashboard=False,
                num_cpus=num_cpus or os.cpu_count() or 1,
                configure_logging=False,
                log_to_driver=False,  # trial errors still reach the driver; worker chatter not
            )
        kind = "local"
    try:
        yield _describe(kind, target)
    finally:
        ray.shutdown()


def _describe(kind: str, address: str | None) -> RaySession:
    import ray

    return RaySession(
        kind=kind,
        address=address,
        node_ip=ray.util.get_node_ip_address(),
        num_cpus=float(ray.cluster_resources().get("CPU", 0.0)),
    )
