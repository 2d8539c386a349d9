"""``compile_flow``: a flow class and its graph to the manifests of a deployment."""

from __future__ import annotations

import json
import os
from dataclasses import replace

from hera.workflows import models as m

from grange.decorators.base import decorators_of
from grange.decorators.options import TaskOptions
from grange.deploy.argo import dag, limits, metadata, naming, schedule, sensor
from grange.deploy.argo import parameters as params
from grange.deploy.argo.containers import ContainerBuilder, command
from grange.deploy.argo.lint import lint
from grange.deploy.argo.manifests import API_VERSION, Manifests, to_dict
from grange.deploy.argo.settings import ArgoSettings
from grange.exceptions import CompileError
from grange.graph.lint import check as check_graph
from grange.graph.model import FlowGraph, NodeType

#: A config baked into a template is one environment variable of every pod (Linux
#: refuses one over 128 KiB).
MAX_CONFIGS_BYTES = 100 * 1024


def _configs_env(flow_cls: type) -> dict[str, str]:
    """The flow's configs as bound for this deployment (``--config``, defaults), baked into
    the template: its pods bind them as they are, without the files they came from."""
    from grange.user_configs import bound_values
    from grange.user_configs.read import BOUND_ENV

    values = bound_values(flow_cls)
    if values is None:
        return {}
    text = json.dumps(  # in the order given
        {"flow": flow_cls.__name__, "configs": values}, separators=(",", ":")
    )
    if len(text.encode()) > MAX_CONFIGS_BYTES:
        raise CompileError(
            f"the flow's configs are {len(text.encode()) // 1024} KiB of JSON: too big to "
            f"bake into a workflow template (at most {MAX_CONFIGS_BYTES // 1024} KiB)",
            fix="keep large data out of configs: read it in a step (IncludeFile, S3, a file "
            "in the code package) and keep the config small",
        )
    return {BOUND_ENV: text}


def compile_flow(
    flow_cls: type,
    graph: FlowGraph,
    options: dict[str, TaskOptions],
    settings: ArgoSettings,
) -> Manifests:
    """The WorkflowTemplate of ``flow_cls`` (the graph linted already; ``options``
    each step's TaskOptions, ``--with`` included), checked by :func:`lint.lint`
    and within Argo's limits. Raises :class:`~grange.exceptions.CompileError`, or
    :class:`~grange.exceptions.LintError` for a flow that breaks the graph's rules."""
    check_graph(graph)
    dag.check_supported(graph, settings)
    limits.check_settings(settings, graph)
    project_flow = (settings.project or {}).get("project_flow_name")
    name = naming.workflow_name(graph.name, project_flow, settings.name)
    entry = naming.step_template(graph.name)
    values = params.default_values(
        flow_cls, graph, settings.include_files, settings.parameter_values
    )
    _check_parameter_names(graph)
    _check_environments(graph, options, settings)
    deps = sensor.dependencies(settings.triggers, graph) if settings.triggers else []
    settings = replace(
        settings, env={**settings.env, **_events_env(name, settings), **_configs_env(flow_cls)}
    )

    flow_file = os.path.basename(graph.file)
    builder = ContainerBuilder(
        graph, settings, command(settings, flow_file), _retry_waits(flow_cls, graph)
    )
    dags = dag.DagBuilder(
        graph,
        entry,
        gang_retry=lambda n: builder.retry_strategy(n, options.get(n.name) or TaskOptions()),
    )
    templates = dags.templates()
    for node in graph:
        templates.append(
            builder.step_template(
                node,
                options.get(node.name) or TaskOptions(),
                in_foreach=dags.scopes[node.name] is not None,
                extra_args=_extra_args(graph, node.name, settings, deps),
            )
        )
    templates.append(builder.exit_template())

    spec = m.WorkflowSpec(
        entrypoint=entry,
        arguments=params.arguments({**values, **sensor.hidden_parameters(deps)}),
        parallelism=settings.max_workers,
        active_deadline_seconds=settings.workflow_timeout,
        priority=settings.workflow_priority,
        on_exit=naming.EXIT_TEMPLATE,
        template_defaults=builder.template_defaults(),
        volumes=builder.volumes(),
        service_account_name=settings.pod_defaults().get("service_account"),
        pod_gc=m.PodGC(strategy=settings.pod_gc) if settings.pod_gc else None,
        ttl_strategy=(
            m.TTLStrategy(seconds_after_completion=settings.ttl_seconds)
            if settings.ttl_seconds
            else None
        ),
        workflow_metadata=metadata.workflow_metadata(name, settings, graph.name),
        pod_metadata=metadata.pod_metadata(name, settings),
        templates=templates,
    )
    template = m.WorkflowTemplate(
        api_version=API_VERSION,
        kind="WorkflowTemplate",
        metadata=m.ObjectMeta(
            name=name,
            namespace=settings.namespace,
            labels=metadata.object_labels(name, settings, "flow"),
            annotations={
                **metadata.object_annotations(graph, settings),
                **_event_annotations(name, settings),
            },
        ),
        spec=spec,
    )
    manifests = Manifests(workflow_template=to_dict(template))
    if settings.schedule is not None:
        manifests.cron_workflow = schedule.cron_workflow(name, settings.schedule, settings, graph)
    if settings.triggers is not None:
        manifests.sensors.append(sensor.sensor(name, settings.triggers, settings, graph, values))
    lint(manifests.workflow_template, graph)
    limits.check_template_size(manifests.size(), graph)
    return manifests


def _retry_waits(flow_cls: type, graph: FlowGraph) -> frozenset[str]:
    """The steps whose own ``@retry`` gives ``minutes_between_retries`` (the graph's
    decorator attributes hold the defaults too, so the decorator itself says)."""
    waits = set()
    for node in graph:
        func = getattr(flow_cls, node.name, None)
        if func is not None and any(
            getattr(d, "explicit_delay", False) for d in decorators_of(func)
        ):
            waits.add(node.name)
    return frozenset(waits)


def _extra_args(
    graph: FlowGraph, step: str, settings: ArgoSettings, deps: list[sensor.Dependency]
) -> list[str]:
    node = graph[step]
    args: list[str] = []
    if step == graph.start:
        args += ["--argo-workflow-uid", "{{workflow.uid}}"]
        args += params.start_args(graph)
        for dep in deps:  # the events' payloads: the run's trigger
            args += [
                "--argo-parameter",
                f"{dep.parameter}={{{{workflow.parameters.{dep.parameter}}}}}",
            ]
    if node.type is NodeType.SPLIT_PARALLEL:
        args += ["--max-num-splits", str(settings.max_num_splits)]
    elif node.type is NodeType.SPLIT_FOREACH:
        args += [
            "--foreach-batch-size",
            str(settings.foreach_batch_size),
            "--max-num-splits",
            str(settings.max_num_splits),
        ]
    return args


def _check_parameter_names(graph: FlowGraph) -> None:
    for info in graph.parameters:
        if info.name.startswith(naming.TRIGGER_PARAMETER_PREFIX):
            raise CompileError(
                f"parameter '{info.name}' starts with {naming.TRIGGER_PARAMETER_PREFIX!r}, "
                "which names the workflow arguments carrying the events of a triggered run",
                file=info.file,
                line=info.line,
                parameter=info.name,
                fix="rename the parameter",
            )


def _check_environments(
    graph: FlowGraph, options: dict[str, TaskOptions], settings: ArgoSettings
) -> None:
    """Every step with a ``@pypi``/``@conda`` environment has its lock for the pods:
    a step without it would run in the image's Python, without its packages."""
    for node in graph:
        spec = (options.get(node.name) or TaskOptions()).environment
        if spec is not None and node.name not in settings.environments:
            raise CompileError(
                f"step '{node.name}' has a {spec.decorator or 'Python'} environment but no "
                "lock was stored for it",
                file=node.file,
                line=node.line,
                step=node.name,
                fix="deploy with argo-workflows create, which resolves each step's "
                "environment for the pods and stores its lock",
            )


def _events_env(name: str, settings: ArgoSettings) -> dict[str, str]:
    """Where the pods publish events (``Event.publish()`` in a step, and the run's end
    event): the webhook EventSource; whether the end event is sent; and, as Metaflow's
    pods, the template's name (``Event.safe_publish`` publishes in deployed runs only)."""
    env: dict[str, str] = {"ARGO_WORKFLOW_TEMPLATE": name}
    if settings.events_webhook_url:
        env["GRANGE_EVENTS_URL"] = settings.events_webhook_url
    if not settings.auto_emit_events:
        env["GRANGE_EVENTS_AUTO_EMIT"] = "false"
    return env


def _event_annotations(name: str, settings: ArgoSettings) -> dict[str, str]:
    """What the template records of its CronWorkflow and Sensor (``delete`` and a
    later ``create`` read them)."""
    out: dict[str, str] = {}
    if settings.schedule is not None:
        out[f"{metadata.PREFIX}cron"] = settings.schedule.cron
        if settings.schedule.timezone:
            out[f"{metadata.PREFIX}timezone"] = settings.schedule.timezone
    if settings.triggers is not None:
        events = [
            {"name": d.name, "type": "run" if d.upstream or settings.triggers.kind == "run"
             else "event"}
            for d in settings.triggers.dependencies
        ]  # fmt: skip
        out[f"{metadata.PREFIX}triggers"] = json.dumps(events, separators=(",", ":"))
        out[f"{metadata.PREFIX}sensors"] = json.dumps([sensor.sensor_name(name)])
    return out
