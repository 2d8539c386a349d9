"""Runs of flows with @pypi/@pypi_base steps: environments prepared before the claim,
recorded, reused on resume, env steps run in their interpreter (fork server and
fresh interpreters), errors before anything is claimed.

Two engines: ``fake`` (tests/flows/envs/fake_engine.py: stub packages, no network;
tests the runtime side alone) and ``uv`` (the real one, tabulate==0.9.0 from PyPI,
skipped until grange.environments.manager is implemented)."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from grange import Flow
from support import Runner

FLOWS = Path(__file__).parent.parent / "flows" / "envs"
FAKE = FLOWS / "fake_engine.py"


def _engine_ready() -> bool:
    from grange.environments import manager

    return "NotImplementedError" not in inspect.getsource(manager.resolve)


def _host_has(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


@pytest.fixture(scope="session")
def env_cache() -> Path:
    """The session's environment cache (under the session's GRANGE_CACHE_DIR, shared
    with the engine's tests): PyPI is asked once."""
    from grange.environments.settings import default_cache_dir

    return default_cache_dir()


@pytest.fixture(params=["fake", "uv"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "uv" and not _engine_ready():
        pytest.skip("grange.environments.manager is not implemented yet")
    return str(request.param)


def _run(
    runner: Runner,
    engine: str,
    env_cache: Path,
    flow: str,
    command: str,
    *args: str,
    fork: bool = True,
    top: tuple[str, ...] = (),
    ok: bool | None = True,
    **env: str,
) -> tuple[subprocess.CompletedProcess[str], str | None]:
    argv, id_file = runner.argv(FLOWS / f"{flow}.py", command, *args, fork=fork, top=top)
    if engine == "fake":
        argv = [sys.executable, str(FAKE), *argv[1:]]
    variables = runner.env(
        GRANGE_ENV_CACHE=str(env_cache),
        FAKE_ENGINE_LOG=str(runner.cwd / "resolutions.log"),
        FAKE_ENGINE_ENVS=str(runner.cwd / "envs"),
        **env,
    )
    proc = subprocess.run(
        argv, cwd=runner.cwd, env=variables, capture_output=True, text=True, check=False
    )
    said = f"{proc.stdout}\n{proc.stderr}"
    if ok is True:
        assert proc.returncode == 0, said
    elif ok is False:
        assert proc.returncode != 0, said
    run_id = id_file.read_text().strip() if id_file and id_file.exists() else None
    return proc, run_id


@pytest.mark.slow
@pytest.mark.parametrize("fork", [True, False], ids=["fork-server", "no-fork"])
def test_env_step_runs_in_its_environment(
    runner: Runner, engine: str, env_cache: Path, fork: bool
) -> None:
    if _host_has("tabulate"):
        pytest.skip("the host Python has tabulate: isolation cannot be seen")
    proc, run_id = _run(runner, engine, env_cache, "env_flow", "run", "--width", "3", fork=fork)
    assert "Resolved @pypi environment for train: tabulate==0.9.0" in proc.stdout + proc.stderr
    run = Flow("EnvFlow")[run_id]
    train = list(run["train"].tasks())
    assert len(train) == 3 and {t.data.version for t in train} == {"0.9.0"}
    assert {t.data.launched_by for t in train} == {"fork-server" if fork else "step"}
    assert run["join"].task.data.host_has_tabulate is False  # not leaked to other steps
    info = run["train"].task.environment_info
    assert info is not None and info["type"] == "pypi"
    assert [(p["name"], p["version"]) for p in info["packages"]] == [("tabulate", "0.9.0")]
    if engine == "uv":
        assert len(info["packages"][0]["sha256"]) == 64
        assert "tabulate" in info["lock"]
    assert info["lock"]  # read from the datastore
    assert run["start"].environment_info is None and run["join"].task.environment_info is None
    assert set(run.environment) == {"train"}


@pytest.mark.slow
def test_resume_reuses_the_lock(
    runner: Runner, engine: str, env_cache: Path, tmp_path: Path
) -> None:
    """A resume that clones the env step prepares nothing for it (even offline with an
    empty cache) and keeps the origin's record; one that runs it again reuses the lock."""
    _, first = _run(runner, engine, env_cache, "env_flow", "run", "--fail", "true", ok=False)
    proc, second = _run(
        runner, engine, tmp_path / "empty-cache", "env_flow", "resume",
        ENV_FLOW_FIXED="1", GRANGE_ENV_OFFLINE="1", FAKE_ENGINE_NO_BUILD="1",
    )  # fmt: skip
    said = proc.stdout + proc.stderr
    assert "Resolved" not in said and "Reusing environment" not in said, said
    before = Flow("EnvFlow")[first].environment["train"]
    after = Flow("EnvFlow")[second].environment["train"]
    assert after["sha"] == before["sha"] and after["lock_key"] == before["lock_key"]
    proc, third = _run(
        runner, engine, env_cache, "env_flow", "resume", "train", "--origin-run-id", str(first),
        ENV_FLOW_FIXED="1",
    )  # fmt: skip
    said = proc.stdout + proc.stderr
    assert "Reusing environment" in said and "Resolved" not in said, said
    assert Flow("EnvFlow")[third].environment["train"]["sha"] == before["sha"]
    if engine == "fake":
        log = (runner.cwd / "resolutions.log").read_text().splitlines()
        assert log == ["resolve train"]  # the resumes resolved nothing


def test_bad_package_stops_before_the_claim(runner: Runner, engine: str, env_cache: Path) -> None:
    proc, run_id = _run(runner, engine, env_cache, "bad_env_flow", "run", ok=False)
    assert proc.returncode == 2
    said = proc.stdout + proc.stderr
    assert "no-such-package-grange-test" in said and "Traceback" not in said
    assert "start" in said
    assert run_id is None
    assert not _has_flow("BadEnvFlow") or not list(Flow("BadEnvFlow").runs())  # no claim


def _has_flow(name: str) -> bool:
    from grange.exceptions import GrangeError

    try:
        Flow(name)
    except GrangeError:
        return False
    return True


def test_pin_clash_is_an_error_at_the_step(runner: Runner, env_cache: Path) -> None:
    proc, run_id = _run(runner, "fake", env_cache, "clash_flow", "run", ok=False)
    said = proc.stdout + proc.stderr
    assert "'tabulate' is pinned to '0.8.10' by @pypi and to '0.9.0' by @pypi_base" in said
    assert "clash_flow.py:8" in said and "Traceback" not in said
    assert run_id is None


@pytest.mark.slow
def test_base_override_and_disabled(runner: Runner, engine: str, env_cache: Path) -> None:
    if _host_has("tabulate"):
        pytest.skip("the host Python has tabulate")
    _, run_id = _run(runner, engine, env_cache, "base_flow", "run", top=("--environment=pypi",))
    run = Flow("BaseEnvFlow")[run_id]
    assert run["start"].task.data.tabulate == "0.9.0"
    assert run["more"].task.data.tabulate == "0.9.0"
    assert run["more"].task.data.six is not None
    assert run["end"].task.data.tabulate is None  # disabled=True: the host's Python
    assert set(run.environment) == {"start", "more"}


@pytest.mark.slow
def test_with_pypi(runner: Runner, engine: str, env_cache: Path) -> None:
    if _host_has("tabulate"):
        pytest.skip("the host Python has tabulate")
    top = ("--with", 'pypi:packages={"tabulate":"0.9.0"}')
    _, run_id = _run(runner, engine, env_cache, "plain_flow", "run", top=top)
    run = Flow("PlainEnvFlow")[run_id]
    assert run["start"].task.data.tabulate == "0.9.0" == run["end"].task.data.tabulate
    # start and end ask for the same packages: one lock
    assert run.environment["start"]["sha"] == run.environment["end"]["sha"]


@pytest.mark.slow
def test_fork_server_that_cannot_start_falls_back(runner: Runner, env_cache: Path) -> None:
    """An environment whose interpreter cannot serve (here: it exits at once when asked
    for the fork server) runs its tasks in fresh interpreters, with a notice."""
    wrapper = runner.cwd / "python-wrapper"
    wrapper.write_text(
        f'#!/bin/sh\ncase "$*" in *_fork-server*) exit 3;; esac\nexec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    proc, run_id = _run(
        runner, "fake", env_cache, "env_flow", "run", "--width", "2",
        FAKE_ENGINE_PYTHON=str(wrapper),
    )  # fmt: skip
    assert "fresh interpreters" in proc.stdout + proc.stderr
    train = list(Flow("EnvFlow")[run_id]["train"].tasks())
    assert {t.data.launched_by for t in train} == {"step"}
    assert {t.data.version for t in train} == {"0.9.0"}


@pytest.mark.slow
def test_resume_resolves_a_changed_requirement(runner: Runner, env_cache: Path) -> None:
    flow = runner.cwd / "env_flow.py"
    flow.write_text((FLOWS / "env_flow.py").read_text())
    argv = [sys.executable, str(FAKE), str(flow)]
    env = runner.env(
        FAKE_ENGINE_LOG=str(runner.cwd / "resolutions.log"),
        FAKE_ENGINE_ENVS=str(runner.cwd / "envs"),
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], cwd=runner.cwd, env=env, capture_output=True, text=True, check=False
        )

    assert run("run", "--fail", "true").returncode == 1
    flow.write_text(flow.read_text().replace('"tabulate": "0.9.0"', '"tabulate": "0.8.10"'))
    proc = run("resume", "start")
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1  # still failing on purpose
    assert "The environment of train changed since run 1" in said, said
    assert "Resolved @pypi environment for train: tabulate==0.8.10" in said
    versions = {t.data.version for t in Flow("EnvFlow")["2"]["train"].tasks()}
    assert versions == {"0.8.10"}


def _conda_ready() -> bool:
    import importlib.util

    return (
        _engine_ready()
        and importlib.util.find_spec("grange.environments.conda") is not None
        and importlib.util.find_spec("conda_channel") is not None
        and importlib.util.find_spec("rattler") is not None
    )


@pytest.mark.slow
@pytest.mark.skipif(not _conda_ready(), reason="the @conda engine or tests/conda_channel.py")
def test_conda_step_runs_from_the_local_channel(
    runner: Runner, env_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import conda_channel

    url = conda_channel.session_channel(tmp_path_factory)
    profile = runner.cwd / "grange.toml"
    profile.write_text(
        f'default_profile = "t"\n[profiles.t]\n[profiles.t.environments]\nchannels = ["{url}"]\n'
    )
    _, run_id = _run(runner, "uv", env_cache, "conda_flow", "run", GRANGE_CONFIG=str(profile))
    run = Flow("CondaEnvFlow")[run_id]
    assert run["start"].task.data.version == "1.0"
    assert run["end"].task.data.host_has_it is False
    info = run["start"].environment_info
    assert info is not None and info["type"] == "conda"
    assert "grange-testpkg" in {p["name"] for p in info["packages"]}
    assert info["lock"]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["self", "server", "host"])
def test_a_dying_launcher_kills_no_other_launchers_task(
    runner: Runner, env_cache: Path, mode: str
) -> None:
    """Each environment has its own launcher; one whose task (or fork server) dies
    ends what that left behind, never the processes of another launcher."""
    proc, run_id = _run(
        runner, "fake", env_cache, "kill_flow", "run", fork=mode != "self", ok=False,
        KILL_MODE=mode,
    )  # fmt: skip
    said = proc.stdout + proc.stderr
    assert "Internal error" not in said and "Traceback" not in said, said
    survivor = Flow("KillFlow")[run_id]["survivor"].task
    assert survivor.successful and survivor.data.survived, said


@pytest.mark.slow
def test_a_cloned_task_reports_the_environment_it_ran_in(runner: Runner, env_cache: Path) -> None:
    """train's requirement changed before the resume: its task that ran again has the new
    environment, the one reused from the origin run still reports the origin's."""
    import json

    from grange import Task
    from grange.exceptions import ClientError

    flow = runner.cwd / "partial_flow.py"
    flow.write_text((FLOWS / "partial_flow.py").read_text())
    argv = [sys.executable, str(FAKE), str(flow)]
    env = runner.env(
        FAKE_ENGINE_LOG=str(runner.cwd / "resolutions.log"),
        FAKE_ENGINE_ENVS=str(runner.cwd / "envs"),
    )

    def run(*args: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*argv, *args], cwd=runner.cwd, env={**env, **more}, capture_output=True,
            text=True, check=False,
        )  # fmt: skip

    assert run("run", FAIL_ONE="1").returncode == 1
    flow.write_text(flow.read_text().replace('"tabulate": "0.9.0"', '"tabulate": "0.8.10"'))
    proc = run("resume")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = {t.data.version: t for t in Flow("PartialEnvFlow")["2"]["train"].tasks()}
    assert set(tasks) == {"0.9.0", "0.8.10"}
    for version, task in tasks.items():
        info = task.environment_info
        assert info is not None and info["packages"][0]["version"] == version
        assert json.loads(json.dumps(info)) == info  # a plain dict, as Metaflow's
    assert tasks["0.9.0"].origin_pathspec is not None
    # A damaged lock file: a clear error naming the step and the run.
    key = Flow("PartialEnvFlow")["2"].environment["train"]["lock_key"]
    (damaged,) = runner.root.rglob(Path(key).name)
    damaged.write_text("{not json")
    with pytest.raises(ClientError, match=r"step 'train' of run PartialEnvFlow/2 .*damaged"):
        _ = Task(tasks["0.8.10"].pathspec).environment_info


@pytest.mark.slow
def test_a_flow_file_that_cannot_be_imported_in_the_environment(
    runner: Runner, env_cache: Path
) -> None:
    proc, _ = _run(runner, "fake", env_cache, "top_import_flow", "run", ok=False)
    said = proc.stdout + proc.stderr
    assert (
        "step 'a': the flow file cannot be imported in its @pypi environment "
        "(top_import_flow.py line 7: No module named 'no_such_module_grange_test'); "
        "import it inside the steps that use it, or add it to @pypi"
    ) in said, said
    assert "Traceback" not in said and "stopped unexpectedly" not in said, said
    assert "fresh interpreters" not in said


@pytest.mark.slow
@pytest.mark.parametrize("fork", [True, False], ids=["fork-server", "no-fork"])
def test_the_callers_pythonpath_does_not_reach_the_environment(
    runner: Runner, engine: str, env_cache: Path, fork: bool
) -> None:
    """A tabulate.py on the caller's PYTHONPATH does not shadow the locked one, and
    the shim that gives the task grange is not passed on to what the step starts."""
    import os

    shadow = runner.cwd / "shadow"
    shadow.mkdir()
    (shadow / "tabulate.py").write_text("__version__ = 'shadow'\n")
    path = os.pathsep.join([str(shadow), os.environ.get("PYTHONPATH", "")])
    _, run_id = _run(runner, engine, env_cache, "env_flow", "run", fork=fork, PYTHONPATH=path)
    task = Flow("EnvFlow")[run_id]["train"].task
    if engine == "uv":  # the fake engine's environment is this Python, with PYTHONPATH
        assert task.data.version == "0.9.0"
    assert task.data.task_pythonpath is None


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_stopped_while_resolving(runner: Runner, env_cache: Path, sig: str) -> None:
    import signal
    import time

    marker = runner.cwd / "resolving"
    argv, _ = runner.argv(FLOWS / "env_flow.py", "run")
    variables = runner.env(
        GRANGE_ENV_CACHE=str(env_cache),
        FAKE_ENGINE_LOG=str(runner.cwd / "resolutions.log"),
        FAKE_ENGINE_ENVS=str(runner.cwd / "envs"),
        FAKE_ENGINE_HANG=str(marker),
    )
    proc = subprocess.Popen(
        [sys.executable, str(FAKE), *argv[1:]], cwd=runner.cwd, env=variables,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not marker.exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(getattr(signal, sig))
    out, err = proc.communicate()
    number = getattr(signal, sig)
    assert proc.returncode == 128 + number, out + err
    how = "Ctrl-C" if sig == "SIGINT" else sig
    assert f"Stopped ({how}) while resolving the environment of step train" in err, out + err
    assert "Traceback" not in out + err and "Aborted!" not in out + err
