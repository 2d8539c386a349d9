"""A profile's policy: each rule refuses with the profile, the rule as written, the value
and the fix; a rule left out allows anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.config import (
    Policy,
    check_datastore_root,
    check_image,
    check_production_deploy,
    check_resources,
    check_s3_access,
    check_tags,
    parse_config,
    resolve,
)
from grange.config.policy import image_repository
from grange.exceptions import PolicyError

CONFIG = """\
[profiles.dev]

[profiles.prod]
datastore_root = "s3://prod-bucket/grange"

[profiles.prod.policy]
allowed_datastore_roots = ["s3://prod-bucket/grange", "/srv/grange/"]
s3_read_prefixes = ["s3://prod-data/"]
s3_write_prefixes = ["s3://prod-out/results"]
max_resources = { cpu = 16, memory = 64000, gpu = 1 }
allowed_registries = ["123.dkr.ecr.us-east-1.amazonaws.com", "ghcr.io/acme"]
allow_production_deploy = false
required_tags = ["team:*", "cost-center:?"]

[profiles.prod.secrets]
allowed_sources = ["prod/*"]
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_config(CONFIG, "/etc/grange/config.toml").profiles["prod"].policy


def refused(call: object) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_an_empty_policy_allows_everything() -> None:
    empty = Policy()
    check_datastore_root(empty, "/anywhere")
    check_resources(empty, {"cpu": 1000}, step="s")
    check_tags(empty, [])
    check_production_deploy(empty)
    check_image(empty, "evil.example.com/x")


def test_datastore_roots_match_whole_components(policy: Policy) -> None:
    check_datastore_root(policy, "s3://prod-bucket/grange")
    check_datastore_root(policy, "s3://prod-bucket/grange/")
    check_datastore_root(policy, "s3://prod-bucket/grange/team-a")
    check_datastore_root(policy, "/srv/grange/x/../y")
    err = refused(lambda: check_datastore_root(policy, "s3://prod-bucket/grange-old"))
    assert err.message == (
        "profile 'prod' refuses the datastore root 's3://prod-bucket/grange-old': rule "
        '[profiles.prod.policy] allowed_datastore_roots = ["s3://prod-bucket/grange", "/srv/grange/"]'
    )
    assert (err.file, err.line) == ("/etc/grange/config.toml", 7)
    assert err.fix is not None and "--datastore-root s3://prod-bucket/grange" in err.fix
    refused(lambda: check_datastore_root(policy, "/srv/grange-other"))
    refused(lambda: check_datastore_root(policy, "/srv"))


def test_resources_above_the_maximum_name_the_step_and_its_line(policy: Policy) -> None:
    check_resources(policy, {"cpu": 16, "memory": 64000, "gpu": 1, "disk": 10**9}, step="s")
    err = refused(
        lambda: check_resources(
            policy, {"cpu": 2, "memory": 128000}, step="train", file="/p/flow.py", line=12
        )
    )
    assert (err.file, err.line, err.step) == ("/p/flow.py", 12, "train")
    assert "refuses @resources(memory=128000) on step 'train': at most memory=64000" in err.message
    assert "max_resources = { cpu = 16, memory = 64000, gpu = 1 }" in err.message
    assert "(/etc/grange/config.toml:10)" in err.message
    assert err.fix is not None and "memory=64000 or less" in err.fix


def test_required_tags_are_patterns(policy: Policy) -> None:
    check_tags(policy, ["team:vision", "cost-center:7", "other"])
    err = refused(lambda: check_tags(policy, ["team:vision"]))
    assert "a run without a tag matching 'cost-center:?' (tags given: team:vision)" in err.message
    assert err.fix == "add one: --tag cost-center:X"
    assert "team" in refused(lambda: check_tags(policy, [])).message


def test_production_deploys(policy: Policy) -> None:
    err = refused(lambda: check_production_deploy(policy))
    assert "allow_production_deploy = false" in err.message
    assert err.line == 12


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("python:3.11", "docker.io/library/python"),
        ("acme/train", "docker.io/acme/train"),
        ("ghcr.io/acme/train:1.2", "ghcr.io/acme/train"),
        ("localhost:5000/x:tag", "localhost:5000/x"),
        ("ghcr.io/acme/train@sha256:abc", "ghcr.io/acme/train"),
    ],
)
def test_image_repositories(image: str, repository: str) -> None:
    assert image_repository(image) == repository


def test_images_come_from_allowed_registries(policy: Policy) -> None:
    check_image(policy, "123.dkr.ecr.us-east-1.amazonaws.com/train:3")
    check_image(policy, "ghcr.io/acme/train:1")
    for image in ("python:3.11", "ghcr.io/acme-evil/train", "ghcr.io/other/x"):
        err = refused(lambda image=image: check_image(policy, image))
        assert f"the container image {image!r}" in err.message


@pytest.fixture
def prod_env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return {"GRANGE_CONFIG": str(path), "GRANGE_PROFILE": "prod"}


def test_s3_access_reads_the_profile_from_the_environment(prod_env: dict[str, str]) -> None:
    check_s3_access("s3://prod-data/x/y.csv", env=prod_env)
    check_s3_access("s3://prod-out/results/r.parquet", write=True, env=prod_env)
    check_s3_access("s3://prod-out/results/r.parquet", env=prod_env)  # written: readable
    check_s3_access("s3://prod-bucket/grange/data-s3/S3/1/x", write=True, env=prod_env)  # own
    check_s3_access("s3://prod-bucket/grange/S3/1/run.json", env=prod_env)  # read the root
    refused(
        lambda: check_s3_access("s3://prod-bucket/grange/S3/1/run.json", write=True, env=prod_env)
    )
    err = refused(lambda: check_s3_access("s3://prod-data/x", write=True, env=prod_env))
    assert "writing 's3://prod-data/x' through grange.S3" in err.message
    assert 's3_write_prefixes = ["s3://prod-out/results"]' in err.message
    err = refused(lambda: check_s3_access("s3://dev-data/x", env=prod_env))
    assert "reading 's3://dev-data/x'" in err.message and "s3_read_prefixes" in err.message
    refused(lambda: check_s3_access("s3://prod-out/resultsX", env=prod_env))
    # no profile, or a profile without S3 rules: anything
    check_s3_access("s3://dev-data/x", write=True, env={**prod_env, "GRANGE_PROFILE": "dev"})
    check_s3_access("s3://dev-data/x", write=True, env={"HOME": "/nonexistent"})


def test_a_refused_policy_error_never_leaks_a_password(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[profiles.p]\nmetadata = "postgresql://u:hunter2@h/d"\n'
        '[profiles.p.policy]\nallowed_datastore_roots = ["/srv"]\n'
    )
    eff = resolve("p", {"GRANGE_CONFIG": str(path)})
    err = refused(lambda: check_datastore_root(eff.policy, "/tmp"))
    assert "hunter2" not in err.render()


def test_s3_rules_left_out_allow_anything(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[profiles.w.policy]\ns3_write_prefixes = ["s3://out/"]\n')
    env = {"GRANGE_CONFIG": str(path), "GRANGE_PROFILE": "w"}
    check_s3_access("s3://anything/x", env=env)  # reads: no rule
    check_s3_access("s3://out/x", write=True, env=env)
    refused(lambda: check_s3_access("s3://anything/x", write=True, env=env))
