"""The test-only local Argo executor (tests/argo_executor) on small hand-written manifests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.argo_schema import validate

from argo_executor import ExpressionError, Refused
from argo_executor import run_workflow as execute

OUT = {"name": "out", "emptyDir": {}}
MOUNT = {"name": "out", "mountPath": "/mnt/out"}


def run_workflow(template: dict[str, Any], workflow: Any = None, **options: Any) -> Any:
    """Run the manifests once they validate (strict) against Argo's schemas."""
    for doc in (template, workflow):
        if doc is not None:
            assert validate(doc) == [], validate(doc)
    return execute(template, workflow, **options)


def py(
    name: str,
    code: str,
    *,
    outputs: tuple[str, ...] = (),
    inputs: tuple[str, ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A container template running ``python -c code``; outputs read from /mnt/out/<name>."""
    template: dict[str, Any] = {
        "name": name,
        "container": {
            "image": "python:3.11",
            "command": ["python", "-c", code],
            "volumeMounts": [MOUNT],
        },
        **extra,
    }
    if inputs:
        template["inputs"] = {"parameters": [{"name": n} for n in inputs]}
    if outputs:
        template["outputs"] = {
            "parameters": [{"name": n, "valueFrom": {"path": f"/mnt/out/{n}"}} for n in outputs]
        }
    return template


def write(name: str, value: str) -> str:
    return f"open('/mnt/out/{name}', 'w').write({value})"


def wft(*templates: dict[str, Any], entry: str = "main", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "demo"},
        "spec": {"entrypoint": entry, "volumes": [OUT], "templates": list(templates), **spec},
    }


def dag(name: str, *tasks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "dag": {"tasks": list(tasks)}, **extra}


def log(path: Path, text: str) -> str:
    return f"open({str(path)!r}, 'a').write({text} + '\\n')"


def lines(path: Path) -> list[str]:
    return sorted(path.read_text().split()) if path.exists() else []


def test_foreach_batches_sequence_and_outputs(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    manifest = wft(
        dag(
            "main",
            {"name": "split", "template": "split"},
            {
                "name": "fan",
                "template": "batch",
                "depends": "split.Succeeded",
                "withParam": "{{tasks.split.outputs.parameters.batches}}",
                "arguments": {
                    "parameters": [
                        {"name": "start", "value": "{{item.start}}"},
                        {"name": "end", "value": "{{item.end}}"},
                    ]
                },
            },
            {"name": "join", "template": "join", "depends": "fan.Succeeded"},
        ),
        dag(
            "batch",
            {
                "name": "body",
                "template": "body",
                "withSequence": {
                    "start": "{{inputs.parameters.start}}",
                    "end": "{{inputs.parameters.end}}",
                },
                "arguments": {"parameters": [{"name": "index", "value": "{{item}}"}]},
            },
            inputs={"parameters": [{"name": "start"}, {"name": "end"}]},
        ),
        py(
            "split",
            write("batches", '\'[{"start": 0, "end": 2}, {"start": 3, "end": 4}]\''),
            outputs=("batches",),
        ),
        py("body", "import sys; " + log(seen, "sys.argv[1]"), inputs=("index",)),
        py("join", log(seen, "'join-{{workflow.parameters.alpha}}'")),
        arguments={"parameters": [{"name": "alpha", "value": "1"}]},
    )
    manifest["spec"]["templates"][3]["container"]["args"] = ["{{inputs.parameters.index}}"]
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "demo-"},
        "spec": {
            "workflowTemplateRef": {"name": "demo"},
            "arguments": {"parameters": [{"name": "alpha", "value": "2"}]},
        },
    }
    result = run_workflow(manifest, workflow, cwd=tmp_path)
    assert result.phase == "Succeeded", result.explain()
    assert result.name.startswith("demo-") and len(result.name) == len("demo-") + 5
    assert lines(seen) == ["0", "1", "2", "3", "4", "join-2"]
    assert len(result.pods("body")) == 5


def test_when_skips_and_depends_omits(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    manifest = wft(
        dag(
            "main",
            {"name": "switch", "template": "switch"},
            {
                "name": "heads",
                "template": "heads",
                "depends": "switch.Succeeded",
                "when": "'{{tasks.switch.outputs.parameters.switch-step}}' == 'heads'",
            },
            {
                "name": "tails",
                "template": "tails",
                "depends": "switch.Succeeded",
                "when": "'{{tasks.switch.outputs.parameters.switch-step}}' == 'tails'",
            },
            {"name": "after", "template": "after", "depends": "heads.Succeeded || tails.Succeeded"},
            {"name": "only-tails", "template": "after", "depends": "tails.Succeeded"},
            {
                "name": "heads-ran",
                "template": "after",
                "depends": "heads || tails",
                "when": "'{{tasks.heads.status}}' == 'Succeeded'",
            },
        ),
        py("switch", write("switch-step", "'tails'"), outputs=("switch-step",)),
        py("heads", log(seen, "'heads'")),
        py("tails", log(seen, "'tails'")),
        py("after", log(seen, "'after'")),
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Succeeded", result.explain()
    assert lines(seen) == ["after", "after", "tails"]
    phases = {n.name.rsplit(".", 1)[-1]: n.phase for n in result.nodes}
    assert phases["heads"] == "Skipped" and phases["heads-ran"] == "Skipped"

    manifest["spec"]["templates"][1]["container"]["command"][2] = write("switch-step", "'heads'")
    seen.unlink()
    result = run_workflow(manifest, cwd=tmp_path)
    phases = {n.name.rsplit(".", 1)[-1]: n.phase for n in result.nodes}
    assert phases["tails"] == "Skipped" and phases["only-tails"] == "Omitted"
    assert phases["heads-ran"] == "Succeeded"
    assert result.phase == "Succeeded"


def test_retries_backoff_and_attempt_number(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    code = (
        "import sys; "
        + log(seen, "'attempt-{{retries}}'")
        + "; sys.exit(0 if {{retries}} == 2 else 3)"
    )
    retry = {"limit": 3, "retryPolicy": "Always", "backoff": {"duration": "1m", "factor": 2}}
    manifest = wft(
        dag("main", {"name": "flaky", "template": "flaky"}), py("flaky", code, retryStrategy=retry)
    )
    result = run_workflow(manifest, cwd=tmp_path, time_scale=0.0001)
    assert result.phase == "Succeeded", result.explain()
    assert lines(seen) == ["attempt-0", "attempt-1", "attempt-2"]
    assert result.pods("flaky")[0].retries == 2


def test_failure_fails_fast_and_exit_handler_sees_it(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    manifest = wft(
        dag(
            "main",
            {"name": "bad", "template": "bad"},
            {"name": "slow", "template": "slow"},
            {"name": "later", "template": "later", "depends": "slow.Succeeded"},
        ),
        py("bad", "raise SystemExit(1)"),
        py("slow", "import time; time.sleep(1)"),
        py("later", log(seen, "'later'")),
        py("exit", log(seen, "'exit-{{workflow.status}}'")),
        onExit="exit",
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Failed"
    assert lines(seen) == ["exit-Failed"]  # failFast: 'later' never started


def test_deadline_kills_and_parallelism_bounds(tmp_path: Path) -> None:
    manifest = wft(
        dag("main", {"name": "hang", "template": "hang"}),
        py("hang", "import time; time.sleep(60)", activeDeadlineSeconds=1),
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Failed"
    assert "deadline" in result.pods("hang")[0].message

    seen = tmp_path / "seen"
    code = (
        "import os, time; fd = os.open({p!r}, os.O_CREAT | os.O_EXCL | os.O_WRONLY); "
        "time.sleep(0.3); os.close(fd); os.unlink({p!r}); " + log(seen, "'ok'")
    ).format(p=str(tmp_path / "lock"))
    manifest = wft(
        dag("main", {"name": "many", "template": "one", "withItems": [1, 2, 3]}),
        py("one", code),
        parallelism=1,
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Succeeded", result.explain()  # a second pod at once fails O_EXCL
    assert lines(seen) == ["ok", "ok", "ok"]


def test_template_defaults_and_missing_output(tmp_path: Path) -> None:
    manifest = wft(
        dag("main", {"name": "a", "template": "a"}),
        py("a", "import os; " + log(tmp_path / "seen", "os.environ['SHARED']"), outputs=("never",)),
        templateDefaults={
            "container": {
                "image": "python:3.11",
                "env": [{"name": "SHARED", "value": "{{workflow.name}}"}],
            }
        },
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Error" or result.phase == "Failed"
    assert result.pods("a")[0].phase == "Error"
    assert lines(tmp_path / "seen") == [result.name]


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("template", {"steps": []}),
        ("task", {"continueOn": {"failed": True}}),
        ("container", {"lifecycle": {}}),
        ("spec", {"hooks": {}}),
        ("retry", {"expression": "true"}),
    ],
)
def test_refuses_what_it_does_not_implement(
    tmp_path: Path, where: str, field: dict[str, Any]
) -> None:
    task = {"name": "a", "template": "a"}
    template = py("a", "pass")
    manifest = wft(dag("main", task), template)
    target = {
        "template": template,
        "task": task,
        "container": template["container"],
        "spec": manifest["spec"],
        "retry": template.setdefault("retryStrategy", {"limit": 1}),
    }[where]
    target.update(field)
    with pytest.raises(Refused):
        execute(manifest, cwd=tmp_path)


def test_python_is_this_interpreter(tmp_path: Path) -> None:
    manifest = wft(
        dag("main", {"name": "a", "template": "a"}),
        py("a", "import sys; " + write("exe", "sys.executable"), outputs=("exe",)),
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.pods("a")[0].outputs["exe"] == sys.executable
    assert json.loads(json.dumps(result.phase)) == "Succeeded"


def test_workflow_deadline_and_arguments(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    manifest = wft(
        dag(
            "main",
            {"name": "hang", "template": "hang"},
            {"name": "after", "template": "after", "depends": "hang"},
        ),
        py("hang", "import time; time.sleep(60)"),
        py("after", log(seen, "'after'")),
        py("exit", log(seen, "'exit-{{workflow.status}}'")),
        activeDeadlineSeconds=1,
        onExit="exit",
    )
    result = run_workflow(manifest, cwd=tmp_path)
    assert result.phase == "Failed"
    assert lines(seen) == ["exit-Failed"]  # the exit handler runs past the deadline

    manifest = wft(
        dag("main", {"name": "a", "template": "a"}),
        py("a", "pass"),
        arguments={"parameters": [{"name": "alpha", "value": "1"}]},
    )
    workflow = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "demo-"},
        "spec": {
            "workflowTemplateRef": {"name": "demo"},
            "arguments": {"parameters": [{"name": "beta", "value": "2"}]},
        },
    }
    with pytest.raises(ExpressionError, match="beta"):
        run_workflow(manifest, workflow, cwd=tmp_path)


def test_a_dag_template_retried_whole_with_its_attempt_and_pod_ips(tmp_path: Path) -> None:
    # As Argo: a DAG template's retryStrategy runs all its tasks again when one fails,
    # with {{retries}} = the DAG's attempt in its tasks' arguments; status.podIP from
    # the downward API is this host.
    seen = tmp_path / "seen"
    member = py(
        "member",
        "import os, sys\n"
        + log(
            seen,
            "'{{inputs.parameters.node}}:{{inputs.parameters.attempt}}:' + os.environ['POD_IP']",
        )
        + "\nsys.exit(1 if '{{inputs.parameters.node}}{{inputs.parameters.attempt}}' == '20' "
        "else 0)",
        inputs=("node", "attempt"),
    )
    member["container"]["env"] = [
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}
    ]
    gang = dag(
        "gang",
        {
            "name": "node",
            "template": "member",
            "withSequence": {"count": "3"},
            "arguments": {
                "parameters": [
                    {"name": "node", "value": "{{item}}"},
                    {"name": "attempt", "value": "{{retries}}"},
                ]
            },
        },
        retryStrategy={"limit": "2", "retryPolicy": "Always"},
    )
    main = dag("main", {"name": "gang", "template": "gang"})
    result = run_workflow(wft(main, gang, member), logs_dir=tmp_path)
    assert result.phase == "Succeeded", result.explain()
    assert lines(seen) == sorted([f"{n}:{a}:127.0.0.1" for n in range(3) for a in range(2)])
    node = next(n for n in result.nodes if n.template == "gang" and n.type == "DAG")
    assert [c.phase for c in node.children] == ["Failed", "Succeeded"]
