"""Compile flow files for the Argo compiler's tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from tests.argo_schema import validate
from tests.support import load_flow

from grange.decorators.project import project_info
from grange.decorators.registry import step_decorators, task_options
from grange.decorators.triggers import schedule_of, triggers_of
from grange.deploy.argo import ArgoSettings, Manifests, compile_flow
from grange.environments.package import PackageRef
from grange.graph.model import FlowGraph

ROOT = Path(__file__).resolve().parents[3]
FLOWS = Path(__file__).parent / "flows"

PACKAGE = PackageRef(
    url="s3://bucket/grange/code/ab/" + "ab" * 32,
    sha="ab" * 32,
    flow_file="flow.py",
    size=1234,
    grange_version="0.1.0",
)


def settings(**overrides: Any) -> ArgoSettings:
    base: dict[str, Any] = {
        "datastore_root": "s3://bucket/grange",
        "image": "python:3.11",
        "user": "tester",
        "package": PACKAGE,
    }
    base.update(overrides)
    return ArgoSettings(**base)


def compile_path(path: Path | str, **overrides: Any) -> Manifests:
    cls = load_flow(Path(path))
    graph = FlowGraph.from_flow_class(cls)
    options = {n.name: task_options(step_decorators(getattr(cls, n.name))) for n in graph}
    info = project_info(cls, user="tester")  # as argo-workflows create: the user's branch
    if info is not None and "project" not in overrides:
        overrides["project"] = dataclasses.asdict(info)
    overrides.setdefault("schedule", schedule_of(cls))
    overrides.setdefault("triggers", triggers_of(cls, info))
    return compile_flow(cls, graph, options, settings(**overrides))


def check_valid(manifests: Manifests) -> None:
    """Every document validates strictly against the vendored Argo schemas (and so
    does the Workflow each Sensor creates, which the Sensor's schema leaves free)."""
    for doc in manifests.documents():
        problems = validate(doc)
        assert problems == [], "\n".join(problems)
    for sensor in manifests.sensors:
        for trigger in sensor["spec"]["triggers"]:
            problems = validate(trigger["template"]["k8s"]["source"]["resource"])
            assert problems == [], "\n".join(problems)


def templates(manifests: Manifests) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in manifests.workflow_template["spec"]["templates"]}


def tasks(manifests: Manifests, dag: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in templates(manifests)[dag]["dag"]["tasks"]}
