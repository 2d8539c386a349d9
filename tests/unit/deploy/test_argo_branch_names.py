"""Branch names with dashes (``--branch pr-12``): every name made from the branch stays
valid (object names, labels, the Sensor's dependencies and filters, event names), and
the rule itself (single dashes between other characters)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from tests.support import load_flow
from tests.unit.deploy.support import FLOWS, check_valid, compile_path
from tests.unit.deploy.test_argo_events import body, runner

from grange.decorators.project import branch_problem, project_info, suggest_branch
from grange.decorators.triggers import end_event_name, triggers_of
from grange.deploy.argo.naming import is_field_name, is_object_name, workflow_name
from grange.exceptions import CommandError

LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


@pytest.mark.parametrize("branch", ["pr-12", "pr-12-fix_2", "a-" + "b" * 60, "x" * 30 + "-1"])
def test_every_name_made_from_a_dashed_branch_is_valid(branch: str) -> None:
    cls = load_flow(FLOWS / "finish_project.py")
    info = project_info(cls, user="tester", branch=branch)
    assert info is not None and info.branch_name == f"test.{branch}"
    manifests = compile_path(
        FLOWS / "finish_project.py",
        name=workflow_name("ScoringFlow", info.project_flow_name),  # as argo-workflows create
        project=dataclasses.asdict(info),
        triggers=triggers_of(cls, info),
    )
    check_valid(manifests)
    assert manifests.name.startswith("fraud.test.")
    for doc in manifests.documents():
        meta = doc["metadata"]
        # a Sensor's name may be the template's plus 6 characters (a label value: 63)
        limit = 63 if doc["kind"] == "Sensor" else 52
        assert is_object_name(meta["name"], limit), meta["name"]
        for value in meta.get("labels", {}).values():
            assert len(value) <= 63 and LABEL_VALUE.match(value), value
    (sensor,) = manifests.sensors
    for dep in sensor["spec"]["dependencies"]:
        assert is_field_name(dep["name"]), dep["name"]
    # the upstream end event of the same branch counts; another branch's does not
    name = end_event_name(f"fraud.test.{branch}.TrainingFlow")
    end = {"project_name": "fraud", "branch_name": f"test.{branch}"}
    end["auto-generated-by-metaflow"] = True  # type: ignore[assignment]
    feature = end_event_name("fraud.prod.FeatureFlow")
    prod = {**end, "branch_name": "prod"}
    run = runner(manifests)
    other = {**end, "branch_name": "test.x"}
    assert run.deliver("grange-events", "grange-event", body(name, **other)) == []
    assert run.deliver("grange-events", "grange-event", body(feature, **prod)) == []
    assert run.deliver("grange-events", "grange-event", body(name, **end)) != []


def test_pr_12_and_pr12_are_different_deployments_by_name() -> None:
    cls = load_flow(FLOWS / "finish_project.py")
    names = set()
    for branch in ("pr-12", "pr12", "pr_12"):
        info = project_info(cls, user="tester", branch=branch)
        assert info is not None
        names.add(workflow_name("ScoringFlow", info.project_flow_name))
    # '_' is dropped from Kubernetes names (as Metaflow): pr_12 and pr12 meet; the
    # deploy command refuses the second one (tests/integration/test_ci_recipe.py)
    assert len(names) == 2


@pytest.mark.parametrize(
    ("branch", "problem"),
    [
        ("pr-12", None),
        ("release_2-rc1", None),
        ("-pr", "may not start or end with a dash"),
        ("pr-", "may not start or end with a dash"),
        ("pr--12", "nor hold two dashes in a row"),
        ("PR-12", "lowercase letters (a-z), digits, underscores and dashes"),
        ("a.b", "lowercase letters (a-z), digits, underscores and dashes"),
        ("_", "at least one letter or digit"),  # Kubernetes names drop '_': it would vanish
        ("__", "at least one letter or digit"),
        ("_-_", "at least one letter or digit"),
        ("_1", None),
    ],
)
def test_the_branch_rule(branch: str, problem: str | None) -> None:
    found = branch_problem(branch)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_bad_branch_suggests_a_dashed_one() -> None:
    assert suggest_branch("PR 12!") == "pr-12"
    cls = load_flow(FLOWS / "finish_project.py")
    with pytest.raises(CommandError) as info:
        project_info(cls, user="tester", branch="Feature/X")
    assert info.value.fix == "pass e.g. --branch feature-x"
    assert suggest_branch("_-_") == "my_branch"
    with pytest.raises(CommandError, match="at least one letter or digit"):
        project_info(cls, user="tester", branch="__")


def test_a_branch_too_long_for_a_label_is_refused_at_deploy_and_a_user_branch_warned() -> None:
    from grange.cli.argo_tokens import check_branch_label

    cls = load_flow(FLOWS / "finish_project.py")
    said: list[str] = []
    fits = project_info(cls, user="tester", branch="b" * 58)  # test. + 58 = 63
    assert fits is not None
    check_branch_label(fits, said.append)
    assert said == []
    long = project_info(cls, user="tester", branch="b" * 59)
    assert long is not None
    with pytest.raises(CommandError, match="64 characters long: a Kubernetes label") as info:
        check_branch_label(long, said.append)
    assert info.value.fix == "use a --branch name of at most 58 characters (this one has 59)"
    user = project_info(cls, user="u" * 70)
    assert user is not None
    check_branch_label(user, said.append)
    (warning,) = said
    assert "carry no grange.dev/branch label" in warning
