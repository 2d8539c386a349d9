"""The client under a profile reads that profile's stores; another profile's only when
the policy of the profile in force lists it in ``readable_profiles``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from grange.client import default_metadata, get_metadata, metadata
from grange.exceptions import PolicyError


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""\
[profiles.prod]
datastore_root = "{tmp_path}/prod"

[profiles.staging]
datastore_root = "{tmp_path}/staging"

[profiles.analytics]
datastore_root = "{tmp_path}/analytics"

[profiles.analytics.policy]
readable_profiles = ["prod"]
"""
    )
    for name in ("GRANGE_DATASTORE_ROOT", "GRANGE_METADATA", "GRANGE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GRANGE_CONFIG", str(config))
    yield tmp_path
    monkeypatch.undo()
    default_metadata()


def test_the_client_reads_the_stores_of_the_profile_in_force(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANGE_PROFILE", "staging")
    assert default_metadata() == f"local@{profiles}/staging"
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(profiles / "elsewhere"))
    assert default_metadata() == f"local@{profiles}/elsewhere"  # the environment wins


def test_staging_cannot_read_production(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_PROFILE", "staging")
    # inside a task of a staging run, the environment points at staging's stores
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(profiles / "staging"))
    with pytest.raises(PolicyError) as info:
        metadata("profile:prod")
    assert "profile 'staging' may not read the runs of profile 'prod'" in info.value.message
    assert info.value.fix is not None and "readable_profiles" in info.value.fix
    assert metadata("profile:staging") == f"local@{profiles}/staging"


def test_a_profile_that_allows_it_reads_another(
    profiles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRANGE_PROFILE", "analytics")
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(profiles / "analytics"))
    assert metadata("profile:prod") == f"local@{profiles}/prod"  # not the environment's root
    with pytest.raises(PolicyError, match='readable_profiles = \\["prod"\\]'):
        metadata("profile:staging")


def test_without_a_profile_any_profile_can_be_chosen(profiles: Path) -> None:
    assert metadata("profile:prod") == f"local@{profiles}/prod"
    assert get_metadata() == f"local@{profiles}/prod"
