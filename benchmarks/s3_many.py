"""``S3.put_many`` / ``S3.get_many`` of many small objects: grange vs ``metaflow.S3``.

    python benchmarks/s3_many.py [--objects 1000] [--kib 100] [--repeat 3]

Starts a moto S3 server on loopback (its own process), then, for each
repetition and each tool in turn, runs a fresh process that puts N objects of
K KiB under a new prefix with ``put_many`` and gets them back with
``get_many``, timing each call from inside (interpreter start and imports are
not counted; generating the bytes is not either). Metaflow runs from
``benchmarks/.venv-metaflow`` (created by the harness if missing; boto3 is
added to it when absent, as ``metaflow.S3`` needs it). Both tools use their
default concurrency. Prints the median of each tool and the ratio.

moto answers a few hundred requests a second from one Python process, so the
figures say how much each client costs on top of a slow server; against AWS
S3 the server is rarely the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-metaflow"


def worker(tool: str, root: str, objects: int, kib: int) -> dict[str, float]:
    """Put then get ``objects`` objects under ``root`` with ``tool``'s S3; seconds of each."""
    if tool == "grange":
        from grange import S3
    else:
        from metaflow import S3  # type: ignore[import-not-found,no-redef,unused-ignore]
    payloads = [(f"obj-{i:05d}", os.urandom(kib * 1024)) for i in range(objects)]
    with S3(s3root=root) as s3:
        start = time.perf_counter()
        s3.put_many(payloads)
        put = time.perf_counter() - start
        start = time.perf_counter()
        got = s3.get_many([key for key, _ in payloads])
        get = time.perf_counter() - start
        if [o.blob for o in got] != [value for _, value in payloads]:
            raise SystemExit(f"{tool}: get_many returned other bytes than put_many stored")
    return {"put_many": put, "get_many": get}


def metaflow_python() -> str:
    sys.path.insert(0, str(HERE))
    from harness.tools import ensure_metaflow_venv

    python = str(ensure_metaflow_venv(VENV, VENV / "install.log"))
    if subprocess.run([python, "-c", "import boto3"], capture_output=True).returncode != 0:
        print("installing boto3 into the Metaflow venv (metaflow.S3 needs it)...", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", "-q", "boto3"], check=True)
    return python


def run_one(
    python: str, tool: str, root: str, objects: int, kib: int, env: dict[str, str], cwd: str
) -> dict[str, float]:
    argv = [python, __file__, "--worker", tool, "--root", root]
    argv += ["--objects", str(objects), "--kib", str(kib)]
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--kib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grange-only", action="store_true")
    parser.add_argument("--worker", choices=["grange", "metaflow"])
    parser.add_argument("--root")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.root, args.objects, args.kib)))
        return

    sys.path.insert(0, str(HERE.parent / "tests"))
    from s3server import MotoServer

    pythons = {"grange": sys.executable}
    if not args.grange_only:
        pythons["metaflow"] = metaflow_python()
    with tempfile.TemporaryDirectory(prefix="grange-s3-bench-") as tmp:
        server = MotoServer(Path(tmp) / "moto.log").start()
        try:
            bucket = server.make_bucket("bench-s3-many")
            base = {
                k: v for k, v in os.environ.items() if not k.startswith(("GRANGE_", "METAFLOW_"))
            }
            env = {
                **base,
                **server.env(),
                "METAFLOW_S3_ENDPOINT_URL": server.url,
                "METAFLOW_HOME": str(Path(tmp) / "metaflow-home"),
                "USER": "bench",
            }
            env.pop("AWS_PROFILE", None)
            results: dict[str, list[dict[str, float]]] = {tool: [] for tool in pythons}
            for rep in range(args.repeat):
                order = list(pythons) if rep % 2 == 0 else list(reversed(pythons))
                for tool in order:
                    root = f"s3://{bucket}/{tool}-{rep}"
                    got = run_one(pythons[tool], tool, root, args.objects, args.kib, env, tmp)
                    results[tool].append(got)
                    print(f"  {tool} #{rep + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in got.items()),
                          file=sys.stderr)  # fmt: skip
        finally:
            server.stop()
    size = args.objects * args.kib / 1024
    print(f"\n{args.objects} objects x {args.kib} KiB ({size:.0f} MiB), moto on loopback, "
          f"median of {args.repeat}")  # fmt: skip
    print(f"{'operation':<10} {'grange':>9} {'metaflow':>9} {'ratio':>7}")
    for op in ("put_many", "get_many"):
        g = statistics.median(r[op] for r in results["grange"])
        if "metaflow" in results:
            m = statistics.median(r[op] for r in results["metaflow"])
            print(f"{op:<10} {g:>8.2f}s {m:>8.2f}s {m / g:>6.1f}x")
        else:
            print(f"{op:<10} {g:>8.2f}s {'-':>9} {'-':>7}")


if __name__ == "__main__":
    main()
