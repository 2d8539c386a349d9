"""Workflow names: RFC 1123, within Argo's lengths, hashed when too long."""

from __future__ import annotations

import pytest

from grange.deploy.argo import workflow_name
from grange.deploy.argo.naming import MAX_NAME, is_object_name, step_template
from grange.exceptions import CompileError


def test_flow_name_is_lowercased_without_underscores() -> None:
    assert workflow_name("Hello_Flow") == "helloflow"


def test_project_flow_name_keeps_its_dots() -> None:
    assert workflow_name("F", "demo.user.alice.TrainFlow") == "demo.user.alice.trainflow"


def test_characters_a_name_cannot_hold_become_dashes() -> None:
    name = workflow_name("F", "demo.user.a@b+c.TrainFlow")
    assert name == "demo.user.a-b-c.trainflow"
    assert is_object_name(name)


def test_a_long_project_name_is_shortened_with_a_stable_hash() -> None:
    long = "recommendations.test.experiment-with-a-very-long-branch-name.RankingModelTrainingFlow"
    name = workflow_name("RankingModelTrainingFlow", long)
    assert len(name) <= MAX_NAME and is_object_name(name)
    assert name == workflow_name("RankingModelTrainingFlow", long)
    other = workflow_name("RankingModelTrainingFlow", long.replace("test.", "prod."))
    assert other != name
    assert name.startswith("recommend") and ".test.experiment" in name and ".rankingmodel" in name


def test_a_long_flow_name_is_shortened_too() -> None:
    name = workflow_name("A" * 80)
    assert len(name) <= MAX_NAME and is_object_name(name)


def test_explicit_name_is_kept_or_refused_with_a_fix() -> None:
    assert workflow_name("F", explicit="my-flow") == "my-flow"
    for bad in ("My_Flow", "x" * 53, "-x", ""):
        with pytest.raises(CompileError) as err:
            workflow_name("F", explicit=bad)
        assert "--name" in err.value.render()


def test_step_templates_are_field_names() -> None:
    assert step_template("train_model") == "train-model"
    assert step_template("_private") == "s-private"
