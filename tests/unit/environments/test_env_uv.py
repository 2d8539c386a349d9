"""uv's side: finding it, the environment it runs in, and its failures in a user's
terms (no traceback, uv's lines kept and trimmed)."""

from __future__ import annotations

import builtins
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from env_support import pypi_spec
from grange.environments import pypi, uvtool
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

SETTINGS = EnvSettings(cache_dir=Path("/c"), index_url="https://idx/simple")

NO_SOLUTION = """\
error: No solution found when resolving dependencies
  cause: Because there is no version of tabulate==99.0 and you require tabulate==99.0, we can conclude that your requirements are unsatisfiable.
"""
NETWORK = """\
error: Request failed after 3 retries in 7.2s
  cause: Failed to fetch: `http://127.0.0.1:9/simple/requests/`
  cause: error sending request for url (http://127.0.0.1:9/simple/requests/)
  cause: client error (Connect)
  cause: tcp connect error
  cause: Connection refused (os error 111)
"""
OFFLINE = """\
  cause: Because requests was not found in the cache and you require requests, we can conclude that your requirements are unsatisfiable.
hint: Packages were unavailable because the network was disabled. When the network is disabled, registry packages may only be read from the cache.
"""
NO_PYTHON = "error: No interpreter found for Python 3.14 in managed installations or search path\n"


def test_uv_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_uv(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uv":
            raise ImportError("No module named 'uv'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(builtins, "__import__", no_uv)
    uvtool.uv_binary.cache_clear()
    try:
        with pytest.raises(EnvError) as caught:
            uvtool.uv_binary()
    finally:
        uvtool.uv_binary.cache_clear()
    assert caught.value.message == "@pypi needs uv: pip install 'grange[pypi]'"


def test_uv_runs_with_grange_s_cache_and_without_the_user_s_index() -> None:
    env = uvtool.uv_env(
        EnvSettings(cache_dir=Path("/c"), offline=True),
        {
            "PATH": "/bin",
            "UV_INDEX_URL": "https://other",
            "UV_HTTP_TIMEOUT": "9",
            "VIRTUAL_ENV": "/v",
            "UV_PYTHON": "3.9",
            "PYTHONPATH": "/x",
        },
    )
    assert env["UV_CACHE_DIR"] == "/c/uv"
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert env["UV_OFFLINE"] == "1"
    assert env["UV_HTTP_TIMEOUT"] == "9" and env["PATH"] == "/bin"
    for gone in ("UV_INDEX_URL", "VIRTUAL_ENV", "UV_PYTHON", "PYTHONPATH"):
        assert gone not in env


def test_the_running_python_is_found_without_uv(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvtool, "run_uv", lambda *a, **k: pytest.fail("uv was run"))
    v = sys.version_info
    found = uvtool.find_python(f"{v.major}.{v.minor}", SETTINGS)
    assert found == uvtool.Interpreter(sys.executable, f"{v.major}.{v.minor}.{v.micro}")


@pytest.mark.parametrize(
    ("version", "request_", "ok"),
    [
        ("3.11.7", "3.11", True),
        ("3.11.7", "3.11.7", True),
        ("3.11.7", "3", True),
        ("3.11.7", "3.1", False),
        ("3.11.7", "3.11.8", False),
        ("3.1.2", "3.11", False),
    ],
)
def test_version_matching(version: str, request_: str, ok: bool) -> None:
    assert uvtool.matches(version, request_) is ok


def test_no_solution_keeps_uv_s_explanation() -> None:
    err = pypi._failure(NO_SOLUTION, pypi_spec(), SETTINGS, "cannot resolve tabulate==99.0")
    assert err.message.startswith("@pypi: cannot resolve tabulate==99.0:\n")
    assert "there is no version of tabulate==99.0" in err.message
    assert (err.step, err.file, err.line) == ("start", "flow.py", 12)


def test_no_network_says_so_and_points_at_the_cache() -> None:
    err = pypi._failure(NETWORK, pypi_spec(), SETTINGS, "cannot resolve x")
    assert "no network to the package index https://idx/simple" in err.message
    assert err.fix and "offline = true" in err.fix and "index_url" in err.fix


def test_offline_cache_miss_names_offline_and_the_cache() -> None:
    err = pypi._failure(OFFLINE, pypi_spec(), SETTINGS, "cannot resolve requests")
    assert "offline" in err.message and "/c/uv" in err.message
    assert err.fix and "offline = false" in err.fix


def test_a_missing_python_says_so() -> None:
    err = pypi._failure(NO_PYTHON, None, SETTINGS, "cannot create the environment")
    assert "the Python it needs is not on this machine" in err.message
    assert err.fix and "PATH" in err.fix


def test_long_messages_are_trimmed() -> None:
    text = "\n".join(f"  cause: line {i} " + "x" * 400 for i in range(40))
    out = pypi.trimmed("\x1b[31merror\x1b[0m: boom\nResolved 3 packages\n\n" + text)
    lines = out.splitlines()
    assert len(lines) == 15
    assert lines[0] == "  error: boom"
    assert lines[-1] == "  ... (27 more lines)"
    assert all(len(line) <= 302 for line in lines)


def test_tomli_is_added_before_python_3_11() -> None:
    assert pypi.requirement_lines(pypi_spec(), "3.10.13") == ["tabulate==0.9.0", "tomli>=2"]
    assert pypi.requirement_lines(pypi_spec(), "3.11.7") == ["tabulate==0.9.0"]
    mine = pypi_spec(("tomli", "2.0.1"))
    assert pypi.requirement_lines(mine, "3.10.13") == ["tomli==2.0.1"]


def test_pylock_packages() -> None:
    text = """
lock-version = "1.0"
[[packages]]
name = "b"
version = "2.0"
sdist = { url = "https://x/b-2.0.tar.gz", hashes = { sha256 = "bb" } }
[[packages]]
name = "a"
version = "1.0"
wheels = [{ url = "https://x/a-1.0-py3-none-any.whl", hashes = { sha256 = "aa" } }]
[[packages]]
name = "c"
vcs = { type = "git", url = "https://github.com/x/c", commit-id = "abc" }
"""
    assert pypi.parse_packages(text) == (
        {"name": "a", "version": "1.0", "url": "https://x/a-1.0-py3-none-any.whl", "sha256": "aa"},
        {"name": "b", "version": "2.0", "url": "https://x/b-2.0.tar.gz", "sha256": "bb"},
        {"name": "c", "version": "", "url": "https://github.com/x/c"},
    )
    with pytest.raises(EnvError, match="cannot be read"):
        pypi.parse_packages("not = [toml")


@pytest.mark.parametrize(
    ("version", "ok"),
    [("0.6.14", False), ("0.5.31", False), ("0.6.15", True), ("0.13.9", True), ("1.0", True)],
)
def test_an_old_uv_is_refused(version: str, ok: bool) -> None:
    if ok:
        uvtool.check_version(version)
    else:
        with pytest.raises(EnvError, match=f"uv {version} is too old"):
            uvtool.check_version(version)


def test_an_index_password_is_never_shown() -> None:
    settings = EnvSettings(cache_dir=Path("/c"), index_url="https://me:s3cret@idx/simple")
    stderr = NETWORK.replace("http://127.0.0.1:9", "https://me:s3cret@idx")
    err = pypi._failure(stderr, pypi_spec(), settings, "cannot resolve x")
    assert "s3cret" not in err.render()
    assert "https://me:***@idx/simple" in err.message


class RecordingUv:
    """``uvtool.run_uv`` that records its calls and answers ``codes`` in turn."""

    def __init__(self, *codes: int) -> None:
        self.calls: list[list[str]] = []
        self.codes = list(codes)

    def __call__(self, args: Any, settings: Any, **kw: Any) -> Any:
        import subprocess

        self.calls.append(list(args))
        return subprocess.CompletedProcess(args, self.codes.pop(0), "", "")


def seeded_target(tmp_path: Path) -> Path:
    target = tmp_path / "env"
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "python").write_text("")
    return target


def test_a_cold_cache_skips_the_offline_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from env_support import pypi_lock

    monkeypatch.setattr(uvtool, "uv_version", lambda: "uv 0.13.9")
    run = RecordingUv(0)
    monkeypatch.setattr(uvtool, "run_uv", run)
    settings = EnvSettings(cache_dir=tmp_path / "cache")
    pypi.install(pypi_lock(), settings, seeded_target(tmp_path))
    assert len(run.calls) == 1 and "--offline" not in run.calls[0]  # no venv: seeded


def test_a_warm_cache_is_tried_offline_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from env_support import pypi_lock

    monkeypatch.setattr(uvtool, "uv_version", lambda: "uv 0.13.9")
    settings = EnvSettings(cache_dir=tmp_path / "cache")
    (settings.cache_dir / "uv" / "wheels-v5").mkdir(parents=True)
    run = RecordingUv(1, 0)  # offline misses, online installs
    monkeypatch.setattr(uvtool, "run_uv", run)
    pypi.install(pypi_lock(), settings, seeded_target(tmp_path))
    assert ["--offline" in c for c in run.calls] == [True, False]
    # Offline settings: the cache only, even when it looks empty.
    offline = EnvSettings(cache_dir=tmp_path / "cold", offline=True)
    run = RecordingUv(0)
    monkeypatch.setattr(uvtool, "run_uv", run)
    pypi.install(pypi_lock(), offline, seeded_target(tmp_path / "2"))
    assert len(run.calls) == 1 and "--offline" in run.calls[0]


GIT_DNS = """error: Failed to download and build `pkg @ git+https://git.invalid/x/y`
  Caused by: Git operation failed
fatal: unable to access 'https://git.invalid/x/y/': Could not resolve host: git.invalid
"""
URL_DOWN = """error: Failed to download `pkg @ https://files.invalid/pkg-1.0-py3-none-any.whl`
  Caused by: Request failed after 3 retries
  Caused by: error sending request for url (https://files.invalid/pkg-1.0-py3-none-any.whl)
"""
INDEX_DOWN = """error: Request failed after 3 retries
  Caused by: Failed to fetch: `https://pypi.org/simple/tabulate/`
  Caused by: dns error: failed to lookup address information
"""


@pytest.mark.parametrize(
    ("stderr", "said"),
    [
        (GIT_DNS, "cannot reach git+https://git.invalid/x/y"),
        (URL_DOWN, "cannot reach https://files.invalid/pkg-1.0-py3-none-any.whl"),
        (INDEX_DOWN, "no network to the package index https://pypi.org/simple"),
    ],
)
def test_a_network_failure_names_what_could_not_be_reached(
    stderr: str, said: str, tmp_path: Path
) -> None:
    spec = pypi_spec(
        ("pkg", "@ git+https://git.invalid/x/y"),
        ("other", "@ https://files.invalid/pkg-1.0-py3-none-any.whl"),
    )
    err = pypi._failure(stderr, spec, EnvSettings(cache_dir=tmp_path), "cannot resolve")
    assert said in err.message and err.step == "start"
