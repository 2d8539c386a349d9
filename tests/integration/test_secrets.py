"""@secrets in real runs (fork and fresh interpreters): the step sees its secrets and
nothing else does; every way of leaking one is closed; a missing secret, a conflict or a
refused source fails the step with a clear message; @retry and --with apply as usual."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from decorator_support import no_traceback
from grange import Flow, Task
from support import FLOWS, Result, Runner

SECRET_FLOWS = FLOWS / "secrets"
PASSWORD = "s3cr3t-Pa55word-XYZ"
USER = "admin-user-7"


def write_secrets(root: Path) -> Path:
    folder = root / "secrets"
    folder.mkdir(exist_ok=True)
    (folder / "db.json").write_text(
        json.dumps({"DB_PASSWORD": PASSWORD, "DB_USER": USER, "db-port": 5432})
    )
    return folder


def run(runner: Runner, *, fork: bool = True, ok: bool = True, **env: str) -> Result:
    folder = write_secrets(runner.cwd)
    return runner.run(
        SECRET_FLOWS / "use.py",
        fork=fork,
        ok=ok,
        env=runner.env(GRANGE_SECRETS_DIR=str(folder), **env),
    )


def assert_nowhere(runner: Runner, result: Result, *values: str) -> None:
    """No value in what the run printed, nor in any byte stored: records, logs,
    artifacts, the index."""
    for value in values:
        assert value not in result.output, result.output
        for path in runner.root.rglob("*"):
            if path.is_file():
                assert value.encode() not in path.read_bytes(), path


def test_a_step_gets_its_secrets_and_they_are_masked_everywhere(runner: Runner, fork: bool) -> None:
    result = run(runner, fork=fork)
    run_ = Flow("SecretsFlow")[result.run_id]
    assert run_.successful
    start = run_["start"].task
    assert start.data.password_sha == hashlib.sha256(PASSWORD.encode()).hexdigest()
    # Only the steps with @secrets have them: not a later task, not the runtime.
    assert run_["join"].task.data.seen == [False, False]
    # What the step printed: Python, raw descriptor, a repr(), a subprocess; all masked.
    assert "password is ****" in start.stdout
    assert "raw fd write ****" in start.stdout
    assert "child sees ****" in start.stdout
    assert "{'pw': '****'}" in start.stderr
    assert f"[{result.run_id}/start/{start.id}] password is ****" in result.stdout
    assert_nowhere(runner, result, PASSWORD, USER)


@pytest.mark.parametrize(
    ("leak", "step", "artifact"),
    [("artifact", "start", "copy"), ("nested", "start", "config"), ("foreach", "fan", "items")],
)
def test_an_artifact_holding_a_secret_is_refused(
    runner: Runner, leak: str, step: str, artifact: str
) -> None:
    result = run(runner, ok=False, LEAK=leak)
    assert (
        f"step '{step}': Secret value refused: artifact '{artifact}' holds the value of the "
        "secret variable DB_PASSWORD" in result.output
    )
    assert f"Fix: keep it out of self.{artifact}" in result.output
    assert no_traceback(result.output)
    assert_nowhere(runner, result, PASSWORD)


def test_an_exception_message_holding_a_secret_is_masked(runner: Runner) -> None:
    result = run(runner, ok=False, LEAK="exception")
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert task.exception is not None
    assert task.exception.message == "cannot connect with ****"
    assert "ValueError: cannot connect with ****" in task.stderr
    assert_nowhere(runner, result, PASSWORD)


def test_an_exception_that_catch_keeps_is_masked(runner: Runner) -> None:
    result = run(runner, LEAK="catch")
    caught = Flow("SecretsFlow")[result.run_id]["guarded"].task.data.caught
    assert "caught with ****" in str(caught)
    assert_nowhere(runner, result, PASSWORD)


def test_retry_reads_the_secrets_again_and_masks_each_attempt(runner: Runner, fork: bool) -> None:
    result = run(runner, fork=fork, FAIL_FIRST="1")
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert task.data.attempt == 1
    assert task.data.password_sha == hashlib.sha256(PASSWORD.encode()).hexdigest()
    first = Task(task.pathspec, attempt=0)
    assert first.exception is not None and first.exception.message == "attempt 0 fails with ****"
    assert_nowhere(runner, result, PASSWORD)


def test_a_missing_secret_fails_the_step_naming_the_source(runner: Runner, fork: bool) -> None:
    result = run(runner, fork=fork, ok=False, SECRET_SOURCES='["local-file.nope"]')
    assert "use.py:" in result.output and "step 'start': Secret unavailable: " in result.output
    assert "@secrets source 'local-file.nope': no secret 'nope' in " in result.output
    assert "Fix: create " in result.output and "nope.json" in result.output
    assert no_traceback(result.output)
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert [a.exception.type for a in (Task(task.pathspec, attempt=n) for n in (0, 1))] == [  # type: ignore[union-attr]
        "grange.exceptions.SecretError"
    ] * 2  # @retry applies as usual


def test_two_sources_setting_one_variable_fail_the_step(runner: Runner) -> None:
    sources = [
        "local-file.db",
        {"type": "inline", "id": "other", "options": {"env_vars": {"DB_PASSWORD": "x-y-z-w"}}},
    ]
    result = run(runner, ok=False, SECRET_SOURCES=json.dumps(sources))
    assert (
        "@secrets source 'inline.other' cannot be used: it sets DB_PASSWORD, which source "
        "'local-file.db' sets too" in result.output
    )
    assert_nowhere(runner, result, PASSWORD, "x-y-z-w")


def test_a_variable_the_environment_has_already_fails_the_step(runner: Runner) -> None:
    result = run(runner, ok=False, DB_USER="someone")
    assert (
        "@secrets source 'local-file.db' sets DB_USER, which the task's environment has "
        "already" in result.output
    )
    assert "allow_override=True" in result.output


def test_policy_default_provider_and_allowed_sources(runner: Runner) -> None:
    result = run(
        runner,
        SECRET_SOURCES='["db"]',
        GRANGE_SECRETS_PROVIDER="local-file",
        GRANGE_SECRETS_ALLOWED="db,prod/*",
    )
    assert Flow("SecretsFlow")[result.run_id].successful
    refused = run(
        runner, ok=False, SECRET_SOURCES='["db"]', GRANGE_SECRETS_PROVIDER="local-file",
        GRANGE_SECRETS_ALLOWED="prod/*",
    )  # fmt: skip
    assert "Refused by policy: @secrets source 'local-file.db' is not allowed" in refused.output
    assert "(allowed sources: prod/*)" in refused.output


def test_with_secrets_gives_every_step_the_secret(runner: Runner, fork: bool) -> None:
    folder = write_secrets(runner.cwd)
    result = runner.run(
        SECRET_FLOWS / "plain.py",
        "--with",
        'secrets:sources=["local-file.db"]',
        fork=fork,
        env=runner.env(GRANGE_SECRETS_DIR=str(folder)),
    )
    run_ = Flow("PlainFlow")[result.run_id]
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert run_.data.start_sha == digest and run_.data.end_sha == digest
    assert "start sees ****" in run_["start"].task.stdout
    assert run_["start"].task.data.secrets_imported
    assert_nowhere(runner, result, PASSWORD)


def test_a_step_without_secrets_pays_nothing_for_them(runner: Runner, fork: bool) -> None:
    result = runner.run(SECRET_FLOWS / "plain.py", fork=fork)
    start = Flow("PlainFlow")[result.run_id]["start"].task
    assert start.data.start_sha is None
    assert start.data.secrets_imported is False


def test_a_crash_in_c_code_still_shows_where_the_step_was(runner: Runner) -> None:
    # The masking thread dies with the process: the crash dump (code locations, no
    # values) goes to the real stderr, not through it.
    result = run(runner, ok=False, LEAK="crash")
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert "Fatal Python error: Segmentation fault" in task.stderr
    assert 'use.py", line' in task.stderr and "in start" in task.stderr
    assert "{'pw': '****'}" in task.stderr  # what the step printed before, masked
    assert_nowhere(runner, result, PASSWORD)


@pytest.mark.parametrize("provider", ["env", "kubernetes"])
def test_the_env_and_kubernetes_providers_in_a_run(runner: Runner, provider: str) -> None:
    if provider == "env":  # a CI system's secret, handed over in one variable
        env = {"CI_DB": json.dumps({"DB_PASSWORD": PASSWORD}), "SECRET_SOURCES": '["env.CI_DB"]'}
    else:  # a Kubernetes Secret mounted as a volume: one file per key
        mounted = runner.cwd / "mounted" / "db-creds"
        mounted.mkdir(parents=True)
        (mounted / "DB_PASSWORD").write_text(PASSWORD)
        env = {
            "GRANGE_KUBERNETES_SECRETS_DIR": str(mounted.parent),
            "SECRET_SOURCES": '["kubernetes.db-creds"]',
        }
    result = run(runner, **env)
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert task.data.password_sha == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert "password is ****" in task.stdout
    assert_nowhere(runner, result, PASSWORD)
