"""Reading ``config.toml``: the layout, validation, and errors that name file, table and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grange.config import parse_config, read_config
from grange.config.schema import S3
from grange.datastore.s3.settings import ENV as S3_SETTINGS_ENV
from grange.exceptions import ConfigError

FULL = """\
default_profile = "dev"

[profiles.dev]
description = "laptops"
datastore = "local"
datastore_root = "~/grange"
metadata = "local"

[profiles.prod]
datastore = "s3"
datastore_root = "s3://prod-bucket/grange"
metadata = "postgresql://grange:${PGPASSWORD}@db.internal/grange"

[profiles.prod.s3]
region = "eu-west-1"
max_concurrency = 64
timeout = 30

[profiles.prod.policy]
allowed_datastore_roots = ["s3://prod-bucket/grange"]
s3_read_prefixes = ["s3://prod-data/"]
s3_write_prefixes = ["s3://prod-out/"]
max_resources = { cpu = 16, memory = 64000, gpu = 1, disk = 100000 }
allowed_registries = ["123.dkr.ecr.us-east-1.amazonaws.com", "ghcr.io/acme"]
allow_production_deploy = false
required_tags = ["team:*"]
readable_profiles = ["dev"]

[profiles.prod.secrets]
default_provider = "aws-secrets-manager"
allowed_sources = ["prod/*"]

[profiles.prod.kubernetes]
namespace = "grange-prod"
node_selector = { pool = "batch" }

[profiles.prod.argo]
service_account = "argo"
"""


def parse(text: str) -> object:
    return parse_config(textwrap.dedent(text), "/etc/grange/config.toml")


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


def test_the_documented_layout_reads_back() -> None:
    config = parse_config(FULL, "/x/config.toml")
    assert config.default_profile == "dev"
    assert list(config.profiles) == ["dev", "prod"]
    prod = config.profiles["prod"]
    assert prod.datastore == "s3"
    assert prod.datastore_root == "s3://prod-bucket/grange"
    assert prod.metadata == "postgresql://grange:${PGPASSWORD}@db.internal/grange"  # as written
    assert prod.s3 == {"region": "eu-west-1", "max_concurrency": 64, "timeout": 30.0}
    policy = prod.policy
    assert policy.profile == "prod"
    assert policy.allowed_datastore_roots == ("s3://prod-bucket/grange",)
    assert policy.max_resources == {"cpu": 16, "memory": 64000, "gpu": 1, "disk": 100000}
    assert policy.allow_production_deploy is False
    assert policy.required_tags == ("team:*",)
    assert policy.readable_profiles == ("dev",)
    assert policy.rules["max_resources"].line == 23
    assert prod.secrets.default_provider == "aws-secrets-manager"
    assert prod.secrets.allowed_sources == ("prod/*",)
    assert prod.kubernetes == {"namespace": "grange-prod", "node_selector": {"pool": "batch"}}
    assert prod.argo == {"service_account": "argo"}
    dev = config.profiles["dev"]
    assert dev.policy.is_empty and dev.policy.max_resources is None


def test_an_unknown_policy_key_is_an_error_with_did_you_mean_and_its_line() -> None:
    err = error_of(
        """\
        [profiles.prod]
        metadata = "local"

        [profiles.prod.policy]
        max_resource = { cpu = 4 }
        """
    )
    assert err.file == "/etc/grange/config.toml"
    assert err.line == 5
    assert "[profiles.prod.policy] max_resource: is not a known key" in err.message
    assert err.fix is not None and "did you mean 'max_resources'?" in err.fix


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("default_profil = 'x'\n", "default_profil", "did you mean 'default_profile'?"),
        ("[profiles.a]\ndatastore_rot = '/x'\n", "[profiles.a] datastore_rot", "'datastore_root'"),
        ("[profiles.a.s3]\nregoin = 'x'\n", "[profiles.a.s3] regoin", "'region'"),
        ("[profiles.a.secrets]\nprovider = 'x'\n", "[profiles.a.secrets] provider", "keys of"),
        (
            "[profiles.a.policy]\nmax_resources = { cpus = 4 }\n",
            "[profiles.a.policy.max_resources] cpus",
            "'cpu'",
        ),
    ],
)
def test_unknown_keys_anywhere_are_named(text: str, where: str, hint: str) -> None:
    err = error_of(text)
    assert err.message.startswith(f"{where}: is not a known key")
    assert err.fix is not None and hint in err.fix
    assert err.line == text.count("\n")  # the key's own line (the inline table's line)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[profiles.a]\ndatastore = 'gcs'\n", "must be one of 'local', 's3'"),
        ("[profiles.a]\ndatastore_root = 'relative/dir'\n", "must be absolute"),
        ("[profiles.a]\ndatastore_root = 'gs://b/p'\n", "an s3:// location or a folder"),
        ("[profiles.a]\nmetadata = 'mysql://x'\n", "'local' or a postgresql:// URL"),
        ("[profiles.a]\ndatastore = 's3'\n", "has no datastore_root"),
        ("[profiles.a]\ndatastore = 's3'\ndatastore_root = '/x'\n", "not a location for"),
        ("[profiles.a.s3]\nmax_concurrency = 0\n", "at least 1"),
        ("[profiles.a.s3]\nendpoint_url = 'localhost:9000'\n", "http(s) URL"),
        ("[profiles.a.policy]\ns3_read_prefixes = ['prod-data']\n", "s3://BUCKET"),
        ("[profiles.a.policy]\nallow_production_deploy = 'no'\n", "true or false"),
        ("[profiles.a.policy]\nrequired_tags = 'team:*'\n", "list of strings"),
        ("[profiles.a.policy]\nmax_resources = { cpu = -1 }\n", "at least 0"),
        ("[profiles.a.policy]\nmax_resources = { cpu = nan }\n", "at least 0"),
        ("[profiles.a.policy]\nmax_resources = { memory = inf }\n", "at least 0"),
        ("[profiles.a.s3]\ntimeout = nan\n", "above 0"),
        ("[profiles.a.policy]\nreadable_profiles = ['prdo']\n", "which the file does not"),
        ("default_profile = 'b'\n[profiles.a]\n", "names the profile 'b'"),
        ("[profiles.'a b']\n", "is not a profile name"),
        ("[profiles]\na = 1\n", "must be a table"),
    ],
)
def test_bad_values_are_named(text: str, expected: str) -> None:
    err = error_of(text)
    assert expected in err.message + (err.fix or "")
    assert err.file == "/etc/grange/config.toml"


def test_a_misspelt_profile_reference_suggests_the_right_one() -> None:
    err = error_of("[profiles.prod]\n[profiles.staging.policy]\nreadable_profiles = ['prdo']\n")
    assert err.fix is not None and "did you mean 'prod'?" in err.fix


def test_invalid_toml_names_the_line() -> None:
    err = error_of("[profiles.a]\ndatastore = \n")
    assert err.message.startswith("not valid TOML")
    assert err.line == 2


def test_grange_config_names_the_file_and_it_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(
        ConfigError, match=r"GRANGE_CONFIG names .*nope\.toml, which does not exist"
    ):
        read_config({"GRANGE_CONFIG": str(missing)})
    assert read_config({"HOME": str(tmp_path)}) is None  # the default file may be absent
    (tmp_path / ".grange").mkdir()
    (tmp_path / ".grange" / "config.toml").write_text("[profiles.a]\n")
    config = read_config({"HOME": str(tmp_path)})
    assert config is not None and list(config.profiles) == ["a"]


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[profiles.a]\n")
    env = {"GRANGE_CONFIG": str(path)}
    first = read_config(env)
    assert read_config(env) is first  # kept while unchanged
    path.write_text("[profiles.a]\n[profiles.bb]\n")
    second = read_config(env)
    assert second is not None and list(second.profiles) == ["a", "bb"]


def test_s3_keys_are_those_of_s3_settings() -> None:
    from grange.config.resolve import S3_ENV

    assert set(S3) == set(S3_SETTINGS_ENV)
    assert {name: variables[0] for name, variables in S3_SETTINGS_ENV.items()} == S3_ENV


def test_importing_grange_reads_no_configuration() -> None:
    import os
    import subprocess
    import sys

    code = (
        "import sys, grange, grange.config, grange.cli.main; "
        "print('grange.config.load' in sys.modules, 'tomllib' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GRANGE_CONFIG": "/does/not/exist.toml", "GRANGE_PROFILE": "x"},
    )
    assert out.stdout.split() == ["True", "False"]  # imported, but no file read or parsed
