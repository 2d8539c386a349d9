"""``run_flow``/``run_step`` on a class whose source cannot be used: one of the script
being run (``__main__``), one typed at ``python -c``/stdin/IPython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from grange import FlowSpec, step
from grange.testing import HarnessError, run_flow

SCRIPT = """
import os, sys
from grange import FlowSpec, step
from grange.testing import run_flow, run_step

class ScriptFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    print("MAIN BLOCK", os.environ.get("GRANGE_TESTING_RUN_FLOW"), flush=True)
    {call}
"""


def _python(tmp_path: Path, code: str, *, stdin: bool = False) -> subprocess.CompletedProcess[str]:
    if stdin:
        argv, given = [sys.executable, "-"], code
    else:
        (tmp_path / "script.py").write_text(code)
        argv, given = [sys.executable, "script.py"], None
    return subprocess.run(argv, input=given, capture_output=True, text=True, cwd=tmp_path)


def test_run_flow_refuses_a_class_of_the_script_being_run(tmp_path: Path) -> None:
    done = _python(tmp_path, SCRIPT.format(call="run_flow(ScriptFlow, tmp_path='.')"))
    assert done.returncode != 0
    assert done.stdout.count("MAIN BLOCK") == 1  # the script did not start itself again
    assert "ScriptFlow is defined in the script being run" in done.stderr
    assert "move ScriptFlow into a module of its own" in done.stderr


def test_run_flow_inside_a_run_it_started_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_TESTING_RUN_FLOW", "1")
    with pytest.raises(HarnessError, match="inside a run that run_flow started"):
        run_flow("no-such-file.py")


@pytest.mark.parametrize("call", ["run_step(ScriptFlow, 'end')", "run_flow(ScriptFlow)"])
def test_a_class_typed_at_stdin_says_its_source_cannot_be_read(tmp_path: Path, call: str) -> None:
    done = _python(tmp_path, SCRIPT.format(call=call), stdin=True)
    assert done.returncode != 0
    assert "the source of ScriptFlow cannot be read" in done.stderr
    assert "put ScriptFlow in a .py file" in done.stderr
    assert "has no step" not in done.stderr and "Traceback (most recent call last)" in done.stderr


class MainFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_run_flow_refuses_main_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MainFlow, "__module__", "__main__")
    with pytest.raises(HarnessError, match="defined in the script being run"):
        run_flow(MainFlow)


IPYTHON_SCRIPT = """
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_cell('''
from grange import FlowSpec, step
from grange.testing import run_step, run_flow
class CellFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)
    @step
    def end(self):
        pass
''')
for call in ("run_step(CellFlow, 'end')", "run_flow(CellFlow)"):
    result = ip.run_cell(call)
    print("ERROR", type(result.error_in_exec).__name__, result.error_in_exec)
"""


def test_a_class_of_an_ipython_shell_started_from_a_script(tmp_path: Path) -> None:
    pytest.importorskip("IPython")
    done = _python(tmp_path, IPYTHON_SCRIPT)
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 2, done.stdout + done.stderr
    for line in errors:  # neither a made-up "no step 'end'" nor the script run again
        assert "HarnessError" in line and "source of CellFlow cannot be read" in line
