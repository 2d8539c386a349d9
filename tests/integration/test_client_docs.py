"""The walk-throughs in docs/ are runnable: their commands run and their examples hold.

``docs/client.md``: its flow file is saved, its ``$`` commands run in that
folder, then every ``>>>`` example is checked with doctest. ``docs/cli.md``:
each ``$`` command runs (against the same kind of project) and exits with 0,
or with the status its ``# exits with status N`` comment says.
"""

from __future__ import annotations

import doctest
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flow_runs import clean_env
from grange import default_metadata, default_namespace

DOCS = Path(__file__).resolve().parents[2] / "docs"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
EXIT = re.compile(r"#\s*exits with status (\d+)\s*$")


def blocks(text: str, kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(text) if lang == kind]


def commands(text: str) -> list[str]:
    return [command for command, _ in sessions(text)]


def sessions(text: str) -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the console blocks, with the output lines documented under it."""
    found: list[tuple[str, list[str]]] = []
    for body in blocks(text, "console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


_VARYING = [
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?s\b"), "<duration>"),
    (re.compile(r"(grange_version|python_version):[^,\s]+"), r"\1:<v>"),
    (re.compile(r"/\S*/(train\.py|\.grange)\b"), r"<dir>/\1"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\s+"), " "),
]


def normalized(line: str) -> str:
    """A line without what changes from one run of the docs to the next."""
    for pattern, replacement in _VARYING:
        line = pattern.sub(replacement, line)
    return line.strip()


def shell(command: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a documented command with ``python`` and ``grange`` of this interpreter."""
    bin_dir = str(Path(sys.executable).parent)
    env = clean_env(GRANGE_USER="ada", PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        ["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True, check=False
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding docs/client.md's flow file, and the runs its commands make."""
    text = (DOCS / "client.md").read_text()
    (tmp_path / "train.py").write_text(blocks(text, "python")[0])
    for command in commands(text):
        shell(command, tmp_path)  # the failing run exits 1; the examples check the outcome
    return tmp_path


def test_client_walkthrough_examples_hold(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("GRANGE_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("GRANGE_USER", "ada")
    monkeypatch.chdir(project)
    default_metadata()
    default_namespace()
    text = (DOCS / "client.md").read_text()
    test = doctest.DocTestParser().get_doctest(text, {}, "client.md", str(DOCS / "client.md"), 0)
    assert len(test.examples) > 40
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report: list[str] = []
    try:
        runner.run(test, out=report.append)
    finally:
        default_metadata()
        default_namespace()
    assert runner.failures == 0, "".join(report)


def test_cli_walkthrough_commands_run(project: Path) -> None:
    text = (DOCS / "cli.md").read_text()
    documented = sessions(text)
    assert len(documented) > 10
    for command, output in documented:
        match = EXIT.search(command)
        expected = int(match.group(1)) if match else 0
        result = shell(command, project)
        shown = f"$ {command}\n{result.stdout}{result.stderr}"
        assert result.returncode == expected, shown
        if not any("Traceback" in line for line in output):
            assert "Traceback" not in result.stderr, shown
        actual = {normalized(line) for line in (result.stdout + result.stderr).splitlines()}
        for line in output:
            assert normalized(line) in actual, f"documented line {line!r} is not in\n{shown}"
