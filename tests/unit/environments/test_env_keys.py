"""The key of a requirement set: stable, order independent, and changed by everything
that changes the resolution (and nothing else)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from env_support import pypi_spec
from grange.decorators.options import EnvSpec
from grange.environments import manager
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError


@pytest.fixture
def settings(tmp_path: Path) -> EnvSettings:
    return EnvSettings(cache_dir=tmp_path)


def key(spec: EnvSpec, settings: EnvSettings, platform: str | None = None) -> str:
    return manager.spec_key(spec, settings, platform)


def test_same_spec_same_key(settings: EnvSettings) -> None:
    assert key(pypi_spec(), settings) == key(pypi_spec(), settings)
    assert len(key(pypi_spec(), settings)) == 64


def test_order_spelling_and_place_do_not_change_the_key(settings: EnvSettings) -> None:
    one = pypi_spec(("tabulate", "0.9.0"), ("numpy", ">=1,<3"))
    other = EnvSpec(
        kind="pypi",
        packages=(("Tabulate", "==0.9.0"), ("numpy", ">= 1 , < 3")),
        step="train",
        decorator="@pypi_base",
        file="other.py",
        line=99,
    )
    assert key(one, settings) == key(other, settings)


def test_the_running_python_asked_or_not_is_one_key(settings: EnvSettings) -> None:
    running = manager._running()
    minor = ".".join(running.split(".")[:2])
    base = key(pypi_spec(), settings)
    assert key(pypi_spec(python=minor), settings) == base
    assert key(pypi_spec(python=running), settings) == base


@pytest.mark.parametrize(
    "change",
    [
        lambda s: (pypi_spec(("tabulate", "0.8.10")), s, None),
        lambda s: (pypi_spec(("tabulate", "0.9.0"), ("six", "")), s, None),
        lambda s: (pypi_spec(), s, "aarch64-manylinux_2_28"),
        lambda s: (pypi_spec(), replace(s, index_url="https://example.com/simple"), None),
        lambda s: (pypi_spec(), replace(s, extra_index_urls=("https://x/simple",)), None),
        lambda s: (pypi_spec(), replace(s, find_links=("/wheels",)), None),
        lambda s: (replace(pypi_spec(), kind="conda"), s, None),
    ],
)
def test_what_changes_the_resolution_changes_the_key(settings: EnvSettings, change) -> None:  # type: ignore[no-untyped-def]
    spec, other_settings, platform = change(settings)
    assert key(spec, other_settings, platform) != key(pypi_spec(), settings)


def test_offline_and_the_cache_place_do_not_change_the_key(settings: EnvSettings) -> None:
    base = key(pypi_spec(), settings)
    assert key(pypi_spec(), replace(settings, offline=True)) == base
    assert key(pypi_spec(), replace(settings, cache_dir=Path("/elsewhere"))) == base


def test_a_python_for_a_foreign_platform_need_not_be_here(settings: EnvSettings) -> None:
    # A pod's image may have a Python this machine lacks: the lock is made for it.
    spec = pypi_spec(python="3.99")
    assert key(spec, settings, "aarch64-unknown-linux-musl")
    with pytest.raises(EnvError, match=r"no Python 3\.99"):
        key(spec, settings)


@pytest.mark.parametrize("python", ["3.x", "2", "3.11; rm", "three", "3.11.7.1"])
def test_a_python_that_is_not_a_version_is_refused(settings: EnvSettings, python: str) -> None:
    with pytest.raises(EnvError, match="is not a Python version") as caught:
        key(pypi_spec(python=python), settings)
    assert caught.value.step == "start"


def test_an_unknown_kind_is_refused(settings: EnvSettings) -> None:
    with pytest.raises(EnvError, match="unknown environment kind 'npm'"):
        key(replace(pypi_spec(), kind="npm"), settings)


def test_conda_keys_use_conda_platforms_and_channels(settings: EnvSettings) -> None:
    spec = EnvSpec(kind="conda", packages=(("numpy", "1.26"),), step="s")
    linux = key(spec, settings, "x86_64-manylinux_2_28")
    assert linux == key(spec, settings, "linux-64")
    assert linux != key(replace(spec, channels=("bioconda",)), settings, "linux-64")
    assert linux != key(spec, replace(settings, channels=("my-channel",)), "linux-64")


@pytest.mark.parametrize(
    ("given", "subdir"),
    [
        ("x86_64-manylinux_2_28", "linux-64"),
        ("aarch64-manylinux_2_17", "linux-aarch64"),
        ("x86_64-unknown-linux-musl", "linux-64"),
        ("aarch64-apple-darwin", "osx-arm64"),
        ("x86_64-apple-darwin", "osx-64"),
        ("linux-64", "linux-64"),
        ("osx-arm64", "osx-arm64"),
    ],
)
def test_conda_platform_names(given: str, subdir: str) -> None:
    assert manager.conda_platform(given) == subdir


def test_the_host_platform_builds_here() -> None:
    host = manager.host_platform()
    assert manager.buildable_here(host)
    assert not manager.buildable_here("sparc-solaris")
    if host.endswith("manylinux_2_28"):
        arch = host.split("-")[0]
        assert manager.buildable_here(f"{arch}-manylinux_2_17")
        assert not manager.buildable_here(f"{arch}-manylinux_9_99")
