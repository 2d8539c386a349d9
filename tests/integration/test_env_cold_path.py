"""@pypi's cold path against real uv and PyPI: with ``manager.SPECULATE`` on, when a
spec's lock is not cached, ``prepare`` installs its requirements while it resolves
them, then syncs that environment to the lock, so the environment is exactly the
lock's even when what was installed early differs from it. (And what an S3 datastore
adds to a @pypi environment.)"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from env_support import TABULATE, fresh_settings, pypi_spec, uv_available
from grange.environments import manager, pypi
from grange.exceptions import EnvError

pytestmark = pytest.mark.skipif(not uv_available(), reason="uv is not installed")


@pytest.fixture(autouse=True)
def speculate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The concurrent install is off by default (manager.SPECULATE): on here."""
    monkeypatch.setattr(manager, "SPECULATE", True)


LIST = (
    "import importlib.metadata as m, json, re; print(json.dumps(sorted("
    "(re.sub('[-_.]+', '-', d.metadata['Name']).lower(), d.version) for d in m.distributions())))"
)


def installed(python: Path) -> list[tuple[str, str]]:
    done = subprocess.run([str(python), "-I", "-c", LIST], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return [tuple(pair) for pair in json.loads(done.stdout)]


def test_the_early_install_is_synced_to_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The concurrent install put another tabulate and a package the lock lacks (six)
    into the environment: the sync replaces the one and removes the other."""
    early: dict[str, Any] = {}
    real = pypi.speculate

    def speculate_otherwise(spec: Any, settings: Any, **kw: Any) -> Any:
        other = pypi_spec(("tabulate", "0.8.10"), ("six", "1.16.0"))
        started = real(other, settings, **kw)
        assert started is not None
        real_wait = started.wait

        def wait() -> bool:
            made = real_wait()
            early["packages"] = installed(kw["target"] / "bin" / "python")
            return made

        started.wait = wait
        return started

    monkeypatch.setattr(pypi, "speculate", speculate_otherwise)
    settings = fresh_settings(tmp_path / "cache")
    env = manager.prepare(pypi_spec(), settings)
    assert ("tabulate", "0.8.10") in early["packages"]
    assert ("six", "1.16.0") in early["packages"]
    assert installed(env.python) == [TABULATE]
    assert env.prefix == settings.cache_dir / "envs" / env.lock.sha[:16]
    assert not [p.name for p in env.prefix.parent.iterdir() if "seed" in p.name]
    assert [p["name"] for p in env.lock.packages] == ["tabulate"]


def test_the_cold_path_builds_what_build_would(tmp_path: Path) -> None:
    """prepare (cold: concurrent install) and resolve + build give one environment."""
    one = manager.prepare(pypi_spec(), fresh_settings(tmp_path / "one"))
    settings = fresh_settings(tmp_path / "two")
    two = manager.build(manager.resolve(pypi_spec(), settings), settings)
    assert one.lock.sha == two.lock.sha
    assert installed(one.python) == installed(two.python) == [TABULATE]
    # A warm prepare finds it: no new folder.
    again = manager.prepare(pypi_spec(), fresh_settings(tmp_path / "one"))
    assert again.prefix == one.prefix


def test_a_failed_resolution_leaves_no_seed(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path / "cache")
    with pytest.raises(EnvError, match="cannot resolve"):
        manager.prepare(pypi_spec(("tabulate", "99.0")), settings)
    envs = settings.cache_dir / "envs"
    assert not envs.exists() or not list(envs.iterdir())
    work = settings.cache_dir / "tmp"
    assert not work.exists() or not list(work.iterdir())


def test_an_s3_task_s_packages_are_in_a_pypi_environment(tmp_path: Path) -> None:
    """On an S3 datastore a task imports obstore (compiled): the runtime's pin joins
    the resolution, so the environment imports it (any Python, and in pods)."""
    pytest.importorskip("obstore")
    runtime = manager.datastore_packages("s3")
    settings = fresh_settings(tmp_path / "cache")
    env = manager.prepare(pypi_spec(), settings, runtime=runtime)
    assert sorted(installed(env.python)) == sorted([TABULATE, *runtime, *extras(env)])
    done = subprocess.run(
        [str(env.python), "-c", "import obstore, tabulate"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert env.lock.requested["packages"] == {"tabulate": "0.9.0"}


def extras(env: Any) -> list[tuple[str, str]]:
    """The lock's packages other than tabulate and obstore (their dependencies)."""
    return [
        (pypi.normal_name(p["name"]), p["version"])
        for p in env.lock.packages
        if p["name"] not in ("tabulate", "obstore")
    ]


def test_by_default_the_cold_path_installs_from_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manager, "SPECULATE", False)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("speculated")

    monkeypatch.setattr(pypi, "speculate", refuse)
    env = manager.prepare(pypi_spec(), fresh_settings(tmp_path / "cache"))
    assert installed(env.python) == [TABULATE]
