"""The Argo compiler and step environments: a step with a lock carries its own
command (the shared bootstrap with --env-lock-url/--env-lock-sha before ``--``)
and the GRANGE_ENV_* variables; other steps keep the shared command; a step with an
environment but no stored lock is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.unit.deploy.support import ROOT, check_valid, settings

from grange.decorators.options import EnvSpec, TaskOptions
from grange.deploy.argo import compile_flow
from grange.exceptions import CompileError
from grange.graph.model import FlowGraph
from support import load_flow

LINEAR = ROOT / "tests" / "flows" / "valid" / "linear.py"
SHA = "d" * 64
URL = f"s3://bucket/grange/envs/locks/{SHA}.json"


def compiled(path: Path, envs: dict[str, EnvSpec], **overrides: object) -> dict:
    cls = load_flow(path)
    graph = FlowGraph.from_flow_class(cls)
    options = {n.name: TaskOptions(environment=envs.get(n.name)) for n in graph}
    manifests = compile_flow(cls, graph, options, settings(**overrides))
    check_valid(manifests)
    return manifests.workflow_template


def test_only_the_env_step_carries_the_lock() -> None:
    env = EnvSpec(kind="pypi", packages=(("tabulate", "0.9.0"),), step="end", decorator="@pypi")
    template = compiled(
        LINEAR,
        {"end": env},
        environments={"end": (URL, SHA)},
        environment_env={"GRANGE_ENV_PACKAGES": "s3://bucket/grange"},
    )
    shared = template["spec"]["templateDefaults"]["container"]["command"]
    steps = templates_of(template)
    command = steps["end"]["container"]["command"]
    at = shared.index("--")
    assert command == [*shared[:at], "--env-lock-url", URL, "--env-lock-sha", SHA, *shared[at:]]
    assert {"name": "GRANGE_ENV_PACKAGES", "value": "s3://bucket/grange"} in steps["end"][
        "container"
    ]["env"]
    others = [t for name, t in steps.items() if name != "end" and "container" in t]
    assert others and all("command" not in t["container"] for t in others)
    assert all("GRANGE_ENV" not in str(t["container"].get("env")) for t in others)


def templates_of(template: dict) -> dict[str, dict]:
    return {t["name"]: t for t in template["spec"]["templates"]}


def test_a_step_with_an_environment_but_no_lock_is_refused() -> None:
    env = EnvSpec(kind="pypi", step="end", decorator="@pypi")
    with pytest.raises(CompileError, match="step 'end' has a @pypi environment but no lock"):
        compiled(LINEAR, {"end": env})


def test_no_code_package_no_environment() -> None:
    env = EnvSpec(kind="pypi", step="end", decorator="@pypi")
    with pytest.raises(CompileError, match="this deployment has no code package"):
        compiled(LINEAR, {"end": env}, package=None, environments={"end": (URL, SHA)})


def test_the_start_pod_is_told_every_steps_lock_for_the_runs_claim() -> None:
    """start claims the run: it gets {step: lock key} to record run.environment."""
    import json

    from grange.environments.podenv import DEPLOYED_LOCKS_ENV

    env = EnvSpec(kind="pypi", packages=(("tabulate", "0.9.0"),), step="end", decorator="@pypi")
    template = compiled(LINEAR, {"end": env}, environments={"end": (URL, SHA)})
    steps = templates_of(template)
    start_env = {e["name"]: e.get("value") for e in steps["start"]["container"]["env"]}
    assert json.loads(start_env[DEPLOYED_LOCKS_ENV]) == {"end": f"envs/locks/{SHA}.json"}
    assert DEPLOYED_LOCKS_ENV not in str(steps["end"]["container"].get("env"))
    plain = compiled(LINEAR, {})
    assert DEPLOYED_LOCKS_ENV not in str(plain)


def test_the_claim_records_the_deployed_locks(tmp_path: Path) -> None:
    from grange.datastore import DatastoreLocation
    from grange.environments import manager
    from grange.environments.envlock import EnvLock
    from grange.environments.podenv import claim_of, deployed_locks
    from grange.exceptions import EnvError

    lock = EnvLock("pypi", "k" * 64, "3.11.7", "x86_64-manylinux_2_28", "t", "uv", ())
    blobs = DatastoreLocation.of(tmp_path).open()
    key = manager.store_lock(blobs, lock)
    url = str(tmp_path / key)
    given = deployed_locks({"b": (url, lock.sha), "a": (url, lock.sha)})
    claim = claim_of(blobs, given)
    assert set(claim) == {"a", "b"}
    assert claim["a"] == {**lock.summary(), "lock_key": key, "where": "pod"}
    with pytest.raises(EnvError, match="is not a JSON object"):
        claim_of(blobs, "[1]")


def test_a_users_image_is_warned_to_have_the_pypi_python() -> None:
    from grange.decorators.options import KubernetesOptions
    from grange.deploy.argo.containers import env_image_warnings

    def env(python: str | None) -> EnvSpec:
        return EnvSpec(kind="pypi", packages=(("tabulate", "0.9.0"),), python=python, step="s")

    steps = {
        "a": TaskOptions(environment=env("3.10")),
        "b": TaskOptions(environment=env("3.10")),
        "c": TaskOptions(environment=env("3.10"), kubernetes=KubernetesOptions(image="mine:1")),
        "plain": TaskOptions(),
    }
    assert env_image_warnings(steps, {}) == [
        "Warning: image mine:1 (step c) must have Python 3.10: @pypi environments are built "
        "on the image's Python."
    ]  # a and b get grange's python:3.10
    warned = env_image_warnings(steps, {"image": "acme:2"})
    assert warned[0].startswith("Warning: image acme:2 (steps a, b) must have Python 3.10")
