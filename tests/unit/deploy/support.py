"""Compile flow files for the Argo compiler's tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from tests.argo_schema import validate
from tests.support import load_flow

from grange.decorators.project import project_info
from grange.decorators.triggers import schedule_of, triggers_of
from grange.deploy.argo import ArgoSettings, Manifests, compile_flow
from grange.environments.package import PackageRef
from grange.graph.configs import bind_configs
from grange.graph.model import FlowGraph
from grange.runtime.run import step_options

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


def stand_in_locks(options: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """A lock reference for each step with an environment, as ``argo-workflows create``
    stores them, made from the step's requirements alone (no resolution: the golden
    files hold no PyPI or machine detail; tests/integration/test_env_pods.py resolves)."""
    refs = {}
    for step, o in options.items():
        if o.environment is not None:
            env = o.environment
            wanted = json.dumps([env.kind, env.packages, env.python, env.channels])
            sha = hashlib.sha256(wanted.encode()).hexdigest()
            refs[step] = (f"s3://bucket/grange/envs/locks/{sha}.json", sha)
    return refs


def compile_path(path: Path | str, **overrides: Any) -> Manifests:
    cls = load_flow(Path(path))
    bind_configs(cls)  # as argo-workflows create: its configs' defaults (or --config)
    graph = FlowGraph.from_flow_class(cls)
    options = step_options(cls, graph, ())  # as argo-workflows create: @pypi_base merged
    overrides.setdefault("environments", stand_in_locks(options))
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
