"""A two-node loopback cluster started as users start one, with Ray's own CLI: `ray start --head`
and `ray start --address` as subprocesses, token authentication as Ray sets it up (a token made
by `ray get-auth-token --generate` on the "machine"). `python -m tuner run --address` without
`RAY_AUTH_MODE` fails with an error saying what to set; with `RAY_AUTH_MODE=token` (README "On a
cluster") it joins, runs trials on both nodes and the trials table's `node` column names both.

The nodes use 127.0.0.2 and 127.0.0.3: `ray start` turns 127.0.0.1 into the machine's network
address (Ray's `resolve_ip_for_localhost`), and a worker node refuses to start with
`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`, so the nodes run without it. Every TCP connection of the
cluster's processes is checked to stay on loopback; the test stops exactly the processes of its
cluster (by pid, found by its own temp folder and port), never another Ray.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import ray
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from tuner.results import load

REPO = Path(__file__).resolve().parents[2]
HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
RAY_CLI = [sys.executable, "-c", "from ray.scripts.scripts import main; main()"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cluster_pids(temp_dir: str, gcs: str) -> list[int]:
    """Processes of this test's cluster: their command line names its temp folder or GCS."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if temp_dir in cmdline or gcs in cmdline:
            pids.append(int(entry.name))
    return pids


def _stop(temp_dir: str, gcs: str) -> None:
    """SIGTERM, then SIGKILL, each process of this cluster only."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _cluster_pids(temp_dir, gcs):
            if pid != os.getpid():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        time.sleep(3)


def _peers(pids: list[int]) -> set[str]:
    """The remote hosts of every TCP connection of `pids` (`ss -tnp`)."""
    out = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True, check=True).stdout
    marks = tuple(f"pid={pid}," for pid in pids)
    hosts = set()
    for line in out.splitlines():
        if any(mark in line for mark in marks):
            peer = line.split()[4]
            hosts.add(peer.rsplit(":", 1)[0].strip("[]").removeprefix("::ffff:"))
    return hosts


@contextmanager
def ray_start_cluster(tmp_path: Path, hide: Path | None = None) -> Iterator[tuple[str, dict]]:
    """A head and a worker node started by `ray start`; yields (address, driver environment).
    `hide`: a folder the worker node sees empty (a tmpfs over it in its own mount namespace),
    as a node without the driver's filesystem would."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(REPO)}
    for name in ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_ADDRESS", "RAY_AUTH_MODE"):
        env.pop(name, None)
    token = subprocess.run([*RAY_CLI, "get-auth-token", "--generate"], env=env, check=False,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    if token.returncode != 0:
        pytest.skip(f"Ray {ray.__version__} has no token authentication")
    port, client_port = _free_port(), _free_port()
    address = f"{HEAD_IP}:{port}"
    temp_dir = tempfile.mkdtemp(prefix="rs", dir="/tmp")  # short: Ray's socket paths
    head = [*RAY_CLI, "start", "--head", "--node-ip-address", HEAD_IP, "--port", str(port),
            "--ray-client-server-port", str(client_port), "--include-dashboard=false",
            "--num-cpus", "1", "--temp-dir", temp_dir, "--disable-usage-stats"]  # fmt: skip
    worker = [*RAY_CLI, "start", "--address", address, "--node-ip-address", WORKER_IP,
              "--num-cpus", "1", "--disable-usage-stats"]  # fmt: skip
    if hide is not None:
        mount = f"mount -t tmpfs tmpfs {shlex.quote(str(hide))} && exec {shlex.join(worker)}"
        worker = ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount]
    try:
        for args, extra in ((head, {}), (worker, {"RAY_AUTH_MODE": "token"})):
            done = subprocess.run(args, env={**env, **extra}, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=300)  # fmt: skip
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        yield address, {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
        assert _peers(_cluster_pids(temp_dir, address)) <= {HEAD_IP, WORKER_IP, "127.0.0.1"}
    finally:
        _stop(temp_dir, address)
        assert _cluster_pids(temp_dir, address) == []
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_tuner_joins_a_ray_start_cluster_with_token_auth(tmp_path: Path, results_dir: Path) -> None:
    with ray_start_cluster(tmp_path) as (address, env):
        _sweep_on_both_nodes(address, env, tmp_path, results_dir)


def _sweep_on_both_nodes(address: str, env: dict, tmp_path: Path, results_dir: Path) -> None:
    space = toy_space(tmp_path, results_dir, name="ray_start", num_samples=4, asha=None,
                      fixed={"sleep": 0.5}, resources={"cpu": 1},
                      max_concurrent_trials=2)  # fmt: skip
    run = [sys.executable, "-m", "tuner", "run", str(space), "--address", address]

    # RAY_AUTH_MODE unset (the token is there): a clear error naming what to set, no experiment
    failed = subprocess.run([*run, "--name", "no_mode"], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "RAY_AUTH_MODE=token" in failed.stderr and "ray get-auth-token" in failed.stderr
    assert "RAY_AUTH_MODE unset, token " + str(Path(env["HOME"]) / ".ray") in failed.stderr
    assert not (results_dir / "no_mode").exists()

    with_token = {**env, "RAY_AUTH_MODE": "token"}
    done = subprocess.run(run, env=with_token, cwd=REPO, capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = load(results_dir / "ray_start")
    assert [t.state for t in results.study.trials] == [TrialState.COMPLETE] * 4
    trials = results.trials
    assert set(trials["node"]) == {HEAD_IP, WORKER_IP}, trials[["trial_id", "node"]]
    assert (trials["train_s"] >= 6 * 0.5).all()  # 6 epochs of 0.5 s sleep inside the trainable


@pytest.mark.slow
def test_results_folder_the_worker_node_does_not_see_is_refused(
    tmp_path: Path, results_dir: Path
) -> None:
    """A worker node without the driver's filesystem (the results folder is empty there): the
    sweep is refused before any trial, naming that node and what to do, with exit code 2."""
    space = toy_space(tmp_path, results_dir, name="unshared", num_samples=2, asha=None,
                      resources={"cpu": 1})  # fmt: skip
    with ray_start_cluster(tmp_path, hide=results_dir) as (address, env):
        run = [sys.executable, "-m", "tuner", "run", str(space), "--address", address]
        done = subprocess.run(run, env={**env, "RAY_AUTH_MODE": "token"}, cwd=REPO,
                              capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-3000:]
    assert f"node(s) {WORKER_IP} do not see" in done.stderr, done.stderr[-3000:]
    assert "every node mounts at the same path" in done.stderr
    assert not (results_dir / "unshared").exists()
