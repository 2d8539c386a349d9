"""The Job of a task attempt, what a pod's status means, the [kubernetes] settings."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from grange.compute.kubernetes.job import generate_name, job_manifest, label_value, pod_outcome
from grange.compute.kubernetes.pod import plan_pod
from grange.decorators.kubernetes import KubernetesDecorator
from grange.decorators.registry import task_options


def manifest(**kube: Any) -> dict[str, Any]:
    plan = plan_pod(
        "train",
        task_options([KubernetesDecorator(kube)]),
        command=["python", "-c", "print('hello from the pod')"],
        defaults={"image": "python:3.11"},
    )
    return job_manifest(
        plan,
        name=generate_name("TrainFlow", "train_model"),
        labels={"grange.dev/flow": "TrainFlow", "grange.dev/step": "train_model"},
        active_deadline_seconds=120,
    )


def test_the_job_is_valid_and_labelled() -> None:
    job = manifest(labels={"team": "ml"})
    kubernetes_validate.validate(job, "1.33.0", strict=True)
    assert job["metadata"]["generateName"] == "trainflow-train-model-"
    assert job["spec"]["backoffLimit"] == 0
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "team": "ml",
        "grange.dev/flow": "TrainFlow",
        "grange.dev/step": "train_model",
    }
    assert job["spec"]["template"]["spec"]["activeDeadlineSeconds"] == 120


def test_names_and_label_values_are_made_valid() -> None:
    assert label_value("a b/c" + "x" * 80) == ("a-b-c" + "x" * 80)[:63]
    assert label_value("_x_") == "x"
    assert generate_name("F" * 80, "s") == "f" * 40 + "-"


def pod(state: dict[str, Any], **status: Any) -> dict[str, Any]:
    return {
        "spec": {"containers": [{"image": "img:1", "resources": {"limits": {"memory": "256M"}}}]},
        "status": {"containerStatuses": [{"state": state}], **status},
    }


@pytest.mark.parametrize(
    ("the_pod", "state", "code", "says"),
    [
        (pod({"running": {}}), "running", None, None),
        (pod({"terminated": {"exitCode": 3, "reason": "Error"}}), "ended", 3, None),
        (pod({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}), "ended", 137, "256M"),
        (
            pod({"waiting": {"reason": "ImagePullBackOff"}}),
            "failed",
            None,
            "'img:1' cannot be pulled",
        ),
        (pod({"waiting": {"reason": "ErrImagePull"}}), "waiting", None, None),
        (
            pod({"waiting": {"reason": "CreateContainerConfigError", "message": 'secret "x"'}}),
            "failed",
            None,
            "create the Secrets",
        ),
        (
            pod({}, phase="Failed", reason="Evicted", message="The node was low on memory."),
            "failed",
            None,
            "the pod was evicted: The node was low on memory.",
        ),
        (
            pod(
                {"terminated": {"exitCode": 137, "reason": "Error"}},
                phase="Failed",
                reason="DeadlineExceeded",
            ),
            "ended",
            137,
            "activeDeadlineSeconds",
        ),
    ],
)
def test_pod_outcomes(
    the_pod: dict[str, Any], state: str, code: int | None, says: str | None
) -> None:
    outcome = pod_outcome(the_pod)
    assert (outcome.state, outcome.exit_code) == (state, code)
    if says:
        assert says in (outcome.message or "")


def test_a_misspelt_setting_is_refused_with_a_suggestion() -> None:
    from grange.compute.kubernetes.settings import check_settings
    from grange.exceptions import ConfigError

    check_settings({"image": "x", "shared_filesystem": True})
    with pytest.raises(ConfigError) as info:
        check_settings({"namspace": "ml"})
    assert info.value.message == "[kubernetes] namspace: is not a known key"
    assert (info.value.fix or "").startswith("did you mean 'namespace'?")


def test_an_image_without_grange_gets_a_hint() -> None:
    from grange.compute.kubernetes.follow import missing_grange_hint

    tail = b"/usr/local/bin/python: Error while finding module specification for "
    tail += b"'grange.environments.bootstrap' (ModuleNotFoundError: No module named 'grange')\n"
    hint = missing_grange_hint(tail, "python:3.11")
    assert hint is not None and "python:3.11" in hint and "[kubernetes] image" in hint
    assert missing_grange_hint(b"Traceback ... ValueError: bad\n", "python:3.11") is None
