"""The @pypi engine against real uv and PyPI: resolve ``tabulate==0.9.0`` to a lock,
build it into a cached environment, and use it; the errors a user can cause."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from env_support import TABULATE, fresh_settings, host_has, pypi_spec, uv_available
from grange.datastore.backend import MemoryBlobStore
from grange.environments import manager
from grange.environments.envlock import PreparedEnv
from grange.exceptions import EnvError

pytestmark = pytest.mark.skipif(not uv_available(), reason="uv is not installed")


def in_env(env: PreparedEnv, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` with the environment's Python, as a step is launched in it."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(env.pythonpath)}
    return subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, env=environ
    )


def test_resolve_build_and_use_tabulate(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path / "cache")
    lock = manager.resolve(pypi_spec(), settings)
    (package,) = lock.packages
    assert package["name"] == "tabulate"
    assert package["version"] == "0.9.0"
    assert len(package["sha256"]) == 64
    assert package["url"].endswith(".whl")
    assert lock.kind == "pypi" and lock.tool.startswith("uv ")
    assert lock.requested["packages"] == {"tabulate": "0.9.0"}

    env = manager.build(lock, settings)
    assert env.prefix.parent == settings.cache_dir / "envs"
    assert env.prefix.name == lock.sha[:16]
    assert (env.prefix / "grange-lock.json").is_file()
    done = in_env(env, "import tabulate, grange; print(tabulate.__version__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0.9.0"
    # Isolation: the host's packages (numpy, if the host has it) are not in the env ...
    if host_has("numpy"):
        done = in_env(env, "import numpy")
        assert "No module named 'numpy'" in done.stderr
    # ... and the env's are not on the host.
    if not host_has("tabulate"):
        with pytest.raises(ImportError):
            __import__("tabulate")


def test_a_flow_runs_in_the_environment(tmp_path: Path) -> None:
    """grange (from the shim) runs a whole flow with the environment's interpreter, and
    its steps import the environment's package."""
    env = manager.prepare(pypi_spec(), fresh_settings(tmp_path / "cache"))
    flow = tmp_path / "envflow.py"
    flow.write_text(
        "from grange import FlowSpec, step\n"
        "class EnvFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        import tabulate\n"
        "        self.version = tabulate.__version__\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        print('tabulate', self.version)\n"
        "if __name__ == '__main__':\n"
        "    EnvFlow()\n"
    )
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(env.pythonpath),
        "GRANGE_DATASTORE_ROOT": str(tmp_path / ".grange"),
        "USER": "tester",
    }
    done = subprocess.run(
        [str(env.python), str(flow), "run", "--no-fork"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tabulate 0.9.0" in done.stdout + done.stderr


def test_warm_prepare_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = fresh_settings(tmp_path / "cache")
    first = manager.prepare(pypi_spec(), settings)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a process was started on the warm path: {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    again = manager.prepare(pypi_spec(), settings)
    assert again == first


def test_a_stored_lock_rebuilds_the_same_environment(tmp_path: Path) -> None:
    blobs = MemoryBlobStore()
    lock = manager.resolve(pypi_spec(), fresh_settings(tmp_path / "one"))
    key = manager.store_lock(blobs, lock)
    elsewhere = fresh_settings(tmp_path / "two")  # another machine: nothing cached
    env = manager.prepare(pypi_spec(), elsewhere, lock=manager.load_lock(blobs, key))
    assert env.lock == lock
    assert not (elsewhere.cache_dir / "locks").exists()  # no resolution
    assert in_env(env, "import tabulate").returncode == 0


def test_a_damaged_environment_is_rebuilt(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path / "cache")
    env = manager.prepare(pypi_spec(), settings)
    env.python.unlink()
    again = manager.prepare(pypi_spec(), settings)
    assert again.python.exists()
    assert in_env(again, "import tabulate").returncode == 0


def test_empty_package_set(tmp_path: Path) -> None:
    spec = pypi_spec(("tabulate", "0.9.0"))
    empty = type(spec)(kind="pypi", packages=(), step="start", decorator="@pypi")
    env = manager.prepare(empty, fresh_settings(tmp_path / "cache"))
    assert env.lock.packages == ()
    assert in_env(env, "import grange").returncode == 0


def test_no_such_package(tmp_path: Path) -> None:
    spec = pypi_spec(("grange-no-such-package-xyz", "1.0"))
    with pytest.raises(EnvError) as caught:
        manager.resolve(spec, fresh_settings(tmp_path / "cache"))
    err = caught.value
    assert err.step == "start" and err.file == "flow.py" and err.line == 12
    assert err.message.startswith("@pypi: cannot resolve grange-no-such-package-xyz==1.0")
    assert "was not found in the package registry" in err.message
    assert "Traceback" not in err.render()


def test_no_such_version(tmp_path: Path) -> None:
    with pytest.raises(EnvError) as caught:
        manager.resolve(pypi_spec(("tabulate", "99.0")), fresh_settings(tmp_path / "cache"))
    message = caught.value.message
    assert "cannot resolve tabulate==99.0" in message
    assert "there is no version of tabulate==99.0" in message
    assert len(message.splitlines()) <= 16


def test_no_such_python(tmp_path: Path) -> None:
    with pytest.raises(EnvError) as caught:
        manager.resolve(pypi_spec(python="3.99"), fresh_settings(tmp_path / "cache"))
    err = caught.value
    assert "no Python 3.99 found for @pypi on step 'start'" in err.message
    assert err.fix and "put it on PATH" in err.fix and "drop python=" in err.fix


def test_unreachable_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    settings = fresh_settings(tmp_path / "cache", index_url="http://127.0.0.1:9/simple")
    spec = pypi_spec(("grange-unreachable-pkg", "1.0"))
    with pytest.raises(EnvError) as caught:
        manager.resolve(spec, settings)
    err = caught.value
    assert "no network to the package index http://127.0.0.1:9/simple" in err.message
    assert err.fix and "offline = true" in err.fix and "index_url" in err.fix


def test_offline_with_a_cold_cache(tmp_path: Path) -> None:
    empty_uv = tmp_path / "empty-uv"
    empty_uv.mkdir()
    settings = fresh_settings(tmp_path / "cache", offline=True)
    (settings.cache_dir / "uv").unlink()
    (settings.cache_dir / "uv").symlink_to(empty_uv)
    with pytest.raises(EnvError) as caught:
        manager.resolve(pypi_spec(), settings)
    message = caught.value.message
    assert "offline" in message and str(settings.cache_dir / "uv") in message


def test_offline_with_a_warm_cache(tmp_path: Path) -> None:
    manager.prepare(pypi_spec(), fresh_settings(tmp_path / "online"))  # fills uv's cache
    offline = fresh_settings(tmp_path / "offline", offline=True)
    env = manager.prepare(pypi_spec(), offline)
    assert in_env(env, "import tabulate").returncode == 0


def test_a_pod_lock_is_resolved_for_the_pod_platform(tmp_path: Path) -> None:
    settings = fresh_settings(tmp_path / "cache")
    lock = manager.resolve(pypi_spec(), settings, platform="aarch64-manylinux_2_28")
    assert lock.platform == "aarch64-manylinux_2_28"
    assert lock.packages[0]["name"] == TABULATE[0]
    if not manager.host_platform().startswith("aarch64"):
        with pytest.raises(EnvError, match="not this machine"):
            manager.build(lock, settings)
