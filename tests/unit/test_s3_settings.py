"""s3:// locations and S3 connection settings (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.datastore.s3 import S3Settings, S3Url, parse_s3_url
from grange.exceptions import CommandError, ConfigError


def test_parse_s3_url_splits_bucket_and_prefix() -> None:
    assert parse_s3_url("s3://my-bucket/team/grange/") == S3Url("my-bucket", "team/grange")
    assert parse_s3_url("s3://my-bucket") == S3Url("my-bucket", "")
    assert str(S3Url("b12", "x/y")) == "s3://b12/x/y"
    assert S3Url("b12", "x").key("Flow/1") == "x/Flow/1"
    assert S3Url("b12").key("Flow/1") == "Flow/1"


@pytest.mark.parametrize(
    "text", ["s3://", "s3://Upper/x", "s3://ab", "s3://bucket/a//b", "s3://bucket/../x", "/tmp/x"]
)
def test_parse_s3_url_rejects_bad_locations(text: str) -> None:
    with pytest.raises(CommandError) as info:
        parse_s3_url(text, what="--datastore-root")
    assert "--datastore-root" in str(info.value)
    assert info.value.fix


def test_settings_come_from_the_environment_first(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "GRANGE_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "AWS_REGION": "eu-west-1",
        "GRANGE_S3_MAX_CONCURRENCY": "8",
    }
    settings = S3Settings.from_env(env, overrides={"region": "us-west-2", "part_size_mb": 32})
    assert settings.endpoint_url == "http://127.0.0.1:9000"
    assert settings.region == "eu-west-1"  # the environment wins over the profile
    assert settings.max_concurrency == 8
    assert settings.part_size == 32 * 1024 * 1024
    assert settings.as_env()["GRANGE_S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert not any("SECRET" in name or "KEY" in name for name in settings.as_env())


@pytest.mark.parametrize(
    ("name", "value"), [("max_concurrency", "0"), ("timeout", "soon"), ("endpoint_url", "ftp://x")]
)
def test_bad_settings_are_named(name: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        S3Settings.from_env({"HOME": str(tmp_path)}, overrides={name: value})
    assert f"s3.{name}" in str(info.value)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown S3 setting 'secret_key'"):
        S3Settings.from_env({"HOME": str(tmp_path)}, overrides={"secret_key": "x"})


def test_boto3_credentials_only_when_aws_config_is_what_there_is(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert not S3Settings.from_env(home).use_boto3_credentials
    assert S3Settings.from_env({**home, "AWS_PROFILE": "dev"}).use_boto3_credentials
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\n")
    assert S3Settings.from_env(home).use_boto3_credentials
    keys = {**home, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
    assert not S3Settings.from_env(keys).use_boto3_credentials


def test_one_bucket_on_two_endpoints_has_two_indexes(monkeypatch: pytest.MonkeyPatch) -> None:
    from grange.datastore.location import DatastoreLocation

    location = DatastoreLocation.of("s3://team-bucket/grange")
    monkeypatch.setenv("GRANGE_S3_ENDPOINT_URL", "http://minio.local:9000")
    minio = location.index_dir
    monkeypatch.delenv("GRANGE_S3_ENDPOINT_URL")
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    aws = location.index_dir
    assert minio != aws and minio.name.startswith("team-bucket-")


def test_a_part_below_s3s_minimum_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="5 MiB"):
        S3Settings.from_env({"HOME": str(tmp_path), "GRANGE_S3_PART_SIZE_MB": "1"})


def test_no_credentials_at_all_is_said_so() -> None:
    from grange.datastore.s3.connect import translate
    from grange.exceptions import StoreAccessError

    err = Exception(
        "Generic S3 error: Error performing PUT http://169.254.169.254/latest/api/token "
        "in 1ms - Server returned non-2xx status code: 403 Forbidden"
    )
    out = translate(err, bucket="b", key="k", doing="write")
    assert isinstance(out, StoreAccessError) and out.reason == "credentials"
    assert "no AWS credentials" in str(out)
