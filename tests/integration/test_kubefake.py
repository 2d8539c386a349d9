"""The fake Kubernetes API server answers the official client as a real server does."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from kubefake import FakeKube

GROUP, VERSION = "argoproj.io", "v1alpha1"


@pytest.fixture
def api(kube: FakeKube) -> client.ApiClient:
    return config.new_client_from_config(config_file=os.environ["KUBECONFIG"])


def job(command: list[str], **spec: Any) -> client.V1Job:
    return client.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=client.V1ObjectMeta(generate_name="hello-", labels={"app": "t"}),
        spec=client.V1JobSpec(
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "t"}),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    containers=[
                        client.V1Container(
                            name="main",
                            image="python:3.11",
                            command=command,
                            env=[client.V1EnvVar(name="GREETING", value="hi")],
                            **spec,
                        )
                    ],
                ),
            ),
        ),
    )


def wait_pod(core: client.CoreV1Api, job_name: str, phase: str) -> client.V1Pod:
    while True:
        pods = core.list_namespaced_pod("default", label_selector=f"job-name={job_name}").items
        if pods and pods[0].status and pods[0].status.phase == phase:
            return pods[0]
        time.sleep(0.05)


def test_a_job_runs_its_command_and_reports_like_a_cluster(api: client.ApiClient) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    code = "import os, sys; print(os.environ['GREETING'], sys.argv[1:]); sys.exit(3)"
    created = batch.create_namespaced_job("default", job(["python", "-c", code, "x"]))
    name = created.metadata.name
    assert name.startswith("hello-") and len(name) == len("hello-") + 5
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    pod = wait_pod(core, name, "Failed")
    terminated = pod.status.container_statuses[0].state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    log = core.read_namespaced_pod_log(pod.metadata.name, "default", follow=True)
    assert log == "hi ['x']\n"
    while not (batch.read_namespaced_job(name, "default").status.conditions or []):
        time.sleep(0.05)
    condition = batch.read_namespaced_job(name, "default").status.conditions[0]
    assert (condition.type, condition.reason) == ("Failed", "BackoffLimitExceeded")
    batch.delete_namespaced_job(name, "default", propagation_policy="Background")
    assert core.list_namespaced_pod("default", label_selector=f"job-name={name}").items == []


def test_deleting_a_job_kills_its_pod(api: client.ApiClient, kube: FakeKube) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    created = batch.create_namespaced_job(
        "default", job(["python", "-c", "import time; print('up', flush=True); time.sleep(60)"])
    )
    pod = wait_pod(core, created.metadata.name, "Running")
    stream = core.read_namespaced_pod_log(
        pod.metadata.name, "default", follow=True, _preload_content=False
    )
    assert next(stream.stream()) == b"up\n"
    batch.delete_namespaced_job(created.metadata.name, "default", propagation_policy="Background")
    assert b"".join(stream.stream()) == b""  # the stream ends with the container
    assert kube.deleted_jobs == [("default", created.metadata.name, "Background")]


def test_errors_are_status_objects(api: client.ApiClient, kube: FakeKube) -> None:
    batch = client.BatchV1Api(api)
    with pytest.raises(ApiException) as info:
        batch.read_namespaced_job("nope", "default")
    assert info.value.status == 404
    status = json.loads(info.value.body)
    assert (status["kind"], status["reason"]) == ("Status", "NotFound")
    assert status["message"] == 'jobs.batch "nope" not found'
    bad = job(["true"])
    bad.spec.template.spec.containers[0].image = None
    with pytest.raises(ApiException) as info:
        batch.create_namespaced_job("default", bad)
    assert info.value.status == 422
    assert "is invalid" in info.value.body and "image" in info.value.body
    raw = api.sanitize_for_serialization(job(["true"]))
    raw["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    code, answer = post(kube.url + "/apis/batch/v1/namespaces/default/jobs", raw)
    assert code == 422 and answer["reason"] == "Invalid" and "imagePullPolicyy" in answer["message"]


def post(url: str, body: Any) -> tuple[int, Any]:
    """A raw request (the client itself refuses unknown fields before sending)."""
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def template(name: str = "hello") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "container": {"image": "python:3.11"}}],
        },
    }


def test_argo_objects_create_replace_patch_delete(api: client.ApiClient) -> None:
    custom = client.CustomObjectsApi(api)
    args = (GROUP, VERSION, "default", "workflowtemplates")
    created = custom.create_namespaced_custom_object(*args, template())
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object(*args, template())
    assert info.value.status == 409 and "AlreadyExists" in info.value.body
    stale = dict(created)
    updated = custom.replace_namespaced_custom_object(*args, "hello", created)
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(ApiException) as info:
        custom.replace_namespaced_custom_object(*args, "hello", stale)
    assert info.value.status == 409 and "Conflict" in info.value.body
    with pytest.raises(ApiException) as info:
        custom.replace_namespaced_custom_object(*args, "hello", template())
    assert info.value.status == 422 and "resourceVersion" in info.value.body
    patched = custom.patch_namespaced_custom_object(
        *args, "hello", {"metadata": {"labels": {"a": "b"}}}
    )
    assert patched["metadata"]["labels"] == {"a": "b"}
    bad = template("bad")
    bad["spec"]["templates"][0]["tempalte"] = "x"
    with pytest.raises(ApiException) as info:
        custom.create_namespaced_custom_object(*args, bad)
    assert info.value.status == 422 and "tempalte" in info.value.body
    listed = custom.list_namespaced_custom_object(*args)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["hello"]
    custom.delete_namespaced_custom_object(*args, "hello")
    with pytest.raises(ApiException) as info:
        custom.get_namespaced_custom_object(*args, "hello")
    assert info.value.status == 404


def test_pods_wait_on_images_secrets_and_selectors(api: client.ApiClient, kube: FakeKube) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    kube.unpullable.add("ghcr.io/acme/missing:1")
    pulled = job(["true"])
    pulled.spec.template.spec.containers[0].image = "ghcr.io/acme/missing:1"
    name = batch.create_namespaced_job("default", pulled).metadata.name
    pod = wait_pod(core, name, "Pending")
    while not pod.status.container_statuses:
        pod = wait_pod(core, name, "Pending")
    assert pod.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    kube.secrets["creds"] = {"TOKEN": "s3cr3t"}
    ok = job(
        [sys.executable, "-c", "import os; print(os.environ['TOKEN'])"],
        env_from=[client.V1EnvFromSource(secret_ref=client.V1SecretEnvSource(name="creds"))],
    )
    name = batch.create_namespaced_job("default", ok).metadata.name
    pod = wait_pod(core, name, "Succeeded")
    assert core.read_namespaced_pod_log(pod.metadata.name, "default") == "s3cr3t\n"


def test_stopping_leaves_no_thread_or_process(tmp_path: Path) -> None:
    """Forking tests that follow need a process with one thread (the fork server's rule)."""
    before = threading.active_count()
    fake = FakeKube(tmp_path).start()
    fake.unpullable.add("never:1")
    api = config.new_client_from_config(config_file=str(fake.write_kubeconfig(tmp_path / "kc")))
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    stuck = job(["true"])
    stuck.spec.template.spec.containers[0].image = "never:1"
    batch.create_namespaced_job("default", stuck)
    name = batch.create_namespaced_job("default", job(["sleep", "60"])).metadata.name
    pod = wait_pod(core, name, "Running")
    stream = core.read_namespaced_pod_log(
        pod.metadata.name, "default", follow=True, _preload_content=False
    )
    fake.stop()
    assert b"".join(stream.stream()) == b""
    assert threading.active_count() == before
