"""examples/ci holds true (docs/cicd.md): its GitHub Actions workflow's jobs, their
``run:`` steps run as plain shell commands in a copy of the example, for a pull request
(from the repository and from a fork), its closing and a push to main, against the fake
Kubernetes/Argo API (tests/kubefake) and a loopback S3 bucket.

The workflow is read as GitHub reads it, within a small subset that this test models
and checks: ``${{ expr }}`` from a fixed context (an expression the context lacks fails
the test, so the workflow cannot outgrow the model), ``if:`` as ``a == 'b'`` or
``a == b`` terms joined by ``&&``, jobs in ``needs:`` order (a job whose need did not
succeed is skipped), secrets and variables as GitHub gives them (none to a fork's pull
request; those of the environment ``production`` only to a job of that environment on
main, its deployment branch rule), ``uses:`` steps checked statically and skipped
(checkout, Python, cloud credentials: this machine has them), the ``Install`` step
checked and skipped (grange is installed), and a job that stops at its first failing
step. Each job gets a fresh ``GRANGE_HOME``, as a fresh runner: nothing a job saved in
``~/.grange`` reaches the next one.
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
TERM = re.compile(r"^([A-Za-z_][\w.]*)\s*(==|!=)\s*(?:'([^']*)'|([A-Za-z_][\w.]*))$")
TOKEN = "grange-deploy-" + "5" * 64  # CI's machine token, a secret of `production`
REPOSITORY = "acme/fraud"
STAGING, PRODUCTION = "ml-staging", "ml-prod"  # the profiles' [kubernetes] namespaces
PR = "fraud.test.pr-12.trainflow"
PROD = "fraud.prod.trainflow"
# What the repository gives its pull requests' jobs (not a fork's), and what only the
# environment `production` holds, for main only.
REPOSITORY_SECRETS = {
    "secrets.STAGING_KUBECONFIG": "(staging's kubeconfig)",
    "vars.GRANGE_STAGING_ROLE": "arn:aws:iam::123456789012:role/grange-staging",
}
PRODUCTION_SECRETS = ("secrets.GRANGE_PROD_TOKEN", "secrets.PROD_KUBECONFIG",
                      "vars.GRANGE_PROD_ROLE")  # fmt: skip


@dataclass
class Job:
    """What one job did: the steps it ran (name -> completed process), or why it was
    skipped (its ``if:`` or a need that did not succeed)."""

    ran: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    skipped: bool = False
    failed: str | None = None

    @property
    def succeeded(self) -> bool:
        return not self.skipped and self.failed is None

    def output(self, step: str) -> str:
        done = self.ran[step]
        return done.stdout + done.stderr

    def check(self) -> None:
        assert not self.skipped
        assert self.failed is None, self.output(self.failed) if self.failed else ""


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load((EXAMPLE / WORKFLOW).read_text())
    assert isinstance(doc, dict)
    return doc


def context(
    repo: Path,
    event: str,
    *,
    number: str = "",
    action: str = "",
    ref: str,
    fork: bool = False,
    prod_token: str = "",
) -> dict[str, str]:
    """GitHub's expression context as the workflow uses it (an absent value reads '').

    ``prod_token``: the environment's secret GRANGE_PROD_TOKEN ('' when not set)."""
    pull = event == "pull_request"
    ctx = {
        "github.workspace": str(repo),
        "github.repository": REPOSITORY,
        "github.event_name": event,
        "github.event.number": number,
        "github.event.action": action,
        "github.event.pull_request.head.repo.full_name": (
            ("someone/fraud" if fork else REPOSITORY) if pull else ""
        ),
        "github.ref": ref,
        "github.base_ref": "main" if pull else "",
        # a fork's pull request gets no secret and no variable
        **{k: "" if fork else v for k, v in REPOSITORY_SECRETS.items()},
        # the environment's, given to a job of it only (environment_context)
        "secrets.GRANGE_PROD_TOKEN": prod_token,
        "secrets.PROD_KUBECONFIG": "(production's kubeconfig)",
        "vars.GRANGE_PROD_ROLE": "arn:aws:iam::123456789012:role/grange-prod",
    }
    return ctx


def environment_context(job: Mapping[str, Any], ctx: Mapping[str, str]) -> dict[str, str]:
    """``ctx`` as one job sees it: the environment `production`'s secrets and variables
    in a job of that environment alone, which only main may use (its deployment branch
    rule: a job of it on another ref fails before its first step)."""
    out = dict(ctx)
    if job.get("environment") == "production":
        assert ctx["github.ref"] == "refs/heads/main", "production's protection rule: main only"
    else:
        out.update({k: "" for k in PRODUCTION_SECRETS})
    return out


def substitute(text: str, ctx: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr in ctx:
            return ctx[expr]
        return "true" if condition(expr, ctx) else "false"

    return EXPRESSION.sub(value, text)


def condition(expr: Any, ctx: Mapping[str, str]) -> bool:
    if expr is None:
        return True
    result = True
    for term in str(expr).split("&&"):
        match = TERM.match(term.strip())
        if match is None or match.group(1) not in ctx:
            pytest.fail(f"{WORKFLOW}: the expression {expr!r} is outside the test's subset")
        other = match.group(4)
        if other is not None and other not in ctx:
            pytest.fail(f"{WORKFLOW}: {other!r} (in {expr!r}) is not in the test's context")
        right = ctx[other] if other is not None else match.group(3)
        equal = ctx[match.group(1)] == right
        result = result and (equal if match.group(2) == "==" else not equal)
    return result


def needs(spec: Mapping[str, Any]) -> list[str]:
    value = spec.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def run_workflow(repo: Path, ctx: Mapping[str, str], fresh_env: Any) -> dict[str, Job]:
    """Run the workflow's jobs as GitHub would for ``ctx``, in ``repo``, in ``needs:``
    order; ``fresh_env()`` gives each job a fresh runner's environment."""
    doc = workflow()
    substitute((EXAMPLE / WORKFLOW).read_text(), ctx)  # every expression is known
    jobs: dict[str, Job] = {}
    pending = dict(doc["jobs"])
    while pending:
        ready = [n for n, s in pending.items() if all(d in jobs for d in needs(s))]
        assert ready, f"{WORKFLOW}: a cycle in needs: {list(pending)}"
        for name in ready:
            spec = pending.pop(name)
            if not all(jobs[d].succeeded for d in needs(spec)) or not condition(
                spec.get("if"), ctx
            ):
                jobs[name] = Job(skipped=True)
                continue
            jobs[name] = run_job(repo, spec, environment_context(spec, ctx), fresh_env())
    return jobs


def run_job(
    repo: Path, spec: Mapping[str, Any], ctx: Mapping[str, str], base_env: Mapping[str, str]
) -> Job:
    job_env = {k: substitute(str(v), ctx) for k, v in (spec.get("env") or {}).items()}
    job = Job()
    for step in spec["steps"]:
        if "uses" in step:
            continue
        name, script = step["name"], step["run"]
        if name == "Install":  # grange (and pytest) are installed here; no network
            assert script == "pip install -r requirements.txt"
            continue
        if not condition(step.get("if"), ctx):
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


def ran(jobs: Mapping[str, Job]) -> list[str]:
    return [name for name, job in jobs.items() if not job.skipped]


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


def templates(kube: FakeKube, namespace: str) -> dict[str, dict[str, Any]]:
    return {t["metadata"]["name"]: t for t in kube.objects("workflowtemplates", namespace)}


def _uses(step: Mapping[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@", 1)[0] == action


def test_the_workflow_is_what_the_test_models() -> None:
    doc = workflow()
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 (PyYAML) reads `on:` as True
    assert triggers == {
        "pull_request": {"types": ["opened", "synchronize", "reopened", "closed"]},
        "push": {"branches": ["main"]},
    }
    jobs = doc["jobs"]
    assert list(jobs) == ["test", "deploy-branch", "remove-branch", "deploy-production"]
    assert doc["permissions"] == {"contents": "read"}
    assert needs(jobs["deploy-branch"]) == needs(jobs["deploy-production"]) == ["test"]
    for name, job in jobs.items():
        text = yaml.safe_dump(job)
        # OIDC: a job that assumes a role needs the id-token permission (and, as the
        # job's permissions replace the workflow's, contents: read for the checkout)
        if any(_uses(s, "aws-actions/configure-aws-credentials") for s in job["steps"]):
            assert job.get("permissions") == {"contents": "read", "id-token": "write"}, name
        else:
            assert "permissions" not in job, name
        # the tests hold no credential at all: forks' pull requests run them too
        if name == "test":
            assert "secrets." not in text and "vars." not in text and "environment" not in job
        # production's credentials live in the environment `production` alone, whose
        # job runs on a push to main only; staging's never reach that job
        production = [k.split(".", 1)[1] for k in PRODUCTION_SECRETS]
        if job.get("environment") == "production":
            assert name == "deploy-production"
            assert job["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"
            assert "STAGING" not in text
        else:
            assert not any(secret in text for secret in production), name
        # a job with any secret or variable never runs a fork's code
        if name in ("deploy-branch", "remove-branch"):
            assert "github.event.pull_request.head.repo.full_name == github.repository" in job["if"]
        installs = [s for s in job["steps"] if s.get("name") == "Install"]
        assert [s["run"] for s in installs] == ["pip install -r requirements.txt"], name
    # closing: the base branch's code (the PR's merge ref may be gone)
    (checkout,) = [s for s in jobs["remove-branch"]["steps"] if _uses(s, "actions/checkout")]
    assert checkout["with"] == {"ref": "${{ github.base_ref }}"}
    # the machine token reaches the production deploy step alone
    assert [
        s["name"] for j in jobs.values() for s in j["steps"] if "GRANGE_PROD_TOKEN" in str(s)
    ] == ["Deploy production"]
    # one run at a time per pull request (a newer one cancels it) and on main (never
    # cancelled: a production deploy always finishes)
    concurrency = doc["concurrency"]
    ctx = {"github.ref": "refs/pull/12/merge", "github.event_name": "pull_request"}
    assert substitute(concurrency["group"], ctx) == "flow-refs/pull/12/merge"
    assert substitute(concurrency["cancel-in-progress"], ctx) == "true"
    ctx = {"github.ref": "refs/heads/main", "github.event_name": "push"}
    assert substitute(concurrency["group"], ctx) == "flow-refs/heads/main"
    assert substitute(concurrency["cancel-in-progress"], ctx) == "false"
    # what CI installs is pinned
    wanted = [
        line
        for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert [line.split("==")[0] for line in wanted] == ["grange[s3,kubernetes]", "pytest"]
    assert all(re.fullmatch(r"[\w\[\],.-]+==[\w.]+", line) for line in wanted), wanted
    # staging and production: two namespaces (two kubeconfigs' reach)
    profiles = (EXAMPLE / "grange.toml").read_text()
    assert f'namespace = "{STAGING}"' in profiles and f'namespace = "{PRODUCTION}"' in profiles


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


def pull_request(repo: Path, runner_env: Any, action: str, **how: Any) -> dict[str, Job]:
    pr = context(repo, "pull_request", number="12", action=action,
                 ref="refs/pull/12/merge", **how)  # fmt: skip
    return run_workflow(repo, pr, runner_env)


def push(repo: Path, runner_env: Any, prod_token: str) -> dict[str, Job]:
    main = context(repo, "push", ref="refs/heads/main", prod_token=prod_token)
    return run_workflow(repo, main, runner_env)


@pytest.mark.slow  # each job runs the flow's tests and grange's commands
def test_a_pull_request_tests_and_deploys_its_branch_to_staging_and_closing_removes_it(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    jobs = pull_request(repo, runner_env, "opened")
    assert ran(jobs) == ["test", "deploy-branch"]
    jobs["test"].check()
    jobs["deploy-branch"].check()
    assert "2 passed" in jobs["test"].output("Test the flow")
    step = "Deploy the pull request's branch to staging"
    assert f"WorkflowTemplate {PR} created in namespace {STAGING}" in jobs["deploy-branch"].output(
        step
    )
    # a second push to the PR, from a fresh runner, replaces its deployment
    again = pull_request(repo, runner_env, "synchronize")
    again["deploy-branch"].check()
    assert f"WorkflowTemplate {PR} updated" in again["deploy-branch"].output(step)
    assert list(templates(kube, STAGING)) == [PR]
    assert templates(kube, PRODUCTION) == {}
    (sensor,) = kube.objects("sensors", STAGING)  # @trigger: the PR's branch has its own
    assert sensor["metadata"]["name"].startswith(PR.replace(".", "-") + "-")
    # the PR closes: its branch is removed from staging (template and Sensor)
    closed = pull_request(repo, runner_env, "closed")
    assert ran(closed) == ["remove-branch"]
    closed["remove-branch"].check()
    removed = closed["remove-branch"].output("Remove the pull request's branch from staging")
    assert f"WorkflowTemplate {PR}" in removed
    assert templates(kube, STAGING) == {} and kube.objects("sensors", STAGING) == []
    # closed again (reopened and closed without a push, or a deploy that never ran):
    # nothing to delete is no failure
    twice = pull_request(repo, runner_env, "closed")
    twice["remove-branch"].check()
    said = twice["remove-branch"].output("Remove the pull request's branch from staging")
    assert f"No deployment {PR} in namespace {STAGING}: nothing to delete." in said


@pytest.mark.slow
def test_a_pull_request_closed_before_its_branch_was_deployed_is_no_failure(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    closed = pull_request(repo, runner_env, "closed")
    assert ran(closed) == ["remove-branch"]
    closed["remove-branch"].check()
    assert kube.objects("workflowtemplates", STAGING) == []


@pytest.mark.slow
def test_a_forks_pull_request_is_tested_without_credentials_and_never_deployed(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    jobs = pull_request(repo, runner_env, "opened", fork=True)
    assert ran(jobs) == ["test"]
    jobs["test"].check()
    assert "2 passed" in jobs["test"].output("Test the flow")
    closed = pull_request(repo, runner_env, "closed", fork=True)
    assert ran(closed) == []
    assert kube.objects("workflowtemplates", STAGING) == []


@pytest.mark.slow
def test_main_deploys_production_with_the_environments_machine_token(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    pull_request(repo, runner_env, "opened")["deploy-branch"].check()
    # production is refused without CI's token (the environment's secret is missing),
    # and with a wrong one
    said = {}
    for secret, why in (
        ("", "without one of its machine tokens (GRANGE_DEPLOY_TOKEN is not set)"),
        ("grange-deploy-" + "6" * 64, "with a GRANGE_DEPLOY_TOKEN that is none of its machine"),
    ):
        refused = push(repo, runner_env, secret)
        assert ran(refused) == ["test", "deploy-production"]
        job = refused["deploy-production"]
        assert job.failed == "Deploy production"
        said[secret] = job.output("Deploy production")
        assert f"profile 'production' refuses a --production deploy {why}" in said[secret]
        assert "[profiles.production.policy] production_tokens = { ci = " in said[secret]
        assert "Traceback" not in said[secret]
        assert templates(kube, PRODUCTION) == {}
    example = re.search(r"sha256:[0-9a-f]{64}", (EXAMPLE / "grange.toml").read_text())
    assert example is not None
    documented = PAGE.split("```text\ngrange.toml:", 1)[1].split("```", 1)[0]
    assert "grange.toml:" + documented in said[""].replace(token_hash(TOKEN), example.group())

    # with it: production, in its own namespace, deployed by 'ci'
    deployed = push(repo, runner_env, TOKEN)
    assert ran(deployed) == ["test", "deploy-production"]
    deployed["deploy-production"].check()
    found = templates(kube, PRODUCTION)
    assert list(found) == [PROD]
    notes = found[PROD]["metadata"]["annotations"]
    assert notes["grange.dev/deployed-by"] == "ci"
    assert notes["grange.dev/branch-name"] == "prod"
    assert TOKEN not in str(found[PROD])  # the template holds a token derived from it
    branch = templates(kube, STAGING)[PR]
    assert branch["metadata"]["annotations"]["grange.dev/branch-name"] == "test.pr-12"
    assert "grange.dev/deployed-by" not in branch["metadata"]["annotations"]
    # the next merge deploys again from a fresh runner: the machine token is enough
    redeployed = push(repo, runner_env, TOKEN)
    redeployed["deploy-production"].check()
    assert f"WorkflowTemplate {PROD} updated" in redeployed["deploy-production"].output(
        "Deploy production"
    )
    # docs/cicd.md: each profile lists its namespace's deployments
    for profile in ("staging", "production"):
        listed = subprocess.run(
            ["python", "train.py", "--profile", profile, "argo-workflows",
             "list-workflow-templates"],
            cwd=repo, env={**runner_env(), "GRANGE_CONFIG": str(repo / "grange.toml")},
            capture_output=True, text=True, timeout=600, check=True,
        )  # fmt: skip
        shown = f"$ python train.py --profile {profile} argo-workflows list-workflow-templates\n"
        assert shown + listed.stdout in PAGE
    # the PR closes: production stays
    pull_request(repo, runner_env, "closed")["remove-branch"].check()
    assert list(templates(kube, PRODUCTION)) == [PROD]
    (sensor,) = kube.objects("sensors", PRODUCTION)
    assert sensor["metadata"]["name"].startswith("fraud-prod-trainflow")


def _grange(repo: Path, env: Mapping[str, str], *argv: str, **extra: str) -> Any:
    return subprocess.run(
        ["python", "train.py", *argv], cwd=repo,
        env={**env, "GRANGE_CONFIG": str(repo / "grange.toml"), **extra},
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_rotating_the_machine_token_as_docs_profiles_says(
    repo: Path, runner_env: Any, kube: FakeKube
) -> None:
    """List ci2 beside ci, deploy with ci2 (a fresh runner: no saved token), remove ci."""
    create = ("--profile", "production", "--production", "argo-workflows", "create")
    first = _grange(repo, runner_env(), *create, GRANGE_DEPLOY_TOKEN=TOKEN)
    assert first.returncode == 0, first.stderr
    second = "grange-deploy-" + "7" * 64
    config = repo / "grange.toml"
    both = config.read_text().replace(
        f'ci = "{token_hash(TOKEN)}"', f'ci = "{token_hash(TOKEN)}", ci2 = "{token_hash(second)}"'
    )
    config.write_text(both)
    rotated = _grange(repo, runner_env(), *create, GRANGE_DEPLOY_TOKEN=second)
    assert rotated.returncode == 0, rotated.stderr
    assert f"WorkflowTemplate {PROD} updated" in rotated.stderr
    notes = templates(kube, PRODUCTION)[PROD]["metadata"]["annotations"]
    assert notes["grange.dev/deployed-by"] == "ci2"
    config.write_text(both.replace(f'ci = "{token_hash(TOKEN)}", ', ""))
    again = _grange(repo, runner_env(), *create, GRANGE_DEPLOY_TOKEN=second)
    assert again.returncode == 0, again.stderr
    old = _grange(repo, runner_env(), *create, GRANGE_DEPLOY_TOKEN=TOKEN)
    assert old.returncode != 0 and "none of its machine tokens" in old.stderr
    # trigger and delete of production: the same rule as a --production run
    prod = ("--profile", "production", "--production", "argo-workflows")
    for verb in ("trigger", "delete"):
        refused = _grange(repo, runner_env(), *prod, verb)
        assert refused.returncode != 0, refused.stderr
        assert f"refuses a --production {verb} without one of its machine tokens" in (
            refused.stderr
        )
    assert kube.objects("workflows", PRODUCTION) == []
    triggered = _grange(repo, runner_env(), *prod, "trigger", GRANGE_DEPLOY_TOKEN=second)
    assert triggered.returncode == 0, triggered.stderr
    deleted = _grange(repo, runner_env(), *prod, "delete", GRANGE_DEPLOY_TOKEN=second)
    assert deleted.returncode == 0, deleted.stderr
    assert templates(kube, PRODUCTION) == {}


@pytest.mark.slow
def test_a_local_production_deploy_obeys_the_policy(repo: Path, runner_env: Any) -> None:
    """`deploy` (the local scheduler) refuses --production as argo-workflows create does."""
    env = runner_env()
    refused = _grange(repo, env, "--profile", "production", "--production", "deploy")
    assert refused.returncode != 0
    assert "refuses a --production deploy without one of its machine tokens" in refused.stderr
    staging = _grange(repo, env, "--profile", "staging", "--production", "deploy",
                      GRANGE_DEPLOY_TOKEN=TOKEN)  # fmt: skip
    assert staging.returncode != 0
    assert "allow_production_deploy = false" in staging.stderr
    assert "Traceback" not in refused.stderr + staging.stderr


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
    before = templates(kube, STAGING)["fraud.test.pr12.trainflow"]
    for verb in (("create",), ("trigger",), ("delete",), ("list-runs",)):
        clash = deploy("pr_12", *verb)
        assert clash.returncode != 0, clash.stderr
        assert (
            f"the WorkflowTemplate fraud.test.pr12.trainflow in namespace {STAGING} is the "
            "deployment of fraud.test.pr12.TrainFlow, not of fraud.test.pr_12.TrainFlow"
        ) in clash.stderr
        assert "Traceback" not in clash.stderr
    after = templates(kube, STAGING)["fraud.test.pr12.trainflow"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert kube.objects("workflows", STAGING) == []
