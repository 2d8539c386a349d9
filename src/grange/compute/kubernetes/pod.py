"""One step's pod, as the Kubernetes client's typed models: :func:`plan_pod`.

The same plan is used by the local runtime's ``@kubernetes`` Jobs and by the
Argo compiler (which converts it to Argo's container template): one mapping of
``@kubernetes`` / ``@resources`` to Kubernetes, in one place.

The mapping (as Metaflow's, so that a flow asks a cluster for the same):

- requests: ``cpu``, ``memory`` ``"<MiB>M"``, ``ephemeral-storage`` ``"<MiB>M"``, each
  the larger of ``@kubernetes`` (defaults 1, 4096, 10240) and ``@resources``;
  with ``qos="guaranteed"`` the limits equal the requests;
- ``gpu`` (the larger of both decorators): ``limits["<gpu_vendor>.com/gpu"]``;
- ``secrets`` (the profile's, then the step's): ``envFrom`` Secret references;
- ``persistent_volume_claims``: a volume and a mount per claim;
- ``shared_memory``: a memory-backed emptyDir at ``/dev/shm`` (``@resources`` wins);
- ``use_tmpfs`` / ``tmpfs_size``: a memory-backed emptyDir at ``tmpfs_path``
  (size: half the memory unless given);
- ``port``: a container port; ``node_selector``, ``tolerations``, ``labels``,
  ``annotations``, ``service_account``, ``namespace``: the pod's (the step's
  value over the profile's ``[kubernetes]`` one; labels and annotations merged);
- ``image``: the step's, else the profile's ``[kubernetes] image``, else
  ``python:<major>.<minor>`` of the step's ``@pypi(python=...)`` or of the
  interpreter running the flow (:func:`default_image`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from grange.decorators.kubernetes import check_kubernetes
from grange.decorators.options import KubernetesOptions, TaskOptions
from grange.exceptions import ConfigError, DecoratorError, KubernetesError, PolicyError

# Keys of a profile's [kubernetes] table that act as defaults of every pod.
PROFILE_POD_KEYS = (
    "image",
    "image_pull_policy",
    "namespace",
    "service_account",
    "secrets",
    "node_selector",
    "tolerations",
    "labels",
    "annotations",
    "gpu_vendor",
    "qos",
)

TMPFS_VOLUME = "tmpfs-ephemeral-volume"
SHM_VOLUME = "dshm"


def k8s_models() -> Any:
    """``kubernetes.client`` (its typed models), or a clear error if it is not installed."""
    try:
        from kubernetes import client
    except ImportError:
        raise KubernetesError(
            "the Kubernetes client is not installed (steps with @kubernetes, Argo deploys)",
            fix="pip install 'grange[kubernetes]'",
        ) from None
    return client


def default_image(options: TaskOptions | None = None) -> str:
    """The image of a pod that no step or profile names: ``python:<major>.<minor>``
    of this interpreter, or of the step's ``@pypi(python=...)`` (its environment is
    built on the image's Python)."""
    python = env_python(options)
    if python is not None:
        return f"python:{python}"
    return f"python:{sys.version_info.major}.{sys.version_info.minor}"


def env_python(options: TaskOptions | None) -> str | None:
    """``major.minor`` of the Python a step's ``@pypi`` asks for, or None (none asked;
    ``@conda`` brings its own Python)."""
    spec = options.environment if options is not None else None
    if spec is None or spec.kind != "pypi" or not spec.python:
        return None
    parts = str(spec.python).strip().split(".")
    if len(parts) < 2 or not all(part.isdigit() for part in parts[:2]):
        return None  # not a version: the environment's resolution says so
    return ".".join(parts[:2])


DEFAULT_IMAGE = default_image()


@dataclass
class PodPlan:
    """What a step's pod is: its one container and the pod-level fields around it."""

    container: Any  # kubernetes.client.V1Container
    volumes: list[Any] = field(default_factory=list)  # V1Volume
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[Any] = field(default_factory=list)  # V1Toleration
    service_account: str | None = None
    namespace: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        return str(self.container.image)

    def pod_spec(self, *, active_deadline_seconds: int | None = None) -> Any:
        """A ``V1PodSpec`` running the container once (``restartPolicy: Never``)."""
        k8s = k8s_models()
        return k8s.V1PodSpec(
            containers=[self.container],
            restart_policy="Never",
            volumes=self.volumes or None,
            node_selector=self.node_selector or None,
            tolerations=self.tolerations or None,
            service_account_name=self.service_account,
            active_deadline_seconds=active_deadline_seconds,
        )


# Where the ``kubernetes`` provider of @secrets reads a mounted Secret (its DEFAULT_DIR).
SECRETS_DIR = "/var/run/secrets/grange"


def mounted_secrets(options: TaskOptions, defaults: Mapping[str, Any] | None) -> list[str]:
    """The Kubernetes Secrets the step's ``@secrets`` reads through the ``kubernetes``
    provider: those it names so, and (when the profile's default provider is
    ``kubernetes``: ``defaults["secrets_provider"]`` or ``$GRANGE_SECRETS_PROVIDER``)
    those it names without a provider. Each is mounted read-only at
    ``/var/run/secrets/grange/<name>``, where the provider looks."""
    default = (defaults or {}).get("secrets_provider") or os.environ.get("GRANGE_SECRETS_PROVIDER")
    names = [
        secret_id
        for provider, secret_id in options.secret_sources
        if provider == "kubernetes" or (provider is None and default == "kubernetes")
    ]
    return list(dict.fromkeys(names))


def profile_defaults(defaults: Mapping[str, Any] | None) -> KubernetesOptions:
    """The pod settings of a profile's ``[kubernetes]`` table, checked (a
    :class:`ConfigError` naming the key)."""
    given = {k: v for k, v in (defaults or {}).items() if k in PROFILE_POD_KEYS}
    try:
        return check_kubernetes(given, where="[kubernetes]")
    except DecoratorError as err:
        raise ConfigError(f"profile setting {err.message}", fix=err.fix) from None


def plan_pod(
    step: str,
    options: TaskOptions,
    *,
    command: Sequence[str],
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> PodPlan:
    """The pod of ``step``'s tasks: ``options`` (its decorators), the command to run,
    the environment, and ``defaults`` (the profile's ``[kubernetes]`` section:
    ``image``, ``namespace``, ``service_account``, ... see :data:`PROFILE_POD_KEYS`).

    A step without ``@kubernetes`` gets the decorator's defaults (as on Argo,
    where every step is a pod).
    """
    k8s = k8s_models()
    k = options.kubernetes or KubernetesOptions()
    p = profile_defaults(defaults)
    r = options.resources
    cpu = max(k.cpu, r.cpu if r else 0)
    memory = max(k.memory, r.memory if r else 0)
    disk = max(k.disk, (r.disk or 0) if r else 0)
    gpus = [g for g in (k.gpu, r.gpu if r and r.gpu else None) if g is not None]
    shared_memory = (r.shared_memory if r else None) or k.shared_memory
    qos = k.qos or p.qos or "burstable"

    requests = {"cpu": _cpu(cpu), "memory": f"{memory}M", "ephemeral-storage": f"{disk}M"}
    limits = dict(requests) if qos == "guaranteed" else {}
    if gpus:
        limits[f"{k.gpu_vendor or p.gpu_vendor or 'nvidia'}.com/gpu"] = str(max(gpus))

    volumes: list[Any] = []
    mounts: list[Any] = []
    if k.use_tmpfs or k.tmpfs_size:
        size = k.tmpfs_size or memory // 2
        volumes.append(_memory_dir(k8s, TMPFS_VOLUME, size))
        mounts.append(k8s.V1VolumeMount(name=TMPFS_VOLUME, mount_path=k.tmpfs_path))
    if shared_memory:
        volumes.append(_memory_dir(k8s, SHM_VOLUME, shared_memory))
        mounts.append(k8s.V1VolumeMount(name=SHM_VOLUME, mount_path="/dev/shm"))
    for i, (claim, path) in enumerate(sorted(k.persistent_volume_claims.items())):
        name = f"pvc-{i}"
        source = k8s.V1PersistentVolumeClaimVolumeSource(claim_name=claim)
        volumes.append(k8s.V1Volume(name=name, persistent_volume_claim=source))
        mounts.append(k8s.V1VolumeMount(name=name, mount_path=path))

    for i, name in enumerate(mounted_secrets(options, defaults)):
        volume = f"secret-{i}"
        source = k8s.V1SecretVolumeSource(secret_name=name)
        volumes.append(k8s.V1Volume(name=volume, secret=source))
        mounts.append(
            k8s.V1VolumeMount(name=volume, mount_path=f"{SECRETS_DIR}/{name}", read_only=True)
        )

    secrets = list(dict.fromkeys((*p.secrets, *k.secrets)))
    container = k8s.V1Container(
        name="main",
        image=k.image or p.image or default_image(options),
        image_pull_policy=k.image_pull_policy or p.image_pull_policy,
        command=list(command),
        args=list(args) or None,
        env=[k8s.V1EnvVar(name=n, value=v) for n, v in sorted((env or {}).items())] or None,
        env_from=[k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=s)) for s in secrets]
        or None,
        resources=k8s.V1ResourceRequirements(requests=requests, limits=limits or None),
        volume_mounts=mounts or None,
        ports=[k8s.V1ContainerPort(container_port=k.port)] if k.port else None,
        termination_message_policy="FallbackToLogsOnError",
    )
    return PodPlan(
        container=container,
        volumes=volumes,
        node_selector={**p.node_selector, **k.node_selector},
        tolerations=[k8s.V1Toleration(**t) for t in (k.tolerations or p.tolerations)],
        service_account=k.service_account or p.service_account,
        namespace=k.namespace or p.namespace or "default",
        labels={**p.labels, **k.labels},
        annotations={**p.annotations, **k.annotations},
    )


def check_plan_image(plan: PodPlan, policy: Any, step: str) -> None:
    """The profile's ``allowed_registries`` admits the pod's image (a
    :class:`~grange.exceptions.PolicyError` naming the step otherwise)."""
    from grange.config.policy import check_image

    try:
        check_image(policy, plan.image)
    except PolicyError as err:
        err.step = err.step or step
        raise


def _memory_dir(k8s: Any, name: str, mib: int) -> Any:
    source = k8s.V1EmptyDirVolumeSource(medium="Memory", size_limit=f"{mib}Mi")
    return k8s.V1Volume(name=name, empty_dir=source)


def _cpu(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
