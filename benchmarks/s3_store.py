"""grange vs Metaflow on an S3 datastore: both against one S3 server on loopback.

    python benchmarks/s3_store.py [--mib 256 1024] [--repeat 3] [--grange-only]
                                  [--foreach 100] [--postgres URL]

Starts moto's S3 server on a free loopback port (``pip install 'moto[server]'``)
and measures, each repetition in fresh buckets:

* ``artifact_<N>mib``: the artifact flow of ``flows/artifact.py`` (an N MiB
  NumPy array saved in one step and summed in the next), run by grange with
  ``--datastore-root s3://...`` and by Metaflow with
  ``METAFLOW_DEFAULT_DATASTORE=s3``; the figure is the save + load (the flow's
  two time stamps), also the whole run;
* ``raw_<N>mib``: the floor, the same bytes through boto3 ``put_object`` then
  ``get_object`` read to the end (one request each, as fast as moto serves);
* ``foreach_<W>``: the foreach of ``flows/foreach.py`` with grange on
  local + SQLite and on S3 (+ PostgreSQL with ``--postgres``): the per-task
  cost of the team store.

Prints a table with ratios and writes ``benchmarks/results/s3-<time>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the loopback S3 server of the tests

from harness import machine  # noqa: E402
from harness.measure import run_timed, tail  # noqa: E402
from harness.tools import Tool, grange_tool, metaflow_tool, render_flow  # noqa: E402

from s3server import FAKE_CREDENTIALS, MotoServer  # noqa: E402

STAMP = re.compile(r"BENCH (made|summed)=([0-9.]+)")
AWS_CLI = """
set -e
dd if=/dev/urandom of="$1/blob" bs=1M count="$4" status=none
start=$(date +%s.%N)
aws --endpoint-url "$2" s3 cp --only-show-errors "$1/blob" "s3://$3/cli/blob"
aws --endpoint-url "$2" s3 cp --only-show-errors "s3://$3/cli/blob" "$1/back"
end=$(date +%s.%N)
echo "CLI $(echo "$end - $start" | bc)"
rm -f "$1/blob" "$1/back"
"""
RAW = """
import sys, time, boto3
url, bucket, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
data = bytes(mib << 20)
start = time.perf_counter()
s3.put_object(Bucket=bucket, Key="raw/blob", Body=data)
body = s3.get_object(Bucket=bucket, Key="raw/blob")["Body"]
while body.read(8 << 20):
    pass
print(f"RAW {time.perf_counter() - start:.6f}")
"""


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--foreach", type=int, default=100, help="width of the foreach (0: skip)")
    parser.add_argument("--postgres", metavar="URL", help="also run the foreach on S3 + PostgreSQL")
    parser.add_argument("--grange-only", action="store_true")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="grange-s3-bench-"))
    server = MotoServer(work / "moto.log").start()
    log(f"moto S3 server at {server.url}; work in {work}")
    tools = [grange_tool()]
    if not args.grange_only:
        tools.append(metaflow_tool(HERE / ".venv-metaflow", work / "mf-home", work / "venv.log"))
    for tool in tools:
        tool.compile_bytecode()
    rows: list[dict[str, Any]] = []
    try:
        for mib in args.mib:
            rows += artifact_case(server, tools, work, mib, args.repeat)
        if args.foreach:
            rows += foreach_case(server, tools[0], work, args.foreach, args.repeat, args.postgres)
    finally:
        server.stop()
    print(render(rows))
    out = HERE / "results" / f"s3-{datetime.datetime.now():%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": machine.facts(work), "rows": rows}, indent=2))
    log(f"raw timings: {out}")
    return 0


def artifact_case(
    server: MotoServer, tools: list[Tool], work: Path, mib: int, repeat: int
) -> list[dict[str, Any]]:
    times: dict[str, list[float]] = {}
    walls: dict[str, list[float]] = {}
    for rep in range(repeat):
        order = tools if rep % 2 == 0 else tools[::-1]
        for tool in order:
            bucket = server.make_bucket(f"bench-{tool.name}-{uuid.uuid4().hex[:8]}")
            folder = work / f"artifact-{mib}" / tool.name
            flow = render_flow(HERE / "flows" / "artifact.py", tool, folder)
            env = store_env(tool, server, f"s3://{bucket}/store", work / f"cache-{bucket}")
            timing = run_timed(
                tool.flow_command(flow, "run", "--mib", str(mib)),
                env=env,
                cwd=folder,
                log=work / "logs" / f"artifact-{mib}-{tool.name}-{rep}.log",
            )
            if not timing.ok:
                raise SystemExit(f"{tool.name} artifact run failed:\n{tail(timing.log)}")
            stamps = dict(STAMP.findall(timing.log.read_text()))
            times.setdefault(tool.name, []).append(float(stamps["summed"]) - float(stamps["made"]))
            walls.setdefault(tool.name, []).append(timing.wall)
            log(f"artifact {mib} MiB {tool.name}: save+load {times[tool.name][-1]:.2f}s")
        bucket = server.make_bucket(f"bench-raw-{uuid.uuid4().hex[:8]}")
        raw = subprocess.run(
            [tools[-1].python, "-c", RAW, server.url, bucket, str(mib)],
            env={**os.environ, **FAKE_CREDENTIALS},
            capture_output=True,
            text=True,
            check=True,
        )
        times.setdefault("raw", []).append(float(raw.stdout.split()[-1]))
        log(f"artifact {mib} MiB raw boto3: {times['raw'][-1]:.2f}s")
        if shutil.which("aws") and shutil.which("bc"):
            cli = subprocess.run(
                ["bash", "-c", AWS_CLI, "aws-cli", str(work), server.url, bucket, str(mib)],
                env={**os.environ, **FAKE_CREDENTIALS},
                capture_output=True,
                text=True,
                check=True,
            )
            times.setdefault("aws_cli", []).append(float(cli.stdout.split()[-1]))
            log(f"artifact {mib} MiB aws s3 cp: {times['aws_cli'][-1]:.2f}s")
    row = {"benchmark": f"artifact_{mib}mib", "what": "save + load through S3"}
    for name, values in times.items():
        row[name] = statistics.median(values)
        row[f"{name}_all"] = values
    for name, values in walls.items():
        row[f"{name}_run"] = statistics.median(values)
    return [row]


def foreach_case(
    server: MotoServer, tool: Tool, work: Path, width: int, repeat: int, postgres: str | None
) -> list[dict[str, Any]]:
    stores = ["local", "s3"] + (["s3+postgres"] if postgres else [])
    times: dict[str, list[float]] = {s: [] for s in stores}
    folder = work / "foreach"
    flow = render_flow(HERE / "flows" / "foreach.py", tool, folder)
    for rep in range(repeat):
        for store in stores:
            if store == "local":
                env = tool.env(work / f"foreach-local-{rep}")
                env["GRANGE_CACHE_DIR"] = str(work / f"cache-foreach-{rep}")
            else:
                bucket = server.make_bucket(f"bench-fe-{uuid.uuid4().hex[:8]}")
                env = store_env(tool, server, f"s3://{bucket}/store", work / f"cache-{bucket}")
                if store == "s3+postgres":
                    env["GRANGE_METADATA"] = fresh_schema(postgres or "")
            command = tool.flow_command(flow, "run", "--width", str(width))
            run_timed(command, env=env, cwd=folder, log=work / "logs" / "warm.log")  # warm store
            timing = run_timed(
                command, env=env, cwd=folder, log=work / "logs" / f"foreach-{store}-{rep}.log"
            )
            if not timing.ok:
                raise SystemExit(f"foreach on {store} failed:\n{tail(timing.log)}")
            times[store].append(timing.wall)
            log(f"foreach {width} on {store}: {timing.wall:.2f}s")
    row: dict[str, Any] = {"benchmark": f"foreach_{width}", "what": "grange, per store"}
    for store, values in times.items():
        row[store] = statistics.median(values)
        row[f"{store}_all"] = values
    return [row]


def store_env(tool: Tool, server: MotoServer, root: str, cache: Path) -> dict[str, str]:
    env = tool.env(Path(tempfile.mkdtemp(prefix="store-")))
    env.update(FAKE_CREDENTIALS)
    if tool.name == "grange":
        env.update(GRANGE_DATASTORE_ROOT=root, GRANGE_S3_ENDPOINT_URL=server.url)
        for name in ("GRANGE_S3_PART_SIZE_MB", "GRANGE_S3_MAX_CONCURRENCY", "GRANGE_S3_CACHE_MB"):
            if os.environ.get(name):  # tuning under test
                env[name] = os.environ[name]
        env["GRANGE_CACHE_DIR"] = str(cache)
    else:
        env.update(
            METAFLOW_DEFAULT_DATASTORE="s3",
            METAFLOW_DATASTORE_SYSROOT_S3=root,
            METAFLOW_S3_ENDPOINT_URL=server.url,
        )
    return env


def fresh_schema(base: str) -> str:
    """A new schema on the PostgreSQL server at ``base`` (left for inspection)."""
    import sqlalchemy as sa

    name = f"grange_bench_{uuid.uuid4().hex[:8]}"
    url = base.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = sa.create_engine(url)
    with engine.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{name}"


def render(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        if row["benchmark"].startswith("artifact"):
            g, m, raw = row.get("grange"), row.get("metaflow"), row.get("raw")
            text = f"{row['benchmark']:<18} grange {g:6.2f}s  raw boto3 {raw:6.2f}s"
            text += f"  grange/raw {g / raw:4.2f}x"
            if row.get("aws_cli") is not None:
                text += f"  aws s3 cp {row['aws_cli']:6.2f}s"
            if m is not None:
                text += f"  metaflow {m:6.2f}s  metaflow/grange {m / g:4.2f}x"
            lines.append(text)
        else:
            stores = [k for k in ("local", "s3", "s3+postgres") if k in row]
            text = f"{row['benchmark']:<18} " + "  ".join(f"{s} {row[s]:6.2f}s" for s in stores)
            width = int(row["benchmark"].split("_")[1])
            for s in stores[1:]:
                text += f"  {s} +{(row[s] - row['local']) / width * 1000:.1f} ms/task"
            lines.append(text)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
