"""@secrets from AWS Secrets Manager, served by the loopback moto server: a run reads
a JSON secret (also through an assumed role), and the provider's answers and errors
(binary and text secrets, missing secret, unreachable endpoint)."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

from decorator_support import no_traceback
from grange import Flow
from grange.secret_sources.providers import PROVIDERS, ProviderError
from s3server import FAKE_CREDENTIALS, MotoServer, free_port
from support import FLOWS, Runner

PASSWORD = "aws-Pa55word-QQQ-777"


@pytest.fixture
def aws(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a task reaching the server through GRANGE_SECRETS_MANAGER_ENDPOINT_URL
    (AWS_ENDPOINT_URL unset: grange's own setting must be enough)."""
    env = {**FAKE_CREDENTIALS, "GRANGE_SECRETS_MANAGER_ENDPOINT_URL": s3_server.url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    return env


def create(server: MotoServer, **kwargs: object) -> str:
    import boto3

    name = f"test-{uuid.uuid4().hex[:8]}/db"
    client = boto3.client(
        "secretsmanager",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_secret(Name=name, **kwargs)
    return name


def run_env(runner: Runner, aws: dict[str, str], sources: object) -> dict[str, str]:
    env = runner.env(**aws, SECRET_SOURCES=json.dumps(sources))
    env.pop("AWS_ENDPOINT_URL", None)
    return env


def test_a_run_reads_a_json_secret_from_aws(
    runner: Runner, fork: bool, s3_server: MotoServer, aws: dict[str, str]
) -> None:
    name = create(s3_server, SecretString=json.dumps({"DB_PASSWORD": PASSWORD, "DB_USER": "u"}))
    result = runner.run(
        FLOWS / "secrets" / "use.py",
        fork=fork,
        env=run_env(runner, aws, [f"aws-secrets-manager.{name}"]),
    )
    task = Flow("SecretsFlow")[result.run_id]["start"].task
    assert task.data.password_sha == hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert "password is ****" in task.stdout
    assert PASSWORD not in result.output
    for path in runner.root.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def test_a_role_is_assumed_first(
    runner: Runner, s3_server: MotoServer, aws: dict[str, str]
) -> None:
    name = create(s3_server, SecretString=json.dumps({"DB_PASSWORD": PASSWORD}))
    env = run_env(
        runner,
        aws,
        [{"type": "aws-secrets-manager", "id": name, "role": "arn:aws:iam::123456789012:role/r"}],
    )
    env["AWS_ENDPOINT_URL"] = s3_server.url  # STS on the same server
    result = runner.run(FLOWS / "secrets" / "use.py", env=env)
    assert Flow("SecretsFlow")[result.run_id].successful


def test_a_missing_aws_secret_fails_the_step_naming_it(
    runner: Runner, fork: bool, aws: dict[str, str]
) -> None:
    env = run_env(runner, aws, ["aws-secrets-manager.prod/absent"])
    result = runner.run(FLOWS / "secrets" / "use.py", fork=fork, ok=False, env=env)
    assert (
        "step 'start': Secret unavailable: @secrets source 'aws-secrets-manager.prod/absent': "
        "no secret 'prod/absent' in AWS Secrets Manager in region us-east-1" in result.output
    )
    assert "Fix: create it" in result.output
    assert no_traceback(result.output)


def fetch(secret_id: str, **options: object) -> dict[str, object]:
    return dict(PROVIDERS["aws-secrets-manager"]().fetch(secret_id, options=options, role=None))


def test_text_and_binary_secrets(s3_server: MotoServer, aws: dict[str, str]) -> None:
    text = create(s3_server, SecretString="plain-text-token")
    binary = create(s3_server, SecretBinary=b"\x00\x01bin")
    assert fetch(text, json=False, env_var_name="TOKEN") == {"TOKEN": "plain-text-token"}
    assert fetch(text, json=False) == {text: "plain-text-token"}  # named by the secret
    assert fetch(binary, env_var_name="BLOB") == {"BLOB": "AAFiaW4="}  # base64
    with pytest.raises(ProviderError, match="is not valid JSON"):
        fetch(text)


def test_an_unreachable_endpoint_is_named(aws: dict[str, str], tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderError) as info:
        fetch("prod/db", endpoint_url=url)
    assert f"AWS Secrets Manager cannot be reached ({url})" in info.value.message
