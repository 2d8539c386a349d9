"""How a step's tasks are run: the :class:`TaskOptions` that step decorators fill in.

The runtime starts from the defaults, lets every decorator of the step (its
own, then those added with ``--with``) adjust them through
:meth:`StepDecorator.task_options`, and runs each task accordingly. Remote
compute layers read the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Resources:
    """What one task asks of the machine (``@resources``)."""

    cpu: float = 1
    gpu: int = 0
    memory: int = 4096  # MiB
    disk: int | None = None  # MiB
    shared_memory: int | None = None  # MiB


@dataclass
class KubernetesOptions:
    """Where and how a step's pods run (``@kubernetes``); None: from the profile or defaults.

    Sizes are MiB. ``cpu``, ``memory`` and ``disk`` are the decorator's own values:
    a pod asks for the larger of these and ``@resources``.
    """

    cpu: float = 1
    memory: int = 4096
    disk: int = 10240
    gpu: int | None = None
    gpu_vendor: str | None = None
    image: str | None = None
    image_pull_policy: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    secrets: tuple[str, ...] = ()
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, object]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    persistent_volume_claims: dict[str, str] = field(default_factory=dict)  # claim -> mount path
    shared_memory: int | None = None
    use_tmpfs: bool = False
    tmpfs_size: int | None = None
    tmpfs_path: str = "/grange_temp"
    port: int | None = None
    qos: str | None = None


@dataclass(frozen=True)
class EnvSpec:
    """What a step asks of its own Python environment (``@pypi``/``@pypi_base`` or
    ``@conda``/``@conda_base``, step-level merged over flow-level): the packages to
    resolve, not yet the lock. Built by the decorators; resolved and built by
    :mod:`grange.environments.manager`.

    ``packages`` are ``(name, version spec)`` pairs sorted by name, as the decorator
    gave them (``"0.9.0"``, ``">=1.2,<2"``, ``""`` for any version). ``python`` is the
    version asked for (``"3.11"``, ``"3.11.7"``) or None for the running interpreter's.
    ``decorator`` names where the packages came from in messages (``"@pypi"``,
    ``"@pypi_base"``, ``"@pypi_base + @pypi"``), ``file``/``line`` the step's place.
    """

    kind: str  # "pypi" or "conda"
    packages: tuple[tuple[str, str], ...] = ()
    python: str | None = None
    step: str = ""
    decorator: str = ""
    file: str | None = None
    line: int | None = None
    channels: tuple[str, ...] = ()  # conda: extra channels from the decorator (profile's first)


@dataclass
class TaskOptions:
    """Everything the runtime needs to know to run one step's tasks."""

    retries: int = 0  # user-code retries after the first attempt (@retry)
    retry_delay: float = 0.0  # seconds between attempts
    timeout: float | None = None  # seconds per attempt (@timeout)
    catch_var: str | None = None  # @catch: artifact receiving the exception
    catch: bool = False  # @catch present: the task continues after its last failure
    print_exception: bool = True
    # None: the step did not ask (no @resources): it reserves nothing locally
    # and only --max-workers bounds it, as in Metaflow.
    resources: Resources | None = None
    env: dict[str, str] = field(default_factory=dict)  # @environment
    # @kubernetes (or --with kubernetes): the step's tasks run as Kubernetes pods.
    kubernetes: KubernetesOptions | None = None
    # @secrets: (provider type or None for the profile's default, secret id) of each
    # source, so that a pod can mount the Kubernetes Secrets it reads.
    secret_sources: tuple[tuple[str | None, str], ...] = ()
    # @pypi / @conda (and their flow-level _base): the step runs in its own interpreter
    # of an environment built from a recorded lock. None: the runtime's own Python.
    environment: EnvSpec | None = None

    def task_extra(self) -> dict[str, Any]:
        """What a task process reads of these options (``TaskSpec.extra``): the
        @environment variables and the @timeout seconds, each only when set."""
        extra: dict[str, Any] = {}
        if self.env:
            extra["env"] = dict(self.env)
        if self.timeout:
            extra["timeout"] = self.timeout
        return extra

    @property
    def max_attempts(self) -> int:
        """Attempts running user code (a @catch fallback comes on top)."""
        return 1 + self.retries
