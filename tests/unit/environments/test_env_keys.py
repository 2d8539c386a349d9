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


def test_a_conda_platform_name_means_the_same_for_pypi(settings: EnvSettings) -> None:
    assert key(pypi_spec(), settings, "linux-aarch64") == key(
        pypi_spec(), settings, "aarch64-manylinux_2_28"
    )
    assert manager.pypi_platform("osx-arm64") == "aarch64-apple-darwin"
    assert manager.pypi_platform(None) == manager.host_platform()


def test_conda_keys_use_the_channels_urls(
    settings: EnvSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative channel folder is keyed by where it is: the same text in another
    folder is another channel; a name and its URL are one."""
    spec = EnvSpec(kind="conda", packages=(("numpy", "1.26"),), step="s")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    relative = replace(settings, channels=("./chan",))
    monkeypatch.chdir(tmp_path / "a")
    in_a = key(spec, relative)
    monkeypatch.chdir(tmp_path / "b")
    assert key(spec, relative) != in_a
    absolute = replace(settings, channels=(str(tmp_path / "b" / "chan"),))
    assert key(spec, relative) == key(spec, absolute)
    named = key(spec, replace(settings, channels=("conda-forge",)))
    url = replace(settings, channels=("https://conda.anaconda.org/conda-forge",))
    assert named == key(spec, url)


def test_conda_python_in_packages_is_the_python_asked(settings: EnvSettings) -> None:
    spec = EnvSpec(kind="conda", packages=(("numpy", "1.26"),), step="s", decorator="@conda")
    asked = key(replace(spec, python="3.10"), settings)
    assert key(replace(spec, packages=(("numpy", "1.26"), ("python", "3.10"))), settings) == asked
    assert asked != key(spec, settings)
    ranged = replace(spec, packages=(("numpy", "1.26"), ("python", "<3.11")))
    assert key(ranged, settings) not in (asked, key(spec, settings))


def test_conda_python_asked_twice_is_an_error(settings: EnvSettings) -> None:
    spec = EnvSpec(
        kind="conda",
        packages=(("python", "3.10"),),
        python="3.11",
        step="s",
        decorator="@conda",
        file="flow.py",
        line=7,
    )
    with pytest.raises(EnvError, match="Python is asked twice") as err:
        key(spec, settings)
    assert err.value.step == "s" and err.value.line == 7


@pytest.mark.parametrize(("python", "passed"), [("3.10", "3.10"), ("<3.11", None)])
def test_conda_python_in_packages_reaches_the_solver(
    settings: EnvSettings, monkeypatch: pytest.MonkeyPatch, python: str, passed: str | None
) -> None:
    from grange.environments import conda
    from grange.environments.envlock import Resolved

    seen: list[tuple[str | None, tuple[tuple[str, str], ...]]] = []

    def lock(spec: EnvSpec, settings: EnvSettings, *, python: str | None, platform: str):  # type: ignore[no-untyped-def]
        seen.append((python, spec.packages))
        return Resolved(text="t", python="3.10.1", tool="fake", packages=())

    monkeypatch.setattr(conda, "lock", lock)
    spec = EnvSpec(kind="conda", packages=(("python", python),), step="s", decorator="@conda")
    manager.resolve(spec, settings)
    assert seen[0][0] == passed
    assert ("python", python) in seen[0][1] or passed == python


def test_a_pod_key_looks_for_no_python_here(
    settings: EnvSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.environments import uvtool

    def find_python(request: str, settings: EnvSettings) -> None:
        raise AssertionError("looked for a Python on this machine")

    monkeypatch.setattr(uvtool, "find_python", find_python)
    spec = replace(pypi_spec(), python="3.12")
    assert len(key(spec, settings, "aarch64-manylinux_2_28")) == 64


def test_a_patch_release_is_the_same_pypi_key(
    settings: EnvSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grange.environments import uvtool

    found = [uvtool.Interpreter("/usr/bin/python3.10", "3.10.4")]
    monkeypatch.setattr(uvtool, "find_python", lambda request, settings: found[0])
    spec = replace(pypi_spec(), python="3.10")
    before = key(spec, settings)
    found[0] = uvtool.Interpreter("/usr/bin/python3.10", "3.10.14")
    assert key(spec, settings) == before


def test_a_python_not_found_is_asked_once_per_process(
    settings: EnvSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from grange.environments import uvtool

    calls: list[list[str]] = []

    def run_uv(args: list[str], settings: EnvSettings, **kw: object) -> object:
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 2, "", "not found")

    monkeypatch.setattr(uvtool, "run_uv", run_uv)
    monkeypatch.setattr(uvtool, "_MISSES", set())
    assert uvtool.find_python("3.98", settings) is None
    assert uvtool.find_python("3.98", settings) is None
    assert len(calls) == 1
    monkeypatch.setenv("PATH", "/elsewhere")
    assert uvtool.find_python("3.98", settings) is None
    assert len(calls) == 2
