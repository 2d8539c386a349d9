"""One container template per step, built from ``plan_pod`` and kept small.

Every step's pod runs one command, no shell (the pod protocol)::

    python -m grange.environments.bootstrap --package-url URL --package-sha SHA \\
        --flow-file REL -- <top-level options> step STEP <step options>

What all steps share (the image, the bootstrap command with the top-level
options, the environment, the ``/mnt/out`` mount and the default resources)
goes to ``spec.templateDefaults.container``, which Argo merges into every
container template (a strategic merge: ``env`` by name, ``volumeMounts`` by
path, ``command``/``args`` replaced when a template sets them). A step's
template then carries only its ``args`` and what differs from the defaults.

A step with a ``@pypi``/``@conda`` environment carries its own ``command``: the
shared one with ``--env-lock-url URL --env-lock-sha SHA`` before ``--``, so that its
pod rebuilds the environment from the lock stored at deploy time (the lock's sha
in the manifest: the deployment runs exactly that environment, whenever it runs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hera.workflows import models as m

from grange.compute.kubernetes.pod import PodPlan, plan_pod
from grange.config import mask_text
from grange.decorators.options import TaskOptions
from grange.deploy.argo import naming
from grange.deploy.argo.dag import RETRY_COUNT
from grange.deploy.argo.settings import ArgoSettings
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph, NodeType, StepNode

OUT_DIR = "/mnt/out"
OUT_VOLUME = "grange-out"
DEFAULT_RETRY_DELAY = 120.0  # seconds: @retry's minutes_between_retries default (2)
# Added to @timeout for the pod's deadline: the task's own alarm stops the step at
# the timeout (with a traceback); the pod deadline is the backstop, and it also
# counts the image pull and the code package's download.
TIMEOUT_ALLOWANCE = 120
EXIT_RETRIES = 3
_INDEX = "{{inputs.parameters.index}}"
POD_IP_ENV = "GRANGE_POD_IP"  # a gang pod's IP (downward API: status.podIP)


@dataclass(frozen=True)
class StepOutputs:
    """The output parameters a step's template declares (files under /mnt/out)."""

    names: tuple[str, ...]


def command(settings: ArgoSettings, flow_file: str) -> list[str]:
    """The bootstrap command and the top-level options: every pod's argv up to the
    flow command (``step ...`` or ``argo-finish ...``)."""
    pkg = settings.package
    if pkg is not None:
        argv = [
            "python",
            "-m",
            "grange.environments.bootstrap",
            "--package-url",
            pkg.url,
            "--package-sha",
            pkg.sha,
            "--flow-file",
            pkg.flow_file,
            "--",
        ]
    else:  # no code package: the image holds the flow's code, in its working directory
        argv = ["python", flow_file]
    argv.append("--quiet")
    # A URL holding a password never goes into a manifest (anyone who can read
    # templates, Workflows or pods would see it): pods then give the index nothing
    # (readers index runs from the datastore's records), or read GRANGE_METADATA
    # from a Kubernetes secret (@kubernetes(secrets=...), [kubernetes] secrets).
    if mask_text(settings.metadata) == settings.metadata:
        argv += ["--metadata", settings.metadata]
    if settings.datastore_root:
        argv += ["--datastore-root", settings.datastore_root]
    return argv + list(settings.top_level_args)


def with_lock(argv: list[str], lock: tuple[str, str], node: StepNode) -> list[str]:
    """``argv`` (the bootstrap command) with the environment lock's options."""
    if "--" not in argv or argv[:3] != ["python", "-m", "grange.environments.bootstrap"]:
        raise CompileError(
            f"step '{node.name}' has a Python environment, which its pod rebuilds from the "
            "code package's bootstrap: this deployment has no code package",
            file=node.file,
            line=node.line,
            step=node.name,
            fix="deploy with a code package (the default of argo-workflows create)",
        )
    at = argv.index("--")
    url, sha = lock
    return [*argv[:at], "--env-lock-url", url, "--env-lock-sha", sha, *argv[at:]]


def shared_env(settings: ArgoSettings) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}
    if settings.user:
        env["GRANGE_USER"] = settings.user
    if settings.tags:  # every step's current.tags (the step command reads it)
        env["GRANGE_ARGO_TAGS"] = json.dumps(sorted(settings.tags), separators=(",", ":"))
    env.update(settings.env)
    return env


def outputs_of(node: StepNode) -> tuple[str, ...]:
    names = ["task-id"]
    if node.type is NodeType.SPLIT_FOREACH:
        names += ["count", "batches"]
    elif node.type is NodeType.SPLIT_PARALLEL:
        names.append("count")  # a gang's size: its pods, at once
    if node.is_switch:
        names.append("switch-step")
    return tuple(names)


class ContainerBuilder:
    """Builds ``templateDefaults`` once and each step's container template against it."""

    def __init__(
        self,
        graph: FlowGraph,
        settings: ArgoSettings,
        argv: list[str],
        retry_waits: frozenset[str] = frozenset(),
    ) -> None:
        self.graph = graph
        self.retry_waits = retry_waits  # steps whose @retry gives minutes_between_retries
        self.settings = settings
        self.argv = argv
        self.env = shared_env(settings)
        default_plan = plan_pod(
            "_defaults",
            TaskOptions(),
            command=argv,
            env=self.env,
            defaults=settings.pod_defaults(),
        )
        self.default_container = _container_dict(default_plan)

    def template_defaults(self) -> m.Template:
        return m.Template(container=m.Container.model_validate(self.default_container))

    def volumes(self) -> list[m.Volume]:
        """``spec.volumes``: the emptyDir each pod writes its output parameters to."""
        return [m.Volume(name=OUT_VOLUME, empty_dir=m.EmptyDirVolumeSource())]

    def step_template(
        self,
        node: StepNode,
        options: TaskOptions,
        *,
        in_foreach: bool,
        extra_args: list[str],
    ) -> m.Template:
        retry = self.retry_strategy(node, options)
        gang = node.parallel_step  # its gang's DAG retries it (dag.DagBuilder._gang)
        if gang:
            retry_count = f"{{{{inputs.parameters.{RETRY_COUNT}}}}}"
        else:
            retry_count = "{{retries}}" if retry else "0"
        args = [
            "step",
            node.name,
            "--run-id",
            "argo-{{workflow.name}}",
            "--argo-index",
            _INDEX if in_foreach else "",
            "--retry-count",
            retry_count,
            "--max-user-retries",
            str(options.retries),
            "--outputs-dir",
            OUT_DIR,
            *extra_args,
        ]
        argv, shared = self.argv, self.env
        lock = self.settings.environments.get(node.name)
        if lock is not None:
            argv = with_lock(argv, lock, node)
            shared = {**shared, **self.settings.environment_env}
        if node.name == self.graph.start and self.settings.environments:
            # start claims the run: it records the steps' locks (run.environment)
            from grange.environments.podenv import DEPLOYED_LOCKS_ENV, deployed_locks

            shared = {**shared, DEPLOYED_LOCKS_ENV: deployed_locks(self.settings.environments)}
        plan = plan_pod(
            node.name,
            options,
            command=argv,
            args=args,
            # A value holding "{{" would be read by Argo as a template expression: the
            # step command sets every @environment variable itself anyway, so such a
            # value is left to it (set before the step's code runs, not at pod start).
            env={**shared, **{k: v for k, v in options.env.items() if "{{" not in v}},
            defaults=self.settings.pod_defaults(),
        )
        if plan.namespace != self.settings.namespace:
            raise CompileError(
                f"step '{node.name}' asks for namespace '{plan.namespace}' but the flow is "
                f"deployed to namespace '{self.settings.namespace}': every step of a "
                "deployment runs in its namespace",
                file=node.file,
                line=node.line,
                step=node.name,
                fix=f"remove namespace= from the step's @kubernetes, or deploy with "
                f"--namespace {plan.namespace}",
            )
        container = _container_dict(plan)
        if gang:  # the pod's own IP, from the downward API: node 0 publishes it
            env = [e for e in container.get("env") or [] if e.get("name") != POD_IP_ENV]
            env.append(
                {"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
            )
            container["env"] = env
        own = {
            key: value
            for key, value in container.items()
            if key == "image" or self.default_container.get(key) != value
        }
        template = m.Template(
            name=naming.step_template(node.name),
            container=m.Container.model_validate(own),
            outputs=m.Outputs(
                parameters=[
                    m.Parameter(name=name, value_from=m.ValueFrom(path=f"{OUT_DIR}/{name}"))
                    for name in outputs_of(node)
                ]
            ),
            metadata=_metadata(plan, node),
        )
        if in_foreach:
            inputs = ["index", RETRY_COUNT] if gang else ["index"]
            template.inputs = m.Inputs(parameters=[m.Parameter(name=p) for p in inputs])
        if retry and not gang:
            template.retry_strategy = retry
        if options.timeout:
            deadline = math.ceil(options.timeout) + TIMEOUT_ALLOWANCE
            template.active_deadline_seconds = m.IntOrString(str(deadline))
        _pod_fields(template, plan, self.settings)
        return template

    def retry_strategy(self, node: StepNode, options: TaskOptions) -> m.RetryStrategy | None:
        """``@retry`` (and one more attempt for ``@catch``'s fallback) as Argo retries:
        on the step's container template, or on its gang's DAG template."""
        limit = options.retries + (1 if options.catch else 0)
        if not limit:
            return None
        return m.RetryStrategy(
            limit=m.IntOrString(str(limit)),
            retry_policy="Always",
            backoff=m.Backoff(
                duration=f"{_retry_delay(options, node.name in self.retry_waits):g}s"
            ),
        )

    def exit_template(self) -> m.Template:
        """onExit: ``argo-finish`` records the run's end if ``end`` did not (a failure)."""
        return m.Template(
            name=naming.EXIT_TEMPLATE,
            container=m.Container(
                image=self.default_container["image"],
                args=[
                    "argo-finish",
                    "--run-id",
                    "argo-{{workflow.name}}",
                    "--status",
                    "{{workflow.status}}",
                ],
            ),
            # A pod that could not start must not leave the run unrecorded.
            retry_strategy=m.RetryStrategy(
                limit=m.IntOrString(str(EXIT_RETRIES)),
                retry_policy="Always",
                backoff=m.Backoff(duration="10s"),
            ),
        )


def _container_dict(plan: PodPlan) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    data: dict[str, Any] = ApiClient().sanitize_for_serialization(plan.container)
    data.pop("name", None)  # Argo names a template's container itself ("main")
    mounts = list(data.get("volumeMounts") or [])
    mounts.append({"name": OUT_VOLUME, "mountPath": OUT_DIR})
    data["volumeMounts"] = mounts
    return data


def _metadata(plan: PodPlan, node: StepNode) -> m.Metadata:
    annotations = {"grange.dev/step-name": node.name, **plan.annotations}
    return m.Metadata(annotations=annotations, labels=dict(plan.labels) or None)


def _pod_fields(template: m.Template, plan: PodPlan, settings: ArgoSettings) -> None:
    from kubernetes.client import ApiClient

    api = ApiClient()
    if plan.volumes:
        template.volumes = [
            m.Volume.model_validate(api.sanitize_for_serialization(v)) for v in plan.volumes
        ]
    if plan.node_selector:
        template.node_selector = dict(plan.node_selector)
    if plan.tolerations:
        template.tolerations = [
            m.Toleration.model_validate(api.sanitize_for_serialization(t)) for t in plan.tolerations
        ]
    if plan.service_account and plan.service_account != settings.pod_defaults().get(
        "service_account"
    ):
        template.service_account_name = plan.service_account


def _retry_delay(options: TaskOptions, explicit: bool) -> float:
    """Seconds between attempts: ``minutes_between_retries`` if the step gave it
    (``explicit``, or a wait in its options from ``--with retry:...``), else its
    default (2 minutes, as Metaflow waits on Argo)."""
    if options.retry_delay or explicit:
        return options.retry_delay
    return DEFAULT_RETRY_DELAY


def env_image_warnings(steps: Mapping[str, TaskOptions], defaults: Mapping[str, Any]) -> list[str]:
    """A ``@pypi`` environment is built on its pod image's Python: for each image the
    user chose (not grange's default ``python:X.Y``, which follows ``python=``), a
    warning that it must have the Python the lock is for."""
    import platform

    from grange.compute.kubernetes.pod import default_image, env_python

    here = ".".join(platform.python_version().split(".")[:2])
    chosen: dict[tuple[str, str], list[str]] = {}  # (image, python) -> steps
    for step, options in sorted(steps.items()):
        spec = options.environment
        if spec is None or spec.kind != "pypi":
            continue
        image = plan_pod(step, options, command=["true"], defaults=defaults).image
        if image != default_image(options):
            chosen.setdefault((image, env_python(options) or here), []).append(step)
    return [
        f"Warning: image {image} (step{'s' if len(names) > 1 else ''} {', '.join(names)}) "
        f"must have Python {python}: @pypi environments are built on the image's Python."
        for (image, python), names in chosen.items()
    ]
