"""A three-node Ray cluster on this machine loses a worker node while trials run on it.

    python -m tests.tuner.cluster_node_death SPACE_FILE EXP_DIR OUT_JSON

Starts a head node without CPUs (the driver's) and two worker nodes, runs `python -m tuner run`
against it, waits until a trial on the second worker is caught early in a stretch without ASHA rungs
(`CATCH_AT_EPOCHS`), removes that node
(`cluster.remove_node`), and writes the CLI's exit code and output, the node ids and the removed
node's id to OUT_JSON. Runs in its own process so the test session's Ray never meets the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # before Ray starts: nodes on 127.0.0.1

from ray.cluster_utils import Cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


#: the last reported epoch at which a trial is caught: with the test's ASHA (grace period 3,
#: reduction factor 2, 8 epochs: rungs at 3 and 6) neither of the next two epochs is a rung or
#: the end, so the trial still runs when the node goes (removal takes well under those two
#: 0.5 s epochs); caught at a rung's epoch it could be stopped meanwhile and never move
CATCH_AT_EPOCHS = (1, 4)


def _busy_on(exp_dir: Path, node_id: str) -> bool:
    """Whether a trial running on `node_id` has just reported one of `CATCH_AT_EPOCHS`."""
    for result_file in exp_dir.glob("*/result.json"):
        try:
            rows = [json.loads(line) for line in result_file.read_text().splitlines() if line]
        except ValueError:  # a line being written
            continue
        if not rows or rows[-1].get("done") or rows[-1].get("node_id") != node_id:
            continue
        if rows[-1].get("epoch") in CATCH_AT_EPOCHS:
            return True
    return False


def main(space_file: str, exp_dir: str, out_file: str) -> None:
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    report: dict = {}
    cli = None
    try:
        cluster.add_node(num_cpus=2)
        doomed = cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        report["node_ids"] = [node.node_id for node in cluster.list_all_nodes()]
        report["removed"] = doomed.node_id
        log = Path(out_file).with_suffix(".log")
        with open(log, "w") as handle:
            cli = subprocess.Popen(
                [sys.executable, "-m", "tuner", "run", space_file, "--address", cluster.address],
                cwd=REPO,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 240
            while not _busy_on(Path(exp_dir), doomed.node_id):
                if time.monotonic() > deadline or cli.poll() is not None:
                    raise TimeoutError("no trial ran on the second worker node")
                time.sleep(0.2)
            cluster.remove_node(doomed)
            report["removed_at"] = time.time()
            report["returncode"] = cli.wait(timeout=400)
        report["output"] = log.read_text()
    finally:
        if cli is not None and cli.poll() is None:
            cli.kill()
            cli.wait()
        cluster.shutdown()
        Path(out_file).write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
