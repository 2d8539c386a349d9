"""grange.runtime.envs with a fake engine: what is resolved where, deduplicated, stored,
reused on resume, and handed to the launchers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from grange.decorators.options import EnvSpec, KubernetesOptions, TaskOptions
from grange.environments import manager
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.exceptions import EnvError
from grange.runtime import envs


class Blobs:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def url(self, key: str) -> str:
        return f"file:///store/{key}"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def resolve(
        spec: EnvSpec, settings: Any, *, platform: str | None = None, runtime: Any = ()
    ) -> EnvLock:
        seen.append(("resolve", (spec.step, platform)))
        text = repr((spec.packages, platform))
        return EnvLock("pypi", f"key-{text}", "3.11.7", platform or "here", text, "fake")

    def build(lock: EnvLock, settings: Any, *, runtime: Any = ()) -> PreparedEnv:
        seen.append(("build", lock.platform))
        return PreparedEnv(lock, tmp_path, tmp_path / "bin" / "python", ())

    def store_lock(blobs: Blobs, lock: EnvLock) -> str:
        seen.append(("store", lock.platform))
        return f"envs/locks/{lock.sha}.json"

    def load_lock(blobs: Blobs, key: str) -> EnvLock:
        seen.append(("load", key))
        return EnvLock("pypi", "key-old", "3.11.7", "here", "old", "fake")

    def spec_key(
        spec: EnvSpec, settings: Any, platform: str | None = None, *, runtime: Any = ()
    ) -> str:
        return "key-old" if spec.packages == (("a", "1"),) else "key-new"

    def shared_lock(
        spec: EnvSpec, settings: Any, blobs: Blobs, *, platform: str | None = None,
        runtime: Any = (),
    ) -> EnvLock | None:  # fmt: skip
        found = blobs.data.get("shared")
        return (
            EnvLock("pypi", "key-shared", "3.11.7", "here", found.decode(), "fake")
            if found
            else None
        )

    for name, fake in {
        "resolve": resolve, "build": build, "store_lock": store_lock,
        "load_lock": load_lock, "spec_key": spec_key, "shared_lock": shared_lock,
    }.items():  # fmt: skip
        monkeypatch.setattr(manager, name, fake, raising=False)
    monkeypatch.setenv("GRANGE_ENV_CACHE", str(tmp_path / "cache"))
    return seen


def _options(step: str, packages: tuple[tuple[str, str], ...], pod: bool = False) -> TaskOptions:
    return TaskOptions(
        environment=EnvSpec("pypi", packages, step=step, decorator="@pypi"),
        kubernetes=KubernetesOptions() if pod else None,
    )


def test_local_and_pod_steps(calls: list[tuple[str, Any]]) -> None:
    options = {
        "a": _options("a", (("t", "1"),)),
        "b": _options("b", (("t", "1"),)),  # the same request: resolved once
        "c": _options("c", (("t", "1"),), pod=True),
        "d": TaskOptions(),
    }
    said: list[str] = []
    prepared = envs.prepare_environments(options, notice=said.append)
    assert prepared is not None
    pod = calls[2][1][1]
    assert calls[:3] == [("resolve", ("a", None)), ("build", "here"), ("resolve", ("c", pod))]
    assert set(prepared.local) == {"a", "b"} and prepared.local["a"] is prepared.local["b"]
    assert [s for s in said if s.startswith("Resolved")] == [
        "Resolved @pypi environment for a and b: t==1, python 3.11.7 "
        f"({prepared.locks['a'][0].sha[:12]}) in 0.0 s",
        f"Resolved @pypi environment for c for {pod}: t==1, python 3.11.7 "
        f"({prepared.locks['c'][0].sha[:12]}) in 0.0 s",
    ]
    prepared.store(Blobs())
    assert [c for c in calls if c[0] == "store"] == [("store", "here"), ("store", pod)]
    assert set(prepared.claim) == {"a", "b", "c"} and prepared.claim["c"]["where"] == "pod"
    lock = prepared.locks["c"][0]
    assert prepared.remote == {"c": (f"file:///store/envs/locks/{lock.sha}.json", lock.sha)}


def test_resume_reuses_unchanged_and_resolves_changed(calls: list[tuple[str, Any]]) -> None:
    options = {"a": _options("a", (("a", "1"),)), "b": _options("b", (("b", "2"),))}
    origin = {
        "a": {"lock_key": "envs/locks/old.json", "where": "local"},
        "b": {"lock_key": "envs/locks/old.json", "where": "local"},
    }
    said: list[str] = []
    prepared = envs.prepare_environments(
        options, notice=said.append, blobs=Blobs(), origin=origin, origin_run="7"
    )
    assert prepared is not None
    assert said[0].startswith("Reusing environment") and said[0].endswith("for a (from run 7)")
    assert said[1] == "The environment of b changed since run 7 (@pypi); resolving it again"
    assert [c for c in calls if c[0] == "resolve"] == [("resolve", ("b", None))]
    assert prepared.locks["a"][2] == "envs/locks/old.json"  # not stored again
    prepared.store(Blobs())
    assert prepared.claim["a"]["lock_key"] == "envs/locks/old.json"


def test_no_environment_reads_nothing() -> None:
    assert envs.prepare_environments({"a": TaskOptions()}, notice=print) is None


def test_resume_keeps_the_record_of_cloned_steps(calls: list[tuple[str, Any]]) -> None:
    """Steps a resume clones: nothing loaded, resolved or built; the origin's record is
    kept; built from the origin's lock only if a task must run after all."""
    from grange.exceptions import EnvError

    options = {
        "a": _options("a", (("a", "1"),)),  # unchanged
        "c": _options("c", (("c", "3"),)),  # changed since
        "b": _options("b", (("b", "2"),)),  # runs
    }
    recorded = {"lock_key": "envs/locks/old.json", "where": "local", "sha": "s"}
    origin = {"a": recorded, "c": recorded}
    prepared = envs.prepare_environments(
        options, notice=print, blobs=Blobs(), origin=origin, origin_run="7", runs={"b"}
    )
    assert prepared is not None
    assert [c[0] for c in calls] == ["resolve", "build"]  # b's only
    prepared.store(Blobs())
    assert prepared.claim["a"] == recorded == prepared.claim["c"]
    assert set(prepared.local) == {"b"} and set(prepared.deferred) == {"a", "c"}
    calls.clear()
    prepared.deferred["a"]()
    assert [c[0] for c in calls] == ["load", "build"]
    with pytest.raises(EnvError, match="resume from that step"):
        prepared.deferred["c"]()


def test_steps_sharing_a_lock_are_all_named(calls: list[tuple[str, Any]]) -> None:
    said: list[str] = []
    two = {s: _options(s, (("t", "1"),)) for s in ("start", "end")}
    envs.prepare_environments(two, notice=said.append)
    five = {s: _options(s, (("u", "1"),)) for s in ("a", "b", "c", "d", "e")}
    envs.prepare_environments(five, notice=said.append)
    assert said[0].startswith("Resolved @pypi environment for start and end: t==1")
    assert said[1].startswith("Resolved @pypi environment for a and 4 more: u==1")


def test_the_notice_masks_a_password_in_a_direct_url(calls: list[tuple[str, Any]]) -> None:
    said: list[str] = []
    url = "@ https://ada:s3cret@example.com/t-1.0-py3-none-any.whl"
    envs.prepare_environments({"a": _options("a", (("t", url),))}, notice=said.append)
    assert "s3cret" not in said[0]
    assert "ada:***@example.com" in said[0]


def test_a_build_error_names_the_steps_that_need_the_environment(
    calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(lock: EnvLock, settings: Any, *, runtime: Any = ()) -> PreparedEnv:
        raise EnvError("cannot install t==1: no space left on device")

    monkeypatch.setattr(manager, "build", build)
    options = {s: _options(s, (("t", "1"),)) for s in ("a", "b")}
    with pytest.raises(EnvError) as caught:
        envs.prepare_environments(options, notice=lambda _: None)
    assert caught.value.step == "a and b"
    assert "step 'a and b'" in caught.value.render()


def test_a_lock_an_earlier_run_stored_is_reused(calls: list[tuple[str, Any]]) -> None:
    """Local lock cache, then the datastore's key index, then resolution: a lock the
    datastore holds for the step's key is reused (and said), nothing is resolved."""
    blobs = Blobs()
    blobs.data["shared"] = b"shared text"
    said: list[str] = []
    prepared = envs.prepare_environments(
        {"a": _options("a", (("t", "1"),))}, notice=said.append, blobs=blobs
    )
    assert prepared is not None
    assert [c[0] for c in calls] == ["build"]  # nothing resolved
    sha = prepared.locks["a"][0].sha
    assert sha == EnvLock("pypi", "k", "3", "here", "shared text", "fake").sha
    assert said == [
        f"Reusing the team's @pypi environment {sha[:12]} for a (resolved by an earlier run)"
    ]
