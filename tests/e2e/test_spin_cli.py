"""``python flow.py spin`` as a user types it: what each mistake says, and its exit status.

One project folder for the module: a linear flow run once, a flow that fails at
its start. Every error exits 2 with a message naming what is wrong and the fix,
never a traceback of grange's.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from flow_runs import clean_env, python
from support import FLOWS


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spin")
    for path in (FLOWS / "spin").glob("*.py"):
        shutil.copy(path, folder / path.name)
    assert spin(folder, "linear.py", "run").returncode == 0
    assert spin(folder, "early.py", "run").returncode == 1
    return folder


def spin(folder: Path, flow: str, *args: str) -> subprocess.CompletedProcess[str]:
    return python(folder / flow, *args, cwd=folder, env=clean_env(GRANGE_USER="ada"), check=False)


def refused(folder: Path, *args: str, flow: str = "linear.py") -> str:
    result = spin(folder, flow, "spin", *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "grange/" not in result.stderr
    return " ".join(result.stderr.split())


def module(folder: Path, name: str, text: str) -> str:
    (folder / name).write_text(text)
    return name


def test_no_run_yet(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "spin" / "linear.py", tmp_path / "linear.py")
    said = refused(tmp_path, "train")
    assert "no run of SpinLinearFlow is stored at" in said
    assert "run the flow first: python linear.py run" in said


def test_a_step_that_does_not_exist(folder: Path) -> None:
    said = refused(folder, "trian")
    assert said.startswith("linear.py: ")
    assert "flow SpinLinearFlow has no step 'trian'" in said
    assert "did you mean 'train'? the steps of linear.py are: start, train, end" in said


def test_runs_and_tasks_that_do_not_exist(folder: Path) -> None:
    assert "run SpinLinearFlow/9 does not exist" in refused(folder, "train", "--run-id", "9")
    said = refused(folder, "1/train/9")
    assert "run SpinLinearFlow/1 has no task 9 of step 'train'" in said
    assert "python linear.py spin 1/train/2" in said
    said = refused(folder, "1/train", "--run-id", "2")
    assert "spin 1/train names run 1, but --run-id says 2" in said


def test_a_run_of_another_flow(folder: Path) -> None:
    said = refused(folder, "SpinEarlyFlow/1/start")
    assert "is a path in flow SpinEarlyFlow, but this command reads flow SpinLinearFlow" in said


def test_a_run_that_failed_before_the_step(folder: Path) -> None:
    said = refused(folder, "middle", flow="early.py")
    assert (
        "run SpinEarlyFlow/1 did not run step 'middle' (it failed; the steps it ran: start)" in said
    )
    assert "no recent run ran it: run the flow first (python early.py run)" in said


def test_artifacts_modules_that_cannot_be_used(folder: Path) -> None:
    said = refused(folder, "train", "--artifacts-module", "missing.py")
    assert "--artifacts-module missing.py: no such file" in said
    name = module(folder, "broken.py", "x = 1 / 0\nARTIFACTS = {}\n")
    said = refused(folder, "train", "--artifacts-module", name)
    assert said.startswith("broken.py:1: ") and "failed to import" in said
    assert "ZeroDivisionError: division by zero" in said
    name = module(folder, "none.py", "X = 1\n")
    assert "defines no ARTIFACTS" in refused(folder, "train", "--artifacts-module", name)
    name = module(folder, "alist.py", "ARTIFACTS = [1]\n")
    assert "ARTIFACTS is a list, not a dict" in refused(folder, "train", "--artifacts-module", name)
    name = module(folder, "lock.py", "import threading\nARTIFACTS = {'data': threading.Lock()}\n")
    said = refused(folder, "train", "--artifacts-module", name)
    assert "a value cannot be stored: artifact 'data'" in said
    name = module(folder, "other.py", "ARTIFACTS = {'1/start/9': {'x': 1}}\n")
    said = refused(folder, "train", "--artifacts-module", name)
    assert "ARTIFACTS key '1/start/9' names no input of the step" in said
    assert "its inputs are 1/start/1" in said
    name = module(folder, "const.py", "ARTIFACTS = {'1/start/1': []}\n")
    assert "for an input task it must be a dict" in refused(
        folder, "train", "--artifacts-module", name
    )


def test_the_flow_file_changed_the_steps_parents(folder: Path) -> None:
    text = (folder / "linear.py").read_text()
    changed = text.replace(
        "self.next(self.train)\n",
        "self.next(self.prep)\n\n    @step\n    def prep(self):\n        self.next(self.train)\n",
    )
    (folder / "moved.py").write_text(changed)
    said = refused(folder, "train", flow="moved.py")
    assert said.startswith("moved.py:")
    assert "step 'train' comes after other steps in the flow file than in run" in said
    assert "after start then, after prep now" in said


def test_a_pypi_step_is_refused_unless_decorators_are_skipped(folder: Path) -> None:
    text = (folder / "linear.py").read_text()
    text = text.replace(
        "import FlowSpec, Parameter, step", "import FlowSpec, Parameter, pypi, step"
    )
    text = text.replace(
        "    @step\n    def train",
        "    @pypi(packages={'six': '1.16.0'})\n    @step\n    def train",
    )
    (folder / "withpypi.py").write_text(text)
    said = refused(folder, "train", flow="withpypi.py")
    assert "step 'train' runs in its own @pypi environment, which spin does not build" in said
    assert "--skip-decorators" in said
    skipped = spin(folder, "withpypi.py", "spin", "train", "--skip-decorators")
    assert skipped.returncode == 0, skipped.stderr
    assert "model  float  12.0  (new)" in skipped.stdout


def test_help_lists_spin(folder: Path) -> None:
    result = spin(folder, "linear.py", "--help")
    assert "spin" in result.stdout and "Re-run one step of an earlier run" in result.stdout
