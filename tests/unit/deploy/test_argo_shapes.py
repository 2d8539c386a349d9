"""Every flow shape compiles to the DAG the pod protocol expects, and validates strictly."""

from __future__ import annotations

import json

import pytest
from tests.unit.deploy.support import (
    FLOWS,
    ROOT,
    check_valid,
    compile_path,
    tasks,
    templates,
)

from grange.exceptions import CompileError, LintError

VALID = ROOT / "tests" / "flows" / "valid"


def test_linear_flow_is_a_chain_of_depends() -> None:
    man = compile_path(VALID / "linear.py")
    check_valid(man)
    spec = man.workflow_template["spec"]
    entry = tasks(man, spec["entrypoint"])
    assert "depends" not in entry["start"]
    for name, task in entry.items():
        if name != "start":
            assert task["depends"].endswith(".Succeeded")
    assert spec["onExit"] == "argo-finish"


def test_static_branch_joins_on_every_branch() -> None:
    man = compile_path(VALID / "branch.py")
    check_valid(man)
    entry = tasks(man, "BranchFlow")
    assert entry["a"]["depends"] == "start.Succeeded"
    assert entry["join"]["depends"] == "a.Succeeded && b.Succeeded && c.Succeeded"


def test_foreach_fans_out_in_batches_and_joins_on_the_foreach_task() -> None:
    man = compile_path(VALID / "foreach.py")
    check_valid(man)
    entry = tasks(man, "ForeachFlow")
    fan = entry["start-foreach"]
    assert fan["withParam"] == "{{tasks.start.outputs.parameters.batches}}"
    assert fan["depends"] == "start.Succeeded"
    assert fan["template"] == "start-batch"
    assert entry["join"]["depends"] == "start-foreach.Succeeded"
    batch = templates(man)["start-batch"]
    (item,) = batch["dag"]["tasks"]
    assert item["withSequence"] == {
        "start": "{{inputs.parameters.start}}",
        "end": "{{inputs.parameters.end}}",
    }
    # A one-step body calls the step's container directly: one node per item.
    assert item["template"] == "work"
    assert item["arguments"]["parameters"] == [
        {"name": "index", "value": "{{inputs.parameters.index}}.{{item}}"}
    ]
    work = templates(man)["work"]
    assert work["inputs"]["parameters"] == [{"name": "index"}]
    args = work["container"]["args"]
    assert args[args.index("--argo-index") + 1] == "{{inputs.parameters.index}}"
    start_args = templates(man)["start"]["container"]["args"]
    assert start_args[start_args.index("--foreach-batch-size") + 1] == "1000"
    outputs = [p["name"] for p in templates(man)["start"]["outputs"]["parameters"]]
    assert outputs == ["task-id", "count", "batches"]


def test_nested_foreach_nests_body_dags() -> None:
    man = compile_path(VALID / "nested_foreach.py", foreach_batch_size=50)
    check_valid(man)
    tpl = templates(man)
    entry = tasks(man, "NestedForeachFlow")
    assert set(entry) == {"start", "start-foreach", "outer-join", "end"}
    assert tpl["start-batch"]["dag"]["tasks"][0]["template"] == "start-body"
    body = tasks(man, "start-body")
    assert set(body) == {"outer", "outer-foreach", "inner-join"}
    assert body["outer-foreach"]["arguments"]["parameters"][2] == {
        "name": "index",
        "value": "{{inputs.parameters.index}}",
    }
    assert body["inner-join"]["depends"] == "outer-foreach.Succeeded"
    assert tpl["outer-batch"]["dag"]["tasks"][0]["template"] == "inner"
    assert entry["outer-join"]["depends"] == "start-foreach.Succeeded"
    args = tpl["outer"]["container"]["args"]
    assert args[args.index("--foreach-batch-size") + 1] == "50"


def test_switch_runs_only_the_chosen_case() -> None:
    man = compile_path(VALID / "switch.py")
    check_valid(man)
    entry = tasks(man, "SwitchFlow")
    for case in ("heads", "tails"):
        assert entry[case]["depends"] == "start.Succeeded"
        assert entry[case]["when"] == (
            f"'{{{{tasks.start.outputs.parameters.switch-step}}}}' == '{case}'"
        )
    assert entry["after"]["depends"] == "(heads.Succeeded || tails.Succeeded)"
    assert "when" not in entry["after"]
    outputs = [p["name"] for p in templates(man)["start"]["outputs"]["parameters"]]
    assert outputs == ["task-id", "switch-step"]


def test_a_case_that_is_also_where_cases_meet_checks_both_ways_in() -> None:
    man = compile_path(ROOT / "examples" / "hello.py")
    check_valid(man)
    end = tasks(man, "HelloFlow")["end"]
    assert end["depends"] == "(decide.Succeeded || publish.Succeeded)"
    assert end["when"] == (
        "'{{tasks.decide.outputs.parameters.switch-step}}' == 'end' || "
        "'{{tasks.publish.status}}' == 'Succeeded'"
    )


def test_switch_and_static_branch_inside_a_foreach_body() -> None:
    man = compile_path(FLOWS / "mixed.py")
    check_valid(man)
    body = tasks(man, "start-body")
    assert set(body) == {"body", "even", "odd", "fan", "left", "right", "meet"}
    assert body["even"]["when"].endswith("== 'even'")
    assert body["fan"]["depends"] == "(even.Succeeded || odd.Succeeded)"
    assert body["meet"]["depends"] == "left.Succeeded && right.Succeeded"
    entry = tasks(man, "MixedFlow")
    assert entry["gather"]["depends"] == "start-foreach.Succeeded"


def test_decorators_map_to_retries_deadlines_resources_and_env() -> None:
    man = compile_path(FLOWS / "decorated.py")
    check_valid(man)
    tpl = templates(man)
    start = tpl["start"]
    assert start["retryStrategy"] == {
        "limit": "2",
        "retryPolicy": "Always",
        "backoff": {"duration": "60s"},
    }
    args = start["container"]["args"]
    assert args[args.index("--retry-count") + 1] == "{{retries}}"
    assert args[args.index("--max-user-retries") + 1] == "2"
    train = tpl["train"]
    # @catch adds the fallback attempt on top of the (zero) user retries.
    assert train["retryStrategy"]["limit"] == "1"
    assert train["retryStrategy"]["backoff"] == {"duration": "120s"}
    assert train["activeDeadlineSeconds"] == "420"  # 5 minutes + the pod allowance
    resources = train["container"]["resources"]
    assert resources["requests"]["cpu"] == "2"
    assert resources["requests"]["memory"] == "8000M"
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    env = {e["name"]: e["value"] for e in train["container"]["env"]}
    assert env["MODE"] == "fast" and env["PYTHONUNBUFFERED"] == "1"
    evaluate = tpl["evaluate"]
    assert evaluate["nodeSelector"] == {"pool": "big"}
    assert evaluate["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert evaluate["retryStrategy"]["limit"] == "3"
    # a bare @retry waits 2 minutes between attempts on Argo, as Metaflow's
    assert evaluate["retryStrategy"]["backoff"] == {"duration": "120s"}
    end = tpl["end"]
    assert "retryStrategy" not in end and "activeDeadlineSeconds" not in end
    assert set(end["container"]) == {"args", "image"}  # the rest from templateDefaults


def test_template_defaults_carry_what_steps_share() -> None:
    man = compile_path(VALID / "linear.py", top_level_args=["--branch", "x"])
    spec = man.workflow_template["spec"]
    container = spec["templateDefaults"]["container"]
    assert container["command"][:3] == ["python", "-m", "grange.environments.bootstrap"]
    i = container["command"].index("--")
    assert container["command"][i + 1 :] == [
        "--quiet",
        "--metadata",
        "local",
        "--datastore-root",
        "s3://bucket/grange",
        "--branch",
        "x",
    ]
    assert {"name": "grange-out", "mountPath": "/mnt/out"} in container["volumeMounts"]
    assert spec["volumes"] == [{"name": "grange-out", "emptyDir": {}}]
    assert spec["parallelism"] == 100
    assert spec["podGC"] == {"strategy": "OnPodSuccess"}


def test_start_gets_parameters_uid_and_tags() -> None:
    man = compile_path(FLOWS / "params.py", tags=["nightly"])
    check_valid(man)
    args = templates(man)["start"]["container"]["args"]
    assert "--argo-workflow-uid" in args and "{{workflow.uid}}" in args
    assert "text={{workflow.parameters.text}}" in args
    end_args = templates(man)["end"]["container"]["args"]
    assert "--argo-parameter" not in end_args
    # every step's current.tags: one shared variable, not arguments per template
    shared = man.workflow_template["spec"]["templateDefaults"]["container"]["env"]
    assert {"name": "GRANGE_ARGO_TAGS", "value": '["nightly"]'} in shared


def test_settings_reach_the_spec_and_metadata() -> None:
    project = {
        "project_name": "demo",
        "branch_name": "user.tester",
        "project_flow_name": "demo.user.tester.LinearFlow",
        "is_production": False,
        "is_user_branch": True,
    }
    man = compile_path(
        VALID / "linear.py",
        workflow_timeout=3600,
        max_workers=7,
        namespace="ml",
        service_account="runner",
        project=project,
        labels={"team": "ml"},
        annotations={"note": "x"},
    )
    check_valid(man)
    doc = man.workflow_template
    assert doc["metadata"]["name"] == "demo.user.tester.linearflow"
    assert doc["metadata"]["namespace"] == "ml"
    assert doc["metadata"]["labels"]["grange.dev/project"] == "demo"
    assert doc["metadata"]["labels"]["grange.dev/branch"] == "user.tester"
    assert doc["metadata"]["labels"]["team"] == "ml"
    notes = doc["metadata"]["annotations"]
    assert notes["grange.dev/project-flow-name"] == "demo.user.tester.LinearFlow"
    assert notes["grange.dev/is-production"] == "false"
    assert notes["note"] == "x" and notes["grange.dev/owner"] == "tester"
    assert json.loads(notes["grange.dev/code-package"])["sha"] == "ab" * 32
    spec = doc["spec"]
    assert spec["activeDeadlineSeconds"] == 3600
    assert spec["parallelism"] == 7
    assert spec["serviceAccountName"] == "runner"
    assert spec["workflowMetadata"]["annotations"]["grange.dev/run-id"] == "argo-{{workflow.name}}"


def test_no_code_package_runs_the_flow_file_from_the_image() -> None:
    man = compile_path(VALID / "linear.py", package=None)
    check_valid(man)
    command = man.workflow_template["spec"]["templateDefaults"]["container"]["command"]
    assert command[:2] == ["python", "linear.py"]


@pytest.mark.parametrize(
    ("flow", "words"),
    [
        (VALID / "switch_loop.py", ["choose itself", "loop"]),
    ],
)
def test_shapes_not_on_argo_yet_are_refused_with_the_step_and_line(flow, words) -> None:
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    text = err.value.render()
    assert err.value.step and err.value.line and err.value.file
    for word in words:
        assert word in text


def test_a_nested_switch_merges_with_every_case_depending_on_the_right_switch() -> None:
    man = compile_path(FLOWS / "nested_switch.py")
    check_valid(man)
    entry = tasks(man, "NestedSwitchFlow")
    assert entry["x"]["when"] == "'{{tasks.choose.outputs.parameters.switch-step}}' == 'x'"
    assert entry["merge"]["depends"] == "(plain.Succeeded || x.Succeeded || y.Succeeded)"
    assert "when" not in entry["merge"]


def test_a_case_reached_around_its_switch_is_refused(tmp_path) -> None:
    source = (FLOWS / "nested_switch.py").read_text()
    # 'choose' sends its case 'y' straight to 'merge', which 'plain' (outside 'choose') reaches too.
    flow = tmp_path / "around.py"
    y_step = "    @step\n    def y(self):\n        self.next(self.merge)\n\n"
    flow.write_text(source.replace('"y": self.y}', '"y": self.merge}').replace(y_step, ""))
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.step == "merge"
    assert "'plain'" in err.value.message and "switch 'choose'" in err.value.message


def test_a_flow_that_breaks_the_graph_rules_is_refused_by_lint() -> None:
    with pytest.raises(LintError) as err:
        compile_path(ROOT / "tests" / "flows" / "broken" / "switch_into_join.py")
    assert err.value.step and err.value.line


def test_a_gang_is_a_dag_of_n_pods_at_once_retried_whole() -> None:
    man = compile_path(VALID / "parallel.py")
    check_valid(man)
    tmpl = templates(man)
    entry = tasks(man, "ParallelFlow")
    gang = entry["start-gang"]
    assert gang["depends"] == "start.Succeeded"
    args = {p["name"]: p["value"] for p in gang["arguments"]["parameters"]}
    assert args == {"count": "{{tasks.start.outputs.parameters.count}}", "index": ""}
    assert entry["join"]["depends"] == "start-gang.Succeeded"
    # the gang's DAG: @retry(times=1) of 'train' retries the whole gang, not a pod
    dag = tmpl["start-gang"]
    assert dag["retryStrategy"]["limit"] == "1"
    (node,) = dag["dag"]["tasks"]
    assert node["template"] == "train"
    assert node["withSequence"] == {"count": "{{inputs.parameters.count}}"}
    args = {p["name"]: p["value"] for p in node["arguments"]["parameters"]}
    assert args == {"index": "{{inputs.parameters.index}}.{{item}}", "retry-count": "{{retries}}"}
    train = tmpl["train"]
    assert "retryStrategy" not in train  # every pod of an attempt has the gang's number
    argv = train["container"]["args"]
    assert argv[argv.index("--retry-count") + 1] == "{{inputs.parameters.retry-count}}"
    env = {e["name"]: e for e in train["container"]["env"]}
    assert env["GRANGE_POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "GRANGE_USER" in env  # the shared environment too: the template's list is whole
    assert [p["name"] for p in tmpl["start"]["outputs"]["parameters"]] == ["task-id", "count"]
    start = tmpl["start"]["container"]["args"]
    assert start[start.index("--max-num-splits") + 1] == "100000"


def test_a_gang_without_retries_passes_attempt_zero(tmp_path) -> None:
    source = (VALID / "parallel.py").read_text().replace("    @retry(times=1)\n", "")
    flow = tmp_path / "flow.py"
    flow.write_text(source)
    man = compile_path(flow)
    check_valid(man)
    dag = templates(man)["start-gang"]
    assert "retryStrategy" not in dag
    args = {p["name"]: p["value"] for p in dag["dag"]["tasks"][0]["arguments"]["parameters"]}
    assert args["retry-count"] == "0"


def test_a_gang_in_a_foreach_gets_the_item_index(tmp_path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from grange import FlowSpec, parallel, step\n\n\n"
        "class GangsFlow(FlowSpec):\n"
        "    @step\n    def start(self):\n"
        "        self.items = [1, 2]\n        self.next(self.each, foreach='items')\n\n"
        "    @step\n    def each(self):\n        self.next(self.train, num_parallel=2)\n\n"
        "    @parallel\n    @step\n    def train(self):\n        self.next(self.gather)\n\n"
        "    @step\n    def gather(self, inputs):\n        self.next(self.join)\n\n"
        "    @step\n    def join(self, inputs):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n"
    )
    man = compile_path(flow)
    check_valid(man)
    body = tasks(man, "start-body")
    assert body["each-gang"]["depends"] == "each.Succeeded"
    args = {p["name"]: p["value"] for p in body["each-gang"]["arguments"]["parameters"]}
    assert args["index"] == "{{inputs.parameters.index}}"
    assert body["gather"]["depends"] == "each-gang.Succeeded"


def test_a_gang_larger_than_max_workers_is_refused() -> None:
    with pytest.raises(CompileError) as err:
        compile_path(ROOT / "tests" / "flows" / "run" / "gang.py", max_workers=2)
    assert err.value.step == "start" and err.value.line
    assert "num_parallel=3" in err.value.message and "--max-workers 3" in (err.value.fix or "")


def test_an_explicit_retry_wait_of_zero_is_kept(tmp_path) -> None:
    source = (FLOWS / "decorated.py").read_text()
    flow = tmp_path / "flow.py"
    flow.write_text(source.replace("    @retry\n", "    @retry(minutes_between_retries=0)\n"))
    evaluate = templates(compile_path(flow))["evaluate"]
    assert evaluate["retryStrategy"]["backoff"] == {"duration": "0s"}


def test_a_metadata_password_never_reaches_the_manifest() -> None:
    """Anyone who can read templates, Workflows or pods would see it: the URL is left
    out (pods index nothing; readers index from the records)."""
    secret = compile_path(FLOWS / "params.py", metadata="postgresql://alice:S3cretPw@db/g")
    assert "S3cretPw" not in secret.to_yaml() and "S3cretPw" not in secret.to_json()
    plain = compile_path(FLOWS / "params.py", metadata="postgresql://alice@db/g")
    assert "postgresql://alice@db/g" in plain.to_yaml()


def test_a_join_waits_for_one_case_of_a_switch_in_a_branch() -> None:
    """start -> (a, b); a switches to x | y; x, y, b -> join: only one of x and y runs,
    so the join's depends is an OR of the cases, AND the other branch."""
    man = compile_path(FLOWS / "switch_in_branch.py")
    check_valid(man)
    join = tasks(man, "SJFlow")["join"]
    assert join["depends"] == "(x.Succeeded || y.Succeeded) && b.Succeeded"


def test_priority_and_unicode_parameters() -> None:
    """--workflow-priority is spec.priority; non-ASCII values are carried as UTF-8, not
    as \\u escapes that would use the size budget up to six times faster."""
    from grange.deploy.argo import parameters as params

    man = compile_path(FLOWS / "params.py", workflow_priority=7)
    check_valid(man)
    assert man.workflow_template["spec"]["priority"] == 7
    assert params.encode("é" * 3) == '"ééé"'
