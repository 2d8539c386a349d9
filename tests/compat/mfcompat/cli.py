"""The command: generate, run, classify, print the table and the figure."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from mfcompat.classify import ENVIRONMENT, UNCLASSIFIED, classify, summary_lines
from mfcompat.report import markdown
from mfcompat.runner import Result, generate, run_all, to_json

SRC_ENV = "GRANGE_METAFLOW_SRC"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_compat.py",
        description="Run Metaflow's test/core graphs x tests against grange (docs/compat.md).",
    )
    p.add_argument(
        "--metaflow-src",
        default=os.environ.get(SRC_ENV),
        help=f"a Metaflow source checkout (the repository root) [env: {SRC_ENV}]",
    )
    p.add_argument("--jobs", type=int, default=2, help="combinations at once [default: 2]")
    p.add_argument(
        "--timeout", type=float, default=120.0,
        help="seconds one command may take before it is stopped [default: 120]",
    )  # fmt: skip
    p.add_argument("--tests", default="", help="only these tests (comma-separated class names)")
    p.add_argument("--graphs", default="", help="only these graphs (comma-separated)")
    p.add_argument("--json", type=Path, help="write every result, with its output, to this file")
    p.add_argument("--markdown", type=Path, help="write the result table to this file")
    p.add_argument("--keep", type=Path, help="keep each combination's directory under this one")
    return p


def _select(cases: list[dict], tests: str, graphs: str) -> list[dict]:
    want_tests = {t.lower() for t in tests.split(",") if t}
    want_graphs = {g.lower() for g in graphs.split(",") if g}
    return [
        c
        for c in cases
        if (not want_tests or c["test"].lower() in want_tests)
        and (not want_graphs or c["graph"].lower() in want_graphs)
    ]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.metaflow_src:
        print(f"Give a Metaflow checkout: --metaflow-src PATH or {SRC_ENV}=PATH", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="grange_compat_gen_") as tmp:
        generated = generate(Path(args.metaflow_src).resolve(), Path(tmp) / "cases.json")
    generated["cases"] = _select(generated["cases"], args.tests, args.graphs)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)

    def progress(r: Result) -> None:
        classify(r)
        mark = "pass" if r.passed else f"FAIL [{r.category}]"
        print(f"{r.key:70} {r.seconds:6.1f}s {mark}", flush=True)

    results = run_all(generated, args.jobs, args.timeout, args.keep, progress)
    for line in summary_lines(results):
        print(line)
    if args.json:
        args.json.write_text(to_json(results), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(results), encoding="utf-8")
    return 1 if any(r.category in (UNCLASSIFIED, ENVIRONMENT) for r in results) else 0
