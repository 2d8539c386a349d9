"""examples/ci holds true (docs/cicd.md): its GitHub Actions workflow's ``run:`` steps,
run as plain shell commands in a copy of the example, for a pull request and for a push
to main, against the fake Kubernetes/Argo API (tests/kubefake) and a loopback S3 bucket.

The workflow is read as GitHub reads it, within a small subset that this test models
and checks: ``${{ expr }}`` from a fixed context (an expression the context lacks fails
the test, so the workflow cannot outgrow the model), ``if:`` as ``a == 'b'`` terms joined
by ``&&``, ``uses:`` steps skipped (checkout, Python, cloud credentials: this machine
has them), the ``Install`` step checked and skipped (grange is installed), and a job
that stops at its first failing step. Each job gets a fresh ``GRANGE_HOME``, as a fresh
runner: nothing a job saved in ``~/.grange`` reaches the next one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from grange.config import token_hash
from kubefake import FakeKube

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ci"
PAGE = (ROOT / "docs" / "cicd.md").read_text()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
WORKFLOW = ".github/workflows/flow.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TERM = re.compile(r"^([A-Za-z_][\w.]*)\s*(==|!=)\s*'([^']*)'$")
TOKEN = "grange-deploy-" + "5" * 64  # CI's machine token, as a repository secret
NAMESPACE = "ml"  # the profiles' [kubernetes] namespace
PR = "fraud.test.pr-12.trainflow"
PROD = "fraud.prod.trainflow"


@dataclass
class Job:
    """What one job did: the steps it ran (name -> completed process) and skipped."""

    ran: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failed: str | None = None

    def output(self, step: str) -> str:
        done = self.ran[step]
        return done.stdout + done.stderr


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLE / WORKFLOW).read_text())
    assert isinstance(doc, dict)
    return doc


def context(
    repo: Path, event: str, *, number: str = "", action: str = "", ref: str, secret: str
) -> dict[str, str]:
    """GitHub's expression context as the workflow uses it (an absent value reads '')."""
    return {
        "github.workspace": str(repo),
        "github.event_name": event,
        "github.event.number": number,
        "github.event.action": action,
        "github.ref": ref,
        "secrets.GRANGE_PROD_TOKEN": secret,  # '' when the secret is not given (a fork)
        "secrets.KUBECONFIG": "(CI's kubeconfig)",
        "vars.GRANGE_CI_ROLE": "arn:aws:iam::123456789012:role/grange-ci",
    }


def substitute(text: str, ctx: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr not in ctx:
            pytest.fail(f"{WORKFLOW}: the expression {expr!r} is not in the test's context")
        return ctx[expr]

    return EXPRESSION.sub(value, text)


def condition(expr: Any, ctx: Mapping[str, str]) -> bool:
    if expr is None:
        return True
    result = True
    for term in str(expr).split("&&"):
        match = TERM.match(term.strip())
        if match is None or match.group(1) not in ctx:
            pytest.fail(f"{WORKFLOW}: the condition {expr!r} is outside the test's subset")
        equal = ctx[match.group(1)] == match.group(3)
        result = result and (equal if match.group(2) == "==" else not equal)
    return result


def run_job(repo: Path, ctx: Mapping[str, str], base_env: Mapping[str, str]) -> Job:
    """Run the workflow's one job as GitHub would for ``ctx``, in ``repo``."""
    doc = workflow()
    substitute((EXAMPLE / WORKFLOW).read_text(), ctx)  # every expression is known
    (job_spec,) = doc["jobs"].values()
    job_env = {k: substitute(str(v), ctx) for k, v in (job_spec.get("env") or {}).items()}
    job = Job()
    for step in job_spec["steps"]:
        if "uses" in step:
            continue
        name, script = step["name"], step["run"]
        if name == "Install":  # grange (and pytest) are installed here; no network
            assert script.startswith("pip install") and "grange" in script
            continue
        if not condition(step.get("if"), ctx):
            job.skipped.append(name)
            continue
        env = {**base_env, **job_env}
        env.update({k: substitute(str(v), ctx) for k, v in (step.get("env") or {}).items()})
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", substitute(script, ctx)],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        job.ran[name] = done
        if done.returncode != 0:  # GitHub stops the job at its first failing step
            job.failed = name
            break
    return job


@pytest.fixture
def repo(tmp_path: Path, s3_bucket: str) -> Path:
    """A checkout of examples/ci whose profiles store in the test's bucket and whose
    production policy holds the hash of :data:`TOKEN`."""
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    config = repo / "grange.toml"
    text = config.read_text().replace("s3://acme-ml/", f"s3://{s3_bucket}/")
    text, count = re.subn(
        r'production_tokens = \{ ci = "sha256:[0-9a-f]{64}" \}',
        f'production_tokens = {{ ci = "{token_hash(TOKEN)}" }}',
        text,
    )
    assert count == 1
    config.write_text(text)
    return repo


@pytest.fixture
def runner_env(tmp_path: Path, kube: FakeKube) -> Any:
    """The environment of a fresh GitHub runner: this one's, without grange's or
    pytest's own settings (the loopback S3 and the fake cluster's KUBECONFIG kept)."""
    counter = iter(range(1000))

    def fresh() -> dict[str, str]:
        keep = ("GRANGE_CACHE_DIR", "GRANGE_S3_", "GRANGE_ENV_CACHE")
        env = {
            k: v
            for k, v in os.environ.items()
            if not (k.startswith("GRANGE_") and not k.startswith(keep))
            and not k.startswith("PYTEST_")
        }
        # `python` is this interpreter, as setup-python's is the job's
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["GRANGE_HOME"] = str(tmp_path / f"runner-{next(counter)}" / ".grange")
        env["GRANGE_USER"] = "runner"
        return env

    return fresh


def templates(kube: FakeKube) -> dict[str, dict[str, Any]]:
    return {t["metadata"]["name"]: t for t in kube.objects("workflowtemplates", NAMESPACE)}


def test_the_workflow_is_what_the_test_models() -> None:
    doc = workflow()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 (PyYAML) reads `on:` as True
    assert triggers == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]},
        "push": {"branches": ["main"]},
    }
    (job,) = doc["jobs"].values()
    runs = [s for s in job["steps"] if "run" in s]
    assert [s["name"] for s in runs] == [
        "Install",
        "Test the flow",
        "Deploy the pull request's branch to staging",
        "Remove the pull request's branch from staging",
        "Deploy production",
    ]
    # the machine token reaches the production deploy alone
    assert [s["name"] for s in job["steps"] if "GRANGE_PROD_TOKEN" in str(s)] == [
        "Deploy production"
    ]


def test_docs_cicd_shows_the_example_as_it_is() -> None:
    blocks: dict[str, list[str]] = {}
    for lang, body in FENCE.findall(PAGE):
        blocks.setdefault(lang, []).append(body)
    assert blocks["yaml"] == [(EXAMPLE / WORKFLOW).read_text()]
    toml = (EXAMPLE / "grange.toml").read_text().splitlines(keepends=True)
    assert blocks["toml"] == ["".join(line for line in toml if not line.startswith("#"))[1:]]
    tests, compare = blocks["python"]
    assert tests == (EXAMPLE / "tests" / "test_train.py").read_text().split('"""\n\n', 1)[1]
    assert compare == (EXAMPLE / "compare.py").read_text().split('"""\n\n', 1)[1]


@pytest.mark.slow  # each job runs the flow's tests and grange's commands
def test_a_pull_request_tests_and_deploys_its_branch_beside_production(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    def pull_request(action: str) -> Job:
        pr = context(repo, "pull_request", number="12", action=action,
                     ref="refs/pull/12/merge", secret="")  # fmt: skip
        return run_job(repo, pr, runner_env())

    job = pull_request("opened")
    assert job.failed is None, job.output(job.failed) if job.failed else ""
    assert list(job.ran) == ["Test the flow", "Deploy the pull request's branch to staging"]
    assert job.skipped == ["Remove the pull request's branch from staging", "Deploy production"]
    assert "2 passed" in job.output("Test the flow")
    assert f"WorkflowTemplate {PR} created in namespace {NAMESPACE}" in job.output(
        "Deploy the pull request's branch to staging"
    )
    # a second push to the PR, from a fresh runner, replaces its deployment
    again = pull_request("synchronize")
    assert again.failed is None, again.output(again.failed) if again.failed else ""
    assert f"WorkflowTemplate {PR} updated" in again.output(
        "Deploy the pull request's branch to staging"
    )
    assert list(templates(kube)) == [PR]
    (sensor,) = kube.objects("sensors", NAMESPACE)  # @trigger: the PR's branch has its own
    assert sensor["metadata"]["name"].startswith(PR.replace(".", "-") + "-")

    # main: production is refused without CI's token, and with a wrong one
    def push(secret: str) -> Job:
        main = context(repo, "push", ref="refs/heads/main", secret=secret)
        return run_job(repo, main, runner_env())

    said = {}
    for secret, why in (
        ("", "without one of its machine tokens (GRANGE_DEPLOY_TOKEN is not set)"),
        ("grange-deploy-" + "6" * 64, "with a GRANGE_DEPLOY_TOKEN that is none of its machine"),
    ):
        refused = push(secret)
        assert refused.failed == "Deploy production"
        said[secret] = refused.output("Deploy production")
        assert f"profile 'production' refuses a --production deploy {why}" in said[secret]
        assert "[profiles.production.policy] production_tokens = { ci = " in said[secret]
        assert "Traceback" not in said[secret]
        assert list(templates(kube)) == [PR]
    example = re.search(r"sha256:[0-9a-f]{64}", (EXAMPLE / "grange.toml").read_text())
    assert example is not None
    documented = PAGE.split("```text\ngrange.toml:", 1)[1].split("```", 1)[0]
    assert "grange.toml:" + documented in said[""].replace(token_hash(TOKEN), example.group())

    # with it: production beside the PR's branch, deployed by 'ci'
    deployed = push(TOKEN)
    assert deployed.failed is None, deployed.output(deployed.failed) if deployed.failed else ""
    assert list(deployed.ran) == ["Test the flow", "Deploy production"]
    assert deployed.skipped == [
        "Deploy the pull request's branch to staging",
        "Remove the pull request's branch from staging",
    ]
    found = templates(kube)
    assert sorted(found) == sorted([PR, PROD])
    notes = found[PROD]["metadata"]["annotations"]
    assert notes["grange.dev/deployed-by"] == "ci"
    assert notes["grange.dev/branch-name"] == "prod"
    assert TOKEN not in str(found[PROD])  # the template holds a token derived from it
    assert found[PR]["metadata"]["annotations"]["grange.dev/branch-name"] == "test.pr-12"
    assert "grange.dev/deployed-by" not in found[PR]["metadata"]["annotations"]
    # the next merge deploys again from a fresh runner: the machine token is enough
    redeployed = push(TOKEN)
    assert redeployed.failed is None
    assert f"WorkflowTemplate {PROD} updated" in redeployed.output("Deploy production")
    # docs/cicd.md: both side by side
    listed = subprocess.run(
        ["python", "train.py", "--profile", "staging", "argo-workflows", "list-workflow-templates"],
        cwd=repo, env={**runner_env(), "GRANGE_CONFIG": str(repo / "grange.toml")},
        capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    shown = "$ python train.py --profile staging argo-workflows list-workflow-templates\n"
    assert shown + listed.stdout in PAGE
    # the PR closes: its branch is removed from staging (template and Sensor), not production
    closed = pull_request("closed")
    assert closed.failed is None, closed.output(closed.failed) if closed.failed else ""
    assert list(closed.ran) == ["Remove the pull request's branch from staging"]
    removed = closed.output("Remove the pull request's branch from staging")
    assert f"WorkflowTemplate {PR}" in removed
    assert list(templates(kube)) == [PROD]
    (sensor,) = kube.objects("sensors", NAMESPACE)
    assert sensor["metadata"]["name"].startswith("fraud-prod-trainflow")


@pytest.mark.slow
def test_compare_a_branch_with_production_through_the_client(repo: Path, runner_env: Any) -> None:
    """docs/cicd.md's A/B: a run on each branch, side by side (compare.py)."""
    env = {**runner_env(), "GRANGE_CONFIG": str(repo / "grange.toml")}

    def sh(*argv: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["python", *argv], cwd=repo, env={**env, **extra}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip

    branch = sh("train.py", "--profile", "staging", "--branch", "pr-12", "run", "--margin", "0.5")
    assert branch.returncode == 0, branch.stderr
    refused = sh("train.py", "--profile", "production", "--production", "run")
    assert refused.returncode != 0 and "production_tokens" in refused.stderr
    prod = sh(
        "train.py", "--profile", "production", "--production", "run", GRANGE_DEPLOY_TOKEN=TOKEN
    )
    assert prod.returncode == 0, prod.stderr
    shown = sh("compare.py", "pr-12", GRANGE_PROFILE="staging")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("prod ") and lines[0].endswith("threshold 0.35")
    assert lines[1].startswith("test.pr-12 ") and lines[1].endswith("threshold 0.85")


@pytest.mark.slow
def test_two_branch_spellings_of_one_kubernetes_name_are_refused(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    env = {**runner_env(), "GRANGE_CONFIG": str(repo / "grange.toml")}

    def deploy(branch: str, *verb: str) -> subprocess.CompletedProcess[str]:
        argv = ["python", "train.py", "--profile", "staging", "--branch", branch]
        return subprocess.run(
            [*argv, "argo-workflows", *(verb or ("create",))], cwd=repo, env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip

    assert deploy("pr12").returncode == 0
    before = templates(kube)["fraud.test.pr12.trainflow"]
    for verb in (("create",), ("trigger",), ("delete",)):
        clash = deploy("pr_12", *verb)
        assert clash.returncode != 0, clash.stderr
        assert (
            "the WorkflowTemplate fraud.test.pr12.trainflow in namespace ml is the deployment "
            "of fraud.test.pr12.TrainFlow, not of fraud.test.pr_12.TrainFlow"
        ) in clash.stderr
        assert "Traceback" not in clash.stderr
    after = templates(kube)["fraud.test.pr12.trainflow"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kube.objects("workflows", NAMESPACE) == []
