"""How long ``grange ui`` takes to serve its heaviest pages, and a card to render.

    python benchmarks/ui.py [--runs 10000] [--width 1000] [--log-mib 10]
                            [--repeat 15] [--workdir DIR] [--keep]

Builds a store in a temporary folder (about a minute at the full sizes):

- ``UiBenchFlow``: one real run (``python flow.py run --log-mib 10``, whose
  ``start`` task prints 10 MiB to stdout), then ``--runs`` - 1 more written
  through the datastore and metadata APIs as the runtime records them (the
  claim ``run.json`` with the real run's extra facts, its graph included, the
  index rows, a ``start`` and an ``end`` task with their records, the end),
  users, tags and statuses varied, one a minute back in time;
- ``ForeachFlow``: a real run of ``benchmarks/flows/foreach.py --width 1000``.

Then times the UI's server side in this process, through its Starlette app
and httpx's ASGI transport (no network, no browser): each page once (the
first request, shown apart: it may compare the datastore with the index),
then ``--repeat`` times, printing the median and the 95th percentile against
the issue's goal (200 ms each) and the page's size. Then the card half of the
issue's benchmarks: the default card of a task holding a 100k-row DataFrame
(``card_render.default_card``: the document and its HTML, a preview, never
the whole frame). Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import card_render  # benchmarks/card_render.py, beside this file

HERE = Path(__file__).resolve().parent
GOAL_MS = 200.0
FLOW = "UiBenchFlow"
USERS = ("ana", "bob", "cyd")

FLOW_SOURCE = '''"""Prints --log-mib MiB to stdout in start (benchmarks/ui.py writes this file)."""

from grange import FlowSpec, Parameter, step

LINE = "0123456789 the quick brown fox jumps over the lazy dog, a log line of the UI benchmark\\n"


class UiBenchFlow(FlowSpec):
    log_mib = Parameter("log-mib", default=0, type=int)
    alpha = Parameter("alpha", default=0.5, type=float)

    @step
    def start(self):
        lines = self.log_mib * 2**20 // len(LINE)
        for number in range(lines):
            print(number, LINE, end="")
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    UiBenchFlow()
'''


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the store ----------------------------------------------------------------------------------


def run_flow(folder: Path, flow_file: Path, *args: str) -> str:
    """``python FLOW_FILE run ARGS`` storing under ``folder/.grange``; the run id."""
    id_file = folder / f"run-id-{flow_file.stem}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRANGE_")}
    env.update(GRANGE_DATASTORE_ROOT=str(folder / ".grange"), GRANGE_USER="ana")
    argv = [sys.executable, str(flow_file), "run", "--run-id-file", str(id_file), *args]
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return id_file.read_text().strip()


def add_runs(root: Path, template_run: str, count: int) -> None:
    """``count`` finished runs of FLOW, recorded as the runtime records them."""
    from grange.datastore import AttemptRecord, ContentAddressedStore, LocalBlobStore, write_record
    from grange.datastore.runs import RunClaim, claim_run, read_claim, write_final
    from grange.metastore import ArtifactRow, AttemptRow, MetadataStore, TaskRow, sqlite_url
    from grange.metastore import AttemptRecord as IndexedAttempt

    blobs = LocalBlobStore(root)
    cas = ContentAddressedStore(blobs, FLOW)
    store = MetadataStore.from_url(sqlite_url(root))
    template = read_claim(blobs, FLOW, template_run)
    assert template is not None, f"no claim for {FLOW}/{template_run}"
    ref = cas.save(1)
    start = time.time() - 60.0 * (count + 1)
    for number in range(count):
        user = USERS[number % len(USERS)]
        tags = [f"exp-{number % 5}"] + (["nightly"] if number % 10 == 0 else [])
        system_tags = [f"user:{user}", "runtime:local"]
        parameters = {"log_mib": 0, "alpha": number / count}
        created = start + 60.0 * number
        ended = created + 5.0 + number % 50
        status = "failed" if number % 7 == 3 else "succeeded"
        run_id = store.new_run(
            FLOW,
            user=user,
            tags=tags,
            system_tags=system_tags,
            parameters=parameters,
            created_at=created,
        )
        claim = RunClaim(
            flow=FLOW,
            run_id=run_id,
            created_at=created,
            user=user,
            tags=tags,
            system_tags=system_tags,
            parameters=parameters,
            host=template.host,
            pid=template.pid,
            extra=dict(template.extra),
        )
        assert claim_run(blobs, claim), f"{FLOW}/{run_id} was taken"
        rows, results = [], []
        for task_id, step in ((1, "start"), (2, "end")):
            parents = [f"{FLOW}/{run_id}/start/1"] if step == "end" else []
            rows.append(TaskRow(FLOW, run_id, step, str(task_id), parent_task_ids=parents))
            ok = status == "succeeded" or step == "start"
            extra: dict[str, Any] = {"frames": [], "iteration": 0}
            if step == "start":
                extra["next"] = ["end"]
            outcome = "ok" if ok else "failed"
            artifacts = {"x": ref} if ok else {}
            write_record(
                blobs,
                AttemptRecord(
                    FLOW,
                    run_id,
                    step,
                    str(task_id),
                    0,
                    outcome,
                    created,
                    ended,
                    artifacts,
                    None,
                    extra,
                ),
            )
            row = AttemptRow(
                FLOW, run_id, step, str(task_id), 0, created, ended, outcome, 0 if ok else 1
            )
            indexed = [ArtifactRow("x", ref.key, ref.size, "int", ref.encoding)] if ok else []
            results.append(IndexedAttempt(row, indexed))
        store.register_tasks(rows)
        store.record_attempts(results)
        store.finish_run(FLOW, run_id, status=status, at=ended)
        write_final(blobs, FLOW, run_id, status=status, at=ended)
        if number and number % 2000 == 0:
            log(f"  {number} runs")


def build(folder: Path, runs: int, width: int, log_mib: int) -> dict[str, str]:
    """The store; the ids of its real runs."""
    flow_file = folder / "ui_bench_flow.py"
    flow_file.write_text(FLOW_SOURCE)
    started = time.perf_counter()
    logs_run = run_flow(folder, flow_file, "--log-mib", str(log_mib))
    log(f"{FLOW}/{logs_run}: {log_mib} MiB of logs in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    add_runs(folder / ".grange", logs_run, runs - 1)
    log(f"{FLOW}: {runs - 1} more runs in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    foreach_run = run_flow(
        folder,
        HERE / "flows" / "foreach.py",
        "--width",
        str(width),
        "--max-workers",
        "16",
        "--max-num-splits",
        "100000",
    )
    log(f"ForeachFlow/{foreach_run}: {width} tasks in {time.perf_counter() - started:.1f} s")
    [task] = (p.name for p in (folder / ".grange" / FLOW / logs_run / "start").iterdir())
    return {
        "logs": logs_run,
        "logs_task": task,
        "foreach": foreach_run,
        "width": str(width),
        "log_mib": str(log_mib),
    }


# -- timing the app ---------------------------------------------------------------------------


def ui_app(folder: Path) -> tuple[Any, str]:
    """The app of ``grange ui`` over the store of ``folder``, built as the command does,
    and the address it would be served at (its Host header is checked)."""
    from grange.cli.context import Settings
    from grange.cli.reading import connect
    from grange.client.config import current_stores
    from grange.ui.app import make_app
    from grange.ui.settings import UiSettings

    connect(Settings(datastore_root=str(folder / ".grange")), every_namespace=True)
    settings = UiSettings()
    return make_app(current_stores(), settings), settings.url("").rstrip("/")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


sizes: dict[str, int] = {}  # label -> bytes of the page (shown beside its times)
firsts: dict[str, float] = {}  # label -> seconds of the first, untimed-in-the-median request


async def time_pages(
    app: Any, base: str, pages: list[tuple[str, str]], repeat: int
) -> list[tuple[str, list[float] | str]]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    results: list[tuple[str, list[float] | str]] = []
    sizes.clear()
    firsts.clear()
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        for label, path in pages:
            began = time.perf_counter()
            first = await client.get(path)
            firsts[label] = time.perf_counter() - began
            if first.status_code != 200:
                results.append((label, f"HTTP {first.status_code} for {path}"))
                continue
            sizes[label] = len(first.content)
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                response = await client.get(path)
                await response.aread()
                times.append(time.perf_counter() - began)
            results.append((label, times))
    return results


def print_table(
    title: str, rows: list[tuple[str, list[float] | str]], goal_ms: float | None
) -> None:
    print(f"\n{title}")
    print(f"{'what':<52} {'first':>9} {'median':>9} {'p95':>9}  goal      met  {'page':>9}")
    for label, times in rows:
        if isinstance(times, str):
            print(f"{label:<52} {times}")
            continue
        median, p95 = statistics.median(times) * 1000, percentile(times, 0.95) * 1000
        goal = f"< {goal_ms:.0f} ms" if goal_ms else "-"
        met = ("yes" if p95 < goal_ms else "no") if goal_ms else "-"
        size = f"{sizes[label] / 1024:7.1f} KiB" if label in sizes else ""
        first = f"{firsts[label] * 1000:7.1f} ms" if label in firsts else " " * 10
        print(f"{label:<52} {first} {median:7.1f} ms {p95:7.1f} ms  {goal:<9} {met:<4} {size}")


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs of UiBenchFlow")
    parser.add_argument("--width", type=int, default=1_000, help="tasks of the foreach run")
    parser.add_argument("--log-mib", type=int, default=10, help="MiB of stdout of one task")
    parser.add_argument("--repeat", type=int, default=15, help="timed requests per page")
    parser.add_argument("--workdir", help="where the store is made (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the store")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="grange-ui-bench-", dir=args.workdir))
    try:
        ids = build(folder, args.runs, args.width, args.log_mib)
        rows = asyncio.run(time_pages(*ui_app(folder), pages(ids, args.runs), args.repeat))
        print_table(
            f"grange ui server time ({args.runs} runs, a {args.width}-task foreach, "
            f"{args.log_mib} MiB of logs; {args.repeat} requests each)",
            rows,
            GOAL_MS,
        )
        print(f"\ncard render (benchmarks/card_render.py; {args.repeat} renders)")
        card_render.default_card(args.repeat)
    finally:
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def pages(ids: dict[str, str], runs: int) -> list[tuple[str, str]]:
    logs_run, foreach_run = ids["logs"], ids["foreach"]
    per_page = 50
    last = max(1, -(-runs // per_page))
    task = f"/flows/{FLOW}/runs/{logs_run}/steps/start/tasks/{ids['logs_task']}"
    log = f"{FLOW}/{logs_run}/start/{ids['logs_task']}"
    return [
        ("flows page", "/"),
        (f"runs page 1 of {runs}", f"/flows/{FLOW}"),
        ("runs page 2", f"/flows/{FLOW}?page=2"),
        (f"runs page {last} (the last)", f"/flows/{FLOW}?page={last}"),
        ("runs page, tag=nightly", f"/flows/{FLOW}?tag=nightly"),
        ("runs page, status=failed", f"/flows/{FLOW}?status=failed"),
        ("runs page, user=bob, page 3", f"/flows/{FLOW}?user=bob&page=3"),
        ("runs page, tag + status + user", f"/flows/{FLOW}?tag=exp-2&status=failed&user=cyd"),
        (
            f"run page, the {ids['width']}-task foreach run",
            f"/flows/ForeachFlow/runs/{foreach_run}",
        ),
        (f"task page, {ids['log_mib']} MiB of logs", task),
        ("log API: the tail (the page's default)", f"/api/logs/{log}/stdout"),
        ("log API: the first MiB", f"/api/logs/{log}/stdout?start=0&length=1048576"),
    ]


if __name__ == "__main__":
    main()
