"""A local store is created, read and written without importing SQLAlchemy (issue 5).

Importing SQLAlchemy costs ~0.2 s per process; the stdlib ``sqlite3`` store
(:mod:`grange.metastore.sqlite_store`) serves an up-to-date SQLite file, and
:mod:`grange.metastore.sqlite_schema` creates a new one.
"""

from __future__ import annotations

import subprocess
import sys

from support import RUN_FLOWS, Runner

# Runs a script as ``__main__`` and, at exit, writes whether SQLAlchemy was imported.
WATCH = """
import atexit, runpy, sys
report, script, *args = sys.argv[1:]
def _report():
    with open(report, "w") as out:
        out.write(str("sqlalchemy" in sys.modules))
atexit.register(_report)
sys.argv = [script, *args]
{body}
"""


def watched(runner: Runner, body: str, *args: str) -> bool:
    """Whether the process running ``body`` with ``args`` imported SQLAlchemy."""
    report = runner.cwd / "imported-sqlalchemy"
    argv = [sys.executable, "-c", WATCH.format(body=body), str(report), *args]
    proc = subprocess.run(
        argv, cwd=runner.cwd, env=runner.env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return report.read_text() == "True"


def test_create_run_and_read_a_store_without_sqlalchemy(runner: Runner) -> None:
    flow = str(RUN_FLOWS / "linear.py")
    run = "runpy.run_path(sys.argv[0], run_name='__main__')"
    assert not watched(runner, run, flow, "run")  # creates the store
    assert (runner.root / "metadata.db").is_file()
    assert not watched(runner, run, flow, "run")
    read = "from grange import Flow; assert Flow('LinearRunFlow').latest_run.data.counter == 20"
    assert not watched(runner, read, "-")
