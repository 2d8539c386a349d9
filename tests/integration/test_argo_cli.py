"""``argo-workflows create|trigger|status|list-runs|terminate|suspend|unsuspend|delete``
as a user types them, against the fake API server (tests/kubefake), with the
code package in a loopback S3 bucket; and a triggered Workflow taken from the
fake cluster and run by the local Argo executor, read back through the client."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.argo_schema import validate

from argo_executor import run_workflow
from grange import Flow
from kubefake import FakeKube
from support import Runner

FLOW = '''
from grange import FlowSpec, Parameter, project, step

class DeployFlow(FlowSpec):
    """Doubles alpha."""

    alpha = Parameter("alpha", default=0.5, type=float)

    @step
    def start(self):
        self.doubled = self.alpha * 2
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    DeployFlow()
'''


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    folder = tmp_path / "proj"
    folder.mkdir()
    path = folder / "deploy_flow.py"
    path.write_text(textwrap.dedent(FLOW))
    return path


def _env(runner: Runner, tmp_path: Path, root: str, **extra: str) -> dict[str, str]:
    import os

    return runner.env(
        GRANGE_DATASTORE_ROOT=root,
        GRANGE_HOME=str(tmp_path / "home-alice"),
        KUBECONFIG=os.environ["KUBECONFIG"],
        **extra,
    )


def _argo(runner: Runner, flow: Path, env: dict[str, str], *args: str, ok: bool = True) -> Any:
    return runner(flow, "argo-workflows", *args, env=env, ok=ok)


def test_only_yaml_prints_valid_manifests_without_a_cluster(
    runner: Runner, flow_file: Path, tmp_path: Path
) -> None:
    env = runner.env(KUBECONFIG=str(tmp_path / "missing"))
    result = runner(flow_file, "argo-workflows", "create", "--only-yaml", env=env)
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs[0]["kind"] == "WorkflowTemplate"
    assert docs[0]["metadata"]["name"] == "deployflow"
    assert all(validate(d) == [] for d in docs)
    assert "cannot reach that store" in result.stderr or "local" in result.stderr
    as_json = runner(flow_file, "argo-workflows", "create", "--only-json", env=env)
    assert json.loads(as_json.stdout)["kind"] == "WorkflowTemplate"


def test_create_refuses_a_local_datastore(
    runner: Runner, flow_file: Path, tmp_path: Path, kube: FakeKube
) -> None:
    env = _env(runner, tmp_path, str(runner.root))
    result = _argo(runner, flow_file, env, "create", ok=False)
    assert "local directory: pods on a cluster cannot reach it" in result.stderr
    assert "Traceback" not in result.stderr
    assert kube.objects("workflowtemplates") == []


def test_create_trigger_manage_delete(
    runner: Runner, flow_file: Path, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    created = _argo(runner, flow_file, env, "create", "--max-workers", "7", "--tag", "team:ml")
    assert "WorkflowTemplate deployflow created in namespace default" in created.stderr
    (template,) = kube.objects("workflowtemplates")
    assert template["spec"]["parallelism"] == 7
    token = template["metadata"]["annotations"]["grange.dev/production-token"]
    assert (tmp_path / "home-alice" / "tokens" / "default.deployflow").read_text().strip() == token

    again = _argo(runner, flow_file, env, "create")  # the owner replaces it
    assert "updated" in again.stderr
    (replaced,) = kube.objects("workflowtemplates")
    assert int(replaced["metadata"]["resourceVersion"]) > int(
        template["metadata"]["resourceVersion"]
    )

    bob = {**env, "GRANGE_USER": "bob", "GRANGE_HOME": str(tmp_path / "home-bob")}
    refused = _argo(runner, flow_file, bob, "create", ok=False)
    assert "belongs to" in refused.stderr and "--authorize" in refused.stderr
    _argo(runner, flow_file, bob, "create", "--authorize", token)

    run_id_file = tmp_path / "run-id"
    triggered = _argo(
        runner, flow_file, env, "trigger", "--alpha", "0.25", "--run-id-file", str(run_id_file)
    )
    run_id = triggered.stdout.strip()
    assert run_id.startswith("argo-deployflow-") and run_id_file.read_text() == run_id
    (workflow,) = kube.objects("workflows")
    assert validate(workflow) == []
    assert workflow["spec"]["workflowTemplateRef"]["name"] == "deployflow"
    assert workflow["metadata"]["annotations"]["grange.dev/flow-name"] == "DeployFlow"
    assert {"name": "alpha", "value": "0.25"} in workflow["spec"]["arguments"]["parameters"]

    assert _argo(runner, flow_file, env, "status", run_id).stdout.strip() == "Pending"
    listed = _argo(runner, flow_file, env, "list-runs").stdout
    assert run_id in listed
    _argo(runner, flow_file, env, "suspend", run_id)
    assert kube.objects("workflows")[0]["spec"]["suspend"] is True
    _argo(runner, flow_file, env, "unsuspend", run_id)
    assert "suspend" not in kube.objects("workflows")[0]["spec"]
    _argo(runner, flow_file, env, "terminate", run_id)
    assert kube.objects("workflows")[0]["spec"]["shutdown"] == "Terminate"
    bad = _argo(runner, flow_file, env, "status", "12", ok=False)
    assert "is not the id of an Argo run" in bad.stderr

    assert "deployflow" in _argo(runner, flow_file, env, "list-workflow-templates").stdout
    refused = _argo(runner, flow_file, {**bob, "GRANGE_HOME": str(tmp_path / "x")}, "delete",
                    ok=False)  # fmt: skip
    assert "belongs to" in refused.stderr
    deleted = _argo(runner, flow_file, env, "delete")
    assert "Deleted WorkflowTemplate deployflow" in deleted.stderr
    assert kube.objects("workflowtemplates") == []
    assert "no deployment" in _argo(runner, flow_file, env, "delete", ok=False).stderr
    missing = _argo(runner, flow_file, env, "trigger", ok=False)
    assert "is not deployed" in missing.stderr and "argo-workflows create" in missing.stderr


def test_a_triggered_run_runs_and_reads_back(
    runner: Runner, flow_file: Path, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    """create -> trigger on the fake cluster; the executor plays Argo's controller."""
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    _argo(runner, flow_file, env, "create", "--alpha", "1.5", "--tag", "team:ml")
    _argo(runner, flow_file, env, "trigger", "--alpha", "4")
    (template,) = kube.objects("workflowtemplates")
    (workflow,) = kube.objects("workflows")
    # create --alpha 1.5: the deployment's default, as the command's help says
    assert {"name": "alpha", "value": "1.5"} in template["spec"]["arguments"]["parameters"]
    result = run_workflow(
        template, workflow, env={**env, "GRANGE_CODE_DIR": str(tmp_path / "code")},
        cwd=tmp_path, time_scale=0.001,
    )  # fmt: skip
    assert result.phase == "Succeeded", result
    from grange import metadata, namespace

    metadata(f"local@s3://{s3_bucket}/grange")
    namespace(None)
    run = Flow("DeployFlow")[f"argo-{result.name}"]
    assert run.successful and run.data.doubled == 8.0
    assert run.code is not None and "class DeployFlow" in run.code.flowspec
    assert "team:ml" in run.tags and run["end"].task.tags >= {"team:ml"}

    # A run terminated mid-way (its start claimed it, nothing ended it) reads failed at
    # once: Argo runs no exit handler on Terminate.
    from grange.datastore import DatastoreLocation
    from grange.datastore.runs import RunClaim, claim_run, read_final

    blobs = DatastoreLocation.of(f"s3://{s3_bucket}/grange").open()
    claim_run(blobs, RunClaim("DeployFlow", "argo-deployflow-zzzzz", 1.0, "tester", runtime="argo"))
    from kubefake.store import KINDS

    meta = {k: v for k, v in workflow["metadata"].items() if k in ("labels", "annotations")}
    kube.store.create(  # the Workflow as the cluster holds it
        KINDS["workflows"], "default",
        {**workflow, "metadata": {**meta, "name": "deployflow-zzzzz"}},
    )  # fmt: skip
    other = {**meta, "annotations": {**meta["annotations"], "grange.dev/flow-name": "OtherFlow"}}
    kube.store.create(KINDS["workflows"], "default", {**workflow, "metadata": {**other,
                      "name": "otherflow-aaaaa"}})  # fmt: skip
    foreign = _argo(runner, flow_file, env, "terminate", "argo-otherflow-aaaaa", ok=False)
    assert "is a run of OtherFlow" in foreign.stderr
    said = _argo(runner, flow_file, env, "terminate", "argo-deployflow-zzzzz")
    assert "recorded as failed" in said.stderr
    assert read_final(blobs, "DeployFlow", "argo-deployflow-zzzzz")[0] == "failed"


def test_policy_refuses_production_and_foreign_images(
    runner: Runner, flow_file: Path, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    flow_file.write_text(flow_file.read_text().replace(
        "class DeployFlow", '@project(name="fraud")\nclass DeployFlow'))  # fmt: skip
    config = tmp_path / "config.toml"
    config.write_text(
        'default_profile = "team"\n[profiles.team.policy]\nallow_production_deploy = false\n'
        'allowed_registries = ["ghcr.io/acme"]\n'
        '[profiles.team.kubernetes]\nimage = "ghcr.io/acme/runtime:1"\n'
    )
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange", GRANGE_CONFIG=str(config))
    refused = runner(flow_file, "argo-workflows", "create", top=("--production",), env=env,
                     ok=False)  # fmt: skip
    assert "--production" in refused.stderr and "allow_production_deploy" in refused.stderr
    image = _argo(runner, flow_file, env, "create", "--image", "docker.io/evil/x:1", ok=False)
    assert "docker.io/evil/x" in image.stderr and "allowed_registries" in image.stderr
    assert kube.objects("workflowtemplates") == []

    made = runner(flow_file, "argo-workflows", "create", top=("--branch", "exp1"), env=env)
    assert "fraud.test.exp1.deployflow" in made.stderr
    (template,) = kube.objects("workflowtemplates")
    assert template["metadata"]["name"] == "fraud.test.exp1.deployflow"


def test_deployer_api(flow_file: Path, tmp_path: Path, kube: FakeKube, s3_bucket: str,
                      runner: Runner) -> None:  # fmt: skip
    from grange import Deployer
    from grange.deploy.deployer import DeployerError

    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    deployed = Deployer(str(flow_file), env=env).argo_workflows().create(max_workers=3)
    assert deployed.name == "deployflow"
    triggered = deployed.trigger(alpha=2)
    assert triggered.run_id.startswith("argo-deployflow-")
    assert triggered.status == "Pending" and triggered.is_running
    assert triggered.terminate()
    assert deployed.delete()
    with pytest.raises(DeployerError, match="is not deployed"):
        deployed.trigger()
    assert deployed.status == "deleted"


DEPLOYER_FLOW = """
from grange import FlowSpec, Parameter, project, step

@project(name="fraud")
class KwFlow(FlowSpec):
    flag = Parameter("flag", default=True, type=bool)
    learning_rate = Parameter("learning_rate", default=0.1)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    KwFlow()
"""


def test_deployer_keeps_its_branch_and_maps_keywords(
    tmp_path: Path, kube: FakeKube, s3_bucket: str, runner: Runner
) -> None:
    """A deployment made on a branch is triggered and deleted on that branch; keyword
    arguments become the options a user would type (bools as true/false, parameter
    names as written, tags as repeated --tag)."""
    from grange import Deployer
    from grange.deploy.deployer import DeployerError

    flow = tmp_path / "kw" / "kw_flow.py"
    flow.parent.mkdir()
    flow.write_text(textwrap.dedent(DEPLOYER_FLOW))
    env = _env(runner, tmp_path, f"s3://{s3_bucket}/grange")
    deployer = Deployer(str(flow), env=env).argo_workflows()
    deployed = deployer.create(branch="feat", tags=["team:ml", "x"], auto_emit_argo_events=False)
    assert deployed.name == "fraud.test.feat.kwflow" and deployed.status == "deployed"
    (template,) = kube.objects("workflowtemplates")
    assert json.loads(template["metadata"]["annotations"]["grange.dev/tags"]) == ["team:ml", "x"]
    assert template["metadata"]["annotations"]["grange.dev/auto-emit-events"] == "false"
    deployed.trigger(flag=False, learning_rate=0.5)
    (workflow,) = kube.objects("workflows")
    assert workflow["spec"]["workflowTemplateRef"]["name"] == "fraud.test.feat.kwflow"
    assert {"name": "flag", "value": "false"} in workflow["spec"]["arguments"]["parameters"]
    assert {"name": "learning_rate", "value": "0.5"} in workflow["spec"]["arguments"]["parameters"]
    with pytest.raises(DeployerError, match="only_json"):
        deployer.create(only_json=True)
    assert deployed.delete()
    assert kube.objects("workflowtemplates") == []


INCLUDE_FLOW = """
from grange import FlowSpec, IncludeFile, step

class IncludeFlow(FlowSpec):
    notes = IncludeFile("notes", default="notes.txt")

    @step
    def start(self):
        self.got = self.notes
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    IncludeFlow()
"""


def test_create_and_trigger_store_include_files(
    runner: Runner, tmp_path: Path, kube: FakeKube, s3_bucket: str
) -> None:
    """IncludeFile: create stores the default file (or the one given to create), trigger
    the one given to it, in the datastore; the start pod reads it back."""
    from grange import metadata, namespace
    from grange.datastore import DatastoreLocation
    from grange.datastore.included import load

    flow_file = tmp_path / "proj" / "include_flow.py"
    flow_file.parent.mkdir()
    flow_file.write_text(INCLUDE_FLOW)
    (runner.cwd / "notes.txt").write_text("default notes\n")  # relative to where we run
    (tmp_path / "given.txt").write_text("given at create\n")
    (tmp_path / "later.txt").write_text("given at trigger\n")
    root = f"s3://{s3_bucket}/grange"
    env = _env(runner, tmp_path, root)
    blobs = DatastoreLocation.of(root).open()

    printed = _argo(runner, flow_file, env, "create", "--only-json")
    (arg,) = json.loads(printed.stdout)["spec"]["arguments"]["parameters"]
    assert load(blobs, json.loads(arg["value"])) == b"default notes\n"

    _argo(runner, flow_file, env, "create", "--notes", str(tmp_path / "given.txt"))
    (template,) = kube.objects("workflowtemplates")
    (arg,) = template["spec"]["arguments"]["parameters"]
    assert load(blobs, json.loads(arg["value"])) == b"given at create\n"

    _argo(runner, flow_file, env, "trigger", "--notes", str(tmp_path / "later.txt"))
    (workflow,) = kube.objects("workflows")
    (arg,) = workflow["spec"]["arguments"]["parameters"]
    assert load(blobs, json.loads(arg["value"])) == b"given at trigger\n"
    result = run_workflow(
        template, workflow, env={**env, "GRANGE_CODE_DIR": str(tmp_path / "code")},
        cwd=tmp_path, time_scale=0.001,
    )  # fmt: skip
    assert result.phase == "Succeeded", result.explain()
    metadata(f"local@{root}")
    namespace(None)
    assert Flow("IncludeFlow")[f"argo-{result.name}"].data.got == "given at trigger\n"

    # trigger without the file, from where the default file is not: the deployment's
    (runner.cwd / "notes.txt").unlink()
    first = workflow["metadata"]["name"]
    _argo(runner, flow_file, env, "trigger")
    (workflow,) = [w for w in kube.objects("workflows") if w["metadata"]["name"] != first]
    assert "arguments" not in workflow["spec"]  # the template's default: the stored file
    result = run_workflow(
        template, workflow, env={**env, "GRANGE_CODE_DIR": str(tmp_path / "code")},
        cwd=tmp_path, time_scale=0.001,
    )  # fmt: skip
    assert result.phase == "Succeeded", result.explain()
    assert Flow("IncludeFlow")[f"argo-{result.name}"].data.got == "given at create\n"


CLASH_FLOW = """
from grange import FlowSpec, Parameter, project, step

@project(name="fraud")
class ClashFlow(FlowSpec):
    image = Parameter("image", default="cat.png")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    ClashFlow()
"""


def test_names_and_options_that_cannot_work_are_refused(runner: Runner, tmp_path: Path) -> None:
    """A parameter named like an option of create/trigger, and --name on a @project
    flow (branches would overwrite each other), are refused clearly; --namespace is the
    namespace the deployed steps read."""
    flow = tmp_path / "clash" / "clash_flow.py"
    flow.parent.mkdir()
    flow.write_text(CLASH_FLOW)
    env = runner.env(KUBECONFIG=str(tmp_path / "missing"))
    clash = runner(flow, "argo-workflows", "create", "--only-yaml", env=env, ok=False)
    assert "parameter --image has the name of an option" in clash.stderr
    assert "Traceback" not in clash.stderr
    flow.write_text(CLASH_FLOW.replace('"image"', '"picture"').replace("image =", "picture ="))
    named = runner(flow, "argo-workflows", "--name", "x", "create", "--only-yaml", env=env,
                   ok=False)  # fmt: skip
    assert "--name cannot name the deployment of a @project flow" in named.stderr
    shown = runner(flow, "argo-workflows", "create", "--only-json", "--namespace", "team:ml",
                   env=env)  # fmt: skip
    template = json.loads(shown.stdout)
    command = template["spec"]["templateDefaults"]["container"]["command"]
    assert command[command.index("--namespace") + 1] == "team:ml"
