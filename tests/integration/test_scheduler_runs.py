"""The local scheduler with real runs: ``python flow.py deploy``, ``grange scheduler``.

The seed's pattern (TrainingFlow on the event new_data, InferenceFlow on its
finish), a chain A -> B -> C, a per-minute schedule under a controlled clock,
and a scheduler restarted while its run goes on. Runs start as processes from
their code packages, as they do for users.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from grange import Flow, Run
from grange.metastore import MetadataStore, sqlite_url
from grange.metastore.engine import dispose_all
from pgdb import fresh_database, needs_postgres
from support import FLOWS as ALL_FLOWS
from support import Runner

FLOWS = ALL_FLOWS / "scheduler"
GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"

pytestmark = pytest.mark.slow


class Scheduling:
    """Deploys the flows of tests/flows/scheduler and runs ``grange`` commands."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.cwd = runner.cwd
        self.env = runner.env(GRANGE_CACHE_DIR=str(runner.cwd / "cache"))

    def deploy(self, flow: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self._run([sys.executable, str(FLOWS / f"{flow}.py"), "deploy", *args], **env)

    def grange(self, *args: str, ok: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        return self._run([sys.executable, "-c", GRANGE, *args], ok=ok, **env)

    def scheduler(self, *args: str, **env: str) -> subprocess.Popen[str]:
        argv = [sys.executable, "-c", GRANGE, "scheduler", "--poll-interval", "0.2", *args]
        return subprocess.Popen(argv, cwd=self.cwd, env={**self.env, **env}, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip

    def once(self, **env: str) -> subprocess.CompletedProcess[str]:
        return self.grange("scheduler", "--once", "--no-http", "--poll-interval", "0.2", **env)

    def publish(self, name: str, env: Mapping[str, str] | None = None, **payload: Any) -> str:
        code = (
            "import json, sys; from grange.events import Event; "
            "print(Event(sys.argv[1]).publish(payload=json.loads(sys.argv[2])))"
        )
        done = self._run([sys.executable, "-c", code, name, json.dumps(payload)], **(env or {}))
        return done.stdout.strip()

    def _run(
        self, argv: list[str], *, ok: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(argv, cwd=self.cwd, env={**self.env, **env}, capture_output=True,
                              text=True, timeout=600, check=False)  # fmt: skip
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    def store(self) -> MetadataStore:
        return MetadataStore.from_url(sqlite_url(self.runner.root))


@pytest.fixture
def sched(runner: Runner) -> Iterator[Scheduling]:
    yield Scheduling(runner)
    dispose_all()


def runs(flow: str) -> list[Run]:
    from grange.exceptions import ObjectNotFound

    try:
        return list(Flow(flow))
    except ObjectNotFound:
        return []


def wait_for(predicate: Any, what: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def test_the_seed_training_then_inference_on_one_event(sched: Scheduling) -> None:
    assert "when the event new_data arrives" in sched.deploy("training").stderr
    assert "when TrainingFlow finishes successfully" in sched.deploy("inference").stderr
    # Published while no scheduler runs: durable, delivered when one starts.
    event_id = sched.publish("new_data", date="2026-01-01")
    out = sched.once()
    training = Flow("TrainingFlow").latest_run
    inference = Flow("InferenceFlow").latest_run
    assert training.successful and inference.successful, out.stderr
    assert training.data.model == "model-for-2026-01-01"
    assert training.data.event == ("new_data", event_id)
    assert training.trigger.event.name == "new_data" and training.trigger.event.id == event_id
    assert inference.data.model == "model-for-2026-01-01"
    assert inference.data.upstream == training.pathspec
    assert Run(inference.pathspec).trigger.run.pathspec == training.pathspec
    assert inference.created_at >= training.finished_at  # in order
    listed = sched.grange("deployments", "list").stdout
    assert f"TrainingFlow/{training.id} succeeded" in listed
    assert f"InferenceFlow/{inference.id} succeeded" in listed
    # Nothing more is due: a second pass starts nothing.
    sched.once()
    assert len(runs("TrainingFlow")) == 1 and len(runs("InferenceFlow")) == 1


def test_the_seed_over_http_the_cli_and_the_event_api(sched: Scheduling) -> None:
    import httpx

    sched.deploy("training")
    sched.deploy("inference")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/events"
    scheduler = sched.scheduler("--port", str(port))
    try:
        wait_for(lambda: _healthy(port), "the endpoint")
        body = {"name": "new_data", "payload": {"date": "d-http", "id": "http-1"}}
        answer = httpx.post(url, json=body)
        assert answer.status_code == 202, answer.text
        assert httpx.post(url, json=body).json()["duplicate"] is True  # delivered once
        wait_for(lambda: _models(sched) == ["model-for-d-http"], "the HTTP event's runs")
        sched.grange("events", "publish", "new_data", "--payload", "date=d-cli")
        wait_for(lambda: len(_models(sched)) == 2, "the CLI event's runs")
        code = (
            "from grange.events import Event; Event('new_data').publish(payload={'date': 'd-api'})"
        )
        sched._run([sys.executable, "-c", code], GRANGE_EVENTS_URL=url)
        wait_for(lambda: len(_models(sched)) == 3, "the API event's runs")
    finally:
        scheduler.send_signal(signal.SIGTERM)
        _, err = scheduler.communicate(timeout=60)
    assert scheduler.returncode == 0, err
    assert _models(sched) == ["model-for-d-api", "model-for-d-cli", "model-for-d-http"]
    listed = sched.grange("events", "list", "--name", "new_data").stdout
    assert "http-1" in listed and listed.count("new_data") == 3
    assert runs("TrainingFlow")[-1].trigger.event.id == "http-1"  # the oldest run


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def _models(sched: Scheduling) -> list[str]:
    """The models of the successful InferenceFlow runs, sorted."""
    with sched.store()._read() as c:
        done = c.execute(
            "SELECT run_id FROM deployment_runs WHERE deployment = 'InferenceFlow' "
            "AND status = 'succeeded'"
        ).fetchall()
    return sorted(Flow("InferenceFlow")[row[0]].data.model for row in done)


def test_a_chain_a_b_c_runs_in_order(sched: Scheduling) -> None:
    for link in ("chain_c", "chain_b", "chain_a"):
        sched.deploy(link)
    event_id = sched.publish("go")
    sched.once()
    a, b, c = (Flow(name).latest_run for name in ("ChainA", "ChainB", "ChainC"))
    assert a.successful and b.successful and c.successful
    assert a.data.started_by == event_id
    assert b.data.started_by == f"ChainA/{a.id}/end/2"
    assert c.data.started_by == f"ChainB/{b.id}/end/2"
    assert a.finished_at <= b.created_at and b.finished_at <= c.created_at


def test_a_per_minute_schedule_under_a_controlled_clock(sched: Scheduling) -> None:
    deployed = sched.deploy("ticking").stderr
    assert "on cron '* * * * *' (UTC)" in deployed and "Next run:" in deployed
    clock = sched.cwd / "clock"
    t0 = 1_800_000_010.0  # 10 s past a minute
    env = {"GRANGE_SCHEDULER_NOW": f"@{clock}"}
    clock.write_text(str(t0))
    sched.once(**env)  # the schedule starts now: nothing is due yet
    assert runs("TickingFlow") == []
    clock.write_text(str(t0 + 55))  # the next minute's tick
    sched.once(**env)
    sched.once(**env)  # the same time again: nothing more
    assert len(runs("TickingFlow")) == 1
    clock.write_text(str(t0 + 55 + 600))  # ten ticks missed: one run (catch-up "once")
    sched.once(**env)
    assert len(runs("TickingFlow")) == 2
    assert all(run.successful for run in runs("TickingFlow"))


def test_a_manual_deployment_and_pause(sched: Scheduling) -> None:
    deployed = sched.deploy("ticking", "--tag", "nightly")
    assert deployed.stdout.strip() == "TickingFlow"
    sched.grange("deployments", "pause", "TickingFlow")
    key = sched.grange("deployments", "trigger", "TickingFlow").stdout.strip()
    assert key.startswith("manual:")
    listed = sched.grange("deployments", "list").stdout
    assert "yes" in listed and "paused" in listed
    sched.grange("deployments", "resume", "TickingFlow")
    sched.once()
    (run,) = runs("TickingFlow")
    assert run.successful and "nightly" in run.user_tags
    missing = sched.grange("deployments", "delete", "TickingFlo", ok=False)
    assert missing.returncode == 2 and "did you mean TickingFlow?" in missing.stderr
    sched.grange("deployments", "delete", "TickingFlow")
    assert "No deployments" in sched.grange("deployments", "list").stderr


def test_a_restarted_scheduler_follows_the_run_it_did_not_start(sched: Scheduling) -> None:
    sched.deploy("waiting")
    release = sched.cwd / "release"
    first = sched.scheduler("--no-http")
    try:
        sched.publish("hold", release=str(release))
        wait_for(lambda: _run_ids(sched, "WaitingFlow"), "the run to start")
        second = sched.grange("scheduler", "--once", "--no-http", ok=False)
        assert second.returncode == 2
        assert f"pid {first.pid} on host" in second.stderr  # one scheduler per store
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    (run_id,) = _run_ids(sched, "WaitingFlow")
    assert Flow("WaitingFlow")[run_id].finished_at is None  # the run goes on
    release.write_text("go")
    sched.once()  # follows the run to its end; starts nothing new
    run = Flow("WaitingFlow")[run_id]
    assert run.successful and run.data.released
    assert len(runs("WaitingFlow")) == 1
    assert f"WaitingFlow/{run_id} succeeded" in sched.grange("deployments", "list").stdout


def _run_ids(sched: Scheduling, deployment: str) -> list[str]:
    with sched.store()._read() as c:
        rows = c.execute(
            "SELECT run_id FROM deployment_runs WHERE deployment = ? AND run_id IS NOT NULL",
            (deployment,),
        ).fetchall()
    return [row[0] for row in rows]


def test_deploy_refuses_a_bad_parameter_value(sched: Scheduling) -> None:
    done = subprocess.run(
        [sys.executable, str(FLOWS / "training.py"), "deploy", "--date"],
        cwd=sched.cwd, env=sched.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert os.path.exists(sched.cwd) and "Traceback" not in done.stderr


def _documented_commands() -> list[str]:
    """The walkthrough of docs/events.md for examples/ml_workflow, as written."""
    import re

    text = (ALL_FLOWS.parent.parent / "docs" / "events.md").read_text()
    block = re.search(r"```\n(python examples/ml_workflow/ingest.py deploy.*?)```", text, re.S)
    assert block is not None
    return block.group(1).strip().splitlines()


def test_the_ml_workflow_example(sched: Scheduling) -> None:
    """examples/ml_workflow, through its documented commands: a push ingests the data
    if it changed, then trains."""
    import shutil

    shutil.copytree(ALL_FLOWS.parent.parent / "examples", sched.cwd / "examples")
    data = sched.cwd / "examples" / "ml_workflow" / "data.csv"
    commands = _documented_commands()
    assert commands[2] == "grange scheduler &"  # started below as `--once` after each push
    env = {**sched.env, "PATH": f"{os.path.dirname(sys.executable)}:{sched.env['PATH']}"}
    for line in commands[:2]:
        done = subprocess.run(["bash", "-c", line], cwd=sched.cwd, env=env, text=True,
                              capture_output=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr

    def pushed() -> tuple[Run, Run]:
        done = subprocess.run(["bash", "-c", commands[3]], cwd=sched.cwd, env=env, text=True,
                              capture_output=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        sched.once()
        return Flow("IngestFlow").latest_run, Flow("TrainFlow").latest_run

    ingest, train = pushed()
    assert (
        ingest.successful
        and ingest.data.changed
        and ingest.data.commit == ("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    )
    assert train.successful and train.data.model["trained_on"] == ingest.pathspec
    first_model = train.data.model
    assert round(first_model["a"], 2) == 2.05
    ingest, train = pushed()  # the same data again: ingestion stops, the model stays
    assert not ingest.data.changed and [s.id for s in ingest] == ["end", "unchanged", "start"]
    assert train.data.model == first_model
    data.write_text("x,y\n1,1\n2,2\n")
    ingest, train = pushed()
    assert ingest.data.changed and train.data.model["a"] == 1.0
    assert len(runs("IngestFlow")) == 3 and len(runs("TrainFlow")) == 3


@needs_postgres
def test_a_chain_deployed_with_a_password_url_runs_in_that_database(sched: Scheduling) -> None:
    """Deployed under GRANGE_METADATA holding a password, run by a scheduler given the
    URL with --metadata: the runs and their end events are in that database (the
    scheduler passes its URL to them in their environment), so the chain goes on."""
    import sqlalchemy as sa

    from grange.events.scheduler.state import SUCCEEDED, SchedulerState

    with fresh_database() as plain:
        url = sa.make_url(plain).set(password="pw").render_as_string(hide_password=False)
        for link in ("chain_c", "chain_b", "chain_a"):
            sched.deploy(link, GRANGE_METADATA=url)
        sched.publish("go", env={"GRANGE_METADATA": url})
        done = sched.grange("scheduler", "--once", "--no-http", "--poll-interval", "0.2",
                            "--metadata", url)  # fmt: skip
        launches = SchedulerState(MetadataStore.from_url(plain)).launches()
        assert sorted((one.flow, one.status) for one in launches) == [
            ("ChainA", SUCCEEDED), ("ChainB", SUCCEEDED), ("ChainC", SUCCEEDED),
        ], done.stderr  # fmt: skip
        dispose_all()


CONFIGURED = """
from grange import Config, FlowSpec, environment, step
import os

class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default="configured.json")

    @environment(vars={"WHO": cfg.who})
    @step
    def start(self):
        self.who = (self.cfg.who, os.environ["WHO"])
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ConfiguredFlow()
"""


def test_a_deployment_runs_with_the_configs_bound_at_deploy(sched: Scheduling) -> None:
    folder = sched.cwd / "configured"
    folder.mkdir()
    (folder / "configured.py").write_text(CONFIGURED)
    (folder / "configured.json").write_text('{"who": "the default file"}')  # not packaged
    flow = [sys.executable, str(folder / "configured.py")]
    sched._run([*flow, "--config-value", "cfg", '{"who": "deploy"}', "deploy"])
    (folder / "configured.json").unlink()  # the runs do not read it
    sched.grange("deployments", "trigger", "ConfiguredFlow")
    sched.once()
    (run,) = runs("ConfiguredFlow")
    assert run.successful and run.data.who == ("deploy", "deploy")
    assert run.config["cfg"].who == "deploy"
