"""On a cluster, the results folder must be one that every node sees.

Ray Tune's trials write their checkpoints (and, on restart elsewhere, read them back) under
`storage_path` on the node that runs them, while the driver keeps the study, Ray's experiment
state and the tables in the same folder. A path on the driver's disk alone would lose every
checkpoint a trial wrote on another node and break `resume` silently. `unshared_nodes` asks each
live node, with a tiny Ray task pinned to it (zero CPUs, so a head started with `--num-cpus 0`
answers too), whether it reads the probe file the driver just wrote there.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from trainables.lr.errors import Problem

PROBE = ".tuner_shared_probe"


def _reads(path: str, expected: str) -> bool:
    try:
        return Path(path).read_text() == expected
    except OSError:
        return False


def unshared_nodes(storage_path: str | Path) -> list[str]:
    """The addresses of the live nodes of the connected cluster that cannot read a file the
    driver writes into `storage_path` (none: every node sees the same folder)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    root = Path(storage_path).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    probe, content = root / PROBE, secrets.token_hex(16)
    probe.write_text(content)
    try:
        reads = ray.remote(num_cpus=0)(_reads)
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        answers = [
            reads.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            ).remote(str(probe), content)
            for node in nodes
        ]
        seen = ray.get(answers, timeout=300)
    finally:
        probe.unlink(missing_ok=True)
    return [node["NodeManagerAddress"] for node, ok in zip(nodes, seen, strict=True) if not ok]


def unshared_problem(storage_path: str | Path, nodes: list[str]) -> Problem:
    """The refusal to run a cluster sweep whose results folder some nodes do not see."""
    return Problem(
        "storage_path",
        f"is {str(storage_path)!r}, but the cluster's node(s) {', '.join(nodes)} do not see "
        "the driver's folder there (their trials' checkpoints would be lost)",
        "put storage_path on a filesystem every node mounts at the same path (NFS, a cluster "
        "filesystem) and pass it with --storage-path",
    )
