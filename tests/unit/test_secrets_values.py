"""@secrets: from a provider's answer to variables (names, conflicts, policy first),
the providers that need no server, and how values are kept out of output and artifacts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from grange.exceptions import PolicyError, SecretError
from grange.secret_sources.artifacts import secret_in
from grange.secret_sources.load import load_secrets
from grange.secret_sources.policy import SecretsPolicy
from grange.secret_sources.providers import PROVIDERS, ProviderError
from grange.secret_sources.providers.aws import _client_error
from grange.secret_sources.providers.local import parse_dotenv
from grange.secret_sources.redact import Redactor, StreamRedactor
from grange.secret_sources.spec import SecretSource
from grange.secret_sources.values import SecretEnv, ValuesError, sanitize_key, secret_texts

PASSWORD = "s3cr3t-Pa55word-XYZ"


def inline(id_: str, **values: object) -> SecretSource:
    return SecretSource(id=id_, type="inline", options={"env_vars": values})


def load(*sources: SecretSource, environ: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return load_secrets(
        sources,
        step="train",
        policy=kw.pop("policy", SecretsPolicy()),  # type: ignore[arg-type]
        environ=environ or {},
        **kw,  # type: ignore[arg-type]
    )


# -- names and conflicts -------------------------------------------------------------------


def test_keys_become_variable_names() -> None:
    assert sanitize_key("db-password") == "db_password"
    assert sanitize_key("app.db/user") == "app_db_user"
    loaded = load(inline("a", **{"db-port": 5432, "debug": True, "hosts": ["a", "b"], "KEY": "v"}))
    assert loaded.values == {"db_port": "5432", "debug": "True", "hosts": '["a","b"]', "KEY": "v"}
    assert loaded.origin["KEY"] == "inline.a"


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ({"1ABC": "x"}, "'1ABC' does not make a valid environment variable name"),
        ({"A B": "x"}, "'A B' does not make a valid environment variable name"),
        ({"GRANGE_USER": "x"}, "would set GRANGE_USER"),
        ({"a-b": "x", "a.b": "y"}, "two of its keys become the variable a_b"),
        ({"A": "x\x00y"}, "holds a NUL character"),
    ],
)
def test_keys_that_cannot_be_variables_are_refused(pairs: dict[str, object], message: str) -> None:
    with pytest.raises(ValuesError, match=message):
        SecretEnv().add("s", pairs)


def test_two_sources_setting_one_variable_is_an_error() -> None:
    with pytest.raises(SecretError) as info:
        load(inline("one", TOKEN="aaaa1111"), inline("two", TOKEN="bbbb2222"))
    text = info.value.render()
    assert "step 'train'" in text
    assert (
        "source 'inline.two' cannot be used: it sets TOKEN, which source 'inline.one' sets too"
        in text
    )
    assert "aaaa1111" not in text and "bbbb2222" not in text


def test_a_variable_the_environment_has_is_an_error_unless_overriding_is_allowed() -> None:
    with pytest.raises(SecretError) as info:
        load(inline("one", HOME="/x", PATH="/y"), environ={"HOME": "/home/me", "PATH": "/bin"})
    assert "source 'inline.one' sets HOME (and PATH), which the task's environment has" in str(
        info.value
    )
    assert "allow_override=True" in str(info.value.fix)
    loaded = load(inline("one", HOME="/x"), environ={"HOME": "/home/me"}, allow_override=True)
    assert loaded.values == {"HOME": "/x"}


def test_policy_refuses_before_anything_is_fetched(tmp_path: Path) -> None:
    # The secret does not exist: had it been fetched, the error would say so.
    source = SecretSource(id="staging/db", type="local-file", options={"dir": str(tmp_path)})
    with pytest.raises(PolicyError, match="not allowed"):
        load(source, policy=SecretsPolicy(allowed_sources=("prod/*",)))
    with pytest.raises(SecretError, match="no secret 'staging/db'"):
        load(source, policy=SecretsPolicy())


@pytest.mark.parametrize(
    "options",
    [{"path": "/srv/prod.json"}, {"dir": "/srv/secrets"}, {"endpoint_url": "http://evil:1"}],
)
def test_allowed_sources_cannot_be_escaped_through_options(options: dict[str, str]) -> None:
    """The patterns judge a source's id, so the id must be what is read: an option
    that points the provider elsewhere is refused under a policy."""
    source = SecretSource(id="ok/anything", type="local-file", options=options)
    with pytest.raises(PolicyError, match="does not allow") as info:
        load(source, policy=SecretsPolicy(allowed_sources=("ok/*",)))
    assert next(iter(options)) in str(info.value)


def test_the_default_provider_reads_bare_ids(tmp_path: Path) -> None:
    (tmp_path / "db.json").write_text(json.dumps({"DB_PASSWORD": PASSWORD}))
    policy = SecretsPolicy(default_provider="local-file")
    loaded = load(SecretSource(id="db", options={"dir": str(tmp_path)}), policy=policy)
    assert loaded.values == {"DB_PASSWORD": PASSWORD}


def test_provider_errors_hold_no_value_already_read(monkeypatch: pytest.MonkeyPatch) -> None:
    class Leaky(PROVIDERS["inline"]):  # type: ignore[misc,valid-type]
        def fetch(self, secret_id, *, options, role):  # type: ignore[no-untyped-def]
            if secret_id == "second":
                raise RuntimeError(f"boom near {PASSWORD}")
            return super().fetch(secret_id, options=options, role=role)

    monkeypatch.setitem(PROVIDERS, "inline", Leaky)
    with pytest.raises(SecretError) as info:
        load(inline("first", DB_PASSWORD=PASSWORD), inline("second"))
    assert PASSWORD not in str(info.value)
    assert "source 'inline.second' could not be read: RuntimeError: boom near ****" in str(
        info.value
    )


# -- providers without a server -----------------------------------------------------------


def fetch(kind: str, secret_id: str, **options: object) -> dict[str, object]:
    return dict(PROVIDERS[kind]().fetch(secret_id, options=options, role=None))


def test_local_file_json_dotenv_and_plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_SECRETS_DIR", str(tmp_path))
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "db.json").write_text('{"DB_PASSWORD": "pw-1234", "port": 5432}')
    (tmp_path / "api.env").write_text(
        '# a comment\nexport API_KEY="k\\"ey-1"\nAPI_URL=https://x # note\nEMPTY=\n'
    )
    (tmp_path / "token").write_text("tok-5678")
    assert fetch("local-file", "prod/db") == {"DB_PASSWORD": "pw-1234", "port": 5432}
    assert fetch("local-file", "api") == {"API_KEY": 'k"ey-1', "API_URL": "https://x", "EMPTY": ""}
    assert fetch("local-file", "token", json=False, env_var_name="TOKEN") == {"TOKEN": "tok-5678"}
    assert fetch("local-file", "whatever", path=str(tmp_path / "api.env"))["API_KEY"] == 'k"ey-1'
    with pytest.raises(ProviderError, match="is not valid JSON"):
        fetch("local-file", "token")


def test_local_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as info:
        fetch("local-file", "db", dir=str(tmp_path))
    assert f"no secret 'db' in {tmp_path} (looked for db.json, db.env and db)" in info.value.message
    assert "create" in str(info.value.fix) and "GRANGE_SECRETS_DIR" in str(info.value.fix)
    for bad in ("../etc/passwd", "/etc/passwd", "a//b"):
        with pytest.raises(ProviderError, match="not a usable local secret id"):
            fetch("local-file", bad, dir=str(tmp_path))
    (tmp_path / "two.json").write_text("{}")
    (tmp_path / "two.env").write_text("")
    with pytest.raises(ProviderError, match="is in 2 files"):
        fetch("local-file", "two", dir=str(tmp_path))
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ProviderError, match="is JSON but not an object"):
        fetch("local-file", "list", dir=str(tmp_path))
    with pytest.raises(ProviderError, match="unknown option"):
        fetch("local-file", "db", region="x")


def test_dotenv_errors_name_the_line_never_its_text() -> None:
    with pytest.raises(ProviderError) as info:
        parse_dotenv("A=1\nsupersecretvalue\n", "f.env")
    assert "f.env, line 2: not NAME=value" in info.value.message
    assert "supersecretvalue" not in info.value.message


def test_malformed_json_error_quotes_nothing(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"A": "supersecretvalue"')
    with pytest.raises(ProviderError) as info:
        fetch("local-file", "bad", dir=str(tmp_path))
    assert "supersecretvalue" not in info.value.message


def test_env_and_kubernetes_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_DB", '{"DB_PASSWORD": "pw-1234"}')
    assert fetch("env", "CI_DB") == {"DB_PASSWORD": "pw-1234"}
    assert fetch("env", "CI_DB", json=False, env_var_name="RAW") == {
        "RAW": '{"DB_PASSWORD": "pw-1234"}'
    }
    with pytest.raises(ProviderError, match="CI_NOPE is not set"):
        fetch("env", "CI_NOPE")

    mounted = tmp_path / "db-creds"
    mounted.mkdir()
    (mounted / "password").write_text("pw-1234")
    (mounted / "user").write_text("admin")
    (mounted / "..data").mkdir()  # Kubernetes' own bookkeeping
    assert fetch("kubernetes", "db-creds", dir=str(tmp_path)) == {
        "password": "pw-1234",
        "user": "admin",
    }
    with pytest.raises(ProviderError, match="is not mounted at"):
        fetch("kubernetes", "other", dir=str(tmp_path))


def test_aws_errors_are_translated() -> None:
    import botocore.exceptions as bex

    def error(code: str) -> ProviderError:
        err = bex.ClientError({"Error": {"Code": code, "Message": "m"}}, "GetSecretValue")
        return _client_error(err, "prod/db", "eu-west-1", "arn:role/r")

    assert (
        "no secret 'prod/db' in AWS Secrets Manager in region eu-west-1"
        in error("ResourceNotFoundException").message
    )
    denied = error("AccessDeniedException")
    assert "access to secret 'prod/db' is denied with role arn:role/r" in denied.message
    assert "secretsmanager:GetSecretValue" in str(denied.fix)
    assert "refused the credentials" in error("UnrecognizedClientException").message
    assert "cannot be decrypted" in error("DecryptionFailure").message


# -- keeping values out of sight ------------------------------------------------------------


def test_secret_texts() -> None:
    texts = secret_texts(["abc", "True", "5432", 'say "hi"\n', PASSWORD])
    assert "abc" not in texts and "True" not in texts  # too short / a boolean
    assert "5432" in texts and PASSWORD in texts
    assert 'say \\"hi\\"\\n' in texts  # as JSON and repr() show it
    assert texts == sorted(texts, key=lambda t: (-len(t), t))


def test_a_stream_never_shows_a_secret_whatever_the_chunks() -> None:
    redactor = Redactor(secret_texts([PASSWORD, "tok-5678"]))
    stream = (f"a {PASSWORD} b tok-5678{PASSWORD}\n" * 20 + "s3cr3t-Pa55 partial").encode()
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(stream)), 15))
        parts = [stream[i:j] for i, j in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        s = StreamRedactor(redactor)
        out = b"".join(s.feed(p) for p in parts) + s.flush()
        assert out == redactor.data(stream)
        assert PASSWORD.encode() not in out and b"tok-5678" not in out


def test_a_stream_holds_back_only_what_could_start_a_secret() -> None:
    s = StreamRedactor(Redactor([PASSWORD]))
    assert s.feed(b"progress 50%\r") == b"progress 50%\r"
    assert s.feed(b"x s3cr") == b"x "
    assert s.feed(b"ew") == b"s3crew"


class Holder:
    def __init__(self, value: str) -> None:
        self.value = value


def test_artifacts_holding_a_secret_are_found() -> None:
    redactor = Redactor(secret_texts([PASSWORD]))
    for value in (
        PASSWORD,
        f"prefix {PASSWORD} suffix",
        PASSWORD.encode(),
        {"db": {"password": PASSWORD}},
        [1, 2, ("x", PASSWORD)],
        Holder(PASSWORD),
        {"k": "x" * 200_000 + PASSWORD},  # across pickle frames
    ):
        assert secret_in(value, redactor) == PASSWORD, type(value)
    for value in ("s3cr3t", {"a": 1}, [b"bytes"], 5432, lambda: PASSWORD):  # last: unpicklable
        assert secret_in(value, redactor) is None


def test_numeric_array_buffers_are_not_searched() -> None:
    np = pytest.importorskip("numpy")
    redactor = Redactor(["QWERTYUIOP"])
    array = np.frombuffer(b"QWERTYUIOP" * 100, dtype=np.uint8).copy()
    assert secret_in(array, redactor) is None
