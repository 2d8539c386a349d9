"""A pod's environment: the bootstrap reads the lock (checked), rebuilds it with
podenv (the image's Python must match, uv must be there, packages from the
datastore when stored there) and runs the step in the environment's python."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Any

import pytest

from grange.datastore import DatastoreLocation
from grange.environments import bootstrap, podenv
from grange.environments.envlock import EnvLock, PreparedEnv
from grange.environments.package import PackageRef, package_flow
from grange.environments.settings import EnvSettings
from grange.exceptions import EnvError

HERE = platform.python_version()


def make_lock(python: str = HERE, kind: str = "pypi", packages: tuple = ()) -> EnvLock:
    return EnvLock(
        kind=kind,
        key="k" * 64,
        python=python,
        platform="x86_64-manylinux_2_28",
        text='lock-version = "1.0"\n',
        tool="uv 0.13.9",
        packages=packages,
    )


def put_lock(root: Path, lock: EnvLock) -> str:
    path = root / "envs" / "locks" / f"{lock.sha}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(lock.to_dict()))
    return str(path)


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "code"
    monkeypatch.setenv("GRANGE_CODE_DIR", str(folder))
    return folder


@pytest.fixture
def ref(tmp_path: Path) -> PackageRef:
    (tmp_path / "src").mkdir()
    flow = tmp_path / "src" / "flow.py"
    flow.write_text("from grange import FlowSpec\n")
    return package_flow(str(flow), DatastoreLocation.of(tmp_path / "store"), "F")


def argv(ref: PackageRef, url: str, sha: str, *rest: str) -> list[str]:
    return [
        "--package-url",
        ref.url,
        "--package-sha",
        ref.sha,
        "--flow-file",
        ref.flow_file,
        "--env-lock-url",
        url,
        f"--env-lock-sha={sha}",
        "--",
        *rest,
    ]


def test_parse_the_lock_options() -> None:
    base = ["--package-url", "u", "--package-sha", "0" * 64, "--flow-file", "f.py"]
    _, lock, rest = bootstrap.parse_all([*base, "--env-lock-url", "x", "--env-lock-sha", "A" * 64, "--", "step", "s"])  # fmt: skip
    assert lock == ("x", "a" * 64) and rest == ["step", "s"]
    assert bootstrap.parse_all([*base, "--"])[1] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--env-lock-url", "x"], "--env-lock-url needs --env-lock-sha too"),
        (["--env-lock-sha", "0" * 64], "--env-lock-sha needs --env-lock-url too"),
        (["--env-lock-url", "x", "--env-lock-sha", "abc"], "--env-lock-sha 'abc' is not a sha256"),
        (["--package-url", "v"], "--package-url is given twice"),
        (["--env-lock-url=x", "--env-lock-url", "y"], "--env-lock-url is given twice"),
    ],
)
def test_bad_lock_options_get_one_line_and_status_2(
    extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--package-url", "u", "--package-sha", "0" * 64, "--flow-file", "f.py"]
    assert bootstrap.main([*base, *extra, "--"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("as_uri", [False, True])
def test_runs_the_step_in_the_rebuilt_environment(
    as_uri: bool,
    ref: PackageRef,
    code_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lock = make_lock()
    url = put_lock(tmp_path / "store", lock)
    if as_uri:  # a local datastore's blobs.url(key)
        url = Path(url).as_uri()
    prepared = PreparedEnv(lock, tmp_path / "env", tmp_path / "env/bin/python", ("/shim",))
    rebuilt: list[tuple[EnvLock, EnvSettings, Any, str]] = []

    def rebuild(
        lock: EnvLock, settings: EnvSettings, *, packages: Any, step: str, datastore: str
    ) -> PreparedEnv:
        assert datastore == "local"
        rebuilt.append((lock, settings, packages, step))
        return prepared

    monkeypatch.setattr(podenv, "rebuild", rebuild)
    monkeypatch.setenv("GRANGE_ENV_CACHE", str(tmp_path / "envs"))
    monkeypatch.setenv("GRANGE_ENV_PACKAGES", str(tmp_path / "store"))
    runs: list[Any] = []
    monkeypatch.setattr(bootstrap, "run", lambda *a, **k: runs.append((a, k)))
    assert bootstrap.main(argv(ref, url, lock.sha, "step", "train")) == 0
    assert rebuilt == [
        (lock, EnvSettings(cache_dir=tmp_path / "envs"), str(tmp_path / "store"), "train")
    ]
    assert runs[0][1] == {"prepared": prepared}


def test_run_execs_the_environments_python_with_the_package_then_the_shim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[str], dict[str, str]]] = []
    monkeypatch.setattr(bootstrap.os, "execve", lambda p, a, e: calls.append((p, a, e)))
    monkeypatch.setattr(bootstrap.os, "chdir", lambda p: None)
    monkeypatch.setenv("PYTHONPATH", "/before")
    lock = make_lock()
    env = PreparedEnv(lock, tmp_path, tmp_path / "bin" / "python", ("/shim",))
    ref = PackageRef("u", "0" * 64, "flow.py")
    bootstrap.run(tmp_path / "pkg", "flow.py", ref, ["step", "s"], prepared=env)
    python, args, environ = calls[0]
    assert python == str(tmp_path / "bin" / "python") and args[1:] == ["flow.py", "step", "s"]
    # The image's PYTHONPATH and user site would shadow the environment's packages.
    assert environ["PYTHONPATH"].split(":") == [str(tmp_path / "pkg"), "/shim"]
    assert environ["PYTHONNOUSERSITE"] == "1"
    bootstrap.run(tmp_path / "pkg", "flow.py", ref, [])
    assert calls[1][0] == sys.executable  # no environment: this Python, its PYTHONPATH kept
    assert calls[1][2]["PYTHONPATH"].split(":") == [str(tmp_path / "pkg"), "/before"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "the environment lock {url}0 does not exist"),
        ("garbage", "is damaged: not JSON"),
        ("deep", "is damaged: not JSON"),  # nested past Python's recursion limit
        ("other", "is not the one asked for: its sha256 is"),
        ("tampered", "is damaged: its text's sha256 is"),
    ],
)
def test_a_missing_or_damaged_lock_is_refused(
    change: str,
    message: str,
    ref: PackageRef,
    code_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lock = make_lock()
    url = put_lock(tmp_path / "store", lock)
    sha = lock.sha
    if change == "missing":
        url += "0"
    elif change == "garbage":
        Path(url).write_text("{")
    elif change == "deep":
        Path(url).write_text("[" * 100_000 + "]" * 100_000)
    elif change == "other":
        sha = "1" * 64
    else:
        data = json.loads(Path(url).read_text())
        data["text"] += "x"
        Path(url).write_text(json.dumps(data))
    assert bootstrap.main(argv(ref, url, sha, "step", "s")) == 2
    err = capsys.readouterr().err
    assert message.format(url=url[:-1] if change == "missing" else url) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_image_python_must_match_the_lock() -> None:
    with pytest.raises(EnvError) as info:
        podenv.check_python(make_lock(python="3.12.1"), here="3.11.7")
    assert "resolved for Python 3.12.1 but this image has Python 3.11.7" in info.value.message
    assert "Python 3.12" in (info.value.fix or "") and 'python="3.11"' in (info.value.fix or "")
    podenv.check_python(make_lock(python="3.11.2"), here="3.11.7")  # major.minor is enough
    podenv.check_python(make_lock(python="3.12.1", kind="conda"), here="3.11.7")  # its own


def test_the_python_error_reaches_stderr_with_the_step(
    ref: PackageRef, code_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = make_lock(python="2.7.18")
    url = put_lock(tmp_path / "store", lock)
    assert bootstrap.main(argv(ref, url, lock.sha, "--quiet", "step", "train")) == 2
    err = capsys.readouterr().err
    assert err.startswith("grange bootstrap: step 'train': the environment was resolved for")
    assert f"Python 2.7.18 but this image has Python {HERE}" in err and err.count("\n") == 1


def test_no_uv_in_the_image(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(podenv, "find_uv", lambda: None)
    with pytest.raises(EnvError) as info:
        podenv.rebuild(make_lock(), EnvSettings(cache_dir=tmp_path), step="s")
    assert info.value.fix == "the image needs uv: pip install uv (or grange[pypi])"


def builds(monkeypatch: pytest.MonkeyPatch, error: EnvError | None = None) -> list[EnvSettings]:
    from grange.environments import manager

    seen: list[EnvSettings] = []

    def build(lock: EnvLock, settings: EnvSettings, runtime: Any = ()) -> PreparedEnv:
        seen.append(settings)
        if error:
            raise error
        return PreparedEnv(lock, settings.cache_dir, settings.cache_dir / "python")

    monkeypatch.setattr(manager, "build", build)
    monkeypatch.setattr(podenv, "find_uv", lambda: "/usr/bin/uv")
    return seen


def test_packages_from_the_datastore_make_the_build_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.unit.test_env_wheels import wheel_lock

    from grange.environments.wheels import store_packages

    seen = builds(monkeypatch)
    lock, files = wheel_lock()
    store = DatastoreLocation.of(tmp_path / "store")
    store_packages(store.open(), lock, download=files.__getitem__)
    podenv.rebuild(lock, EnvSettings(cache_dir=tmp_path / "c"), packages=str(tmp_path / "store"))
    folder = tmp_path / "c" / "packages" / lock.sha[:16]
    assert seen == [EnvSettings(cache_dir=tmp_path / "c", find_links=(str(folder),), offline=True)]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["a-1.0-py3-none-any.whl", "b_x-2.0-py3-none-any.whl"]


def test_a_built_environment_does_not_fetch_or_rehash_its_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Once the node has the environment, a task's pod does not read (or hash) the
    packages again; a relative GRANGE_ENV_CACHE is made absolute."""
    import shutil

    from tests.unit.test_env_wheels import wheel_lock

    from grange.environments import cache
    from grange.environments.wheels import local_lock, store_packages

    builds(monkeypatch)
    lock, files = wheel_lock()
    store_packages(
        DatastoreLocation.of(tmp_path / "store").open(), lock, download=files.__getitem__
    )
    settings = EnvSettings(cache_dir=tmp_path / "c")
    podenv.rebuild(lock, settings, packages=str(tmp_path / "store"))
    built = local_lock(lock, tmp_path / "c" / "packages" / lock.sha[:16])
    prefix = cache.env_path(tmp_path / "c", built)
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python").write_text("")
    cache.mark_ready(prefix, built, prefix / "bin" / "python")
    shutil.rmtree(tmp_path / "store")  # not read again
    podenv.rebuild(lock, settings, packages=str(tmp_path / "store"))
    monkeypatch.chdir(tmp_path)
    seen = builds(monkeypatch)
    podenv.rebuild(lock, EnvSettings(cache_dir=Path("c")), packages=str(tmp_path / "store"))
    assert seen[0].cache_dir == tmp_path / "c"


def test_on_s3_the_rebuild_gives_the_shim_the_datastore_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A @conda environment in a pod on S3 gets the image's obstore through its shim
    (a @pypi lock for pods has it already); the bootstrap tells S3 by the lock's URL."""
    from grange.environments import manager

    given: list[Any] = []

    def build(lock: EnvLock, settings: EnvSettings, runtime: Any = ()) -> PreparedEnv:
        given.append(runtime)
        return PreparedEnv(lock, tmp_path, tmp_path / "python")

    monkeypatch.setattr(manager, "build", build)
    monkeypatch.setattr(manager, "datastore_packages", lambda kind: ((kind, "1"),))
    podenv.rebuild(make_lock(kind="conda"), EnvSettings(cache_dir=tmp_path), datastore="s3")
    podenv.rebuild(make_lock(kind="conda"), EnvSettings(cache_dir=tmp_path))
    assert given == [(("s3", "1"),), (("local", "1"),)]


def test_no_index_and_no_packages_in_the_datastore_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    uv_says = (
        "error: Failed to download `tabulate==0.9.0`\n"
        "  Caused by: Request failed after 3 retries\n  Caused by: dns error"
    )
    builds(monkeypatch, EnvError(uv_says))
    with pytest.raises(EnvError) as info:
        podenv.rebuild(make_lock(), EnvSettings(cache_dir=tmp_path), step="train")
    assert "no package index is reachable from this pod" in info.value.message
    assert "Failed to download `tabulate==0.9.0` / Caused by" in info.value.message
    assert "wheels_in_datastore = true" in (info.value.fix or "")
    assert info.value.step == "train"


def test_an_offline_build_from_the_datastore_does_not_blame_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Installing from the datastore's packages is offline by design: the message
    says so, not that the user set offline."""
    from tests.unit.test_env_wheels import wheel_lock

    from grange.environments.wheels import store_packages

    engine_says = (
        "@pypi: cannot build: offline ([environments] offline = true or GRANGE_ENV_OFFLINE=1) "
        "and the package cache /c/uv does not hold everything needed:\n"
        "error: Failed to build `docopt==0.6.2`"
    )
    builds(monkeypatch, EnvError(engine_says, fix="run once with the network on"))
    lock, files = wheel_lock()
    store = DatastoreLocation.of(tmp_path / "store")
    store_packages(store.open(), lock, download=files.__getitem__)
    with pytest.raises(EnvError) as info:
        podenv.rebuild(
            lock, EnvSettings(cache_dir=tmp_path / "c"), packages=str(tmp_path / "store")
        )
    assert "offline" not in info.value.message and "offline" not in (info.value.fix or "")
    assert "from the packages stored in the datastore, with no index" in info.value.message
    assert "Failed to build `docopt==0.6.2`" in info.value.message
    assert "wheels_in_datastore = false" in (info.value.fix or "")


def test_an_unwritable_cache_names_grange_env_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from grange.environments import cache

    builds(monkeypatch, cache.unwritable(tmp_path, PermissionError(13, "Permission denied")))
    with pytest.raises(EnvError) as info:
        podenv.rebuild(make_lock(), EnvSettings(cache_dir=tmp_path))
    assert "GRANGE_ENV_CACHE" in (info.value.fix or "")
    assert "cache_dir" not in (info.value.fix or "")


def test_other_build_errors_keep_uvs_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    builds(monkeypatch, EnvError("error: No interpreter found at path `/x`", fix="f"))
    with pytest.raises(EnvError) as info:
        podenv.rebuild(make_lock(), EnvSettings(cache_dir=tmp_path))
    assert info.value.message.endswith(": error: No interpreter found at path `/x`")
    assert info.value.fix == "f"


def test_settings_from_the_pods_environment(tmp_path: Path) -> None:
    settings, packages = podenv.settings_from_env(
        {
            "GRANGE_ENV_CACHE": str(tmp_path),
            "GRANGE_ENV_OFFLINE": "1",
            "GRANGE_ENV_PACKAGES": "s3://b/p",
        }
    )
    assert settings == EnvSettings(cache_dir=tmp_path, offline=True) and packages == "s3://b/p"
    settings, packages = podenv.settings_from_env({})
    assert not settings.offline and packages is None


def test_pod_env_and_platforms(tmp_path: Path) -> None:
    base = EnvSettings(cache_dir=tmp_path)
    assert podenv.pod_env(base, "s3://b/p") == {}
    wheels = EnvSettings(cache_dir=tmp_path, wheels_in_datastore=True)
    assert podenv.pod_env(wheels, "s3://b/p") == {"GRANGE_ENV_PACKAGES": "s3://b/p"}
    offline = EnvSettings(cache_dir=tmp_path, pod_offline=True)
    assert podenv.pod_env(offline, "s3://b/p")["GRANGE_ENV_OFFLINE"] == "1"
    assert podenv.pod_platform("pypi", base) == "x86_64-manylinux_2_28"
    assert podenv.pod_platform("conda", base) == "linux-64"


def test_split_lock_url() -> None:
    sha = "a" * 64
    assert podenv.split_lock_url(f"s3://b/p/envs/locks/{sha}.json") == (
        "s3://b/p",
        f"envs/locks/{sha}.json",
    )
    assert podenv.split_lock_url(f"/d/envs/locks/{sha}.json") == ("/d", f"envs/locks/{sha}.json")
    with pytest.raises(EnvError, match="is not the URL of an environment lock"):
        podenv.split_lock_url("s3://b/p/F/data/aa/" + sha)


def test_conda_packages_stay_in_their_channels(tmp_path: Path) -> None:
    """Only @pypi locks' packages go to the datastore: a conda lock is a no-op there,
    and an error when pods may reach no index at all (pod_offline)."""
    from grange.datastore.backend import MemoryBlobStore

    blobs = MemoryBlobStore()
    lock = make_lock(kind="conda", packages=({"name": "x", "url": "https://c/x.conda"},))
    wheels = EnvSettings(cache_dir=tmp_path, wheels_in_datastore=True)
    podenv.store_lock_packages(blobs, lock, wheels, step="train")
    assert blobs.list() == []
    offline = EnvSettings(cache_dir=tmp_path, pod_offline=True)
    with pytest.raises(EnvError, match="pods cannot rebuild a conda environment without") as info:
        podenv.store_lock_packages(blobs, lock, offline, step="train")
    assert info.value.step == "train" and "pod_offline = false" in (info.value.fix or "")
