"""How long ``spin`` takes to re-run one trivial step, against ``run`` of the whole flow.

    python benchmarks/spin.py [--repeat 5] [--metaflow PYTHON]

For ``linear10`` (ten steps) and ``foreach`` (100 tasks, then a join): one
untimed ``run`` in a fresh store, then, alternately, ``--repeat`` timed runs of
``python flow.py run`` and of ``python flow.py spin STEP`` (a middle step of
``linear10``; a foreach task and the join of 100 inputs of ``foreach``), each in a fresh process,
spawn to exit. With ``--metaflow PYTHON`` (an interpreter with Metaflow 2.19
installed) the same with Metaflow, whose copy of the flow imports ``metaflow``.
Prints the median wall time of each and the ratio run / spin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWS = Path(__file__).parent / "flows"
CASES = (
    ("linear10.py", "s5", ()),
    ("foreach.py", "work", ("--width", "100")),
    # grange only: Metaflow 2.19.39's spin of a foreach join fails ("Some input
    # datastores are missing. Expected: 100 Actual: 0").
    ("foreach.py", "join", ("--width", "100")),
)


def _timed(python: str, args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def measure(python: str, tool: str, repeat: int) -> list[tuple[str, float, float]]:
    rows = []
    for name, step, params in CASES:
        if tool == "metaflow" and step == "join":
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            source = (FLOWS / name).read_text()
            if tool == "metaflow":
                source = source.replace("from grange import", "from metaflow import")
            (folder / name).write_text(source)
            env = {**os.environ, "GRANGE_USER": "bench", "USERNAME": "bench"}
            env.pop("GRANGE_DATASTORE_ROOT", None)
            top = ["--no-pylint"] if tool == "metaflow" else []
            run = [name, *top, "run", *params]
            spin = [name, *top, "spin", step]
            _timed(python, run, folder, env)  # the run spin reads, untimed
            runs, spins = [], []
            for _ in range(repeat):
                runs.append(_timed(python, run, folder, env))
                spins.append(_timed(python, spin, folder, env))
            rows.append(
                (f"{tool} {name[:-3]} {step}", statistics.median(runs), statistics.median(spins))
            )
            shutil.rmtree(folder / ".grange", ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--metaflow", metavar="PYTHON", help="an interpreter with Metaflow")
    args = parser.parse_args()
    rows = measure(sys.executable, "grange", args.repeat)
    if args.metaflow:
        rows += measure(args.metaflow, "metaflow", args.repeat)
    print(f"{'flow, spun step':<28} {'run (s)':>8} {'spin (s)':>9} {'run/spin':>9}")
    for label, run, spin in rows:
        print(f"{label:<28} {run:8.3f} {spin:9.3f} {run / spin:9.1f}")


if __name__ == "__main__":
    main()
