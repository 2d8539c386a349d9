"""The command line as a user types it: ``python flow.py ...`` and ``grange ...``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import grange

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "flows" / "valid"
RUNNABLE = sorted(p.stem for p in VALID.glob("*.py") if "__main__" in p.read_text())


def run(
    *args: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python ARGS`` (a flow file, or ``-m grange.cli.main``) and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GRANGE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        check=False,
    )


def flow(stem: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run(VALID / f"{stem}.py", *args)


def grange_cli(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    code = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"
    return run("-c", code, *args, cwd=cwd)


def write_flow(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


BAD_DEFAULT = """
    from grange import FlowSpec, Parameter, step


    class BadDefaultFlow(FlowSpec):
        count = Parameter("count", default="many", type=int)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        BadDefaultFlow()
"""

TWO_FLOWS = """
    from grange import FlowSpec, step


    class FirstFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    class SecondFlow(FirstFlow):
        \"\"\"The second one.\"\"\"


    if __name__ == "__main__":
        raise SystemExit("the __main__ block must not run under grange")
"""

BROKEN_GRAPH = """
    from grange import FlowSpec, step


    class OrphanFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def lost(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        OrphanFlow()
"""


# -- python flow.py ----------------------------------------------------------


def test_help_lists_commands_and_top_level_options() -> None:
    result = flow("linear", "--help")
    assert result.returncode == 0, result.stderr
    # click 8.5 brackets the command of a group that runs without one
    assert re.match(r"Usage: linear\.py \[OPTIONS\] \[?COMMAND\]? \[ARGS\]\.\.\.", result.stdout)
    assert "LinearFlow: A straight line of steps." in result.stdout
    for option in ("--debug", "--quiet", "--datastore-root", "--metadata", "--with", "--namespace"):
        assert option in result.stdout
    commands = result.stdout.split("Commands:")[1]
    assert re.search(r"\n  check +Check that the flow is valid \(the default command\)\.", commands)
    assert re.search(r"\n  show +Show the flow's steps and how they connect\.", commands)
    assert re.search(r"\n  argo-workflows +Deploy the flow to Argo Workflows", commands)


@pytest.mark.parametrize("stem", RUNNABLE)
def test_check_accepts_every_valid_flow(stem: str) -> None:
    result = flow(stem, "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Flow ") and " is valid: " in result.stdout
    assert "Traceback" not in result.stderr


def test_check_counts_steps_and_parameters() -> None:
    result = flow("linear", "check")
    assert result.stdout == "Flow LinearFlow is valid: 3 steps, 1 parameter.\n"
    assert "'python tests/flows/valid/linear.py show' shows its graph." in result.stderr


def test_no_command_runs_check_and_hints_at_help() -> None:
    result = flow("branch")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Flow BranchFlow is valid: 6 steps, 0 parameters.\n"
    assert "python tests/flows/valid/branch.py --help' lists every command." in result.stderr


def test_quiet_drops_the_hints() -> None:
    result = flow("branch", "--quiet")
    assert result.returncode == 0 and result.stderr == ""


@pytest.mark.parametrize("stem", RUNNABLE)
def test_show_prints_every_step(stem: str) -> None:
    result = flow(stem, "show")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    steps = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("Step ")]
    assert steps[0] == "start" and steps[-1] == "end"


def test_show_formats() -> None:
    text = flow("switch_loop", "show").stdout
    assert "=> switch on self.more:" in text and "'again' -> loop (loops back to this step)" in text
    data = json.loads(flow("foreach", "show", "--json").stdout)
    assert data["flow"] == "ForeachFlow" and data["steps"]["start"]["foreach_var"] == "items"
    mermaid = flow("switch", "show", "--mermaid").stdout
    assert mermaid.startswith("flowchart TD\n") and 'step_start -->|"heads"| step_heads' in mermaid
    dot = flow("switch", "show", "--dot").stdout
    assert dot.startswith('digraph "SwitchFlow" {') and 'shape="hexagon"' in dot
    assert flow("switch", "output-dot").stdout == dot


def test_show_takes_one_format_only() -> None:
    result = flow("linear", "show", "--json", "--dot")
    assert result.returncode == 2 and "choose one of --json, --mermaid and --dot" in result.stderr


def test_show_draws_a_broken_flow_and_warns(tmp_path: Path) -> None:
    path = write_flow(tmp_path, "orphan.py", BROKEN_GRAPH)
    result = run(path, "show", cwd=tmp_path)
    assert result.returncode == 0
    assert "Step lost (not reachable from the start step)" in result.stdout
    assert result.stderr.startswith("Warning: the flow is not valid")
    assert "step 'lost'" in result.stderr and "python orphan.py check" in result.stderr
    checked = run(path, "check", cwd=tmp_path)
    assert checked.returncode == 2 and "orphan.py:" in checked.stderr and "lost" in checked.stderr
    assert checked.stdout == "" and "Traceback" not in checked.stderr


def test_a_bad_parameter_default_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = write_flow(tmp_path, "bad.py", BAD_DEFAULT)
    for args in (["check"], []):
        result = run(path, *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert "bad.py:6" in result.stderr and "'count'" in result.stderr and "int" in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["option", "env"])
def test_debug_shows_the_traceback(tmp_path: Path, how: str) -> None:
    path = write_flow(tmp_path, "bad.py", BAD_DEFAULT)
    if how == "option":
        result = run(path, "--debug", "check", cwd=tmp_path)
    else:
        result = run(path, "check", cwd=tmp_path, env={"GRANGE_DEBUG": "1"})
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "'count'" in result.stderr


def test_a_mistyped_command_suggests_the_right_one() -> None:
    result = flow("linear", "shwo")
    assert result.returncode == 2 and "Did you mean 'show'?" in result.stderr


def test_version_command() -> None:
    assert flow("linear", "version").stdout == f"grange {grange.__version__}\n"


# -- grange ------------------------------------------------------------------


def test_grange_version_and_help() -> None:
    assert grange_cli("--version").stdout == f"grange {grange.__version__}\n"
    result = grange_cli("--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: grange [OPTIONS] COMMAND")
    assert re.search(r"\n  check +Check that the flow is valid", result.stdout)
    assert re.search(r"\n  show +Show the flow's steps", result.stdout)
    assert re.search(r"\n  config +Show the configuration", result.stdout)


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "grange"
    if not script.exists():
        pytest.skip("the grange script is not installed beside this Python")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert result.stdout == f"grange {grange.__version__}\n"


def test_grange_check_and_show_a_flow_file() -> None:
    checked = grange_cli("check", "tests/flows/valid/inherited.py")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "Flow InheritedFlow is valid: 4 steps, 2 parameters.\n"
    assert "'grange show tests/flows/valid/inherited.py' shows its graph." in checked.stderr
    shown = grange_cli("show", "--json", "tests/flows/valid/nested_branch.py")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["flow"] == "NestedBranchFlow"
    assert data["steps"]["outer_a"]["next"] == ["inner_a", "inner_b"]
    assert grange_cli("show", "tests/flows/valid/linear.py").stdout == flow("linear", "show").stdout


def test_grange_does_not_run_the_main_block_and_picks_a_flow(tmp_path: Path) -> None:
    path = write_flow(tmp_path, "two.py", TWO_FLOWS)
    several = grange_cli("show", path, cwd=tmp_path)
    assert several.returncode == 2
    assert "defines several flows: FirstFlow, SecondFlow" in several.stderr
    assert "--flow NAME" in several.stderr
    chosen = grange_cli("show", path, "--flow", "SecondFlow", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout.startswith("Flow SecondFlow\n    The second one.\n")
    typo = grange_cli("check", path, "--flow", "SecondFlw", cwd=tmp_path)
    assert typo.returncode == 2 and "did you mean 'SecondFlow'?" in typo.stderr


def test_grange_reports_a_bad_flow_file(tmp_path: Path) -> None:
    bad = write_flow(tmp_path, "bad.py", BAD_DEFAULT)
    result = grange_cli("check", bad, cwd=tmp_path)
    assert result.returncode == 2 and "'count'" in result.stderr
    assert "Traceback" not in result.stderr
    empty = write_flow(tmp_path, "empty.py", "x = 1\n")
    result = grange_cli("show", empty, cwd=tmp_path)
    assert result.returncode == 2 and "defines no flow" in result.stderr
    failing = write_flow(tmp_path, "failing.py", "import grange\n\nx = 1 / 0\n")
    result = grange_cli("show", failing, cwd=tmp_path)
    assert result.returncode == 2
    assert "failing.py:3" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "Traceback" not in result.stderr
    missing = grange_cli("show", tmp_path / "nope.py")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("strat",), ["step 'strat': flow", "has no step of that name", "did you mean 'start'?"]),
        (("end", "--input-paths", "garbage"), ["'garbage' is not RUN/STEP/TASK"]),
        (("end", "--split-frames", "{bad"), ["--split-frames: '{bad' cannot be read"]),
        (("end", "--task-extra", "[1]"), ["--task-extra: '[1]' cannot be read"]),
    ],
)
def test_the_internal_step_command_names_a_bad_argument(
    tmp_path: Path, args: tuple[str, ...], words: list[str]
) -> None:
    """Once an internal KeyError / JSONDecodeError / a 'failed' task with a ValueError."""
    env = {"GRANGE_DATASTORE_ROOT": str(tmp_path)}
    result = run(VALID / "linear.py", "step", *args, "--run-id", "1", "--task-id", "2", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Internal error" not in result.stderr and "Traceback" not in result.stderr
    for fragment in words:
        assert fragment in result.stderr, result.stderr
    assert not any(tmp_path.iterdir())  # nothing was recorded
