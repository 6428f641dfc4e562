"""Security properties that must not regress: safe YAML, `weights_only` checkpoints, user code
only by explicit `module:function`, a local Ray listening on loopback only with no dashboard."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.tuner.cluster_driver import discard, ray_tmpdir
from tests.tuner.spaces import toy_space
from trainables.reporting import MemoryReporter
from tuner.cli import BAD_INPUT, main

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("tuner", "trainables", "search_spaces")
SOURCES = sorted(p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py"))


class _Payload:
    """Unpickling this runs code: it creates the file `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


def test_sources_read_yaml_and_checkpoints_only_safely() -> None:
    """No unsafe YAML loader and no `torch.load` without `weights_only=True` anywhere."""
    assert len(SOURCES) > 30
    for path in SOURCES:
        text = path.read_text()
        assert not re.search(r"yaml\.(unsafe_load|full_load|load)\(|Loader\s*=", text), path
        for call in re.findall(r"torch\.load\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
            assert "weights_only=True" in call, (path, call)
        assert "pickle.load" not in text and "cloudpickle.load" not in text, path


def test_python_tags_in_yaml_never_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "ran"
    for tag in ("python/object/apply:pathlib.Path.touch", "python/object/new:pathlib.Path.touch"):
        path = tmp_path / "tagged.yaml"
        path.write_text(f"name: !!{tag} ['{marker}']\n")
        assert main(["validate", str(path)]) == BAD_INPUT
        assert "is not valid YAML" in capsys.readouterr().err
    assert yaml.safe_dump({"marker": str(marker)})  # the loader, not the dumper, is the guard
    assert not marker.exists()


def test_pickle_payload_checkpoint_is_refused(tmp_path: Path, monkeypatch) -> None:
    """A checkpoint holding a pickled object is refused by the reporters' `weights_only` load,
    through Ray's own Checkpoint API, and its code never runs."""
    from ray import tune

    from trainables.reporting import CHECKPOINT_FILE, RayReporter

    marker = tmp_path / "ran"
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    torch.save({"epoch": 3, "payload": _Payload(marker)}, folder / CHECKPOINT_FILE)
    monkeypatch.setattr(tune, "get_checkpoint", lambda: tune.Checkpoint.from_directory(folder))
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        RayReporter().load_checkpoint()
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        MemoryReporter(checkpoint={"payload": _Payload(marker)})
    assert not marker.exists()
    torch.save({"epoch": 3, "w": torch.ones(2)}, folder / CHECKPOINT_FILE)  # plain state loads
    assert RayReporter().load_checkpoint()["epoch"] == 3


def test_user_code_only_through_an_explicit_module_function(
    tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    """A dotted name without `:function` is never imported, nor is any other string field."""
    (tmp_path / "sneaky_module_w4.py").write_text(
        f"from pathlib import Path\nPath({str(tmp_path / 'imported')!r}).touch()\n"
        "def trainable(config):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for fields in (
        {"trainable": "sneaky_module_w4"},
        {"trainable": "sneaky_module_w4.trainable"},
        {"searcher": {"name": "sneaky_module_w4:trainable"}},
        {"metric": "sneaky_module_w4:trainable", "address": "sneaky_module_w4:trainable"},
    ):
        path = toy_space(tmp_path, results_dir, **fields)
        assert main(["validate", str(path)]) == BAD_INPUT, fields
        capsys.readouterr()
    assert "sneaky_module_w4" not in sys.modules
    assert not (tmp_path / "imported").exists()
    path = toy_space(tmp_path, results_dir, trainable="sneaky_module_w4:trainable")
    assert main(["validate", str(path)]) == BAD_INPUT  # imported, but it declares nothing
    assert (tmp_path / "imported").exists()
    assert "'sneaky_module_w4:trainable' does not declare itself a trainable" in (
        capsys.readouterr().err
    )


def test_the_space_loader_is_pyyamls_safe_loader() -> None:
    """The loader that refuses duplicate keys and deep nesting builds only what `SafeLoader`
    builds: it adds no constructor of its own."""
    from tuner._space_yaml import _SpaceLoader

    assert issubclass(_SpaceLoader, yaml.SafeLoader)
    assert _SpaceLoader.yaml_constructors == yaml.SafeLoader.yaml_constructors
    assert _SpaceLoader.yaml_multi_constructors == yaml.SafeLoader.yaml_multi_constructors
    assert "construct_mapping" not in vars(_SpaceLoader)


_LISTENING = """
import json, os, sys
from pathlib import Path
from tests.tuner.cluster_driver import ray_pids
from tuner.ray_session import ray_session

def listening(pids):
    inodes = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                found.append(fields[1])
    return found

with ray_session() as session:
    import ray
    node = ray._private.worker._global_node
    ray.get([ray.remote(lambda: 1).remote() for _ in range(2)])  # workers up too
    pids = ray_pids(os.environ["RAY_TMPDIR"]) + [os.getpid()]
    print(json.dumps({"listen": listening(pids), "webui": node.address_info.get("webui_url"),
                      "ip": session.node_ip, "n": len(pids)}))
"""

_LOOPBACK = ("0100007F:", "0000000000000000FFFF00000100007F:", "00000000000000000000000001000000:")


def test_local_ray_listens_on_loopback_only_without_dashboard() -> None:
    """Every TCP port the driver's local Ray listens on is on 127.0.0.1; no dashboard UI."""
    tmpdir = ray_tmpdir()
    env = {**os.environ, "RAY_TMPDIR": tmpdir, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # the default must be safe by itself
    env.pop("RAY_ADDRESS", None)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _LISTENING], cwd=REPO, env=env, capture_output=True,
            text=True, timeout=300, check=True,
        )  # fmt: skip
    finally:
        discard(tmpdir)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ip"] == "127.0.0.1" and report["n"] >= 3
    assert report["listen"], "no listening socket found: the check would be empty"
    assert all(address.startswith(_LOOPBACK) for address in report["listen"]), report["listen"]
    assert not report["webui"]
