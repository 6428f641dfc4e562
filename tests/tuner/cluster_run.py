"""Start a two-node Ray cluster on this machine, run the CLI against it, report what ran where.

    python -m tests.tuner.cluster_run SPACE_FILE OUT_JSON

Runs in its own process so the test session's local Ray never meets the cluster. Writes the CLI's
exit code and output and the cluster's node ids and addresses to OUT_JSON; shuts the cluster down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray starts: nodes on 127.0.0.1

from ray.cluster_utils import Cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def main(space_file: str, out_file: str) -> None:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        nodes = cluster.list_all_nodes()
        cli = subprocess.run(
            [sys.executable, "-m", "tuner", "run", space_file, "--address", cluster.address],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        report = {
            "returncode": cli.returncode,
            "stdout": cli.stdout,
            "stderr": cli.stderr,
            "address": cluster.address,
            "node_ids": [node.node_id for node in nodes],
            "node_ips": [node.node_ip_address for node in nodes],
        }
    finally:
        cluster.shutdown()
    Path(out_file).write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:3])
