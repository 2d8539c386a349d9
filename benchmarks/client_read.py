"""How long a fresh Python process takes to read one artifact of a flow's latest run.

    python benchmarks/client_read.py [--runs 1000] [--repeat 5]

Builds a store with ``--runs`` runs of a three-step flow (written through the
datastore and metadata APIs, as the runtime records them), then times, in a
fresh interpreter each time, ``Flow(name).latest_run.data.x`` (the DESIGN.md
target: under 0.3 s with 1,000 runs) and the bare ``python -c "import grange"``
for comparison. Prints the best and median wall times.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grange.datastore import AttemptRecord, ContentAddressedStore, LocalBlobStore, write_record
from grange.metastore import ArtifactRow, AttemptRow, MetadataStore, TaskRow, sqlite_url
from grange.metastore import AttemptRecord as AttemptResult

FLOW = "BenchReadFlow"
STEPS = ("start", "middle", "end")


def build(root: Path, runs: int) -> None:
    """``runs`` succeeded runs, each with one task per step holding artifact ``x``."""
    blobs = LocalBlobStore(root)
    cas = ContentAddressedStore(blobs, FLOW)
    store = MetadataStore.from_url(sqlite_url(root))
    for number in range(runs):
        run_id = store.new_run(FLOW, user="bench", system_tags=["user:bench", "runtime:local"])
        ref = cas.save(number)
        now = time.time()
        tasks, results = [], []
        for task_id, step in enumerate(STEPS, start=1):
            parents = [f"{FLOW}/{run_id}/{STEPS[task_id - 2]}/{task_id - 1}"] if task_id > 1 else []
            tasks.append(TaskRow(FLOW, run_id, step, str(task_id), parent_task_ids=parents))
            extra = {"frames": [], "iteration": 0}
            if step != "end":
                extra["next"] = [STEPS[task_id]]
            record = AttemptRecord(
                FLOW, run_id, step, str(task_id), 0, "ok", now, now, {"x": ref}, None, extra
            )
            write_record(blobs, record)
            row = AttemptRow(FLOW, run_id, step, str(task_id), 0, now, now, "ok", 0)
            results.append(
                AttemptResult(row, [ArtifactRow("x", ref.key, ref.size, "int", ref.encoding)])
            )
        store.register_tasks(tasks)
        store.record_attempts(results)
        store.finish_run(FLOW, run_id, status="succeeded")


def timed(code: str, root: Path, repeat: int) -> list[float]:
    env = {"GRANGE_DATASTORE_ROOT": str(root), "GRANGE_USER": "bench", "PATH": ""}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / ".grange"
        start = time.perf_counter()
        build(root, args.runs)
        print(f"built {args.runs} runs in {time.perf_counter() - start:.1f} s")
        read = (
            f"from grange import Flow; assert Flow({FLOW!r}).latest_run.data.x == {args.runs - 1}"
        )
        for label, code in (("import grange", "import grange"), ("latest_run.data.x", read)):
            times = timed(code, root, args.repeat)
            print(f"{label:<20} best {min(times):.3f} s  median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
