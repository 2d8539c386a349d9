"""Step environments in pods, for real (uv, tabulate==0.9.0 from PyPI, once per session):
the bootstrap rebuilds the environment from the lock stored in the datastore and runs
in it (the packages from the datastore with no index when stored there, on a local
datastore and on loopback S3); a deployed flow run by the local Argo executor, whose
env step imports tabulate and whose plain step cannot; a @kubernetes step on the fake
cluster (``run``, and a Job of the launcher given packages in the datastore); a
conda lock rebuilt from the tests' local channel; ``argo-workflows create`` as typed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.argo_schema import validate

from grange.datastore import DatastoreLocation
from grange.decorators.options import EnvSpec
from grange.environments.package import package_flow
from grange.environments.podenv import locks_for_pods, store_for_pods
from grange.environments.settings import EnvSettings
from support import USER, Runner, load_flow

SRC = Path(__file__).resolve().parents[2] / "src"
TABULATE = EnvSpec(kind="pypi", packages=(("tabulate", "0.9.0"),), step="table", decorator="@pypi")

PROBE = """
import os, sys
import click, grange, tabulate
print("python", sys.prefix)
print("tabulate", tabulate.__version__)
print("grange", os.path.dirname(os.path.dirname(grange.__file__)))
print("args", sys.argv[1:])
"""


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache per session: PyPI is asked once."""
    return tmp_path_factory.mktemp("grange-env-cache")


def settings(cache: Path, **more: Any) -> EnvSettings:
    return EnvSettings(cache_dir=cache, **more)


def bootstrap(
    ref: Any, lock: tuple[str, str], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """What a pod runs: the image's Python (this one, grange from src) and its bootstrap."""
    argv = [
        sys.executable,
        "-m",
        "grange.environments.bootstrap",
        "--package-url",
        ref.url,
        "--package-sha",
        ref.sha,
        "--flow-file",
        ref.flow_file,
        "--env-lock-url",
        lock[0],
        "--env-lock-sha",
        lock[1],
        "--",
        "step",
        "table",
    ]
    keep = {k: v for k, v in os.environ.items() if not k.startswith("GRANGE_ENV_")}
    full = {**keep, "PYTHONPATH": str(SRC), "GRANGE_CODE_DIR": str(cwd / "code"), **env}
    return subprocess.run(argv, env=full, cwd=cwd, capture_output=True, text=True, check=False)


def probe_package(tmp_path: Path, location: DatastoreLocation) -> Any:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    return package_flow(str(folder / "probe.py"), location, "Probe")


def facts(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def test_the_pod_rebuilds_the_environment_from_the_lock(tmp_path: Path, env_cache: Path) -> None:
    location = DatastoreLocation.of(tmp_path / "store")
    ref = probe_package(tmp_path, location)
    lock, stored = store_for_pods(TABULATE, settings(env_cache), location)
    assert lock.platform == "x86_64-manylinux_2_28" and stored[1] == lock.sha
    assert stored[0] == str(tmp_path / "store" / "envs" / "locks" / f"{lock.sha}.json")
    done = bootstrap(ref, stored, tmp_path, GRANGE_ENV_CACHE=str(env_cache))
    assert done.returncode == 0, done.stderr
    seen = facts(done.stdout)
    assert seen["tabulate"] == "0.9.0" and seen["args"] == "['step', 'table']"
    assert seen["python"].startswith(str(env_cache))  # the environment's interpreter
    assert seen["grange"] == str(tmp_path / "code" / ref.sha)  # the package's grange


def test_the_images_pythonpath_does_not_shadow_the_environment(
    tmp_path: Path, env_cache: Path
) -> None:
    """A tabulate on the image's PYTHONPATH (or in its user site) is not the step's:
    the environment's python gets the package and the shim only."""
    shadow = tmp_path / "shadow" / "tabulate"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('__version__ = "shadow"\n')
    location = DatastoreLocation.of(tmp_path / "store")
    ref = probe_package(tmp_path, location)
    _lock, stored = store_for_pods(TABULATE, settings(env_cache), location)
    done = bootstrap(
        ref,
        stored,
        tmp_path,
        GRANGE_ENV_CACHE=str(env_cache),
        PYTHONPATH=os.pathsep.join([str(SRC), str(tmp_path / "shadow")]),
    )
    assert done.returncode == 0, done.stderr
    assert facts(done.stdout)["tabulate"] == "0.9.0"


@pytest.mark.parametrize("where", ["local", "s3"])
def test_packages_from_the_datastore_and_no_index(
    where: str, tmp_path: Path, env_cache: Path, request: pytest.FixtureRequest
) -> None:
    if where == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        location = DatastoreLocation.of(f"s3://{bucket}/grange")
    else:
        location = DatastoreLocation.of(tmp_path / "store")
    ref = probe_package(tmp_path, location)
    pods = settings(env_cache, wheels_in_datastore=True, pod_offline=True)
    lock, stored = store_for_pods(TABULATE, pods, location)
    wheel = next(p for p in lock.packages if p["name"] == "tabulate")
    key = f"envs/packages/{wheel['sha256']}/tabulate-0.9.0-py3-none-any.whl"
    assert location.open().exists(key)
    fresh = tmp_path / "pod-cache"  # a new node: nothing cached, and no index
    done = bootstrap(
        ref,
        stored,
        tmp_path,
        GRANGE_ENV_CACHE=str(fresh),
        GRANGE_ENV_PACKAGES=location.url,
        GRANGE_ENV_OFFLINE="1",
        UV_INDEX_URL="http://127.0.0.1:9/simple",
    )
    assert done.returncode == 0, done.stderr
    assert facts(done.stdout)["tabulate"] == "0.9.0"
    assert facts(done.stdout)["python"].startswith(str(fresh))


def test_an_sdist_only_package_is_refused_when_pods_install_from_the_datastore(
    tmp_path: Path, env_cache: Path
) -> None:
    """docopt 0.6.2 has no wheel: with wheels_in_datastore its lock is refused when it
    is stored (deploy time), naming it and the two ways out."""
    from grange.exceptions import EnvError

    docopt = EnvSpec(kind="pypi", packages=(("docopt", "0.6.2"),), step="opts", decorator="@pypi")
    location = DatastoreLocation.of(tmp_path / "store")
    with pytest.raises(EnvError) as info:
        store_for_pods(docopt, settings(env_cache, wheels_in_datastore=True), location)
    assert "no wheel for docopt 0.6.2 (only a source archive)" in info.value.message
    assert info.value.step == "opts" and "pin a version" in (info.value.fix or "")


def test_a_package_missing_from_the_datastore_is_named(tmp_path: Path, env_cache: Path) -> None:
    location = DatastoreLocation.of(tmp_path / "store")
    ref = probe_package(tmp_path, location)
    _lock, stored = store_for_pods(TABULATE, settings(env_cache), location)  # packages not stored
    done = bootstrap(
        ref,
        stored,
        tmp_path,
        GRANGE_ENV_CACHE=str(tmp_path / "pod-cache"),
        GRANGE_ENV_PACKAGES=location.url,
        GRANGE_ENV_OFFLINE="1",
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "step 'table': package 'tabulate' (tabulate-0.9.0-py3-none-any.whl)" in done.stderr
    assert "is not in the datastore" in done.stderr and done.stderr.count("\n") == 1


# -- deployed: compiled with the lock, run by the local Argo executor ------------------

ARGO_FLOW = """
from grange import FlowSpec, step


def has_tabulate():
    try:
        import tabulate
    except ImportError:
        return False
    return tabulate.__version__


class EnvPodFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has_tabulate()
        self.next(self.table)

    @step
    def table(self):
        import tabulate

        self.text = tabulate.tabulate([["a", 1]])
        self.table_has = has_tabulate()
        self.next(self.end)

    @step
    def end(self):
        self.end_has = has_tabulate()


if __name__ == "__main__":
    EnvPodFlow()
"""


def test_a_deployed_env_step_imports_tabulate_and_a_plain_step_cannot(
    runner: Runner, env_cache: Path
) -> None:
    from argo_executor import run_workflow
    from grange import Flow
    from grange.deploy.argo import ArgoSettings, compile_flow
    from grange.deploy.argo.trigger import trigger_workflow
    from grange.graph import graph_of
    from grange.runtime.run import step_options

    file = runner.cwd / "project" / "env_pod_flow.py"
    file.parent.mkdir()
    file.write_text(textwrap.dedent(ARGO_FLOW))
    cls = load_flow(file)
    graph = graph_of(cls)
    options = step_options(cls, graph, ())
    options["table"].environment = TABULATE  # as @pypi(packages={"tabulate": "0.9.0"})
    location = DatastoreLocation.of(runner.root)
    specs = {step: o.environment for step, o in options.items()}
    os.environ["GRANGE_ENV_CACHE"] = str(env_cache)  # the deployer's cache: the session's
    try:
        refs, env = locks_for_pods(specs, {}, location)
    finally:
        del os.environ["GRANGE_ENV_CACHE"]
    assert set(refs) == {"table"} and env == {}
    os.environ["GRANGE_ENV_CACHE"] = str(env_cache)
    try:  # deploying again: the same lock (from the cache), the same manifest
        assert locks_for_pods(specs, {}, location) == (refs, env)
    finally:
        del os.environ["GRANGE_ENV_CACHE"]
    manifests = compile_flow(
        cls,
        graph,
        options,
        ArgoSettings(
            datastore_root=str(location),
            package=package_flow(str(file), location, cls.__name__),
            image="python:3.11",
            user=USER,
            environments=refs,
            environment_env=env,
        ),
    )
    for doc in manifests.documents():
        assert validate(doc) == []
    template = manifests.workflow_template
    workflow = trigger_workflow(template, {}, USER)
    result = run_workflow(
        template,
        workflow,
        env=runner.env(GRANGE_CODE_DIR=str(runner.cwd / "code"), GRANGE_ENV_CACHE=str(env_cache)),
        cwd=runner.cwd,
        time_scale=0.001,
    )
    assert result.phase == "Succeeded", result.explain()
    run = Flow("EnvPodFlow")[f"argo-{result.name}"]
    assert run["start"].task.data.start_has is False
    assert run["table"].task.data.table_has == "0.9.0"
    assert "a  1" in run["table"].task.data.text
    assert run.data.end_has is False
    # The deployment's locks are the run's (recorded by start when it claims the run).
    recorded = run.environment["table"]
    assert recorded["sha"] == refs["table"][1] and recorded["where"] == "pod"
    assert "tabulate" in recorded["lock"] and run["start"].environment_info is None


# -- a @kubernetes step on the fake cluster ----------------------------------------------


def test_a_kubernetes_pod_rebuilds_the_environment(
    tmp_path: Path, env_cache: Path, kube: Any
) -> None:
    """The KubeLauncher's Job for a step with a lock: its pod (run on this host by the
    fake kubelet, with the image's grange from src) rebuilds the environment from the
    datastore's packages, with no index, and runs in it."""
    import select

    from grange.decorators.options import KubernetesOptions, TaskOptions
    from grange.environments.package import build_package
    from grange.runtime.kube_launcher import KubeLauncher
    from grange.runtime.launcher import Exited, Launcher, Worker
    from grange.task.spec import TaskSpec

    location = DatastoreLocation.of(tmp_path / "store")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "probe.py").write_text(PROBE)
    # The pods share this disk: their cache is the run's (empty here), given to them.
    pods = settings(tmp_path / "pod-cache", wheels_in_datastore=True, pod_offline=True)
    lock, stored = store_for_pods(TABULATE, settings(env_cache), location)  # no packages yet
    kube.node_env.update(PYTHONPATH=str(SRC), UV_INDEX_URL="http://127.0.0.1:9/simple")

    class Unused(Launcher):  # every step is a Kubernetes one here
        def launch(self, spec: Any) -> None:
            raise AssertionError(spec)

        def events(self) -> list[Any]:
            return []

        def kill(self, worker: Any, sig: int = 9) -> None:
            raise AssertionError(worker)

        def close(self) -> None:
            pass

    launcher = KubeLauncher(
        Unused(),
        flow="Probe",
        flow_file=str(folder / "probe.py"),
        options={"table": TaskOptions(kubernetes=KubernetesOptions(), environment=TABULATE)},
        top_level_args=[],
        step_args=[],
        package=build_package(str(folder / "probe.py"), "Probe"),
        datastore_root=location,
        settings={"image": "python:3.11", "shared_filesystem": True},
        environments={"table": stored},
        env_settings=pods,
    )
    launcher.launch(TaskSpec(flow="Probe", run_id="1", step="table", task_id="2", user="u"))
    out, code = b"", None
    while code is None:
        for event in launcher.events():
            assert not hasattr(event, "reason"), event
            if isinstance(event, Worker):
                worker = event
            elif isinstance(event, Exited):
                code = event.code
        select.select([], [], [], 0.05)
    while chunk := os.read(worker.stdout, 65536):
        out += chunk
    launcher.close()
    assert code == 0, out.decode()
    seen = facts(out.decode())
    assert seen["tabulate"] == "0.9.0"
    assert seen["python"].startswith(str(tmp_path / "pod-cache"))
    assert location.open().exists(  # stored before the first pod (wheels_in_datastore)
        f"envs/packages/{lock.packages[0]['sha256']}/tabulate-0.9.0-py3-none-any.whl"
    )


KUBE_FLOW = """
from grange import FlowSpec, kubernetes, pypi, step


def has_tabulate():
    try:
        import tabulate
    except ImportError:
        return False
    return tabulate.__version__


class KubeEnvFlow(FlowSpec):
    @step
    def start(self):
        self.start_has = has_tabulate()
        self.next(self.table)

    @kubernetes
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def table(self):
        import os, sys

        self.table_has = has_tabulate()
        self.pod = os.environ.get("HOSTNAME", "")
        self.prefix = sys.prefix
        self.next(self.end)

    @step
    def end(self):
        self.end_has = has_tabulate()


if __name__ == "__main__":
    KubeEnvFlow()
"""


def test_run_with_a_kubernetes_pypi_step(runner: Runner, tmp_path: Path, kube: Any) -> None:
    """``run``: the @kubernetes @pypi step's lock is resolved for the pods and stored,
    its pod (the fake kubelet's, on this host) rebuilds the environment and imports
    tabulate; the local steps cannot."""
    from grange import Flow

    file = tmp_path / "project" / "kube_env_flow.py"
    file.parent.mkdir()
    file.write_text(textwrap.dedent(KUBE_FLOW))
    config = tmp_path / "config.toml"
    config.write_text(
        'default_profile = "fake"\n[profiles.fake.kubernetes]\nshared_filesystem = true\n'
    )
    kube.node_env.update(PYTHONPATH=str(SRC))  # the image's grange: this checkout's
    # The node reaches PyPI as this machine does (its certificates, if set)
    kube.node_env.update({k: v for k, v in os.environ.items() if k.startswith("SSL_CERT_")})
    env = runner.env(GRANGE_CONFIG=str(config), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(file, env=env)
    run = Flow("KubeEnvFlow")[str(result.run_id)]
    assert run.successful, result.output
    table = run["table"].task.data
    assert table.table_has == "0.9.0" and table.pod.startswith("kubeenvflow-table-")
    assert run["start"].task.data.start_has is False and run.data.end_has is False
    recorded = run.environment["table"]
    assert recorded["platform"] == "x86_64-manylinux_2_28"
    assert table.prefix.startswith(str(Path(os.environ["GRANGE_CACHE_DIR"])))


# -- @conda in a pod (against the tests' local channel) --------------------------------

CONDA_PROBE = """
import sys
import click, grange, grange_testpkg
print("python", sys.prefix)
print("testpkg", grange_testpkg.VERSION)
"""


def test_the_pod_rebuilds_a_conda_environment(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same path with a conda lock: resolved for the pods' conda platform
    (linux-64), rebuilt by the bootstrap from the lock alone (no solve), run in it."""
    from tests.conda_channel import session_settings

    location = DatastoreLocation.of(tmp_path / "store")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "probe.py").write_text(CONDA_PROBE)
    ref = package_flow(str(folder / "probe.py"), location, "Probe")
    spec = EnvSpec(kind="conda", packages=(("grange-testpkg", "1.0"),), step="table")
    conda = session_settings(tmp_path_factory)
    lock, stored = store_for_pods(spec, conda, location)
    assert lock.kind == "conda" and lock.platform == "linux-64"
    done = bootstrap(ref, stored, tmp_path, GRANGE_ENV_CACHE=str(tmp_path / "pod-cache"))
    assert done.returncode == 0, done.stderr
    seen = facts(done.stdout)
    assert seen["testpkg"] == "1.0" and seen["python"].startswith(str(tmp_path / "pod-cache"))


# -- argo-workflows create, as a user types it -----------------------------------------


def test_create_stores_the_lock_and_its_packages(runner: Runner, tmp_path: Path) -> None:
    """``argo-workflows create`` resolves the @pypi step's lock for the pods, stores it
    and (wheels_in_datastore) its packages, and gives only that step's pod the lock."""
    import yaml

    config = tmp_path / "config.toml"
    config.write_text(
        'default_profile = "p"\n[profiles.p.environments]\nwheels_in_datastore = true\n'
    )
    env = runner.env(GRANGE_CONFIG=str(config), KUBECONFIG=str(tmp_path / "missing"))
    flow = Path(__file__).parents[1] / "flows" / "envpods" / "pypi_step.py"
    result = runner(flow, "argo-workflows", "create", "--only-yaml", env=env)
    template = next(d for d in yaml.safe_load_all(result.stdout) if d)
    assert validate(template) == []
    steps = {t["name"]: t for t in template["spec"]["templates"]}
    command = steps["table"]["container"]["command"]
    url = command[command.index("--env-lock-url") + 1]
    sha = command[command.index("--env-lock-sha") + 1]
    assert url == str(runner.root / "envs" / "locks" / f"{sha}.json") and Path(url).is_file()
    assert "command" not in steps["start"]["container"]
    env_vars = {e["name"]: e["value"] for e in steps["table"]["container"]["env"]}
    assert env_vars["GRANGE_ENV_PACKAGES"] == str(runner.root)
    wheels = list((runner.root / "envs" / "packages").glob("*/tabulate-0.9.0-py3-none-any.whl"))
    assert len(wheels) == 1
    assert f"Step table: @pypi environment, lock {sha[:12]}" in result.stderr


# -- on an S3 datastore: the environment has grange's S3 client -----------------------

S3_FLOW = """
from grange import FlowSpec, pypi, step


class EnvS3Flow(FlowSpec):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.table)

    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def table(self):
        import tabulate

        self.text = tabulate.tabulate([[n] for n in self.numbers])  # read from S3
        self.next(self.end)

    @step
    def end(self):
        self.lines = len(self.text.splitlines())


if __name__ == "__main__":
    EnvS3Flow()
"""


def test_a_deployed_env_step_reads_and_writes_artifacts_on_s3(
    runner: Runner, s3_server: Any, s3_bucket: str, env_cache: Path
) -> None:
    """On an S3 datastore a task imports obstore: the deployment's lock for the pods has
    it (the deployer's version), so the pod's environment reads start's artifact from
    S3 and writes its own there, and the run records the lock."""
    import yaml

    from argo_executor import run_workflow
    from grange import Flow, metadata, namespace
    from grange.deploy.argo.trigger import trigger_workflow

    file = runner.cwd / "project" / "env_s3_flow.py"
    file.parent.mkdir()
    file.write_text(textwrap.dedent(S3_FLOW))
    root = f"s3://{s3_bucket}/runs"
    config = runner.cwd / "config.toml"
    config.write_text(
        'default_profile = "p"\n[profiles.p.environments]\nwheels_in_datastore = true\n'
    )
    env = runner.env(
        GRANGE_DATASTORE_ROOT=root,
        GRANGE_CONFIG=str(config),
        GRANGE_ENV_CACHE=str(env_cache),
        KUBECONFIG=str(runner.cwd / "missing"),
        **s3_server.env(),
    )
    created = runner(file, "argo-workflows", "create", "--only-yaml", env=env)
    template = next(d for d in yaml.safe_load_all(created.stdout) if d)
    workflow = trigger_workflow(template, {}, USER)
    pod_env = {**env, "GRANGE_CODE_DIR": str(runner.cwd / "code"), "PYTHONPATH": str(SRC)}
    pod_env["GRANGE_ENV_CACHE"] = str(runner.cwd / "pod-cache")  # a new node
    result = run_workflow(template, workflow, env=pod_env, cwd=runner.cwd, time_scale=0.001)
    assert result.phase == "Succeeded", result.explain()
    metadata(f"local@{root}")
    namespace(None)
    run = Flow("EnvS3Flow")[f"argo-{result.name}"]
    assert run.data.lines == 5 and "1" in run["table"].task.data.text
    packages = {p["name"] for p in run.environment["table"]["packages"]}
    assert {"tabulate", "obstore"} <= packages
    assert run.environment["table"]["requested"]["packages"] == {"tabulate": "0.9.0"}
