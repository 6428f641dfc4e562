"""Ray's token authentication, for a driver that joins a cluster.

A cluster started by `ray start --head` (Ray 2.60) authenticates every connection with a token
when one exists on the head (`~/.ray/auth_token`, made by `ray get-auth-token --generate` or by
any earlier local Ray). A driver that connects by an explicit address uses a token only with
`RAY_AUTH_MODE=token` (Ray turns it on by itself only for `address="auto"`), read when Ray is
imported; without it Ray prints `InvalidAuthToken` lines and raises a bare `ConnectionError`.
The tuner does not turn it on for the user: a driver in token mode fails, later and less
clearly, on a cluster without authentication (its trials' actors never start; seen with
`ray.cluster_utils.Cluster`). `connection_help()` is the error a user sees instead: Ray's
reason, what to set, and where this machine's token is, if it has one.
"""

from __future__ import annotations

import os
from pathlib import Path

AUTH_MODE_ENV = "RAY_AUTH_MODE"
TOKEN_ENV = "RAY_AUTH_TOKEN"
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"


def default_token_path() -> Path:
    """Where `ray start` and `ray get-auth-token --generate` keep the token."""
    return Path.home() / ".ray" / "auth_token"


def token_source() -> str | None:
    """Where this driver's token comes from (`RAY_AUTH_TOKEN`, the file `RAY_AUTH_TOKEN_PATH`
    names, or `~/.ray/auth_token`, in Ray's order), or None when there is none."""
    if os.environ.get(TOKEN_ENV):
        return TOKEN_ENV
    named = os.environ.get(TOKEN_PATH_ENV)
    if named:
        return named if Path(named).is_file() else None
    path = default_token_path()
    return str(path) if path.is_file() else None


def connection_help(address: str, error: BaseException) -> str:
    """One message for a failed connection to the cluster at `address`: Ray's reason, then
    what to set for token authentication."""
    reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    mode = os.environ.get(AUTH_MODE_ENV) or "unset"
    source = token_source() or "none found"
    return (
        f"could not connect to the Ray cluster at {address} ({reason}). If the cluster uses "
        f"token authentication (what `ray start` turns on when the head has a token), set "
        f"{AUTH_MODE_ENV}=token and give this machine the cluster's token: run `ray "
        f"get-auth-token` on the head node and put its output in {default_token_path()} or in "
        f"{TOKEN_ENV}, before Ray is imported (here: {AUTH_MODE_ENV} {mode}, token {source}). "
        f"Otherwise check the address and that the driver's Ray ({_ray_version()}) matches "
        "the cluster's."
    )


def _ray_version() -> str:
    import ray

    return ray.__version__
