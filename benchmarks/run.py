"""grange vs Metaflow: the same flows, run by both, timed from outside.

    python benchmarks/run.py [--quick] [--repeat N] [--only NAME ...] [--grange-only]

Creates (once) ``benchmarks/.venv-metaflow`` with Metaflow from PyPI, then runs
every benchmark flow of ``benchmarks/flows/`` as ``python flow.py run ...``
with grange and with Metaflow, alternating the two, each on a fresh local
store. Prints, per benchmark, the median wall time of each tool and the ratio
(Metaflow / grange), and writes every raw timing with the machine's facts to
``benchmarks/results/<timestamp>.json``. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from harness import machine
from harness.cases import Case, all_cases
from harness.measure import run_timed, tail
from harness.report import seconds, summarize, table, write_json
from harness.tools import METAFLOW_PIN, Tool, grange_tool, metaflow_tool

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-metaflow"
FLOOR = "floor"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0],
        epilog=f"benchmarks: {FLOOR} (python start, imports, dd), " + ", ".join(names),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: skip the 1 GiB, client-read and 100k benchmarks; 2 repetitions",
    )
    parser.add_argument("--repeat", type=int, help="repetitions per tool (default 5, heavy 3)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks")
    parser.add_argument(
        "--grange-only", action="store_true", help="do not run (or install) Metaflow"
    )
    parser.add_argument(
        "--read-runs", type=int, default=1000, help="runs in the store for client_read"
    )
    parser.add_argument(
        "--grange-src",
        metavar="DIR",
        help="measure grange from this source dir (put first on PYTHONPATH), e.g. a git worktree",
    )
    parser.add_argument("--workdir", help="where stores are made (default: the temp dir)")
    parser.add_argument("--results-dir", default=str(HERE / "results"), help="where JSON goes")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (stores, logs)")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {*names, FLOOR}
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {FLOOR}, "
            + ", ".join(names)
        )
    return args


def selected(cases: list[Case], args: argparse.Namespace) -> list[Case]:
    if args.only:
        return [c for c in cases if c.name in args.only]
    return [c for c in cases if not (args.quick and c.heavy)]


def repetitions(case: Case, args: argparse.Namespace) -> int:
    if case.repeat == 1:
        return 1
    if args.repeat:
        return args.repeat
    if args.quick:
        return 2
    return case.repeat or 5


def run_floor(tools: dict[str, Tool], base: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Interpreter start, ``import grange`` / ``import metaflow``, ``dd`` of the disk."""
    repeat = 5 if args.quick else 10
    floor: dict[str, Any] = {"repeat": repeat}
    for name, tool in tools.items():
        env = tool.env(base / "floor-store")
        log(f"[floor] {name}: python -c pass / import {name} x{repeat}")
        floor[f"{name}_python"] = machine.time_python(tool.python, "pass", repeat, env)
        floor[f"{name}_import"] = machine.time_python(tool.python, f"import {name}", repeat, env)
    log("[floor] dd 1 GiB write (fdatasync) and read")
    floor["dd"] = machine.dd_bandwidth(base)
    return floor


def floor_rows(floor: dict[str, Any], tools: dict[str, Tool]) -> list[dict[str, Any]]:
    rows = []
    for what, target in (("python", ""), ("import", "grange <100 ms")):
        row: dict[str, Any] = {"name": "python -c pass" if what == "python" else "import <tool>"}
        for name in tools:
            row[name] = statistics.median(floor[f"{name}_{what}"])
        if what == "import":
            row["target"] = target
            row["met"] = row["grange"] < 0.1
            if "metaflow" in row:
                row["ratio"] = row["metaflow"] / row["grange"]
        rows.append(row)
    dd = floor["dd"]
    cold = "cold" if dd["cache_dropped"] else "cached (could not drop)"
    rows.append(
        {
            "name": "dd write 1 GiB",
            "grange_text": f"{seconds(dd['write_s'])} {dd['write_gb_s']:.2f} GB/s",
            "target": "conv=fdatasync (machine)",
        }
    )
    rows.append(
        {
            "name": "dd read 1 GiB",
            "grange_text": f"{seconds(dd['read_s'])} {dd['read_gb_s']:.2f} GB/s",
            "target": f"{cold} (machine)",
        }
    )
    rows.append(
        {
            "name": "dd read 1 GiB again",
            "grange_text": f"{seconds(dd['read_warm_s'])} {dd['read_warm_gb_s']:.2f} GB/s",
            "target": "page cache (machine)",
        }
    )
    return rows


def run_case(case: Case, tools: dict[str, Tool], repeat: int, base: Path) -> dict[str, Any]:
    """Every repetition of one benchmark, alternating which tool goes first."""
    names = [n for n in case.tools if n in tools]
    contexts = {n: case.context(tools[n], base) for n in names}
    raw: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    errors: dict[str, str] = {}
    setup_s: dict[str, float] = {}
    for name in names:
        start = time.perf_counter()
        try:
            case.setup(contexts[name])
        except Exception as exc:  # a failed benchmark is reported, the others go on
            errors[name] = f"setup failed: {exc}"
            log(f"[{case.name}] {name}: {errors[name]}")
        setup_s[name] = time.perf_counter() - start
        if setup_s[name] > 1:
            log(f"[{case.name}] {name}: setup took {setup_s[name]:.1f} s")
    for rep in range(repeat):
        for name in names if rep % 2 == 0 else names[::-1]:
            if name in errors:
                continue
            ctx = contexts[name]
            try:
                case.prepare(ctx, rep)
                cmd, env = case.command(ctx)
                timing = run_timed(
                    cmd,
                    env=env,
                    cwd=ctx.workdir,
                    log=ctx.log(f"rep{rep}"),
                    sample_hwm=case.sample_hwm,
                )
            except Exception:
                errors[name] = traceback.format_exc(limit=3)
                log(f"[{case.name}] {name}: {errors[name]}")
                continue
            record = {
                "wall": timing.wall,
                "exit_code": timing.exit_code,
                "maxrss_tree_kib": timing.maxrss_tree_kib,
                "extras": case.extras(ctx, timing),
            }
            raw[name].append(record)
            status = "" if timing.ok else f" FAILED (exit {timing.exit_code})"
            log(f"[{case.name}] rep {rep + 1}/{repeat} {name}: {timing.wall:.3f} s{status}")
            if not timing.ok:
                errors[name] = f"exit {timing.exit_code}:\n{tail(timing.log)}"
                log(tail(timing.log))
    for ctx in contexts.values():
        case.finish(ctx)
    result: dict[str, Any] = {
        "name": case.name,
        "about": case.about,
        "args": list(case.args),
        "target": case.target,
        "repeat": repeat,
        "setup_s": setup_s,
        "raw": raw,
        "errors": errors,
    }
    for name in names:
        result[name] = summarize(raw[name])
    g, m = result.get("grange", {}).get("median"), result.get("metaflow", {}).get("median")
    if g and m and result["grange"]["ok"] and result["metaflow"]["ok"]:
        result["ratio"] = m / g
    return result


def case_row(case: Case, result: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"name": case.name, "target": case.target, "ratio": result.get("ratio")}
    for name in ("grange", "metaflow"):
        summary = result.get(name)
        if summary is None:
            row[f"{name}_text"] = "-"
        elif not summary["ok"]:
            row[f"{name}_text"] = "FAILED"
        else:
            row[name] = summary["median"]
    row["met"] = case.check(result, floor)
    result["met"] = row["met"]
    return row


def notes(results: list[dict[str, Any]], floor: dict[str, Any]) -> list[str]:
    lines = []
    dd = floor.get("dd")
    for result in results:
        name = result["name"]
        for tool in ("grange", "metaflow"):
            summary = result.get(tool) or {}
            if "handoff_s" in summary:
                line = (
                    f"{name}: {tool} in-flow hand-off (array made -> summed in the next step) "
                    f"median {seconds(summary['handoff_s'])}"
                )
                if dd and name == "artifact_1gib":
                    disk = dd["write_s"] + dd["read_s"]
                    line += f" = {summary['handoff_s'] / disk:.2f}x dd write+read ({seconds(disk)})"
                lines.append(line)
            if "runs_in_store" in summary:
                setup = result["setup_s"].get(tool, 0)
                lines.append(
                    f"{name}: {tool} store holds {summary['runs_in_store']} runs "
                    f"(made with the run command in {setup:.0f} s)"
                )
            if "runtime_peak_rss_kib" in summary:
                lines.append(
                    f"{name}: {tool} runtime peak RSS {summary['runtime_peak_rss_kib'] / 1024:.0f} MiB"
                    f" (VmHWM of the runtime process); fork server "
                    f"{(summary.get('fork_server_peak_rss_kib') or 0) / 1024:.0f} MiB; largest process "
                    f"of the tree {summary['largest_process_peak_rss_kib'] / 1024:.0f} MiB (wait4)"
                )
        for tool, error in result["errors"].items():
            lines.append(f"{name}: {tool} FAILED: {error.strip().splitlines()[0]}")
    return lines


def source_state(src: str | None) -> dict[str, Any]:
    """The commit grange was measured at, and whether src/ had uncommitted changes."""
    git = ["git", "-C", str(Path(src) if src else HERE.parent / "src")]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "."], capture_output=True, text=True)
    return {
        "commit": head.stdout.strip() or None,
        "src_dirty": bool(dirty.stdout.strip()) if dirty.returncode == 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    names = [c.name for c in all_cases(1000)]
    args = parse_args(argv, names)
    cases = selected(all_cases(args.read_runs), args)
    base = Path(tempfile.mkdtemp(prefix="grange-bench-", dir=args.workdir))
    started = datetime.datetime.now()
    load_before = os.getloadavg()
    source_before = source_state(args.grange_src)
    if load_before[0] > 0.5:
        log(
            f"warning: load average {load_before[0]:.2f} before starting: other work shares the CPUs"
        )
    tools: dict[str, Tool] = {
        "grange": grange_tool(Path(args.grange_src) if args.grange_src else None)
    }
    try:
        if not args.grange_only:
            tools["metaflow"] = metaflow_tool(VENV, base / "metaflow-home", VENV / "install.log")
        for tool in tools.values():
            tool.compile_bytecode()
        log(
            ", ".join(f"{t.name} {t.version} ({t.python})" for t in tools.values())
            + f"; work dir {base}"
        )
        floor: dict[str, Any] = {}
        if not args.only or FLOOR in args.only:
            floor = run_floor(tools, base, args)
        results, rows = [], []
        if floor:
            rows.extend(floor_rows(floor, tools))
        for case in cases:
            repeat = repetitions(case, args)
            log(f"[{case.name}] {case.about}: {repeat} repetition(s) per tool")
            result = run_case(case, tools, repeat, base)
            results.append(result)
            rows.append(case_row(case, result, floor))
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(table(rows))
    for line in notes(results, floor):
        print(line)
    payload = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now().isoformat(timespec="seconds"),
        "argv": sys.argv[1:] if argv is None else argv,
        "machine": machine.facts(Path(args.workdir or tempfile.gettempdir())),
        "grange_source": {
            "src": args.grange_src or str(HERE.parent / "src"),
            "before": source_before,
            "after": source_state(args.grange_src),
        },
        "tools": {n: {"version": t.version, "python": t.python} for n, t in tools.items()},
        "metaflow_pin": METAFLOW_PIN,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "floor": floor,
        "benchmarks": results,
        "table": rows,
    }
    path = Path(args.results_dir) / f"{started:%Y%m%d-%H%M%S}.json"
    write_json(path, payload)
    print(f"raw timings and machine facts: {path}")
    failed = any(r["errors"] for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
