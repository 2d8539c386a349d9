"""``python flow.py spin``: real runs, then real spins of their steps, read back with the client.

Each test copies the flows of tests/flows/spin into a project folder, runs them
as a user does (``.grange/`` beside the files), edits the flow file where the
test is about editing, and spins.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

import grange
from flow_runs import clean_env, python
from support import FLOWS

SPIN_FLOWS = FLOWS / "spin"


class Project:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for path in SPIN_FLOWS.glob("*.py"):
            shutil.copy(path, folder / path.name)

    @property
    def root(self) -> Path:
        return self.folder / ".grange"

    def cmd(self, flow: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return python(
            self.folder / flow, *args, cwd=self.folder, env=clean_env(GRANGE_USER="ada", **env),
            check=False,
        )  # fmt: skip

    def ok(self, flow: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        result = self.cmd(flow, *args, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def edit(self, flow: str, old: str, new: str) -> None:
        path = self.folder / flow
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    def tree(self, flow_name: str) -> dict[str, str]:
        """Every file of the flow's folder in the real datastore, by content hash."""
        base = self.root / flow_name
        return {
            str(p.relative_to(base)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def real(self) -> None:
        grange.metadata(f"local@{self.root}")
        grange.namespace(None)

    def spins(self) -> None:
        grange.inspect_spin(self.root)
        grange.namespace(None)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def test_spin_reruns_a_step_with_the_edited_code_and_keeps_it_apart(project: Project) -> None:
    project.ok("linear.py", "run", "--alpha", "3")
    before = project.tree("SpinLinearFlow")
    project.edit("linear.py", "* self.alpha  # EDIT", "* self.alpha + 1000  # EDIT")
    result = project.ok("linear.py", "spin", "train")
    # The step's output live, then its artifacts: recorded inputs, the code as it is now.
    assert "training on [1, 2, 3]" in result.stdout
    assert "Spin SpinLinearFlow/spin-1/train/2 succeeded" in result.stdout
    assert "model  float  1018.0  (new)" in result.stdout
    assert "Spinning SpinLinearFlow/1/train/2 with the flow file as it is now" in result.stderr
    # The original run is untouched; real runs do not see the spin.
    assert project.tree("SpinLinearFlow") == before
    project.real()
    flow = grange.Flow("SpinLinearFlow")
    assert [r.id for r in flow.runs()] == ["1"]
    assert flow.latest_run.id == "1" and flow.latest_successful_run.id == "1"
    assert flow["1"]["train"].task.data.model == 18.0
    # inspect_spin reads the spin run: the one step, its artifacts, its logs.
    project.spins()
    runs = list(grange.Flow("SpinLinearFlow").runs())
    assert [r.id for r in runs] == ["spin-1"]
    assert [s.id for s in runs[0]] == ["train"] and runs[0].successful
    task = grange.Task("SpinLinearFlow/spin-1/train/2")
    assert task.data.model == 1018.0 and task.data.data == [1, 2, 3] and task.data.alpha == 3.0
    assert "training on [1, 2, 3]" in task.stdout
    assert "runtime:spin" in runs[0].system_tags
    grange.default_metadata()


def test_resume_and_the_next_run_ignore_spins(project: Project) -> None:
    project.ok("linear.py", "run")
    project.ok("linear.py", "spin", "end")
    project.ok("linear.py", "spin", "end")
    run = project.ok("linear.py", "run")
    assert "SpinLinearFlow/2 succeeded" in run.stdout  # spins took no run id
    resumed = project.ok("linear.py", "resume", "train")
    assert "resumed from run 2" in resumed.stdout.lower() or "/3" in resumed.stdout
    project.spins()
    assert sorted(r.id for r in grange.Flow("SpinLinearFlow").runs()) == ["spin-1", "spin-2"]
    project.real()
    assert sorted(r.id for r in grange.Flow("SpinLinearFlow").runs()) == ["1", "2", "3"]
    assert grange.Run("SpinLinearFlow/3").origin_pathspec == "SpinLinearFlow/2"
    grange.default_metadata()


def test_spin_retries_the_failed_foreach_task_after_a_fix(project: Project) -> None:
    failed = project.cmd("spinflow.py", "run", SPIN_FAIL_AT="2")
    assert failed.returncode == 1
    # Without a task, the step's first failed one (the item 2); the fix is in the code.
    result = project.ok("spinflow.py", "spin", "body")
    assert "body 1: 2" in result.stdout
    assert "sq  int  4  (new)" in result.stdout
    assert "foreach index 1, one of 3 tasks of the step" in result.stderr
    assert "spin 1/body/TASK" in result.stderr
    assert "without @retry" in result.stderr
    # The same failure again: exit 1, the user's traceback, none of grange's frames.
    again = project.cmd("spinflow.py", "spin", "body", SPIN_FAIL_AT="2")
    assert again.returncode == 1
    assert "ValueError: cannot square 2" in again.stderr
    assert 'spinflow.py", line' in again.stderr
    assert "/grange/" not in again.stderr
    assert "Spin SpinFlow/spin-2/body/3 failed" in again.stderr
    # Another task, named.
    first = project.ok("spinflow.py", "spin", "1/body/2")
    assert "body 0: 1" in first.stdout
    project.spins()
    assert not grange.Run("SpinFlow/spin-2").successful
    assert grange.Task("SpinFlow/spin-3/body/2").data.sq == 1
    grange.default_metadata()


def test_spin_a_join_and_artifacts_for_its_inputs(project: Project) -> None:
    project.ok("spinflow.py", "run", "--alpha", "2")
    project.real()
    bodies = [t.id for t in grange.Run("SpinFlow/1")["body"]]
    assert len(bodies) == 3
    plain = project.ok("spinflow.py", "spin", "join")
    assert "total  int  28  (new)" in plain.stdout  # 2 * (1 + 4 + 9)
    (project.folder / "arts.py").write_text(
        f"ARTIFACTS = {{'1/body/{bodies[0]}': {{'sq': 100}}}}\n"
    )
    given = project.ok("spinflow.py", "spin", "join", "--artifacts-module", "arts.py")
    assert "total  int  126  (new)" in given.stdout  # 100 + 8 + 18
    project.spins()
    assert grange.Task(f"SpinFlow/spin-2/join/{grange.Run('SpinFlow/spin-2')['join'].task.id}")
    grange.default_metadata()


def test_artifacts_module_overrides_inputs_and_parameters(project: Project) -> None:
    project.ok("linear.py", "run", "--alpha", "3")
    (project.folder / "arts.py").write_text("ARTIFACTS = {'data': [100], 'alpha': 0.5}\n")
    result = project.ok("linear.py", "spin", "train", "--artifacts-module", "arts.py")
    assert "model  float  50.0  (new)" in result.stdout
    assert "data   list   [100]  (from --artifacts-module)" in result.stdout
    project.real()
    assert grange.Task("SpinLinearFlow/1/train/2").data.data == [1, 2, 3]  # the original
    grange.default_metadata()


def test_spin_start_takes_parameters_only(project: Project) -> None:
    project.ok("spinflow.py", "run", "--alpha", "5")
    result = project.ok("spinflow.py", "spin", "start")
    assert "seen_alpha  int   5  (new)" in result.stdout
    (project.folder / "arts.py").write_text("ARTIFACTS = {'alpha': 7}\n")
    given = project.ok("spinflow.py", "spin", "start", "--artifacts-module", "arts.py")
    assert "seen_alpha  int   7  (new)" in given.stdout
    (project.folder / "bad.py").write_text("ARTIFACTS = {'items': [1]}\n")
    refused = project.cmd("spinflow.py", "spin", "start", "--artifacts-module", "bad.py")
    assert refused.returncode == 2
    assert "the start step reads only the run's parameters (alpha)" in refused.stderr


def test_no_persist_keeps_nothing(project: Project) -> None:
    project.ok("linear.py", "run")
    result = project.ok("linear.py", "spin", "train", "--no-persist")
    assert "model  float  12.0  (new)" in result.stdout
    assert "Nothing was kept (--no-persist)." in result.stdout
    assert not (project.root / ".spin").exists()


def test_constants_and_new_parameters_come_from_the_file_as_it_is_now(project: Project) -> None:
    project.ok("spinflow.py", "run")
    project.edit("spinflow.py", "OFFSET = 0", "OFFSET = 10")
    project.edit(
        "spinflow.py",
        '    alpha = Parameter("alpha", default=1, type=int)\n',
        '    alpha = Parameter("alpha", default=1, type=int)\n'
        '    beta = Parameter("beta", default=4, type=int)\n',
    )
    project.edit("spinflow.py", "+ self.OFFSET", "+ self.OFFSET + self.beta")
    result = project.ok("spinflow.py", "spin", "1/body/2")
    assert "sq  int  15  (new)" in result.stdout  # 1 * 1 * 1 + 10 + 4


def test_a_join_whose_input_is_missing_is_refused(project: Project) -> None:
    project.ok("spinflow.py", "run")
    project.real()
    body = grange.Run("SpinFlow/1")["body"].task.id
    grange.default_metadata()
    shutil.rmtree(project.root / "SpinFlow" / "1" / "body" / body)  # its records are gone
    result = project.cmd("spinflow.py", "spin", "join")
    assert result.returncode == 2, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"input 1/body/{body} of task 1/join/" in said
    assert "has no successful attempt" in said and "spin needs every input the task read" in said


def test_the_latest_run_is_the_current_namespaces(project: Project) -> None:
    project.ok("linear.py", "run")  # ada's run 1
    bobs = python(
        project.folder / "linear.py", "run", "--alpha", "10", cwd=project.folder,
        env=clean_env(GRANGE_USER="bob"), check=False,
    )  # fmt: skip
    assert bobs.returncode == 0, bobs.stderr
    mine = project.ok("linear.py", "spin", "train")  # ada's latest: run 1, not bob's 2
    assert "Spinning SpinLinearFlow/1/train/2" in mine.stderr
    theirs = project.ok("linear.py", "spin", "2/train")  # named: any namespace
    assert "model  float  60.0  (new)" in theirs.stdout


def test_spin_a_run_stored_in_s3(
    project: Project, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    root = f"s3://{s3_bucket}/runs"
    cache = tmp_path / "cache"
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("AWS_", "GRANGE_S3", "GRANGE_ENDPOINT"))
    }
    env.update(GRANGE_DATASTORE_ROOT=root, GRANGE_CACHE_DIR=str(cache))
    project.ok("linear.py", "run", "--alpha", "3", **env)
    result = project.ok("linear.py", "spin", "train", **env)
    assert "model  float  18.0  (new)" in result.stdout
    assert f"grange.inspect_spin('{root}')" in result.stdout  # the hint names the S3 root
    # The spin store is local (this machine's cache), the original run in S3 untouched.
    assert list(cache.rglob("spin/metadata.db"))
    monkeypatch.setenv("GRANGE_CACHE_DIR", str(cache))
    grange.inspect_spin(root)
    grange.namespace(None)
    assert grange.Task("SpinLinearFlow/spin-1/train/2").data.data == [1, 2, 3]  # from S3
    grange.metadata(f"local@{root}")
    assert [r.id for r in grange.Flow("SpinLinearFlow").runs()] == ["1"]
    grange.default_metadata()


def test_decorators_that_apply_to_a_task_apply_to_a_spin(project: Project) -> None:
    from grange.cards import get_cards

    project.ok("decorated.py", "run")
    result = project.ok("decorated.py", "spin", "work")
    assert "greeting  str  'hello'  (new)" in result.stdout  # @environment
    assert "without @catch (for runs)" in result.stderr
    slow = project.cmd("decorated.py", "spin", "work", SPIN_SLOW="1")  # @timeout, not caught
    assert slow.returncode == 1
    assert "TimeoutException: step 'work' timed out after 2 seconds" in slow.stderr
    bare = project.ok("decorated.py", "spin", "work", "--skip-decorators")
    assert "greeting  NoneType  None  (new)" in bare.stdout
    project.spins()
    assert len(get_cards(grange.Task("SpinDecoratedFlow/spin-1/work/2"))) == 1  # @card
    assert not grange.Run("SpinDecoratedFlow/spin-2").successful
    assert len(get_cards(grange.Task("SpinDecoratedFlow/spin-3/work/2"))) == 0
    grange.default_metadata()


def test_inspect_spin_where_nothing_was_spun(project: Project) -> None:
    project.ok("linear.py", "run")
    grange.inspect_spin(project.folder)  # a folder holding .grange, as Metaflow's "."
    with pytest.raises(grange.GrangeError) as err:
        list(grange.Flow("SpinLinearFlow").runs())
    assert "no step of" in str(err.value) and "was spun" in str(err.value)
    grange.default_metadata()


def test_a_spin_uses_the_config_values_its_run_was_started_with(project: Project) -> None:
    value = '{"scale": 10, "greeting": "from-run"}'
    project.ok("configured.py", "--config-value", "cfg", value, "run")
    result = project.ok("configured.py", "spin", "train")
    project.spins()
    task = grange.Flow("SpinConfigFlow").latest_run["train"].task
    assert task.data.model == 60  # the run's scale (10), not the default (2)
    assert task.data.greeting == "from-run"  # the decorator bound to the run's value
    assert task.data.cfg == {"scale": 10, "greeting": "from-run"}
    assert "Traceback" not in result.stderr


def test_a_parameter_added_since_the_run_defaults_from_its_configs(project: Project) -> None:
    project.ok("configured.py", "--config-value", "cfg", '{"scale": 10, "greeting": "g"}', "run")
    project.edit(
        "configured.py",
        '    cfg = Config("cfg", default_value={"scale": 2, "greeting": "default"})\n',
        '    cfg = Config("cfg", default_value={"scale": 2, "greeting": "default"})\n'
        '    beta = Parameter("beta", default=lambda ctx: ctx.configs.cfg.scale * 100)\n',
    )
    project.edit(
        "configured.py", "from grange import Config,", "from grange import Config, Parameter,"
    )
    project.ok("configured.py", "spin", "train")
    project.spins()
    task = grange.Flow("SpinConfigFlow").latest_run["train"].task
    assert task.data.beta == "1000"  # the run's scale (10), not the default's; str as in a run
