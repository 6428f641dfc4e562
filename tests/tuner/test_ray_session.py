"""Where a sweep runs: address resolution, and the embedded local Ray bound to loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuner.ray_patches import patches_enabled
from tuner.ray_session import resolve_address

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("given", "env", "expected"),
    [
        (None, None, None),
        (None, "10.0.0.5:6379", "10.0.0.5:6379"),
        ("auto", "10.0.0.5:6379", "auto"),
        ("ray://head:10001", None, "ray://head:10001"),
        ("local", "10.0.0.5:6379", None),
    ],
)
def test_resolve_address(given, env, expected, monkeypatch: pytest.MonkeyPatch) -> None:
    if env is None:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("RAY_ADDRESS", env)
    assert resolve_address(given) == expected


SCRIPT = """
import json, os, sys
import ray  # imported before the tuner: Ray has read its environment already
from tuner.ray_session import ray_session
with ray_session() as session:
    nodes = [n["NodeManagerAddress"] for n in ray.nodes()]
    report = {"kind": session.kind, "ip": session.node_ip, "cpus": session.num_cpus,
              "nodes": nodes, "running": ray.is_initialized(),
              "processes": sorted(ray._private.worker._global_node.all_processes)}
report["after"] = ray.is_initialized()
print(json.dumps(report))
"""


def test_local_ray_binds_loopback_even_when_ray_was_imported_first() -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS")
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300, check=True,
    )  # fmt: skip
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["kind"] == "local" and report["running"] and not report["after"]
    assert report["ip"] == "127.0.0.1" and report["nodes"] == ["127.0.0.1"]
    assert report["cpus"] == os.cpu_count()
    assert "raylet" in report["processes"]
    if patches_enabled():  # the lean local Ray (patched side of `tuner.ray_patches`' gate)
        assert "monitor" not in report["processes"]
