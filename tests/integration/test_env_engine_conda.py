"""The ``@conda`` backend for real: py-rattler solves against a local channel built by
``tests/conda_channel.py`` and installs into a folder whose interpreter imports what
the lock holds and nothing of the host's. (No conda-forge here: its ``python`` is
replaced by the channel's test-only stub, a venv of the interpreter running the tests.)
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import importlib.metadata
import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import grange
from conda_channel import HOST_PYTHON, session_settings
from grange.decorators.options import EnvSpec
from grange.environments import conda, manager
from grange.environments.conda_specs import local_folder
from grange.environments.envlock import EnvLock, Resolved
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

rattler = pytest.importorskip("rattler")

PLATFORM = str(rattler.Subdir.current())


def spec(*packages: tuple[str, str], python: str | None = None) -> EnvSpec:
    return EnvSpec(
        kind="conda",
        packages=tuple(sorted(packages)),
        python=python,
        step="train",
        decorator="@conda",
        file="/flows/flow.py",
        line=12,
    )


def as_lock(resolved: Resolved) -> EnvLock:
    return EnvLock(
        kind="conda",
        key="k",
        python=resolved.python,
        platform=PLATFORM,
        text=resolved.text,
        tool=resolved.tool,
        packages=resolved.packages,
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> EnvSettings:
    return session_settings(tmp_path_factory)


@pytest.fixture(scope="module")
def resolved(settings: EnvSettings) -> Resolved:
    return conda.lock(spec(("grange-testpkg", "1.0")), settings, python=None, platform=PLATFORM)


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)


def test_the_lock_is_rattlers_lock_file_of_the_solution(resolved: Resolved) -> None:
    names = [(p["name"], p["version"]) for p in resolved.packages]
    assert names == [("grange-testpkg", "1.0"), ("python", HOST_PYTHON)]
    assert resolved.python == HOST_PYTHON
    assert resolved.tool == f"py-rattler {importlib.metadata.version('py-rattler')}"
    assert resolved.text.startswith("version: ")
    for package in resolved.packages:
        assert set(package) == {"name", "version", "build", "url", "sha256", "md5"}
        assert len(package["sha256"]) == 64 and len(package["md5"]) == 32
        assert package["url"].startswith("file://")
        assert package["sha256"] in resolved.text


def test_the_installed_env_imports_the_package_and_is_its_own_prefix(
    resolved: Resolved, settings: EnvSettings, tmp_path: Path
) -> None:
    target = tmp_path / "env"
    python = conda.install(as_lock(resolved), settings, target)
    assert python == target / "bin" / "python"
    done = run(python, "import sys, grange_testpkg as m; print(m.VERSION, m.WHERE, sys.prefix)")
    assert done.returncode == 0, done.stderr
    version, where, prefix = done.stdout.split()
    assert version == "1.0"
    assert Path(where).is_relative_to(target)
    assert Path(prefix) == target
    shown = subprocess.run([str(python), "-m", "grange_testpkg"], capture_output=True, text=True)
    assert shown.stdout.startswith(f"grange-testpkg 1.0 from {target}")
    # the host's site-packages are not visible inside...
    assert run(python, "import pytest").returncode != 0
    # ...and the environment's package is not visible outside
    assert importlib.util.find_spec("grange_testpkg") is None
    assert run(Path(sys.executable), "import grange_testpkg").returncode != 0


def test_a_lock_installs_again_without_solving(
    resolved: Resolved, settings: EnvSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("install must not solve")

    monkeypatch.setattr(rattler, "solve", no_solve)
    lock = EnvLock.from_dict(as_lock(resolved).to_dict())  # as stored, then read back
    for name in ("one", "two"):
        python = conda.install(lock, settings, tmp_path / name)
        assert run(python, "import grange_testpkg").returncode == 0


def test_a_pinned_version_is_the_one_solved(settings: EnvSettings) -> None:
    got = conda.lock(spec(("grange-testpkg", "2.0")), settings, python=None, platform=PLATFORM)
    assert ("grange-testpkg", "2.0") in [(p["name"], p["version"]) for p in got.packages]
    latest = conda.lock(spec(("grange-testpkg", "")), settings, python=None, platform=PLATFORM)
    assert ("grange-testpkg", "2.0") in [(p["name"], p["version"]) for p in latest.packages]
    older = conda.lock(spec(("grange-testpkg", "<2")), settings, python=None, platform=PLATFORM)
    assert ("grange-testpkg", "1.0") in [(p["name"], p["version"]) for p in older.packages]


def test_an_exact_python_is_honoured(settings: EnvSettings) -> None:
    got = conda.lock(
        spec(("grange-testpkg", "1.0")), settings, python=HOST_PYTHON, platform=PLATFORM
    )
    assert got.python == HOST_PYTHON


@pytest.mark.parametrize(
    ("packages", "python", "says"),
    [
        ((("grange-testpkg", ">=3"),), None, "No candidates were found for grange-testpkg >=3"),
        ((("grange-nosuch", ""),), None, "No candidates were found for grange-nosuch"),
        ((), "2.7", "No candidates were found for python 2.7.*"),
    ],
)
def test_what_cannot_be_solved_names_step_decorator_and_specs(
    settings: EnvSettings, packages: tuple[tuple[str, str], ...], python: str | None, says: str
) -> None:
    with pytest.raises(EnvError) as err:
        conda.lock(spec(*packages), settings, python=python, platform=PLATFORM)
    error = err.value
    assert error.message.startswith("@conda: cannot solve ")
    assert says in error.message
    assert settings.channels[0] in error.message
    assert (error.step, error.file, error.line) == ("train", "/flows/flow.py", 12)
    assert "flow.py:12, step 'train'" in str(error)
    assert "@conda(packages=...)" in (error.fix or "")


def test_a_channel_folder_that_does_not_exist(settings: EnvSettings, tmp_path: Path) -> None:
    missing = tmp_path / "no-channel"
    changed = EnvSettings(cache_dir=settings.cache_dir, channels=(str(missing),))
    with pytest.raises(EnvError) as err:
        conda.lock(spec(("grange-testpkg", "")), changed, python=None, platform=PLATFORM)
    assert err.value.message == (
        f"@conda: the conda channel {missing.as_uri()} does not exist (no folder {missing})"
    )


def test_a_folder_that_is_no_channel(settings: EnvSettings, tmp_path: Path) -> None:
    changed = EnvSettings(cache_dir=settings.cache_dir, channels=(str(tmp_path),))
    with pytest.raises(EnvError) as err:
        conda.lock(spec(("grange-testpkg", "")), changed, python=None, platform=PLATFORM)
    assert f"{tmp_path.as_uri()} is not a conda channel" in err.value.message
    assert "noarch/repodata.json" in (err.value.fix or "")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/x", "http://grange-no-such-host.invalid/conda"]
)  # connection refused; a name that never resolves (RFC 2606)
def test_an_unreachable_channel_is_no_network(settings: EnvSettings, url: str) -> None:
    changed = EnvSettings(cache_dir=settings.cache_dir, channels=(url,))
    with pytest.raises(EnvError) as err:
        conda.lock(spec(("grange-testpkg", "")), changed, python=None, platform=PLATFORM)
    assert err.value.message.startswith(f"@conda: no network to the conda channel {url} (")
    assert "offline = true" in (err.value.fix or "")
    assert "[environments] channels" in (err.value.fix or "")


def test_offline_solves_a_local_channel_and_refuses_an_uncached_one(
    settings: EnvSettings,
) -> None:
    offline = EnvSettings(cache_dir=settings.cache_dir, channels=settings.channels, offline=True)
    got = conda.lock(spec(("grange-testpkg", "1.0")), offline, python=None, platform=PLATFORM)
    assert ("grange-testpkg", "1.0") in [(p["name"], p["version"]) for p in got.packages]
    remote = EnvSettings(
        cache_dir=settings.cache_dir, channels=("http://127.0.0.1:9/x",), offline=True
    )
    with pytest.raises(EnvError) as err:
        conda.lock(spec(("grange-testpkg", "")), remote, python=None, platform=PLATFORM)
    assert err.value.message == (
        "@conda: offline, and no repodata of the conda channel http://127.0.0.1:9/x is cached"
    )


def test_solving_inside_a_running_event_loop(settings: EnvSettings) -> None:
    async def inside() -> Resolved:
        return conda.lock(spec(("grange-testpkg", "1.0")), settings, python=None, platform=PLATFORM)

    got = asyncio.run(inside())
    assert ("grange-testpkg", "1.0") in [(p["name"], p["version"]) for p in got.packages]


def test_the_default_channel_gives_click_and_pathspec(
    settings: EnvSettings, tmp_path: Path
) -> None:
    """grange's task-path dependencies, repackaged from the host, solve and import."""
    got = conda.lock(
        spec(("click", ""), ("pathspec", "")), settings, python=None, platform=PLATFORM
    )
    python = conda.install(as_lock(got), settings, tmp_path / "env")
    assert run(python, "import click, pathspec").returncode == 0


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing early (rattler after a 404) is no test failure


@pytest.fixture(scope="module")
def http_channel(settings: EnvSettings) -> Iterator[str]:
    """The session's channel served over HTTP on loopback (as conda-forge would be)."""
    folder = local_folder(settings.channels[0])
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_an_http_channel_downloads_once_then_builds_offline(
    http_channel: str, tmp_path: Path
) -> None:
    online = EnvSettings(cache_dir=tmp_path / "cache", channels=(http_channel,))
    got = conda.lock(spec(("grange-testpkg", "1.0")), online, python=None, platform=PLATFORM)
    assert all(p["url"].startswith(http_channel) for p in got.packages)
    lock = as_lock(got)
    # offline, with nothing in the package cache: refused before anything is fetched
    empty = EnvSettings(cache_dir=tmp_path / "empty", channels=(http_channel,), offline=True)
    with pytest.raises(EnvError) as err:
        conda.install(lock, empty, tmp_path / "never")
    assert "offline, and the conda package " in err.value.message
    assert "is not in the package cache" in err.value.message
    assert not (tmp_path / "never").exists()
    # online: downloaded into <cache>/conda-pkgs
    python = conda.install(lock, online, tmp_path / "env")
    assert run(python, "import grange_testpkg").returncode == 0
    assert (tmp_path / "cache" / "conda-pkgs" / "grange-testpkg-1.0-py_0").is_dir()
    # offline now: the repodata and the packages come from the cache
    offline = EnvSettings(cache_dir=tmp_path / "cache", channels=(http_channel,), offline=True)
    again = conda.lock(spec(("grange-testpkg", "1.0")), offline, python=None, platform=PLATFORM)
    assert again.packages == got.packages
    python = conda.install(as_lock(again), offline, tmp_path / "env2")
    assert run(python, "import grange_testpkg").returncode == 0


def test_an_http_folder_that_is_no_channel(http_channel: str, tmp_path: Path) -> None:
    changed = EnvSettings(cache_dir=tmp_path, channels=(f"{http_channel}/nothing-here",))
    with pytest.raises(EnvError) as err:
        conda.lock(spec(("grange-testpkg", "")), changed, python=None, platform=PLATFORM)
    assert f"{http_channel}/nothing-here is not a conda channel" in err.value.message


def test_downloading_with_no_network_is_said_so(
    resolved: Resolved, settings: EnvSettings, tmp_path: Path
) -> None:
    folder = local_folder(settings.channels[0])
    assert folder is not None
    unreachable = resolved.text.replace(folder.as_uri(), "http://127.0.0.1:9/chan")
    unreachable = unreachable.replace(str(folder), "http://127.0.0.1:9/chan")
    assert unreachable != resolved.text
    lock = EnvLock(
        kind="conda", key="k", python=HOST_PYTHON, platform=PLATFORM, text=unreachable, tool=""
    )
    fresh = EnvSettings(cache_dir=tmp_path / "cache")
    with pytest.raises(EnvError) as err:
        conda.install(lock, fresh, tmp_path / "env")
    assert err.value.message.startswith("no network to download the conda packages of lock ")


def test_files_holding_the_prefix_name_the_final_folder_after_the_rename(
    settings: EnvSettings, tmp_path: Path
) -> None:
    """Built beside its final place and renamed (as the manager does), a conda
    environment's scripts and text files must name the final place."""
    got = conda.lock(spec(("grange-testscript", "1.0")), settings, python=None, platform=PLATFORM)
    lock = as_lock(got)
    final = tmp_path / "env"
    temp = tmp_path / ".env.tmp-1"
    temp.mkdir()
    conda.install(lock, settings, temp, final=final)
    temp.rename(final)
    assert (final / "share/grange-testscript/prefix.txt").read_text() == f"{final}\n"
    done = subprocess.run([str(final / "bin/grange-testscript")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(final)
    # without final=, they name where it was built (why the manager must pass it)
    built_here = tmp_path / "here"
    conda.install(lock, settings, built_here)
    assert (built_here / "share/grange-testscript/prefix.txt").read_text() == f"{built_here}\n"


# -- through the environments manager (key, lock cache, env cache, rename, shim) -----


def test_prepare_builds_a_conda_env_once_and_runs_grange_in_it(
    settings: EnvSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = replace(settings, cache_dir=tmp_path / "cache")
    conda_spec = spec(("grange-testpkg", "1.0"))
    prepared = manager.prepare(conda_spec, fresh)
    assert prepared.lock.kind == "conda"
    assert prepared.lock.tool.startswith("py-rattler ")
    assert prepared.lock.platform == PLATFORM
    assert prepared.lock.requested["channels"] == list(settings.channels)
    assert prepared.python == prepared.prefix / "bin" / "python"
    code = (
        "import sys, grange, click, pathspec, grange_testpkg as m; "
        "print(sys.prefix); print(m.WHERE); print(grange.__file__)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(prepared.pythonpath)}
    done = subprocess.run(
        [str(prepared.python), "-c", code], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    prefix, where, grange_file = done.stdout.split()
    assert Path(prefix) == prepared.prefix
    assert Path(where).is_relative_to(prepared.prefix)
    assert Path(grange_file).resolve() == Path(grange.__file__).resolve()

    # warm: the key's lock and the built env are reused, rattler is not called
    def no_rattler(*args: object, **kwargs: object) -> None:
        raise AssertionError("a warm prepare must not solve or install")

    monkeypatch.setattr(rattler, "solve", no_rattler)
    monkeypatch.setattr(rattler, "install", no_rattler)
    again = manager.prepare(conda_spec, fresh)
    assert (again.prefix, again.python, again.lock) == (
        prepared.prefix,
        prepared.python,
        prepared.lock,
    )


def test_prepare_from_a_recorded_lock_does_not_solve(
    settings: EnvSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conda_spec = spec(("grange-testpkg", "2.0"))
    lock = manager.resolve(conda_spec, replace(settings, cache_dir=tmp_path / "first"))

    def no_solve(*args: object, **kwargs: object) -> None:
        raise AssertionError("a recorded lock is never solved again")

    monkeypatch.setattr(rattler, "solve", no_solve)
    prepared = manager.prepare(
        conda_spec, replace(settings, cache_dir=tmp_path / "other"), lock=lock
    )
    assert (
        run(prepared.python, "import grange_testpkg as m; assert m.VERSION == '2.0'").returncode
        == 0
    )


def test_prepare_writes_the_final_prefix_into_conda_files(
    settings: EnvSettings, tmp_path: Path
) -> None:
    prepared = manager.prepare(
        spec(("grange-testscript", "1.0")), replace(settings, cache_dir=tmp_path / "cache")
    )
    text = (prepared.prefix / "share/grange-testscript/prefix.txt").read_text()
    assert text == f"{prepared.prefix}\n"


PY310 = sorted(Path.home().glob(".pyenv/versions/3.10*/bin/python3.10"))


@pytest.mark.skipif(not PY310, reason="no Python 3.10 (pyenv) on this machine")
def test_python_3_10_gets_tomli(tmp_path: Path) -> None:
    """A @conda environment of Python 3.10 has tomli (grange reads its profile with it
    there), solved from the channel as any package."""
    from conda_channel import Package, build_channel, host_subdir, noarch_python

    host = os.path.realpath(PY310[-1])
    version = subprocess.run(
        [host, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    cfg = f"home = {os.path.dirname(host)}\ninclude-system-site-packages = false\nversion = {version}\n"
    stub = Package(
        name="python",
        version=version,
        build="grange_test_stub_0",
        subdir=host_subdir(),
        files={"pyvenv.cfg": cfg.encode(), "lib/python3.10/site-packages/.keep": b""},
        symlinks={"bin/python": host, "bin/python3": "python", "bin/python3.10": "python"},
    )
    tomli = noarch_python("tomli", "2.0.1", {"tomli/__init__.py": "VERSION = '2.0.1'\n"})
    url = build_channel(tmp_path / "channel", [stub, tomli])
    settings = EnvSettings(cache_dir=tmp_path / "cache", channels=(url,))
    env = manager.prepare(spec(python="3.10"), settings)
    assert [p["name"] for p in env.lock.packages if p["name"] == "tomli"] == ["tomli"]
    done = run(env.python, "import sys, tomli; print(sys.version_info[:2], tomli.VERSION)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(3, 10) 2.0.1"


def test_on_s3_the_shim_brings_the_host_s_obstore(settings: EnvSettings) -> None:
    """A task on an S3 datastore imports obstore: a @conda environment of the host's
    Python gets the host's (the lock is unchanged)."""
    pytest.importorskip("obstore")
    runtime = manager.datastore_packages("s3")
    env = manager.prepare(spec(("grange-testpkg", "1.0")), settings, runtime=runtime)
    plain = manager.prepare(spec(("grange-testpkg", "1.0")), settings)
    assert env.lock == plain.lock and env.prefix == plain.prefix
    code = "import obstore, grange_testpkg; print(grange_testpkg.VERSION)"
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(env.pythonpath)}
    done = subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, env=environ
    )
    assert done.returncode == 0, done.stderr
    environ["PYTHONPATH"] = os.pathsep.join(plain.pythonpath)
    done = subprocess.run(
        [str(env.python), "-c", code], capture_output=True, text=True, env=environ
    )
    assert "No module named 'obstore'" in done.stderr
