"""``python flow.py deploy`` and ``grange deployments|scheduler`` as a user types them
(no run starts here: tests/integration/test_scheduler_runs.py runs flows)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flow_runs import clean_env, python

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"

PLAIN = """
from grange import FlowSpec, Parameter, step


class PlainFlow(FlowSpec):
    alpha = Parameter("alpha", default=0.5)
    on = Parameter("on", default=False, is_flag=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PlainFlow()
"""

PROJECT = """
from grange import FlowSpec, project, schedule, step, trigger_on_finish


@project(name="fraud")
@trigger_on_finish(flow="TrainFlow")
class ScoreFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ScoreFlow()
"""

BAD_CRON = """
from grange import FlowSpec, schedule, step


@schedule(cron="0 0 * * *", timezone="Mars/Olympus")
class BadFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadFlow()
"""


def _env(folder: Path, **extra: str) -> dict[str, str]:
    return clean_env(HOME=str(folder), GRANGE_USER="ann", GRANGE_CACHE_DIR=str(folder / "c"),
                     **extra)  # fmt: skip


def grange(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return python("-c", GRANGE, *args, cwd=folder, env=_env(folder), check=False)


def flow(folder: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "flow.py").write_text(text)
    return python("flow.py", *args, cwd=folder, env=_env(folder), check=False)


def test_a_flow_with_neither_schedule_nor_trigger_is_deployed_for_manual_runs(
    tmp_path: Path,
) -> None:
    done = flow(tmp_path, PLAIN, "deploy", "--alpha", "0.7", "--on", "--tag", "t1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "PlainFlow"
    assert "it runs only when triggered by hand" in done.stderr
    assert "grange deployments trigger PlainFlow" in done.stderr
    from grange.events.deployments import Deployments
    from grange.metastore import MetadataStore, sqlite_url

    store = MetadataStore.from_url(sqlite_url(tmp_path / ".grange"))
    spec = Deployments(store).require("PlainFlow").spec
    assert spec.parameters == {"alpha": ("--alpha", "0.7"), "on": ("--on",)}
    assert spec.tags == ("t1",) and spec.user == "ann" and spec.manual_only
    assert spec.storage.datastore_root == str(tmp_path / ".grange")
    again = flow(tmp_path, PLAIN, "deploy")
    assert "Redeployed PlainFlow" in again.stderr
    assert Deployments(store).require("PlainFlow").spec.parameters == {}


def test_a_project_flow_is_deployed_on_its_branch(tmp_path: Path) -> None:
    done = flow(tmp_path, PROJECT, "--branch", "exp", "deploy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fraud.test.exp.ScoreFlow"
    assert "when fraud.test.exp.TrainFlow finishes successfully" in done.stderr
    listed = grange(tmp_path, "deployments", "list").stdout
    assert "metaflow.fraud.test.exp.TrainFlow.end" in listed


def test_deploy_refuses_a_bad_timezone_and_a_bad_value(tmp_path: Path) -> None:
    bad = flow(tmp_path, BAD_CRON, "deploy")
    assert bad.returncode == 2 and "Mars/Olympus" in bad.stderr
    assert "Traceback" not in bad.stderr
    value = flow(tmp_path, PLAIN, "deploy", "--alpha", "lots")
    assert value.returncode == 2 and "alpha" in value.stderr
    assert "Traceback" not in value.stderr


def test_deployments_commands_and_their_errors(tmp_path: Path) -> None:
    assert "No deployments" in grange(tmp_path, "deployments", "list").stderr
    flow(tmp_path, PLAIN, "deploy")
    paused = grange(tmp_path, "deployments", "pause", "PlainFlow")
    assert paused.returncode == 0 and "Resume it with" in paused.stderr
    assert "yes" in grange(tmp_path, "deployments", "list").stdout
    resumed = grange(tmp_path, "deployments", "resume", "PlainFlow")
    assert "only when triggered by hand" in resumed.stderr
    wrong = grange(tmp_path, "deployments", "trigger", "PlainFlw")
    assert wrong.returncode == 2 and "did you mean PlainFlow?" in wrong.stderr
    key = grange(tmp_path, "deployments", "trigger", "PlainFlow").stdout.strip()
    assert key.startswith("manual:")
    assert key in grange(tmp_path, "deployments", "list").stdout  # due, not started yet
    assert grange(tmp_path, "deployments", "delete", "PlainFlow").returncode == 0
    assert "No deployments" in grange(tmp_path, "deployments", "list").stderr


def test_the_scheduler_refuses_an_open_endpoint_without_a_token(tmp_path: Path) -> None:
    flow(tmp_path, PLAIN, "deploy")
    done = grange(tmp_path, "scheduler", "--host", "0.0.0.0")
    assert done.returncode == 2 and "without a token" in done.stderr
    bad = python("-c", GRANGE, "scheduler", "--once", cwd=tmp_path,
                 env=_env(tmp_path, GRANGE_SCHEDULER_NOW="noon"), check=False)  # fmt: skip
    assert bad.returncode == 2 and "GRANGE_SCHEDULER_NOW" in bad.stderr
