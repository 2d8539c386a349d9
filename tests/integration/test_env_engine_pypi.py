"""The @pypi engine against real uv and PyPI: resolve ``tabulate==0.9.0`` to a lock,
build it into a cached environment, and use it; the errors a user can cause."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grange
from env_support import (
    TABULATE,
    fresh_settings,
    host_has,
    other_python,
    pypi_spec,
    uv_available,
)
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
    done = in_env(env, "import tabulate, grange; print(tabulate.__version__, grange.__file__)")
    assert done.returncode == 0, done.stderr
    version, grange_file = done.stdout.split()
    assert version == "0.9.0"
    # grange is the running one (through the shim), not a copy installed in the env
    assert Path(grange_file).resolve() == Path(grange.__file__).resolve()
    assert not list(env.prefix.glob("lib/python*/site-packages/grange"))
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
    # An installed package's folder deleted by hand: found and rebuilt too.
    import shutil

    (dist,) = again.prefix.glob("lib/python*/site-packages/tabulate-*.dist-info")
    shutil.rmtree(dist)
    third = manager.prepare(pypi_spec(), settings)
    assert in_env(third, "import tabulate").returncode == 0 and dist.is_dir()


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


def test_an_old_click_is_refused_at_resolve_time(tmp_path: Path) -> None:
    """Tasks import click from the environment when it has one: a click grange cannot
    run with is said at resolve time, not as a crash of every task."""
    with pytest.raises(EnvError) as caught:
        manager.resolve(pypi_spec(("click", "7.1.2")), fresh_settings(tmp_path / "cache"))
    err = caught.value
    assert "has click 7.1.2" in err.message and "click>=8.2" in err.message
    assert err.step == "start" and err.fix and "click>=8.2" in err.fix


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


def test_a_pod_lock_needs_no_python_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pod's Python (3.12 here, with no 3.12 on PATH) is resolved for without an
    interpreter of it: uv resolves for x.y."""
    from grange.environments import uvtool

    settings = fresh_settings(tmp_path / "cache")
    monkeypatch.setenv("PATH", str(Path(uvtool.running_interpreter().path).parent))
    if uvtool.find_python("3.12", settings) is not None:
        pytest.skip("this machine has Python 3.12 beside the running one")
    lock = manager.resolve(pypi_spec(python="3.12"), settings, platform="aarch64-manylinux_2_28")
    assert lock.python == "3.12" and lock.packages[0]["name"] == TABULATE[0]
    with pytest.raises(EnvError) as caught:
        manager.resolve(pypi_spec(python="3.12"), settings)  # for here: needs one
    assert "no Python 3.12 found" in caught.value.message


# -- processes racing and dying ------------------------------------------------------

BUILDER = """
import json, os, sys, time
from pathlib import Path
from grange.decorators.options import EnvSpec
from grange.environments import manager
from grange.environments.envlock import Resolved
from grange.environments.settings import EnvSettings

cache, log, pause = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])

class Slow:
    def lock(self, spec, settings, *, python, platform):
        return Resolved(text="fixed lock\\n", tool="fake", packages=(), python=python)
    def install(self, lock, settings, target, *, final):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {target.name}\\n")
        (target / "bin").mkdir()
        (target / "bin" / "python").write_text("")
        time.sleep(pause)
        return target / "bin" / "python"

manager._backend = lambda kind, spec=None: Slow()
env = manager.prepare(EnvSpec(kind="pypi", step="start"), EnvSettings(cache_dir=cache))
print(json.dumps({"prefix": str(env.prefix), "python": str(env.python)}))
"""


def start_builder(tmp_path: Path, pause: float) -> subprocess.Popen[str]:
    script = tmp_path / "builder.py"
    script.write_text(BUILDER)
    return subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "cache"), str(tmp_path / "log"), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_processes_building_one_environment_build_it_once(tmp_path: Path) -> None:
    one, two = start_builder(tmp_path, 1.0), start_builder(tmp_path, 1.0)
    results = []
    for proc in (one, two):
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert results[0] == results[1]
    assert len((tmp_path / "log").read_text().splitlines()) == 1  # the other waited
    assert Path(results[0]["python"]).exists()


@pytest.mark.slow
def test_a_build_killed_midway_is_never_used(tmp_path: Path) -> None:
    proc = start_builder(tmp_path, 3600)
    log = tmp_path / "log"
    while not log.exists() or not log.read_text().endswith("\n"):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    envs = tmp_path / "cache" / "envs"
    leftovers = [p for p in envs.iterdir() if ".tmp-" in p.name]
    assert len(leftovers) == 1  # the half-built folder, never renamed into place
    assert not [p for p in envs.iterdir() if not p.name.startswith(".")]
    # The next build neither waits on the dead builder's lock nor uses its folder.
    again = start_builder(tmp_path, 0)
    out, err = again.communicate()
    assert again.returncode == 0, err
    assert len(log.read_text().splitlines()) == 2
    assert not leftovers[0].exists()
    assert Path(json.loads(out)["python"]).exists()


# -- another Python ------------------------------------------------------------------


@pytest.mark.slow
def test_another_python_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """python="3.X" finds that Python when it is on PATH; grange runs a flow there (a
    Python before 3.11 gets tomli in its lock: grange reads its profile with it)."""
    found = other_python(below=(3, 11)) or other_python()
    if found is None:
        pytest.skip("no other Python (pyenv) on this machine")
    minor, folder = found
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    settings = fresh_settings(tmp_path / "cache")
    env = manager.prepare(pypi_spec(python=minor), settings)
    assert env.lock.python.startswith(minor + ".")
    names = {p["name"] for p in env.lock.packages}
    assert ("tomli" in names) == (tuple(map(int, minor.split("."))) < (3, 11))
    done = in_env(env, "import sys, tabulate; print('%d.%d' % sys.version_info[:2])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == minor
    config = tmp_path / "config.toml"
    config.write_text('default_profile = "dev"\n[profiles.dev]\n')
    flow = tmp_path / "pyflow.py"
    flow.write_text(
        "import sys\n"
        "from grange import FlowSpec, step\n"
        "class PyFlow(FlowSpec):\n"
        "    @step\n"
        "    def start(self):\n"
        "        print('python %d.%d' % sys.version_info[:2])\n"
        "        self.next(self.end)\n"
        "    @step\n"
        "    def end(self):\n"
        "        pass\n"
        "if __name__ == '__main__':\n"
        "    PyFlow()\n"
    )
    environ = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(env.pythonpath),
        "GRANGE_DATASTORE_ROOT": str(tmp_path / ".grange"),
        "GRANGE_CONFIG": str(config),
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
    assert f"python {minor}" in done.stdout + done.stderr


@pytest.mark.slow
def test_two_processes_preparing_with_real_uv(tmp_path: Path) -> None:
    """Two runs starting at once on a cold environment cache (uv's package cache
    shared): one environment, no leftovers, both can use it."""
    settings = fresh_settings(tmp_path / "cache")
    script = tmp_path / "prepare.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from dataclasses import replace\n"
        "from grange.decorators.options import EnvSpec\n"
        "from grange.environments import manager\n"
        "from grange.environments.settings import EnvSettings\n"
        "settings = replace(EnvSettings.from_table({}, {}), cache_dir=Path(sys.argv[1]))\n"
        "spec = EnvSpec(kind='pypi', packages=(('tabulate', '0.9.0'),), step='start')\n"
        "print(manager.prepare(spec, settings).python)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(settings.cache_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        outs.append(out.strip())
    assert outs[0] == outs[1]
    envs = settings.cache_dir / "envs"
    assert [p.name for p in envs.iterdir() if not p.name.endswith(".lock")] == [
        Path(outs[0]).parent.parent.name
    ]
    env = manager.prepare(pypi_spec(), settings)
    assert in_env(env, "import tabulate").returncode == 0
