"""Choosing the profile and each setting: flags > environment > profile > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.config import mask, mask_text, resolve
from grange.exceptions import ConfigError

CONFIG = """\
default_profile = "dev"

[profiles.dev]
datastore_root = "/srv/dev"

[profiles.prod]
datastore_root = "s3://prod-bucket/grange"
metadata = "postgresql://grange:${PGPASSWORD}@db/grange"

[profiles.prod.s3]
region = "eu-west-1"
endpoint_url = "http://${S3_HOST}:9000"
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return {"GRANGE_CONFIG": str(path), "PGPASSWORD": "hunter2", "S3_HOST": "minio"}


def test_profile_choice_flag_then_env_then_default_then_none(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert resolve("prod", {**env, "GRANGE_PROFILE": "dev"}).profile_name == "prod"
    chosen = resolve(None, {**env, "GRANGE_PROFILE": "prod"}).profile
    assert (chosen.value, chosen.source, chosen.origin) == ("prod", "env", "GRANGE_PROFILE")
    default = resolve(None, env).profile
    assert (default.value, default.source) == ("dev", "profile")
    nothing = resolve(None, {"HOME": str(tmp_path / "nobody")})
    assert nothing.profile_name is None
    assert nothing.datastore_root.value is None and nothing.metadata.value == "local"
    assert nothing.policy.is_empty and nothing.child_env() == {}


def test_an_unknown_profile_lists_the_profiles_and_the_file(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        resolve("prd", env)
    err = info.value
    assert f"no profile 'prd' in {env['GRANGE_CONFIG']} (chosen by flag --profile)" in err.message
    assert err.fix == "did you mean 'prod'? profiles defined: dev, prod"


def test_a_profile_without_a_file_says_where_the_file_should_be(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"no configuration file at .*nobody/\.grange/config\.toml"
    ):
        resolve(None, {"HOME": str(tmp_path / "nobody"), "GRANGE_PROFILE": "prod"})


def test_settings_come_from_flag_then_env_then_profile(env: dict[str, str]) -> None:
    prod = resolve("prod", env)
    assert prod.datastore_root.value == "s3://prod-bucket/grange"
    assert prod.datastore_root.source == "profile"
    assert prod.datastore_root.origin == f"{env['GRANGE_CONFIG']}:7"
    assert prod.datastore.value == "s3"
    assert prod.metadata.value == "postgresql://grange:hunter2@db/grange"  # ${} from env

    with_env = resolve(
        "prod", {**env, "GRANGE_DATASTORE_ROOT": "/tmp/x", "GRANGE_METADATA": "local"}
    )
    assert (with_env.datastore_root.value, with_env.datastore_root.source) == ("/tmp/x", "env")
    assert with_env.datastore.value == "local"  # the root decides the kind
    assert (with_env.metadata.value, with_env.metadata.source) == ("local", "env")

    flags = {"datastore_root": "/tmp/flag", "metadata": "sqlite:////tmp/m.db"}
    with_flag = resolve("prod", {**env, "GRANGE_DATASTORE_ROOT": "/tmp/x"}, flags=flags)
    assert (with_flag.datastore_root.value, with_flag.datastore_root.source) == (
        "/tmp/flag",
        "flag",
    )
    assert with_flag.metadata.origin == "--metadata"

    # click reads $GRANGE_DATASTORE_ROOT into the flag's option: reported as the environment's
    same = resolve(
        "prod", {**env, "GRANGE_DATASTORE_ROOT": "/tmp/x"}, flags={"datastore_root": "/tmp/x"}
    )
    assert same.datastore_root.source == "env"


def test_a_datastore_kind_that_contradicts_an_as_direct_root_is_an_error(
    env: dict[str, str],
) -> None:
    with pytest.raises(ConfigError, match="does not match the datastore root"):
        resolve("prod", env, flags={"datastore": "s3", "datastore_root": "/tmp/x"})
    with pytest.raises(ConfigError, match="does not match the datastore root '/srv/dev'"):
        resolve("dev", {**env, "GRANGE_DATASTORE": "s3"})
    with pytest.raises(ConfigError, match="needs a datastore root"):
        resolve(None, {"HOME": "/nonexistent", "GRANGE_DATASTORE": "s3"})


def test_s3_settings_environment_first_then_profile(env: dict[str, str]) -> None:
    prod = resolve("prod", {**env, "GRANGE_S3_REGION": "us-west-2"})
    assert prod.s3["region"].source == "env"
    assert prod.s3_overrides() == {"endpoint_url": "http://minio:9000"}
    assert prod.child_env() == {
        "GRANGE_PROFILE": "prod",
        "GRANGE_CONFIG": env["GRANGE_CONFIG"],
        "GRANGE_S3_ENDPOINT_URL": "http://minio:9000",
    }


def test_s3_overrides_are_what_s3_settings_accepts(env: dict[str, str]) -> None:
    from grange.datastore.s3.settings import S3Settings

    prod = resolve("prod", env)
    settings = S3Settings.from_env({}, prod.s3_overrides())
    assert settings.region == "eu-west-1"
    assert settings.endpoint_url == "http://minio:9000"


def test_a_missing_variable_names_the_key_and_the_variable(env: dict[str, str]) -> None:
    del env["PGPASSWORD"]
    with pytest.raises(ConfigError) as info:
        resolve("prod", env)
    assert "uses ${PGPASSWORD}, but PGPASSWORD is not set" in info.value.message
    assert env["GRANGE_CONFIG"] in info.value.message


def test_a_resolved_setting_never_shows_its_password_in_repr(env: dict[str, str]) -> None:
    prod = resolve("prod", env)
    assert "hunter2" not in repr(prod)
    assert "hunter2" not in repr(prod.metadata)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://grange:hunter2@db/grange", "postgresql://grange:***@db/grange"),
        ("postgresql+psycopg://u:p%40ss@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("postgresql://:hunter2@db/x", "postgresql://:***@db/x"),
        ("postgresql://u:hun@ter2@db/x", "postgresql://u:***@db/x"),  # an unescaped @
        (
            "postgresql://u@db/x?sslmode=require&password=hunter2",
            "postgresql://u@db/x?sslmode=require&password=***",
        ),
        ("postgresql://db/x", "postgresql://db/x"),
        ("sqlite:////tmp/m.db", "sqlite:////tmp/m.db"),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
    ],
)
def test_urls_are_masked(text: str, shown: str) -> None:
    assert mask_text(text) == shown
    assert "hunter2" not in mask_text(text)


def test_secret_names_are_masked_at_any_depth() -> None:
    value = {
        "namespace": "prod",
        "api_token": "abc",
        "auth": "Bearer abc",
        "nested": {"db_password": "x", "aws_secret_access_key": "y", "url": "http://u:pw@h/"},
        "env": [{"name": "A", "value": "postgresql://u:pw@h/d"}],
    }
    assert mask(value) == {
        "namespace": "prod",
        "api_token": "***",
        "auth": "***",
        "nested": {"db_password": "***", "aws_secret_access_key": "***", "url": "http://u:***@h/"},
        "env": [{"name": "A", "value": "postgresql://u:***@h/d"}],
    }
