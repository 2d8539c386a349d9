"""The follower process's core against the fake cluster: log streaming, exit codes, Unschedulable."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from grange.compute.kubernetes.follow import Follower
from grange.compute.kubernetes.job import generate_name, job_manifest
from grange.compute.kubernetes.pod import plan_pod
from grange.decorators.kubernetes import KubernetesDecorator
from grange.decorators.registry import task_options
from kubefake import FakeKube


def manifest(**kube: Any) -> dict[str, Any]:
    plan = plan_pod(
        "train",
        task_options([KubernetesDecorator(kube)]),
        command=["python", "-c", "print('hello from the pod')"],
        defaults={"image": "python:3.11"},
    )
    return job_manifest(plan, name=generate_name("TrainFlow", "train"), labels={})


def test_unschedulable_is_a_notice_then_a_failure(
    kube: FakeKube, capsys: pytest.CaptureFixture[str]
) -> None:
    job = manifest(node_selector={"pool": "gpu"})
    follower = Follower({"job": job, "unschedulable_timeout": 0.3}, None)
    try:
        assert follower.run() == 1
    finally:
        follower.delete()
    err = capsys.readouterr().err
    assert "cannot be scheduled yet (Unschedulable): 0/1 nodes are available" in err
    assert "could not be scheduled for" in err and "node_selector" in err
    assert [p for _, _, p in kube.deleted_jobs] == ["Background"]


def test_the_follower_streams_the_log_and_returns_the_exit_code(
    kube: FakeKube, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    job = manifest()
    job["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "python",
        "-c",
        "print('hello from the pod'); raise SystemExit(4)",
    ]
    follower = Follower({"job": json.loads(json.dumps(job))}, None)
    try:
        assert follower.run() == 4
    finally:
        follower.delete()
    out = capfdbinary.readouterr().out
    assert out == b"hello from the pod\n"
    assert kube.objects("jobs") == []


def test_the_log_of_a_container_that_ended_before_it_was_seen_is_shown(
    kube: FakeKube, capfdbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    first_look = Follower._wait_start

    def late(self: Follower) -> Any:  # the follower looks only once the container ended
        while True:
            name, outcome = first_look(self)
            if outcome.state == "ended":
                return name, outcome

    monkeypatch.setattr(Follower, "_wait_start", late)
    job = manifest()
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["python", "-c", "print('quick')"]
    follower = Follower({"job": job}, None)
    try:
        assert follower.run() == 0
    finally:
        follower.delete()
    assert capfdbinary.readouterr().out == b"quick\n"


def test_a_job_deleted_before_its_pod_started_ends_the_follower(
    kube: FakeKube, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from kubefake.store import KINDS

    monkeypatch.setattr(kube.kubelet, "_run_job", lambda job: None)  # no pod, ever

    def delete_soon() -> None:
        while not kube.objects("jobs"):
            time.sleep(0.01)
        name = kube.objects("jobs")[0]["metadata"]["name"]
        kube.store.delete(KINDS["jobs"], "default", name, "Background")

    threading.Thread(target=delete_soon, daemon=True).start()
    follower = Follower({"job": manifest()}, None)
    assert follower.run() == 1
    follower.delete()  # quietly: it is gone already
    err = capsys.readouterr().err
    assert "was deleted before its pod started" in err and "could not delete" not in err


def test_transient_api_errors_while_following_are_tried_again(
    kube: FakeKube, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    kube.faults += [("GET", "/pods", 503), ("GET", "/pods", 500), ("GET", "/pods/", 429)]
    job = manifest()
    follower = Follower({"job": job}, None)
    try:
        assert follower.run() == 0
    finally:
        follower.delete()
    assert kube.faults == [] and capfdbinary.readouterr().out == b"hello from the pod\n"


def test_a_refused_request_is_a_clear_error(kube: FakeKube) -> None:
    from grange.exceptions import KubernetesError

    kube.faults.append(("POST", "/jobs", 403))
    follower = Follower({"job": manifest()}, None)
    with pytest.raises(KubernetesError) as info:
        follower.run()
    assert info.value.message.startswith("creating a Job in namespace 'default' failed (HTTP 403)")
    assert "RBAC" in (info.value.fix or "")
