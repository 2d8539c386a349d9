"""Micro-benchmark of the metadata store: how fast a big foreach is recorded.

    python benchmarks/metadata_micro.py [--tasks 10000] [--batch 500] [--url URL]

Registers ``--tasks`` tasks, starts their attempts and records each attempt's
end with two artifacts and one metadata value, in batches of ``--batch``, then
reads them back. Prints one line per phase: seconds and rows per second. With
no ``--url`` it uses a SQLite file in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from grange.metastore import (
    ArtifactRow,
    AttemptRecord,
    AttemptRow,
    MetadataStore,
    TaskRow,
    sqlite_url,
)


def _timed(label: str, count: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:8.3f} s  {count / seconds:>10,.0f} /s")
    return seconds


def run(url: str, tasks: int, batch: int) -> dict[str, float]:
    """Time each phase against the store at ``url``; seconds per phase."""
    store = MetadataStore.from_url(url)
    flow = f"BenchFlow{time.time_ns()}"
    run_id = store.new_run(flow, user="bench", system_tags=["user:bench"])
    rows = [TaskRow(flow, run_id, "train", str(i)) for i in range(tasks)]
    batches = [rows[i : i + batch] for i in range(0, tasks, batch)]

    def register() -> None:
        for part in batches:
            store.register_tasks(part)

    def start() -> None:
        for part in batches:
            store.start_attempts([AttemptRow(flow, run_id, t.step, t.task_id, 0) for t in part])

    def record() -> None:
        for part in batches:
            store.record_attempts(
                [
                    AttemptRecord(
                        AttemptRow(flow, run_id, t.step, t.task_id, 0, status="ok", exit_code=0),
                        artifacts=[
                            ArtifactRow("model", f"sha-{t.task_id}-m", 1024, "object", "pickle"),
                            ArtifactRow("score", f"sha-{t.task_id}-s", 24, "float", "pickle"),
                        ],
                        metadata={"python_version": "3.11"},
                    )
                    for t in part
                ]
            )

    def read() -> None:
        listed = store.list_tasks(flow, run_id, step="train")
        assert len(listed) == tasks and all(t.status == "ok" for t in listed)

    print(f"{tasks} tasks, batches of {batch}, {url.split(':')[0]}")
    return {
        "register": _timed(f"register_tasks ({tasks} tasks)", tasks, register),
        "start": _timed(f"start_attempts ({tasks} attempts)", tasks, start),
        "record": _timed(f"record_attempts ({tasks} attempts, 2 artifacts)", tasks, record),
        "read": _timed(f"list_tasks ({tasks} tasks)", tasks, read),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--url", help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    if args.url:
        run(args.url, args.tasks, args.batch)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(sqlite_url(Path(tmp)), args.tasks, args.batch)


if __name__ == "__main__":
    main()
