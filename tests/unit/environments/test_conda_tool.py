"""``[environments] conda_tool = "micromamba"`` / ``"conda"``: the lock is installed by that
program from an explicit spec file, never solved again.

The real micromamba and conda are not on the test machines: a fake one on ``PATH``
records the command line it got and makes the prefix, so what is tested is the
command grange runs and how it reads the outcome, not micromamba itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conda_channel import session_settings
from grange.decorators.options import EnvSpec
from grange.environments import conda
from grange.environments.envlock import EnvLock
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

rattler = pytest.importorskip("rattler")

SPEC = EnvSpec(
    kind="conda",
    packages=(("grange-testpkg", "1.0"),),
    step="train",
    decorator="@conda",
    file="/flows/flow.py",
    line=12,
)

FAKE = """#!{python}
import json, os, sys
args = sys.argv[1:]
record = {{"argv": args, "pkgs_dirs": os.environ.get("CONDA_PKGS_DIRS")}}
record["explicit"] = open(args[args.index("--file") + 1]).read()
with open(os.environ["FAKE_CONDA_RECORD"], "w") as out:
    json.dump(record, out)
if os.environ.get("FAKE_CONDA_FAIL"):
    sys.stderr.write("critical libmamba Download error: nothing cached\\n")
    sys.exit(1)
prefix = args[args.index("-p") + 1]
if os.path.exists(prefix):  # as micromamba: no existing folder that is no conda prefix
    sys.exit("critical libmamba Non-conda folder exists at prefix")
os.makedirs(os.path.join(prefix, "bin"))
os.symlink({python!r}, os.path.join(prefix, "bin", "python"))
"""


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> EnvLock:
    settings = session_settings(tmp_path_factory)
    platform = str(rattler.Subdir.current())
    resolved = conda.lock(SPEC, settings, python=None, platform=platform)
    return EnvLock(
        kind="conda",
        key="k",
        python=resolved.python,
        platform=platform,
        text=resolved.text,
        tool=resolved.tool,
        packages=resolved.packages,
    )


def fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """A fake ``name`` first on PATH; returns the file it records its call in."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / name
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    record = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_CONDA_RECORD", str(record))
    return record


def settings_for(tmp_path_factory: pytest.TempPathFactory, **changes: object) -> EnvSettings:
    return session_settings(tmp_path_factory, **changes)


@pytest.mark.parametrize("tool", ["micromamba", "conda"])
def test_a_tool_that_is_not_on_path_is_named_with_the_fix(
    tool: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    locked: EnvLock,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    settings = settings_for(tmp_path_factory, conda_tool=tool)
    with pytest.raises(EnvError) as err:
        conda.lock(SPEC, settings, python=None, platform=locked.platform)
    assert err.value.message == f"[environments] conda_tool = '{tool}', but {tool} is not on PATH"
    assert f"install {tool} and put it on PATH" in (err.value.fix or "")
    assert err.value.step == "train"
    with pytest.raises(EnvError, match=f"{tool} is not on PATH"):
        conda.install(locked, settings, tmp_path / "env")


def test_an_unknown_tool_is_refused(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, locked: EnvLock
) -> None:
    settings = settings_for(tmp_path_factory, conda_tool="mamba")
    with pytest.raises(EnvError, match="'mamba' is not one of rattler, micromamba, conda"):
        conda.install(locked, settings, tmp_path / "env")


@pytest.mark.parametrize("tool", ["micromamba", "conda"])
@pytest.mark.parametrize("offline", [False, True])
def test_the_tool_installs_the_locked_urls_without_solving(
    tool: str,
    offline: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    locked: EnvLock,
) -> None:
    record = fake_tool(tmp_path, monkeypatch, tool)
    settings = settings_for(tmp_path_factory, conda_tool=tool, offline=offline)
    target = tmp_path / "env"
    target.mkdir()  # the manager's new, empty folder
    python = conda.install(locked, settings, target)
    assert python == target / "bin" / "python"
    called = json.loads(record.read_text())
    argv = called["argv"]
    explicit_path = argv[argv.index("--file") + 1]
    expected = ["create", "--yes", "--quiet", "-p", str(target), "--file", explicit_path]
    assert argv == expected + (["--offline"] if offline else [])
    lines = called["explicit"].splitlines()
    assert lines[1] == "@EXPLICIT"
    assert sorted(lines[2:]) == sorted(f"{p['url']}#{p['md5']}" for p in locked.packages)
    if tool == "micromamba":
        assert called["pkgs_dirs"] == str(settings.cache_dir / "conda-pkgs-micromamba")
    assert not Path(explicit_path).exists()  # a temporary file, removed


def test_a_failing_tool_reports_its_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    locked: EnvLock,
) -> None:
    fake_tool(tmp_path, monkeypatch, "micromamba")
    monkeypatch.setenv("FAKE_CONDA_FAIL", "1")
    settings = settings_for(tmp_path_factory, conda_tool="micromamba")
    with pytest.raises(EnvError) as err:
        conda.install(locked, settings, tmp_path / "env")
    assert "micromamba failed to install the conda environment (exit 1)" in err.value.message
    assert "Download error: nothing cached" in err.value.message


def test_a_tool_that_makes_no_python_is_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    locked: EnvLock,
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "micromamba").write_text("#!/bin/sh\nexit 0\n")
    (bindir / "micromamba").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    settings = settings_for(tmp_path_factory, conda_tool="micromamba")
    with pytest.raises(EnvError, match="has no Python"):
        conda.install(locked, settings, tmp_path / "env")


@pytest.mark.parametrize("tool", ["micromamba", "conda"])
def test_the_manager_has_the_tool_build_at_the_final_prefix(
    tool: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    locked: EnvLock,
) -> None:
    """These tools write the prefix into what they install: never built elsewhere and
    renamed. A half build left there (no ready marker) is replaced."""
    from dataclasses import replace

    from grange.environments import cache, manager

    record = fake_tool(tmp_path, monkeypatch, tool)
    settings = replace(settings_for(tmp_path_factory, conda_tool=tool), cache_dir=tmp_path / "c")
    final = cache.env_path(settings.cache_dir, locked)
    (final / "half").mkdir(parents=True)  # a killed build
    env = manager.build(locked, settings)
    argv = json.loads(record.read_text())["argv"]
    assert argv[argv.index("-p") + 1] == str(final) == str(env.prefix)
    assert env.python == final / "bin" / "python" and not (final / "half").exists()
    assert cache.ready_python(final, locked) is not None
    record.unlink()
    assert manager.build(locked, settings).prefix == final and not record.exists()  # warm
