"""A @kubernetes step with an environment: its pod's bootstrap gets the lock
(``--env-lock-url``/``--env-lock-sha``) and the GRANGE_ENV_* variables; other steps'
pods get neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grange.datastore import DatastoreLocation
from grange.decorators.options import EnvSpec, KubernetesOptions, TaskOptions
from grange.environments.package import build_package
from grange.environments.settings import EnvSettings
from grange.runtime.kube_launcher import KubeLauncher
from grange.runtime.launcher import Launcher
from grange.task.spec import TaskSpec

LOCK_TEXT = 'lock-version = "1.0"\n'


class Inner(Launcher):
    def launch(self, spec: TaskSpec) -> None:  # pragma: no cover - not called
        raise AssertionError

    def events(self) -> list[Any]:
        return []

    def kill(self, worker: Any, sig: int = 9) -> None:  # pragma: no cover
        pass

    def close(self) -> None:
        pass


def launcher(
    tmp_path: Path, env_settings: EnvSettings, text: str = LOCK_TEXT, **settings: Any
) -> KubeLauncher:
    from grange.environments import manager
    from grange.environments.envlock import EnvLock

    flow = tmp_path / "flow.py"
    flow.write_text("from grange import FlowSpec\n")
    env = EnvSpec(kind="pypi", packages=(("tabulate", "0.9.0"),), step="train")
    options = {
        "train": TaskOptions(kubernetes=KubernetesOptions(), environment=env),
        "plain": TaskOptions(kubernetes=KubernetesOptions()),
    }
    root = DatastoreLocation.of(tmp_path / "store")
    lock = EnvLock("pypi", "k" * 64, "3.11.7", "x86_64-manylinux_2_28", text, "uv")
    url = str(root.path / manager.store_lock(root.open(), lock))
    return KubeLauncher(
        Inner(),
        flow="F",
        flow_file=str(flow),
        options=options,
        top_level_args=[],
        step_args=[],
        package=build_package(str(flow), "F"),
        datastore_root=root,
        settings={"image": "python:3.11", **settings},
        environments={"train": (url, lock.sha)},
        env_settings=env_settings,
    )


def container(launcher: KubeLauncher, step: str) -> dict[str, Any]:
    job, _ = launcher._job(TaskSpec(flow="F", run_id="1", step=step, task_id="2", user="u"))
    return job["spec"]["template"]["spec"]["containers"][0]


def test_the_env_step_pod_gets_its_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_ENV_CACHE", str(tmp_path / "cache"))
    kube = launcher(tmp_path, EnvSettings(cache_dir=tmp_path, pod_offline=False))
    args = container(kube, "train")["args"]
    split = args.index("--")
    sha = kube.environments["train"][1]
    assert args[split - 4 : split] == [
        "--env-lock-url",
        str(tmp_path / "store" / "envs" / "locks" / f"{sha}.json"),
        "--env-lock-sha",
        sha,
    ]
    assert args[split + 1 : split + 3] == ["step", "train"]
    env = {e["name"]: e.get("value") for e in container(kube, "train").get("env") or []}
    assert not any(name.startswith("GRANGE_ENV_") for name in env)  # not shared: not passed
    plain = container(kube, "plain")
    assert "--env-lock-url" not in plain["args"]


def test_a_wheel_on_this_disk_is_refused_for_a_pod_that_does_not_share_it(
    tmp_path: Path,
) -> None:
    """Without wheels_in_datastore the pod installs from the lock's URLs: a find_links
    file on this machine would be a file:// URL the pod cannot read."""
    from grange.exceptions import EnvError

    text = (
        'lock-version = "1.0"\n\n[[packages]]\nname = "revpkg"\nversion = "1.0"\n'
        'wheels = [{ url = "file:///tmp/wh/revpkg-1.0-py3-none-any.whl", '
        'hashes = { sha256 = "' + "a" * 64 + '" } }]\n'
    )
    kube = launcher(tmp_path, EnvSettings(cache_dir=tmp_path), text=text)
    with pytest.raises(EnvError, match=r"package 'revpkg' of the lock .* comes from this machine"):
        container(kube, "train")
    shared = launcher(tmp_path, EnvSettings(cache_dir=tmp_path), text=text, shared_filesystem=True)
    assert "--env-lock-url" in container(shared, "train")["args"]  # the pods share this disk


def test_packages_in_the_datastore_and_a_shared_cache_reach_the_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = EnvSettings(cache_dir=tmp_path / "cache", pod_offline=True)
    kube = launcher(tmp_path, settings, shared_filesystem=True)
    kube._stored_locks.add("train")  # (storing the lock's packages: test_env_pods)
    env = {e["name"]: e.get("value") for e in container(kube, "train").get("env") or []}
    assert env["GRANGE_ENV_PACKAGES"] == str(tmp_path / "store")
    assert env["GRANGE_ENV_OFFLINE"] == "1"
    assert env["GRANGE_ENV_CACHE"] == str(tmp_path / "cache")
    plain = {e["name"] for e in container(kube, "plain").get("env") or []}
    assert not any(name.startswith("GRANGE_ENV_") for name in plain)


def test_a_kubernetes_conda_steps_lock_is_for_the_pods_conda_platform(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A run resolves a @kubernetes step's lock for the pods, in the kind's own naming:
    uv's platform for @pypi, conda's subdir (linux-64) for @conda."""
    from grange.environments import manager
    from grange.environments.envlock import EnvLock
    from grange.runtime import envs

    asked: dict[str, Any] = {}

    def resolve(
        spec: EnvSpec, settings: Any, *, platform: str | None = None, runtime: Any = ()
    ) -> EnvLock:
        asked[spec.step] = platform
        return EnvLock(spec.kind, f"k-{spec.step}", "3.11.7", str(platform), spec.step, "fake")

    monkeypatch.setattr(manager, "resolve", resolve)
    monkeypatch.setenv("GRANGE_ENV_CACHE", str(tmp_path))
    pod = KubernetesOptions()
    options = {
        "c": TaskOptions(kubernetes=pod, environment=EnvSpec("conda", (("x", "1"),), step="c")),
        "p": TaskOptions(kubernetes=pod, environment=EnvSpec("pypi", (("x", "1"),), step="p")),
    }
    envs.prepare_environments(options, notice=lambda text: None)
    assert asked == {"c": "linux-64", "p": "x86_64-manylinux_2_28"}
