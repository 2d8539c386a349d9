"""tests/argo_schema.py: strict validation of Argo documents against the vendored schemas."""

from __future__ import annotations

import copy
from typing import Any

from argo_schema import validate


def _template() -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "helloflow"},
        "spec": {
            "entrypoint": "helloflow",
            "templates": [
                {
                    "name": "helloflow",
                    "dag": {
                        "tasks": [
                            {"name": "start", "template": "start"},
                            {"name": "end", "template": "end", "depends": "start"},
                        ]
                    },
                },
                {
                    "name": "start",
                    "retryStrategy": {"limit": 2},
                    "activeDeadlineSeconds": 600,
                    "container": {
                        "image": "python:3.11",
                        "command": ["python"],
                        "resources": {"requests": {"cpu": 1, "memory": "4096M"}},
                    },
                },
                {"name": "end", "container": {"image": "python:3.11"}},
            ],
        },
    }


def test_a_valid_template_passes() -> None:
    assert validate(_template()) == []


def test_misspelt_fields_are_errors_in_strict_mode() -> None:
    doc = _template()
    doc["spec"]["templates"][0]["dag"]["tasks"][0]["tempalte"] = "start"
    problems = validate(doc)
    assert any("tempalte" in p for p in problems), problems


def test_nulls_are_errors() -> None:
    doc = _template()
    doc["spec"]["templates"][2]["container"]["args"] = None
    assert validate(doc) == [
        "spec/templates/2/container/args: null is not allowed (leave the field out)",
        "spec/templates/2/container/args: None is not of type 'array'",
    ]


def test_wrong_types_and_missing_fields_name_the_path() -> None:
    doc = _template()
    doc["spec"]["templates"][0]["dag"]["tasks"][1]["template"] = 42
    del doc["spec"]["templates"][2]["container"]["image"]
    problems = validate(doc)
    assert "spec/templates/0/dag/tasks/1/template: 42 is not of type 'string'" in problems
    assert "spec/templates/2/container: 'image' is a required property" in problems


def test_kind_is_chosen_from_the_document() -> None:
    assert validate({"apiVersion": "v1", "kind": "Pod"})[0].startswith("apiVersion:")
    assert "is not one of" in validate({"apiVersion": "argoproj.io/v1alpha1", "kind": "Pod"})[0]
    cron = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "c"},
        "spec": {"schedule": "0 * * * *", "workflowSpec": {"entrypoint": "x"}},
    }
    assert any("'schedules' is a required property" in p for p in validate(cron))
    fixed = copy.deepcopy(cron)
    del fixed["spec"]["schedule"]
    fixed["spec"]["schedules"] = ["0 * * * *"]
    assert validate(fixed) == []


def test_sensors_use_the_argo_events_schema() -> None:
    sensor = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Sensor",
        "metadata": {"name": "s"},
        "spec": {
            "dependencies": [{"name": "d", "eventSourceName": "webhook", "eventName": "e"}],
            "triggers": [{"template": {"name": "t", "argoWorkflow": {"operation": "submit"}}}],
        },
    }
    assert validate(sensor) == []
    del sensor["spec"]["dependencies"][0]["eventSourceName"]
    assert any("eventSourceName" in p for p in validate(sensor))
