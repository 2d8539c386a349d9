"""Locks for pods, on the deployer's side: a package on this machine's disk is refused
unless its file goes to the datastore; steps sharing one lock (``@pypi_base``) are
resolved and stored once, and said in one line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from grange.datastore import DatastoreLocation
from grange.decorators.options import EnvSpec
from grange.environments import manager, podenv
from grange.environments.envlock import EnvLock
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

TABULATE = (("tabulate", "0.9.0"),)


def file_lock(wheel: Path) -> EnvLock:
    """A pylock.toml whose one wheel is a find_links file on this disk."""
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    text = (
        'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "revpkg"\n'
        f'version = "1.0"\nwheels = [{{ url = "file://{wheel}", hashes = {{ sha256 = "{sha}" }} }}]\n'
    )
    return EnvLock("pypi", "k" * 64, "3.11.7", "x86_64-manylinux_2_28", text, "uv")


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    path = tmp_path / "wh" / "revpkg-1.0-py3-none-any.whl"
    path.parent.mkdir()
    path.write_bytes(b"a wheel")
    return path


def test_a_wheel_on_this_disk_is_refused_unless_stored(tmp_path: Path, wheel: Path) -> None:
    spec = EnvSpec(kind="pypi", packages=(("revpkg", "1.0"),), step="table", decorator="@pypi")
    location = DatastoreLocation.of(tmp_path / "store")
    lock = file_lock(wheel)
    with pytest.raises(EnvError) as info:
        podenv.store_for_pods(spec, EnvSettings(cache_dir=tmp_path), location, lock=lock)
    assert f"package 'revpkg' of the lock {lock.sha[:12]} comes from this machine's disk" in (
        info.value.message
    )
    assert f"file://{wheel}" in info.value.message and info.value.step == "table"
    assert "wheels_in_datastore = true" in (info.value.fix or "")
    # Stored in the datastore (the real downloader reads the file: URL), it is fine.
    settings = EnvSettings(cache_dir=tmp_path, wheels_in_datastore=True)
    _lock, ref = podenv.store_for_pods(spec, settings, location, lock=lock)
    assert Path(ref[0]).is_file()
    stored = list((tmp_path / "store" / "envs" / "packages").glob("*/revpkg-1.0-py3-none-any.whl"))
    assert [p.read_bytes() for p in stored] == [b"a wheel"]


def test_steps_sharing_a_lock_are_resolved_once_and_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved: list[str] = []

    def resolve(spec: EnvSpec, settings: Any, *, platform: Any = None, **more: Any) -> EnvLock:
        resolved.append(spec.step)
        packages = ({"name": n, "version": v} for n, v in spec.packages)
        return EnvLock(
            "pypi", "k" * 64, "3.11.7", str(platform), f'# {spec.packages}\nlock-version = "1.0"\n', "uv",
            tuple(packages),
        )  # fmt: skip

    monkeypatch.setattr(manager, "resolve", resolve)
    monkeypatch.setenv("GRANGE_ENV_CACHE", str(tmp_path / "cache"))
    base = {
        step: EnvSpec(kind="pypi", packages=TABULATE, step=step, decorator="@pypi_base")
        for step in ("start", "a", "end")
    }
    own = EnvSpec(kind="pypi", packages=(("six", "1.16.0"),), step="b", decorator="@pypi")
    said: list[str] = []
    refs, _env = podenv.locks_for_pods(
        {**base, "b": own, "plain": None},
        {},
        DatastoreLocation.of(tmp_path / "store"),
        say=said.append,
    )
    assert sorted(refs) == ["a", "b", "end", "start"]
    assert refs["a"] == refs["start"] == refs["end"] != refs["b"]
    assert sorted(resolved) == ["a", "b"]  # one per distinct request
    assert len(said) == 2
    assert any(
        line.startswith("Steps a, end, start: @pypi_base environment, lock ") for line in said
    )
    assert any(line.startswith("Step b: @pypi environment, lock ") for line in said)


def test_grange_default_image_follows_the_pypi_python() -> None:
    """@pypi(python="3.10") builds on the image's Python: grange's default image is
    then python:3.10; a step's or profile's own image is kept."""
    import sys

    from grange.compute.kubernetes.pod import plan_pod
    from grange.decorators.options import KubernetesOptions, TaskOptions

    def image(python: Any, kind: str = "pypi", **defaults: Any) -> str:
        env = EnvSpec(kind=kind, packages=TABULATE, python=python, step="s")
        plan = plan_pod("s", TaskOptions(environment=env), command=["x"], defaults=defaults)
        return str(plan.container.image)

    here = "python:{}.{}".format(*sys.version_info[:2])
    assert image("3.10") == image("3.10.4") == "python:3.10"
    assert image(None) == here and image("3.10", kind="conda") == here
    assert image("3.10", image="ghcr.io/acme/base:2") == "ghcr.io/acme/base:2"
    own = TaskOptions(
        kubernetes=KubernetesOptions(image="mine:1"),
        environment=EnvSpec(kind="pypi", packages=TABULATE, python="3.10", step="s"),
    )
    assert plan_pod("s", own, command=["x"]).container.image == "mine:1"
