"""@kubernetes: its checks, and plan_pod's mapping of @kubernetes/@resources to a pod."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from kubernetes import client as k8s

from grange.compute.kubernetes.pod import check_plan_image, default_image, plan_pod
from grange.config import parse_config
from grange.decorators.kubernetes import KubernetesDecorator
from grange.decorators.options import TaskOptions
from grange.decorators.registry import parse_decospec, task_options
from grange.decorators.resources import ResourcesDecorator
from grange.exceptions import ConfigError, DecoratorError, PolicyError

COMMAND = ["python", "-m", "grange.environments.bootstrap"]


def options(kube: dict[str, Any] | None = None, res: dict[str, Any] | None = None) -> TaskOptions:
    decos: list[Any] = []
    if kube is not None:
        decos.append(KubernetesDecorator(kube))
    if res is not None:
        decos.append(ResourcesDecorator(res))
    return task_options(decos)


def pod(kube: dict[str, Any] | None = None, res: dict[str, Any] | None = None, **kw: Any) -> Any:
    return plan_pod("train", options(kube, res), command=COMMAND, **kw)


def job_of(plan: Any) -> dict[str, Any]:
    """The plan as a Job, as the API client sends it (camelCase, no nulls)."""
    job = k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        metadata=k8s.V1ObjectMeta(generate_name="train-", namespace=plan.namespace),
        spec=k8s.V1JobSpec(
            backoff_limit=0,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=plan.labels, annotations=plan.annotations),
                spec=plan.pod_spec(active_deadline_seconds=660),
            ),
        ),
    )
    return k8s.ApiClient().sanitize_for_serialization(job)  # type: ignore[no-any-return]


def requests_limits(plan: Any) -> tuple[dict[str, str], dict[str, str] | None]:
    return plan.container.resources.requests, plan.container.resources.limits


@pytest.mark.parametrize(
    ("kube", "res", "requests", "limits"),
    [
        (None, None, {"cpu": "1", "memory": "4096M", "ephemeral-storage": "10240M"}, None),
        ({}, {"cpu": 4, "memory": 2048}, {"cpu": "4", "memory": "4096M"}, None),
        ({"cpu": 0.5, "memory": 16000}, {"cpu": 0.25}, {"cpu": "0.5", "memory": "16000M"}, None),
        ({"cpu": 2.5}, None, {"cpu": "2.5"}, None),
        ({"disk": 100}, {"disk": 50000}, {"ephemeral-storage": "50000M"}, None),
        ({"gpu": 1}, {"gpu": 2}, {"cpu": "1"}, {"nvidia.com/gpu": "2"}),
        ({"gpu": 1, "gpu_vendor": "AMD"}, None, {"cpu": "1"}, {"amd.com/gpu": "1"}),
        ({"gpu": 0}, None, {"cpu": "1"}, {"nvidia.com/gpu": "0"}),
        (
            {"qos": "Guaranteed", "cpu": 2},
            None,
            {"cpu": "2", "memory": "4096M"},
            {"cpu": "2", "memory": "4096M", "ephemeral-storage": "10240M"},
        ),
    ],
)
def test_resources_map_to_requests_and_limits(
    kube: dict[str, Any] | None,
    res: dict[str, Any] | None,
    requests: dict[str, str],
    limits: dict[str, str] | None,
) -> None:
    got_requests, got_limits = requests_limits(pod(kube, res))
    assert {k: got_requests[k] for k in requests} == requests
    assert got_limits == limits


def test_every_field_maps_and_the_job_validates_strictly() -> None:
    plan = pod(
        {
            "image": "ghcr.io/acme/train:1",
            "image_pull_policy": "Always",
            "namespace": "ml",
            "service_account": "runner",
            "secrets": ["db-creds", "api-token"],
            "node_selector": "kubernetes.io/arch=amd64,pool=gpu",
            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "labels": {"team": "ml", "app.kubernetes.io/part-of": "grange"},
            "annotations": {"note": "anything: even spaces"},
            "persistent_volume_claims": {"data": "/mnt/data", "models.v2": "/mnt/models"},
            "shared_memory": 1024,
            "use_tmpfs": True,
            "port": 8080,
        },
        {"memory": 8000},
        env={"A": "1", "B": "2"},
        args=["--flow-file", "flow.py"],
    )
    c = plan.container
    assert (c.image, c.image_pull_policy, c.name) == ("ghcr.io/acme/train:1", "Always", "main")
    assert [e.secret_ref.name for e in c.env_from] == ["db-creds", "api-token"]
    assert [(e.name, e.value) for e in c.env] == [("A", "1"), ("B", "2")]
    assert [(m.name, m.mount_path) for m in c.volume_mounts] == [
        ("tmpfs-ephemeral-volume", "/grange_temp"),
        ("dshm", "/dev/shm"),
        ("pvc-0", "/mnt/data"),
        ("pvc-1", "/mnt/models"),
    ]
    tmpfs, shm, data, _ = plan.volumes
    assert (tmpfs.empty_dir.medium, tmpfs.empty_dir.size_limit) == ("Memory", "4000Mi")
    assert shm.empty_dir.size_limit == "1024Mi"
    assert data.persistent_volume_claim.claim_name == "data"
    assert c.ports[0].container_port == 8080
    assert plan.node_selector == {"kubernetes.io/arch": "amd64", "pool": "gpu"}
    assert plan.tolerations[0].effect == "NoSchedule"
    assert (plan.namespace, plan.service_account) == ("ml", "runner")
    job = job_of(plan)
    kubernetes_validate.validate(job, "1.33.0", strict=True)
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_a_plain_step_validates_strictly_too() -> None:
    kubernetes_validate.validate(job_of(pod()), "1.33.0", strict=True)


def test_image_comes_from_step_then_profile_then_python_version() -> None:
    profile = {"image": "ghcr.io/acme/base:2", "namespace": "team", "labels": {"a": "1"}}
    assert pod().image == default_image() == "python:{}.{}".format(*__import__("sys").version_info)
    assert pod(defaults=profile).image == "ghcr.io/acme/base:2"
    plan = pod({"image": "ghcr.io/acme/x:1", "labels": {"b": "2"}}, defaults=profile)
    assert (plan.image, plan.namespace, plan.labels) == (
        "ghcr.io/acme/x:1",
        "team",
        {"a": "1", "b": "2"},
    )


def test_a_bad_profile_setting_is_a_config_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        pod(defaults={"namespace": "Bad_NS", "context": "anything"})
    assert "[kubernetes] namespace = 'Bad_NS'" in info.value.message


def test_the_registry_policy_refuses_an_image_naming_the_step() -> None:
    config = '[profiles.prod.policy]\nallowed_registries = ["ghcr.io/acme"]\n'
    policy = parse_config(config, "/etc/grange/config.toml").profiles["prod"].policy
    check_plan_image(pod({"image": "ghcr.io/acme/train:1"}), policy, "train")
    with pytest.raises(PolicyError) as info:
        check_plan_image(pod(), policy, "train")
    assert info.value.step == "train"
    assert "docker.io/library/python" in info.value.message or "python" in info.value.message
    assert "ghcr.io/acme" in (info.value.fix or "")


@pytest.mark.parametrize(
    ("attrs", "says"),
    [
        ({"cpu": 0}, "@kubernetes(cpu=0): must be a number above 0"),
        ({"memory": "lots"}, "@kubernetes(memory='lots'): must be a number above 0"),
        ({"memory": 100.5}, "must be a whole number of MiB"),
        ({"gpu": 1.5}, "@kubernetes(gpu=1.5): must be a whole number from 0 up"),
        ({"gpu_vendor": "intel"}, "gpu_vendor='intel'): must be one of amd, nvidia"),
        ({"qos": "BestEffort"}, "must be one of guaranteed, burstable"),
        ({"image_pull_policy": "always"}, "must be one of Always, IfNotPresent, Never"),
        ({"namespace": "ML_team"}, "namespace must be at most 63 lowercase"),
        ({"service_account": "Runner"}, "service_account must be at most 253"),
        ({"secrets": ["Bad Secret"]}, "the Secret name 'Bad Secret'"),
        ({"node_selector": "pool"}, "node_selector='pool'): 'pool' is not key=value"),
        ({"node_selector": {"pool": "a b"}}, "the value 'a b' of 'pool'"),
        ({"labels": {"bad key!": "x"}}, "the key 'bad key!'"),
        ({"labels": {"team": "-ml"}}, "the value '-ml' of 'team'"),
        ({"labels": {"team": "x" * 64}}, "at most 63"),
        ({"annotations": {"Example.COM/x": "v"}}, "its prefix 'Example.COM'"),
        ({"annotations": ["a"]}, "must be a dict of keys to values"),
        ({"tolerations": [{"key": "a", "operater": "Exists"}]}, "unknown key(s) operater"),
        ({"tolerations": [{"key": "a", "operator": "In"}]}, "operator 'In' is not Exists"),
        ({"tolerations": {"key": "a"}}, "must be a list of dicts"),
        ({"persistent_volume_claims": {"data": "mnt"}}, "must be an absolute path"),
        ({"persistent_volume_claims": ["data"]}, "dict of claim names to mount paths"),
        ({"shared_memory": 0}, "shared_memory=0): must be a whole number from 1 up"),
        ({"port": 70000}, "port=70000): must be a whole number from 1 to 65535"),
        ({"use_tmpfs": "yes"}, "use_tmpfs='yes'): must be True or False"),
        ({"tmpfs_path": "tmp"}, "tmpfs_path='tmp'): must be an absolute path"),
        ({"image": ""}, "image=''): must be a non-empty string"),
        ({"cpus": 2}, "@kubernetes got unknown argument(s) cpus"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument(attrs: dict[str, Any], says: str) -> None:
    with pytest.raises(DecoratorError) as info:
        KubernetesDecorator(attrs)
    assert says in info.value.message
    assert info.value.fix


def test_labels_and_annotations_follow_kubernetes_rules() -> None:
    deco = KubernetesDecorator(
        {
            "labels": {"example.com/team": "ml", "empty": "", "flag": True, "n": 3},
            "annotations": {"note": "free text: anything, even long " * 10},
            "node_selector": {"zone": "a"},
        }
    )
    assert deco.options.labels == {"example.com/team": "ml", "empty": "", "flag": "true", "n": "3"}


def test_with_kubernetes_takes_arguments() -> None:
    deco = parse_decospec("kubernetes:image=python:3.12,cpu=2,node_selector=pool=gpu")
    assert (deco.options.image, deco.options.cpu) == ("python:3.12", 2)
    assert deco.options.node_selector == {"pool": "gpu"}
    with pytest.raises(DecoratorError) as info:
        parse_decospec("kubernetes:qos=fast")
    assert info.value.message.startswith("--with kubernetes:qos=fast: @kubernetes(qos='fast')")


def test_without_the_kubernetes_client_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grange.exceptions import KubernetesError

    monkeypatch.setitem(__import__("sys").modules, "kubernetes", None)
    with pytest.raises(KubernetesError) as info:
        pod()
    assert info.value.fix == "pip install 'grange[kubernetes]'"


def _secret_options(sources: list[Any]) -> TaskOptions:
    from grange.decorators.secrets import SecretsDecorator

    return task_options([SecretsDecorator({"sources": sources})])


def test_kubernetes_secrets_of_secrets_are_mounted_where_the_provider_reads() -> None:
    """@secrets(sources=["kubernetes.db"]): the pod mounts Secret db read-only at
    /var/run/secrets/grange/db; sources of other providers mount nothing, and sources
    without a provider only when the profile's default provider is kubernetes."""
    sources = ["kubernetes.db", "aws-secrets-manager.prod/x", "plain"]
    plan = plan_pod("train", _secret_options(sources), command=COMMAND)
    assert [v.secret.secret_name for v in plan.volumes if v.secret] == ["db"]
    mount = next(m for m in plan.container.volume_mounts if m.mount_path.endswith("/db"))
    assert mount.mount_path == "/var/run/secrets/grange/db" and mount.read_only
    kubernetes_validate.validate(job_of(plan), "1.33.0", strict=True)

    by_default = plan_pod(
        "train", _secret_options(sources), command=COMMAND,
        defaults={"secrets_provider": "kubernetes"},
    )  # fmt: skip
    assert sorted(v.secret.secret_name for v in by_default.volumes if v.secret) == ["db", "plain"]
