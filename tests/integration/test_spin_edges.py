"""``spin`` at its edges: spins at once, what --artifacts-module may set, explicit
configs, a step that ends its process, where the spin store is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_spin import Project

import grange
from flow_runs import clean_env


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.mark.slow
def test_spins_started_at_once_each_get_their_own_id(project: Project) -> None:
    project.ok("linear.py", "run")
    env = clean_env(GRANGE_USER="ada")
    spins = [
        subprocess.Popen(
            [sys.executable, "linear.py", "spin", "train"],
            cwd=project.folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [spin.communicate() for spin in spins]
    assert [spin.returncode for spin in spins] == [0] * 6, outputs
    project.spins()
    ids = sorted(r.id for r in grange.Flow("SpinLinearFlow").runs())
    assert ids == [f"spin-{n}" for n in range(1, 7)]
    grange.default_metadata()


def test_artifacts_no_step_reads_are_refused_not_shown_as_given(project: Project) -> None:
    project.ok("spinflow.py", "run")
    refused = {
        "{'input': 1}": "'input' is the step's place in its foreach",
        "{'index': 7}": "'index' is the step's place in its foreach",
        "{'_task_ok': False}": "'_task_ok' starts with '_'",
        "{'next': 3}": "'next' is a step or method of the flow class",
        "{'join': 3}": "'join' is a step or method of the flow class",
    }
    for artifacts, message in refused.items():
        (project.folder / "arts.py").write_text(f"ARTIFACTS = {artifacts}\n")
        result = project.cmd("spinflow.py", "spin", "body", "--artifacts-module", "arts.py")
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr and "from --artifacts-module" not in result.stdout


def test_a_config_given_to_spin_replaces_the_runs(project: Project) -> None:
    project.ok("configured.py", "--config-value", "cfg", '{"scale": 10, "greeting": "run"}', "run")
    given = '{"scale": 3, "greeting": "given"}'
    result = project.ok("configured.py", "--config-value", "cfg", given, "spin", "train")
    assert "but cfg, given on the command line" in result.stderr
    again = project.ok("configured.py", "spin", "train")  # none given: the run's
    assert "given on the command line" not in again.stderr
    project.spins()
    run = grange.Run("SpinConfigFlow/spin-1")
    task = run["train"].task
    assert (task.data.model, task.data.greeting) == (18, "given")  # 6 * 3, the decorator too
    assert task.data.cfg == {"scale": 3, "greeting": "given"} and run.config["cfg"]["scale"] == 3
    assert grange.Run("SpinConfigFlow/spin-2")["train"].task.data.model == 60
    grange.default_metadata()


EXITING = """
import os
from grange import FlowSpec, step


class ExitingFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        if os.environ.get("EXIT_IN_STEP"):
            os._exit(0)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ExitingFlow()
"""


def test_a_step_calling_os_exit_fails_the_spin(project: Project) -> None:
    (project.folder / "exiting.py").write_text(EXITING)
    project.ok("exiting.py", "run")
    result = project.cmd("exiting.py", "spin", "work", EXIT_IN_STEP="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Spin ExitingFlow/spin-1/work/2 failed in" in result.stderr
    assert "StepExited: the step called os._exit(0)" in result.stderr
    assert 'exiting.py", line' in result.stderr  # where, in the user's file
    project.spins()
    assert not grange.Run("ExitingFlow/spin-1").successful
    grange.default_metadata()


def test_a_class_of_the_artifacts_module_pickles(project: Project) -> None:
    project.ok("linear.py", "run")
    (project.folder / "arts.py").write_text(
        "class Data(list):\n    pass\n\n\nARTIFACTS = {'data': Data([1, 2])}\n"
    )
    result = project.ok("linear.py", "spin", "train", "--artifacts-module", "arts.py")
    assert "training on [1, 2]" in result.stdout
    assert "data   arts.Data  [1, 2]  (from --artifacts-module)" in result.stdout
    assert "model  float      6.0  (new)" in result.stdout  # (1 + 2) * 2.0


def test_the_printed_hint_reads_the_spin_and_a_missing_folder_is_said(project: Project) -> None:
    project.ok("linear.py", "run")
    result = project.ok("linear.py", "spin", "train")
    hint = f"grange.inspect_spin('{project.root}')"
    assert hint in result.stdout
    grange.inspect_spin(str(project.root))
    grange.namespace(None)
    assert grange.Task("SpinLinearFlow/spin-1/train/2").data.model == 12.0
    with pytest.raises(grange.GrangeError, match="no such folder"):
        grange.inspect_spin(project.folder / "nonexistent")
    grange.default_metadata()
