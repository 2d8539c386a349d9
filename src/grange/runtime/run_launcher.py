"""The launcher of a local run: forked workers (or fresh interpreters), environment
steps in their own interpreters (:mod:`grange.runtime.env_launcher`), and Kubernetes
Jobs for the steps that ask for them (:mod:`grange.runtime.kube_launcher`)."""

from __future__ import annotations

import inspect
import os
from typing import TYPE_CHECKING, Any

from grange.decorators.options import TaskOptions
from grange.decorators.registry import step_decorators
from grange.runtime.env_launcher import EnvLauncher
from grange.runtime.launcher import Launcher, SpawnLauncher
from grange.runtime.zygote import ForkLauncher
from grange.task.execute import flow_facts, run_task
from grange.task.spec import TaskSpec
from grange.task.stores import TaskStores

if TYPE_CHECKING:
    from grange.flowspec import FlowSpec
    from grange.graph import FlowGraph
    from grange.runtime.run import RunRequest


def innermost(launcher: Launcher) -> Launcher:
    """The local launcher that a KubeLauncher (an EnvLauncher) wraps."""
    while isinstance(getattr(launcher, "inner", None), Launcher):
        launcher = launcher.inner  # type: ignore[attr-defined]
    return launcher


def run_launcher(req: RunRequest, graph: FlowGraph, options: dict[str, TaskOptions]) -> Launcher:
    """The run's launcher: forked workers (or fresh interpreters), and Kubernetes Jobs
    for the steps that ask for them (checked before anything starts)."""
    from grange.runtime import kube_launcher

    gangs = {n.name for n in graph if "parallel" in _decorator_names(req.flow_cls, n.name)}
    kube = kube_launcher.prepare(options, datastore_root=req.datastore_root, gangs=gangs)
    inner = _local_launcher(req)
    step_args = ["--max-num-splits", str(req.max_num_splits)]
    if any(o.environment is not None and o.kubernetes is None for o in options.values()):
        # Environment steps run in their own interpreters; started once prepared.
        inner = EnvLauncher(
            inner,
            flow_file=req.flow_file,
            top_level_args=req.top_level_args,
            step_args=step_args,
            fork=req.fork,
        )
    if kube is None:
        return inner
    try:
        more: dict[str, Any] = {}
        if "environments" in inspect.signature(kube.wrap).parameters:
            # Filled in once the locks are stored (envs.hand_over), before any launch.
            more["environments"] = {}
        return kube.wrap(
            inner,
            flow=req.flow_cls.__name__,
            flow_file=req.flow_file,
            datastore_root=req.datastore_root,
            options=options,
            top_level_args=req.top_level_args,
            step_args=step_args,
            suffixes=req.package_suffixes,
            **more,
        )
    except BaseException:
        inner.close()
        raise


def _decorator_names(flow_cls: type[FlowSpec], step: str) -> set[str]:
    return {d.name for d in step_decorators(getattr(flow_cls, step))}


def _local_launcher(req: RunRequest) -> Launcher:
    if req.fork and hasattr(os, "fork"):
        flow_cls, root, limit = req.flow_cls, req.datastore_root, req.max_num_splits
        project = req.project

        flow_facts(flow_cls)  # computed once here, inherited by every task

        def entry(spec: TaskSpec) -> int:
            stores = TaskStores(root.open(), spec.flow)
            record = run_task(flow_cls, spec, stores, max_num_splits=limit, project=project)
            return 0 if record.status == "ok" else 1

        return ForkLauncher(entry, fallback=lambda: _spawn_launcher(req))
    return _spawn_launcher(req)


def _spawn_launcher(req: RunRequest) -> SpawnLauncher:
    return SpawnLauncher(
        req.flow_file, req.top_level_args, step_args=["--max-num-splits", str(req.max_num_splits)]
    )
