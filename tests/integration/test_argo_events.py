"""@schedule and @trigger end to end on the local Argo executor: compiled manifests (with
a real code package), a CronWorkflow fired once, and events published by ``Event`` and
by an Argo run's end reaching Sensors through a webhook EventSource on loopback; the
triggered runs read their parameters and ``current.trigger`` through the client."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.argo_schema import validate

from argo_executor import WebhookSource, WorkflowResult, fire_cron, run_workflow
from grange import Flow, metadata
from grange.datastore import DatastoreLocation
from grange.decorators.triggers import schedule_of, triggers_of
from grange.deploy.argo import ArgoSettings, Manifests, compile_flow
from grange.environments.package import package_flow
from grange.events import Event
from grange.graph import graph_of
from grange.runtime.run import step_options
from support import USER, Runner, load_flow

TRAINING = """
from grange import FlowSpec, Parameter, current, step, trigger

@trigger(event="new_data")
class TrainingFlow(FlowSpec):
    date = Parameter("date", type=str, required=True)
    rows = Parameter("rows", default=10)

    @step
    def start(self):
        self.model = f"model-{self.date}-{self.rows}"
        self.payload = dict(current.trigger.event.payload)
        self.kind = current.trigger.event.type
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    TrainingFlow()
"""

INFERENCE = """
from grange import FlowSpec, current, step, trigger_on_finish

@trigger_on_finish(flow="TrainingFlow")
class InferenceFlow(FlowSpec):
    @step
    def start(self):
        self.used = current.trigger.run.data.model
        self.upstream = current.trigger.run.pathspec
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    InferenceFlow()
"""

HOURLY = """
from grange import FlowSpec, Parameter, current, schedule, step

@schedule(hourly=True)
class HourlyFlow(FlowSpec):
    size = Parameter("size", default=3)

    @step
    def start(self):
        self.doubled = self.size * 2
        self.started_by = current.trigger
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    HourlyFlow()
"""


def deploy(runner: Runner, source: str, file_name: str, **settings: Any) -> Manifests:
    """What ``argo-workflows create`` would submit, every document valid."""
    path = runner.cwd / file_name
    path.write_text(textwrap.dedent(source))
    return deploy_file(runner, path, **settings)


def deploy_file(runner: Runner, path: Path, **settings: Any) -> Manifests:
    cls = load_flow(path)
    graph = graph_of(cls)
    location = DatastoreLocation.of(str(runner.root))
    manifests = compile_flow(
        cls,
        graph,
        step_options(cls, graph, ()),
        ArgoSettings(
            datastore_root=str(location),
            package=package_flow(str(path), location, cls.__name__),
            image="python:3.11",
            user=USER,
            schedule=schedule_of(cls),
            triggers=triggers_of(cls, None),
            **settings,
        ),
    )
    for doc in manifests.documents():
        assert validate(doc) == []
    return manifests


def run(
    runner: Runner, manifests: Manifests, workflow: dict[str, Any]
) -> tuple[WorkflowResult, str]:
    assert validate(workflow) == []
    result = run_workflow(
        manifests.workflow_template,
        workflow,
        env=runner.env(GRANGE_CODE_DIR=str(runner.cwd / "code")),
        cwd=runner.cwd,
        time_scale=0.001,
    )
    assert result.phase == "Succeeded", result.explain()
    return result, f"argo-{result.name}"


@pytest.mark.slow
def test_published_event_runs_training_whose_end_runs_inference(
    runner: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookSource() as source:
        training = deploy(runner, TRAINING, "training.py", events_webhook_url=source.url)
        inference = deploy(runner, INFERENCE, "inference.py", events_webhook_url=source.url)
        source.add(training.sensors[0])
        source.add(inference.sensors[0])

        monkeypatch.setenv("GRANGE_EVENTS_URL", source.url)
        Event("other_event").publish(payload={"date": "nope"})
        assert source.created.empty()
        event_id = Event("new_data").publish(payload={"date": "2024-05-01", "rows": 7})
        workflow = source.created.get_nowait()
        assert source.created.empty()

        _, run_id = run(runner, training, workflow)
        trained = Flow("TrainingFlow")[run_id]
        assert trained.data.model == "model-2024-05-01-7"
        assert trained.data.payload["date"] == "2024-05-01"
        assert trained.data.payload["id"] == event_id and trained.data.kind == "event"
        assert trained.trigger is not None and trained.trigger.event.name == "new_data"

        # the training run's end step published metaflow.TrainingFlow.end to the webhook
        end = source.received[-1]
        assert end["name"] == "metaflow.TrainingFlow.end"
        assert end["payload"]["pathspec"] == f"TrainingFlow/{run_id}/end/t0"
        downstream = source.created.get_nowait()
        _, inference_id = run(runner, inference, downstream)
        used = Flow("InferenceFlow")[inference_id]
        assert used.data.used == "model-2024-05-01-7"
        assert used.data.upstream == f"TrainingFlow/{run_id}"
        assert used.trigger.run.id == run_id


@pytest.mark.slow
def test_a_cron_workflow_fires_a_run_with_the_defaults(runner: Runner) -> None:
    manifests = deploy(runner, HOURLY, "hourly.py", auto_emit_events=False)
    assert manifests.cron_workflow is not None
    result = fire_cron(
        manifests.cron_workflow,
        manifests.workflow_template,
        at=1_700_000_000,
        env=runner.env(GRANGE_CODE_DIR=str(runner.cwd / "code")),
        cwd=runner.cwd,
        time_scale=0.001,
    )
    assert result.phase == "Succeeded", result.explain()
    assert result.name == "hourlyflow-1700000000"
    run_ = Flow("HourlyFlow")[f"argo-{result.name}"]
    assert run_.data.doubled == 6 and run_.data.started_by is None
    assert run_.trigger is None


def test_no_webhook_no_end_event(runner: Runner) -> None:
    """Without events_webhook_url the pods send nothing (and never write the index)."""
    manifests = deploy(runner, TRAINING, "training.py")
    env = manifests.workflow_template["spec"]["templateDefaults"]["container"]["env"]
    assert "GRANGE_EVENTS_URL" not in {e["name"] for e in env}


@pytest.mark.slow
def test_the_ml_workflow_example_on_argo(runner: Runner) -> None:
    """examples/ml_workflow: a GitHub push event starts the ingestion, whose end starts
    the training; a second push of the same data stops at the switch, and the training
    keeps its model."""
    example = Path(__file__).resolve().parents[2] / "examples" / "ml_workflow"
    folder = runner.cwd / "ml_workflow"
    shutil.copytree(example, folder)
    push = json.loads((folder / "push.json").read_text())
    with WebhookSource() as source:
        ingest = deploy_file(
            runner,
            folder / "ingest.py",
            events_webhook_url=source.url,
            parameter_values={"dataset": str(folder / "data.csv")},  # create --dataset PATH
        )
        train = deploy_file(runner, folder / "train.py", events_webhook_url=source.url)
        source.add(ingest.sensors[0])
        source.add(train.sensors[0])

        models = []
        for _ in range(2):
            Event("github_push", url=source.url).publish(payload=push)
            _, ingest_id = run(runner, ingest, source.created.get_nowait())
            # a fresh client: the pods indexed the runs while they ran, and a process's
            # client refreshes a flow's runs once (grange.client.sync)
            metadata(f"local@{runner.root}")
            assert Flow("IngestFlow")[ingest_id].data.commit == push["after"]
            _, train_id = run(runner, train, source.created.get_nowait())
            trained = Flow("TrainFlow")[train_id]
            assert trained.data.ingest == f"IngestFlow/{ingest_id}"
            models.append((trained.data.decision, trained.data.model))
    (first, model), (second, kept) = models
    assert (first, second) == ("fit", "keep")
    assert model["a"] != 0 and kept == model
