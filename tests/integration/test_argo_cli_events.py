"""``argo-workflows create|delete|event-source`` with @schedule and @trigger, as a user
types them, against the fake API server (tests/kubefake): the CronWorkflow and the
Sensor come and go with the decorators."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import yaml
from tests.argo_schema import validate

from kubefake import FakeKube
from support import Runner

FLOW = """
from grange import FlowSpec, Parameter, schedule, step, trigger

{decorators}
class EventsFlow(FlowSpec):
    day = Parameter("day", default="today")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    EventsFlow()
"""
LABEL = "grange.dev/workflow-template"
DECORATED = '@schedule(cron="15 3 * * *", timezone="Europe/Paris")\n@trigger(event="day_done")'


def write(path: Path, decorators: str) -> Path:
    path.write_text(textwrap.dedent(FLOW.format(decorators=decorators)))
    return path


def _env(runner: Runner, tmp_path: Path, root: str) -> dict[str, str]:
    profile = tmp_path / "grange.toml"
    profile.write_text(
        'default_profile = "ci"\n[profiles.ci]\n[profiles.ci.argo]\n'
        'events_service_account = "operate-workflow-sa"\n'
        'events_webhook_url = "http://grange-events-eventsource-svc.default.svc:12000/events"\n'
    )
    return runner.env(
        GRANGE_DATASTORE_ROOT=root,
        GRANGE_HOME=str(tmp_path / "home"),
        GRANGE_CONFIG=str(profile),
        KUBECONFIG=os.environ["KUBECONFIG"],
    )


def test_create_applies_and_delete_removes_the_cron_workflow_and_sensor(
    runner: Runner, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    flow = write(tmp_path / "events_flow.py", DECORATED)
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    created = runner(flow, "argo-workflows", "create", "--concurrency-policy", "Forbid", env=env)
    assert "CronWorkflow eventsflow applied" in created.stderr
    assert "Sensor eventsflow applied" in created.stderr
    (cron,) = kube.objects("cronworkflows")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["schedules"] == ["15 3 * * *"]
    (sensor,) = kube.objects("sensors")
    assert sensor["spec"]["template"]["serviceAccountName"] == "operate-workflow-sa"
    (template,) = kube.objects("workflowtemplates")
    defaults = template["spec"]["templateDefaults"]["container"]["env"]
    assert {"name": "GRANGE_EVENTS_URL",
            "value": "http://grange-events-eventsource-svc.default.svc:12000/events"} in defaults  # fmt: skip
    assert json.loads(template["metadata"]["annotations"]["grange.dev/sensors"]) == ["eventsflow"]

    write(flow, "")  # the decorators removed: a redeploy removes what they made
    again = runner(flow, "argo-workflows", "create", env=env)
    assert "CronWorkflow eventsflow deleted" in again.stderr
    assert "Sensor eventsflow deleted" in again.stderr
    assert kube.objects("cronworkflows") == [] and kube.objects("sensors") == []

    write(flow, DECORATED)
    runner(flow, "argo-workflows", "create", env=env)
    assert len(kube.objects("sensors")) == 1
    # a deployment without a webhook URL while Sensors wait in the namespace: a note
    (tmp_path / "other").mkdir()
    other = write(tmp_path / "other" / "events_flow.py", "")
    no_url = {
        **env,
        "GRANGE_CONFIG": str(tmp_path / "plain.toml"),
        "GRANGE_HOME": str(tmp_path / "h2"),
    }
    (tmp_path / "plain.toml").write_text('default_profile = "ci"\n[profiles.ci]\n')
    noted = runner(other, "argo-workflows", "--name", "other", "create", env=no_url)
    assert "no [argo] events_webhook_url" in noted.stderr
    deleted = runner(flow, "argo-workflows", "delete", env=env)
    assert "CronWorkflow eventsflow" in deleted.stderr and "Sensor eventsflow" in deleted.stderr
    assert kube.objects("cronworkflows") == [] and kube.objects("sensors") == []
    quiet = runner(other, "argo-workflows", "--name", "other", "create", env=no_url)
    assert "events_webhook_url" not in quiet.stderr  # no Sensor waits: nothing to say


def test_only_json_prints_every_document(runner: Runner, tmp_path: Path) -> None:
    flow = write(tmp_path / "events_flow.py", DECORATED)
    env = runner.env(KUBECONFIG=str(tmp_path / "missing"))
    printed = runner(flow, "argo-workflows", "create", "--only-json", env=env)
    docs: list[Any] = json.loads(printed.stdout)
    assert [d["kind"] for d in docs] == ["WorkflowTemplate", "CronWorkflow", "Sensor"]
    assert all(validate(d) == [] for d in docs)
    as_yaml = runner(flow, "argo-workflows", "create", "--only-yaml", env=env)
    assert len([d for d in yaml.safe_load_all(as_yaml.stdout) if d]) == 3


def test_event_source_prints_or_applies_the_webhook(
    runner: Runner, tmp_path: Path, kube: FakeKube
) -> None:
    flow = write(tmp_path / "events_flow.py", "")
    env = runner.env(KUBECONFIG=os.environ["KUBECONFIG"])
    printed = runner(flow, "argo-workflows", "event-source", env=env)
    (doc,) = [d for d in yaml.safe_load_all(printed.stdout) if d]
    assert doc["kind"] == "EventSource" and validate(doc) == []
    assert "http://grange-events-eventsource-svc.default.svc:12000/events" in printed.stderr
    assert "takes events from anyone who reaches it" in printed.stderr  # no token: said
    applied = runner(flow, "argo-workflows", "event-source", "--apply", env=env)
    assert "EventSource grange-events created" in applied.stderr
    (stored,) = kube.objects("eventsources")
    assert stored["spec"]["webhook"]["grange-event"]["endpoint"] == "/events"


def test_create_refuses_a_required_parameter_nothing_sets(runner: Runner, tmp_path: Path) -> None:
    flow = tmp_path / "required_flow.py"
    flow.write_text(
        FLOW.format(decorators="@schedule(hourly=True)").replace(
            'Parameter("day", default="today")', 'Parameter("day", required=True)'
        )
    )
    env = runner.env(KUBECONFIG=str(tmp_path / "missing"))
    refused = runner(flow, "argo-workflows", "create", "--only-json", env=env, ok=False)
    assert refused.returncode == 2 and "--day" in refused.stderr
    assert "Traceback" not in refused.stderr
    given = runner(flow, "argo-workflows", "create", "--only-json", "--day", "mon", env=env)
    assert [d["kind"] for d in json.loads(given.stdout)] == ["WorkflowTemplate", "CronWorkflow"]


def test_sensors_of_other_deployments_are_never_replaced_nor_deleted(
    runner: Runner, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    """'a.b' and 'a-b' are two deployments with two Sensors; a Sensor of another
    deployment under the name this one would use is refused, not replaced, and left
    alone when this one is redeployed without @trigger or deleted."""
    flow = write(tmp_path / "events_flow.py", '@trigger(event="day_done")')
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    runner(flow, "argo-workflows", "--name", "a.b", "create", env=env)
    runner(flow, "argo-workflows", "--name", "a-b", "create", env=env)
    owners = {s["metadata"]["labels"][LABEL] for s in kube.objects("sensors")}
    assert owners == {"a.b", "a-b"}
    # a Sensor of 'a-b' named as 'c' will name its own: refused before anything is applied
    (theirs,) = [s for s in kube.objects("sensors") if s["metadata"]["name"] == "a-b"]
    theirs = {**theirs, "metadata": {**theirs["metadata"], "name": "c"}}
    theirs["metadata"].pop("resourceVersion", None)
    theirs["metadata"].pop("uid", None)
    (tmp_path / "c.json").write_text(json.dumps(theirs))
    from kubernetes import client, config  # the fake API, as kubectl would

    config.load_kube_config(os.environ["KUBECONFIG"])
    client.CustomObjectsApi().create_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "default", "sensors", theirs
    )
    refused = runner(flow, "argo-workflows", "--name", "c", "create", env=env, ok=False)
    assert "Sensor c in namespace default belongs to the deployment a-b" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert {t["metadata"]["name"] for t in kube.objects("workflowtemplates")} == {"a-b", "a.b"}
    deleted = runner(flow, "argo-workflows", "--name", "a.b", "delete", env=env)
    assert "Sensor a-b-" in deleted.stderr
    names = {s["metadata"]["name"] for s in kube.objects("sensors")}
    assert names == {"a-b", "c"}  # a-b's own and the one under 'c' stay


def test_a_failed_deletion_of_a_stale_sensor_keeps_the_old_template(
    runner: Runner, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    """A redeploy without @trigger removes the Sensor before replacing the template: if
    the deletion fails, the template still lists it, and the next redeploy removes it."""
    flow = write(tmp_path / "events_flow.py", '@trigger(event="day_done")')
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    runner(flow, "argo-workflows", "create", env=env)
    write(flow, "")
    kube.faults.append(("DELETE", "/sensors/eventsflow", 403))
    failed = runner(flow, "argo-workflows", "create", env=env, ok=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    (template,) = kube.objects("workflowtemplates")
    assert json.loads(template["metadata"]["annotations"]["grange.dev/sensors"]) == ["eventsflow"]
    again = runner(flow, "argo-workflows", "create", env=env)
    assert "Sensor eventsflow deleted" in again.stderr
    assert kube.objects("sensors") == []
