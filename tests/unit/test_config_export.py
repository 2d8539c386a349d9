"""One profile exported as TOML text for a pod, and read back from GRANGE_CONFIG_TEXT."""

from __future__ import annotations

import pytest

from grange.config import resolve
from grange.config.export import profile_text

CONFIG = """
default_profile = "dev"

[profiles.dev]
datastore_root = "/tmp/dev"

[profiles.prod]
datastore_root = "s3://ml/prod"
metadata = "postgresql://svc:hunter2@db/grange"

[profiles.prod.policy]
allowed_registries = ["ghcr.io/acme", "docker.io/library/python"]
allow_production_deploy = false

[profiles.prod.s3]
endpoint_url = "http://127.0.0.1:9000"

[profiles.prod.kubernetes]
namespace = "ml-prod"
"""


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_one_profile_goes_without_the_others_or_a_password(config_file):
    text = profile_text("prod", {"GRANGE_CONFIG": str(config_file)})
    assert text is not None
    assert "hunter2" not in text and "[profiles.dev]" not in text
    env = {"GRANGE_CONFIG_TEXT": text, "GRANGE_PROFILE": "prod", "HOME": "/nonexistent"}
    effective = resolve(None, env)
    assert effective.profile_name == "prod"
    assert effective.policy.allowed_registries == ("ghcr.io/acme", "docker.io/library/python")
    assert effective.policy.allow_production_deploy is False
    assert effective.datastore_root.value == "s3://ml/prod"
    assert effective.kubernetes["namespace"] == "ml-prod"
    assert effective.s3_overrides() == {"endpoint_url": "http://127.0.0.1:9000"}
    assert effective.metadata.source == "default"


def test_unknown_profile_exports_nothing(config_file):
    assert profile_text("nope", {"GRANGE_CONFIG": str(config_file)}) is None


def test_a_named_file_wins_over_the_text(config_file):
    env = {"GRANGE_CONFIG": str(config_file), "GRANGE_CONFIG_TEXT": 'default_profile = "x"'}
    assert resolve(None, env).profile_name == "dev"
