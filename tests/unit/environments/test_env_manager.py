"""The manager with a fake backend: the lock cache, the environment cache (warm path,
damaged environments, failed builds), and the shim that makes grange importable."""

from __future__ import annotations

import json
import os
import sys
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from env_support import pypi_spec
from grange.environments import cache, manager
from grange.environments.envlock import EnvLock, Resolved
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError


class FakeBackend(types.SimpleNamespace):
    """Resolves to a fixed lock and 'installs' a folder with a bin/python file."""

    def __init__(self) -> None:
        super().__init__(locks=0, installs=0, fail=False)

    def lock(self, spec: Any, settings: Any, *, python: str | None, platform: str) -> Resolved:
        self.locks += 1
        text = f"lock of {sorted(spec.packages)} for {python} on {platform}\n"
        packages = tuple({"name": n, "version": v} for n, v in spec.packages)
        return Resolved(text=text, tool="fake 1.0", packages=packages, python=python or "")

    def install(self, lock: EnvLock, settings: Any, target: Path, *, final: Path) -> Path:
        self.installs += 1
        assert final == cache.env_path(settings.cache_dir, lock)
        assert target.is_dir() and not any(target.iterdir())
        assert target.parent == settings.cache_dir / "envs"
        (target / "bin").mkdir()
        python = target / "bin" / "python"
        python.write_text("#!/bin/sh\n")
        if self.fail:
            raise EnvError("the install failed")
        return python


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    fake = FakeBackend()
    monkeypatch.setattr(manager, "_backend", lambda kind, spec=None: fake)
    return fake


@pytest.fixture
def settings(tmp_path: Path) -> EnvSettings:
    return EnvSettings(cache_dir=tmp_path / "cache")


def test_resolve_once_per_key(backend: FakeBackend, settings: EnvSettings) -> None:
    lock = manager.resolve(pypi_spec(), settings)
    assert lock.key == manager.spec_key(pypi_spec(), settings)
    assert lock.python == manager._running()
    assert lock.platform == manager.host_platform()
    assert lock.requested == {
        "packages": {"tabulate": "0.9.0"},
        "python": None,
        "decorator": "@pypi",
    }
    assert manager.resolve(pypi_spec(), settings) == lock
    assert backend.locks == 1
    saved = json.loads(cache.lock_path(settings.cache_dir, lock.key).read_text())
    assert EnvLock.from_dict(saved) == lock


def test_a_damaged_cached_lock_is_resolved_again(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    lock = manager.resolve(pypi_spec(), settings)
    cache.lock_path(settings.cache_dir, lock.key).write_text('{"text": "half')
    assert manager.resolve(pypi_spec(), settings) == lock
    assert backend.locks == 2


def test_build_once_then_warm(backend: FakeBackend, settings: EnvSettings) -> None:
    env = manager.prepare(pypi_spec(), settings)
    assert env.prefix == settings.cache_dir / "envs" / env.lock.sha[:16]
    assert env.python == env.prefix / "bin" / "python"
    assert json.loads((env.prefix / "grange-lock.json").read_text())["sha"] == env.lock.sha
    assert manager.prepare(pypi_spec(), settings) == env
    assert backend.installs == 1
    assert sorted(p.name for p in (settings.cache_dir / "envs").iterdir()) == sorted(
        [f".{env.prefix.name}.lock", env.prefix.name]
    )


def test_two_locks_with_one_text_share_one_environment(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    one = manager.prepare(pypi_spec(), settings)
    other = manager.prepare(pypi_spec(), replace(settings, index_url="https://mirror/simple"))
    assert one.lock.key != other.lock.key
    assert one.prefix == other.prefix
    assert backend.installs == 1


def test_a_damaged_environment_is_rebuilt(backend: FakeBackend, settings: EnvSettings) -> None:
    env = manager.prepare(pypi_spec(), settings)
    env.python.unlink()
    assert manager.prepare(pypi_spec(), settings).python.exists()
    assert backend.installs == 2
    (env.prefix / cache.READY).write_text("{broken")
    manager.prepare(pypi_spec(), settings)
    assert backend.installs == 3


def test_a_failed_build_leaves_nothing(backend: FakeBackend, settings: EnvSettings) -> None:
    backend.fail = True
    with pytest.raises(EnvError, match="the install failed"):
        manager.prepare(pypi_spec(), settings)
    envs = settings.cache_dir / "envs"
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == []
    backend.fail = False
    assert manager.prepare(pypi_spec(), settings).python.exists()


def test_leftovers_of_a_killed_build_are_swept(backend: FakeBackend, settings: EnvSettings) -> None:
    lock = manager.resolve(pypi_spec(), settings)
    final = cache.env_path(settings.cache_dir, lock)
    final.parent.mkdir(parents=True)
    dead = final.parent / f".{final.name}.tmp-999999999-abcd"
    (dead / "bin").mkdir(parents=True)
    (dead / "bin" / "python").write_text("")
    (dead / cache.READY).write_text(json.dumps({"sha": lock.sha, "python": "bin/python"}))
    env = manager.build(lock, settings)
    assert env.prefix == final and not dead.exists()
    assert backend.installs == 1


def test_the_shim_holds_grange_and_its_task_deps(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    env = manager.prepare(pypi_spec(), settings)
    (shim,) = env.pythonpath
    names = sorted(os.listdir(shim))
    assert "grange" in names and "click" in names and "pathspec" in names
    assert any(n.startswith("click-") and n.endswith(".dist-info") for n in names)
    import grange

    assert Path(shim, "grange").resolve() == Path(grange.__file__).resolve().parent
    assert Path(shim).parent == settings.cache_dir / "runtime"
    assert "numpy" not in names and "sqlalchemy" not in names


def test_a_package_the_env_has_is_left_out_of_the_shim(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    env = manager.prepare(pypi_spec(("Click", "8.2.1")), settings)
    (shim,) = env.pythonpath
    names = os.listdir(shim)
    assert "grange" in names and "pathspec" in names
    assert not any(n.startswith("click") for n in names)


def test_a_cache_that_cannot_be_written_is_named(backend: FakeBackend, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocked = tmp_path / "file"
        blocked.write_text("")  # a file where the cache folder should be
        settings = EnvSettings(cache_dir=blocked / "cache")
    else:
        blocked = tmp_path / "ro"
        blocked.mkdir(mode=0o500)
        settings = EnvSettings(cache_dir=blocked / "cache")
    with pytest.raises(EnvError, match="cannot write the environment cache") as err:
        manager.prepare(pypi_spec(), settings)
    assert (err.value.step, err.value.file, err.value.line) == ("start", "flow.py", 12)


def test_a_lock_given_is_built_without_resolving(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    lock = manager.resolve(pypi_spec(), replace(settings, cache_dir=settings.cache_dir / "x"))
    env = manager.prepare(pypi_spec(("other", "1")), settings, lock=lock)
    assert env.lock == lock
    assert backend.locks == 1
    assert not (settings.cache_dir / "locks").exists()


def test_conda_goes_to_the_conda_backend(
    monkeypatch: pytest.MonkeyPatch, settings: EnvSettings
) -> None:
    asked: list[str] = []
    fake = FakeBackend()
    monkeypatch.setattr(manager, "_backend", lambda kind, spec=None: asked.append(kind) or fake)
    spec = replace(pypi_spec(), kind="conda", decorator="@conda")
    lock = manager.resolve(spec, settings, platform="x86_64-manylinux_2_28")
    assert lock.kind == "conda" and lock.platform == "linux-64"
    assert lock.requested["channels"] == ["conda-forge"]
    manager.build(lock, settings)
    assert asked == ["conda", "conda"]


def test_a_missing_backend_is_an_env_error() -> None:
    with pytest.raises(EnvError, match="cannot be loaded") as caught:
        manager._backend("nosuchkind")
    assert caught.value.fix and "pip install" in caught.value.fix
    assert "grange.environments.nosuchkind" not in sys.modules


def test_a_relative_cache_is_made_absolute(
    backend: FakeBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = manager.prepare(pypi_spec(), EnvSettings(cache_dir=Path("rel")))
    assert env.prefix.is_absolute() and env.prefix.is_relative_to(tmp_path / "rel")
    assert all(Path(p).is_absolute() for p in env.pythonpath)


def test_a_cached_lock_records_what_this_step_asked(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    first = manager.resolve(pypi_spec(), settings)
    other = replace(pypi_spec(("Tabulate", "==0.9.0")), decorator="@pypi_base", step="end")
    again = manager.resolve(other, settings)
    assert backend.locks == 1
    assert again.sha == first.sha and again.key == first.key
    assert again.requested == {
        "packages": {"Tabulate": "==0.9.0"},
        "python": None,
        "decorator": "@pypi_base",
    }


# -- a datastore's packages (S3: obstore, boto3) ---------------------------------------


def test_datastore_packages_are_the_host_s(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    assert manager.datastore_packages("local") == ()
    monkeypatch.setattr(
        metadata,
        "version",
        lambda name: {"obstore": "0.12.1"}[name] if name == "obstore" else "1.40.0",
    )
    assert manager.datastore_packages("s3") == (("obstore", "0.12.1"),)
    assert manager.datastore_packages("s3", boto3=True) == (
        ("obstore", "0.12.1"),
        ("boto3", "1.40.0"),
    )


RUNTIME = (("obstore", "0.12.1"),)


def test_pypi_resolves_the_runtime_s_packages_too(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    lock = manager.resolve(pypi_spec(), settings, runtime=RUNTIME)
    assert sorted(p["name"] for p in lock.packages) == ["obstore", "tabulate"]
    assert lock.requested["packages"] == {"tabulate": "0.9.0"}  # what the step asked
    assert lock.key == manager.spec_key(pypi_spec(), settings, runtime=RUNTIME)
    assert lock.key != manager.spec_key(pypi_spec(), settings)
    # A step naming the package itself keeps its own version.
    own = manager.resolve(pypi_spec(("obstore", "0.11.0")), settings, runtime=RUNTIME)
    assert [(p["name"], p["version"]) for p in own.packages] == [("obstore", "0.11.0")]
    env = manager.build(lock, settings, runtime=RUNTIME)
    assert "obstore" not in os.listdir(env.pythonpath[0])  # the env has its own


def test_conda_gets_the_runtime_s_packages_from_the_shim(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    pytest.importorskip("obstore")
    spec = replace(pypi_spec(), kind="conda", decorator="@conda")
    plain = manager.spec_key(spec, settings)
    assert manager.spec_key(spec, settings, runtime=RUNTIME) == plain
    env = manager.prepare(spec, settings, runtime=RUNTIME)
    names = os.listdir(env.pythonpath[0])
    assert "obstore" in names and any(n.startswith("obstore-") for n in names)
    assert "obstore" not in os.listdir(manager.prepare(spec, settings).pythonpath[0])


def test_conda_with_another_python_on_s3_is_refused(
    backend: FakeBackend, settings: EnvSettings
) -> None:
    running = ".".join(map(str, sys.version_info[:2]))
    other = "3.10" if running != "3.10" else "3.12"
    spec = replace(pypi_spec(), kind="conda", decorator="@conda", python=other)
    for call in (manager.spec_key, manager.resolve, manager.prepare):
        with pytest.raises(EnvError, match=f"Python {other}") as err:
            call(spec, settings, runtime=RUNTIME)
        assert err.value.line == 12 and f'python="{running}"' in (err.value.fix or "")
    assert backend.locks == 0
    manager.spec_key(replace(spec, python=running), settings, runtime=RUNTIME)  # same x.y: fine


def test_conda_before_python_3_11_gets_tomli(backend: FakeBackend, settings: EnvSettings) -> None:
    """grange reads its profile with tomli there: the solve includes it (the conda
    way: a package of the environment), unless the step names it."""
    spec = replace(pypi_spec(), kind="conda", decorator="@conda", python="3.10")
    lock = manager.resolve(spec, settings)
    assert [(p["name"], p["version"]) for p in lock.packages] == [
        ("tabulate", "0.9.0"),
        ("tomli", ">=2"),
    ]
    assert lock.requested["packages"] == {"tabulate": "0.9.0"}
    own = replace(spec, packages=(("tabulate", "0.9.0"), ("tomli", "2.0.1")))
    assert ("tomli", "2.0.1") in [
        (p["name"], p["version"]) for p in manager.resolve(own, settings).packages
    ]
    newer = manager.resolve(replace(spec, python="3.11"), settings)
    assert [p["name"] for p in newer.packages] == ["tabulate"]


def test_conda_tomli_spec_is_a_valid_match_spec() -> None:
    rattler = pytest.importorskip("rattler")
    from grange.environments import conda_specs

    spec = replace(pypi_spec(("tomli", ">=2")), kind="conda", decorator="@conda")
    assert next(str(m) for m in conda_specs.match_specs(spec, rattler)).startswith("tomli")
