"""Where a sweep runs: the Ray already running in this process, a cluster, or a new local Ray.

- Ray already initialized in this process (tests, notebooks): reuse it, leave it running.
- An address (`--address`, else the space file's `address`, else `RAY_ADDRESS`): connect to that
  cluster (`auto`, `ray://host:port`, `host:port`) and disconnect at the end; a failed
  connection says what to set for token authentication (`tuner.cluster_auth`).
- Otherwise, the embedded default: a new local Ray (`address="local"`: a bare `ray.init()` would
  attach to a cluster recorded by an earlier run), dashboard off, one CPU per core, bound to
  127.0.0.1. Ray reads `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER` once, when `ray` is first imported
  (DESIGN.md §6): `python -m tuner` sets it before that; `pin_loopback` sets it for the
  processes Ray starts and, for a driver that imported Ray earlier, updates Ray's constant too.
  The local Ray starts lean (`tuner.local_ray`): only the processes a one-machine sweep uses,
  its workers importing the sweep's modules as soon as they start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from trainables.lr.errors import TunerError
from tuner.cluster_auth import connection_help
from tuner.local_ray import actors_on_prestarted_workers, lean_local_ray

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterConnectionError(TunerError):
    """The cluster at the address could not be joined (`tuner.cluster_auth.connection_help`)."""


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
def ray_session(
    address: str | None = None, num_cpus: int | None = None, preload: Sequence[str] = ()
) -> Iterator[RaySession]:
    """Ray for one sweep; shuts down only what it started. `preload`: the modules a new local
    Ray's workers import before their first trial (`tuner.local_ray.worker_modules`).

    >>> with ray_session() as session:  # a new local Ray on 127.0.0.1
    ...     print(session.kind)
    """
    import ray

    if ray.is_initialized():
        yield _describe("reused", None)
        return
    target = resolve_address(address)
    if target is not None:
        try:
            ray.init(address=target, log_to_driver=True)
        except (ConnectionError, RuntimeError, ray.exceptions.RayError) as error:
            raise ClusterConnectionError(connection_help(target, error)) from error
        try:
            yield _describe("cluster", target)
        finally:
            ray.shutdown()
        return
    pin_loopback()
    with lean_local_ray(preload) as lean_options:
        ray.init(
            address="local",
            include_dashboard=False,
            num_cpus=num_cpus or os.cpu_count() or 1,
            configure_logging=False,
            log_to_driver=False,  # trial errors still reach the driver; worker chatter not
            **lean_options,
        )
        try:
            with actors_on_prestarted_workers():
                yield _describe("local", None)
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
