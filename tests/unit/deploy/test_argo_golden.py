"""Golden files: every example flow, every whole flow in docs/ and test flows of every
shape compile to the YAML checked in under tests/golden/; any difference fails.

Regenerate after an intended change with::

    GRANGE_UPDATE_GOLDEN=1 python -m pytest tests/unit/deploy/test_argo_golden.py

and review the diff like code. A flow the compiler refuses has a ``.refused.txt``
golden file holding the message instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from tests.unit.deploy.support import FLOWS, ROOT, check_valid, compile_path

from grange.exceptions import CompileError

GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("GRANGE_UPDATE_GOLDEN") == "1"
VERSION_NOTE = re.compile(r"(grange\.dev/grange-version: ).*")

TEST_FLOWS = [
    *(
        ROOT / "tests" / "flows" / "valid" / f"{name}.py"
        for name in (
            "linear",
            "branch",
            "nested_branch",
            "foreach",
            "nested_foreach",
            "switch",
            "switch_loop",
            "parallel",
            "inherited",
        )
    ),
    ROOT / "tests" / "flows" / "course" / "CatchFlow.py",
    ROOT / "tests" / "flows" / "envpods" / "pypi_step.py",
    ROOT / "tests" / "flows" / "envpods" / "pypi_base.py",
    ROOT / "tests" / "flows" / "run" / "params.py",
    *sorted(FLOWS.glob("*.py")),
]


def _doc_flows() -> list[tuple[str, str]]:
    """(golden name, source) of every python block in docs/ that is a whole flow."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
        for i, block in enumerate(blocks):
            whole = "from grange import" in block and "(FlowSpec)" in block
            if whole and "def start" in block and "def end" in block:
                found.append((f"docs/{page.stem}-{i}", block))
    return found


def _cases() -> list[tuple[str, Path | str]]:
    examples = ROOT / "examples"
    cases: list[tuple[str, Path | str]] = [
        (f"examples/{p.relative_to(examples).with_suffix('').as_posix().replace('/', '-')}", p)
        for p in sorted(examples.rglob("*.py"))
        if "FlowSpec" in p.read_text()
    ]
    cases += [
        (f"flows/{'deploy' if p.parent == FLOWS else p.parent.name}-{p.stem}", p)
        for p in TEST_FLOWS
    ]
    cases += _doc_flows()
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "source"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, source: Path | str, tmp_path: Path) -> None:
    if isinstance(source, str):
        path = tmp_path / "flow.py"
        path.write_text(source)
    else:
        path = source
    try:
        manifests = compile_path(path)
    except CompileError as err:
        suffix, text = ".refused.txt", f"step {err.step}: {err.message}\n"
    else:
        check_valid(manifests)
        suffix = ".yaml"
        text = VERSION_NOTE.sub(r"\1<version>", manifests.to_yaml())
        # a default made of the flow file's own path (examples/ml_workflow/ingest.py's
        # dataset): the same golden file in every checkout
        text = text.replace(f"{ROOT}/", "<checkout>/")
    golden = GOLDEN / f"{name}{suffix}"
    if UPDATE:
        for stale in GOLDEN.glob(f"{name}.*"):
            stale.unlink()
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), (
        f"no golden file {golden.relative_to(ROOT)}: run with GRANGE_UPDATE_GOLDEN=1 to write it"
    )
    assert text == golden.read_text(), (
        f"{name} compiles differently from {golden.relative_to(ROOT)}; if intended, "
        "regenerate with GRANGE_UPDATE_GOLDEN=1 and review the diff"
    )


def test_no_stale_golden_files() -> None:
    names = {c[0] for c in CASES}
    stale = [
        p.relative_to(GOLDEN).as_posix()
        for p in GOLDEN.rglob("*")
        if p.is_file()
        and p.name != "README.md"
        and p.relative_to(GOLDEN).as_posix().split(".")[0] not in names
    ]
    assert stale == [], f"golden files without a flow: {stale}"


def test_manifests_stay_within_the_emitted_subset() -> None:
    import yaml

    from grange.deploy.argo import subset

    for golden in GOLDEN.rglob("*.yaml"):
        docs = [d for d in yaml.safe_load_all(golden.read_text()) if d]
        for doc in docs:
            {"WorkflowTemplate": _template_subset, "CronWorkflow": _cron_subset,
             "Sensor": _sensor_subset}[doc["kind"]](doc, golden, subset)  # fmt: skip


def _template_subset(doc: dict, golden: Path, subset: Any) -> None:
    spec = doc["spec"]
    assert set(spec) <= subset.WORKFLOW_SPEC, golden
    for template in [*spec["templates"], spec["templateDefaults"]]:
        assert set(template) <= subset.TEMPLATE, (golden, template.get("name"))
        assert set(template.get("retryStrategy", {})) <= subset.RETRY_STRATEGY
        for task in template.get("dag", {}).get("tasks", []):
            assert set(task) <= subset.DAG_TASK, (golden, task["name"])


def _cron_subset(doc: dict, golden: Path, subset: Any) -> None:
    assert set(doc["spec"]) <= subset.CRON_SPEC, golden
    assert set(doc["spec"]["workflowSpec"]) == {"workflowTemplateRef"}, golden


def _sensor_subset(doc: dict, golden: Path, subset: Any) -> None:
    spec = doc["spec"]
    assert set(spec) <= subset.SENSOR_SPEC, golden
    for dep in spec["dependencies"]:
        assert set(dep) <= subset.SENSOR_DEPENDENCY, golden
        assert set(dep["filters"]) <= subset.SENSOR_FILTERS, golden
    for trigger in spec["triggers"]:
        assert set(trigger) == {"template", "atLeastOnce", "retryStrategy"}, golden
        assert set(trigger["template"]) <= subset.SENSOR_TRIGGER_TEMPLATE, golden
        k8s = trigger["template"]["k8s"]
        assert set(k8s) <= subset.K8S_TRIGGER, golden
        for parameter in k8s["parameters"]:
            assert set(parameter["src"]) <= subset.TRIGGER_PARAMETER_SOURCE, golden
        workflow = k8s["source"]["resource"]
        assert set(workflow["spec"]) == {"workflowTemplateRef", "arguments"}, golden
