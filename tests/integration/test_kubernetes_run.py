"""``run`` with @kubernetes steps and ``--with kubernetes``, against the fake API server.

The fake's kubelet runs each Job's container on this host, so these are real
runs: the pod bootstraps from the run's code package, the step command writes
to the datastore (a folder shared with the "cluster", or loopback S3) and the
runtime follows the Job through its follower process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from grange import Flow
from kubefake import FakeKube
from s3server import MotoServer
from support import Runner

FLOW = """
import os
from grange import FlowSpec, current, kubernetes, resources, retry, step

class KubeFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.square, foreach="items")

    @resources(cpu=64, memory=1000000)
    @kubernetes(cpu=0.5, memory=256, labels={"team": "ml"})
    @step
    def square(self):
        print("squaring", self.input)
        self.value = self.input ** 2
        self.pod = os.environ.get("HOSTNAME", "")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.pods = sorted(i.pod for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    KubeFlow()
"""

RETRY_FLOW = """
import os, time
from grange import FlowSpec, current, retry, step, timeout

class RetryFlow(FlowSpec):
    @retry(times=1, minutes_between_retries=0)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        print("in a pod:", os.environ.get("HOSTNAME"))

if __name__ == "__main__":
    RetryFlow()
"""

SLOW_FLOW = """
import time
from grange import FlowSpec, kubernetes, step, timeout

class SlowFlow(FlowSpec):
    @timeout(seconds=2)
    @kubernetes
    @step
    def start(self):
        print("sleeping", flush=True)
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    SlowFlow()
"""


STUCK_FLOW = """
import signal, time
from grange import FlowSpec, kubernetes, step, timeout

class StuckFlow(FlowSpec):
    @timeout(seconds=1)
    @kubernetes
    @step
    def start(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # as if stuck in C code
        print("stuck", flush=True)
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    StuckFlow()
"""


MIXED_FLOW = """
import signal, time
from grange import FlowSpec, kubernetes, step, timeout

class MixedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.local, self.remote)

    @timeout(seconds=1)
    @step
    def local(self):
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # killed by the runtime
        time.sleep(120)
        self.next(self.join)

    @kubernetes
    @step
    def remote(self):
        time.sleep(25)  # still running when the local task is killed
        self.done = True
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

if __name__ == "__main__":
    MixedFlow()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    flows = {"kube_flow": FLOW, "retry_flow": RETRY_FLOW, "slow_flow": SLOW_FLOW}
    flows["stuck_flow"] = STUCK_FLOW
    flows["mixed_flow"] = MIXED_FLOW
    for name, text in flows.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(text))
    return folder


def shared_profile(tmp_path: Path, extra: str = "") -> dict[str, str]:
    """A profile whose pods share this machine's disk (the fake runs them here)."""
    config = tmp_path / "config.toml"
    config.write_text(
        'default_profile = "fake"\n[profiles.fake.kubernetes]\nshared_filesystem = true\n' + extra
    )
    return {"GRANGE_CONFIG": str(config)}


def test_a_kubernetes_step_runs_as_jobs(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    # A module in the directory the run starts from shadows nothing the followers import.
    (tmp_path / "kubernetes.py").write_text("raise ImportError('the wrong kubernetes')\n")
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "kube_flow.py", env=env)
    run = Flow("KubeFlow")[str(result.run_id)]
    assert run.successful and run.data.total == 14
    pods = run["join"].task.data.pods
    assert len(pods) == 3 and all(p.startswith("kubeflow-square-") for p in pods)
    assert "squaring 2" in result.output  # the pod's log, streamed
    assert "more than this machine has" not in result.output  # pods take nothing here
    assert "was missing" not in result.output  # the package is stored after the index opens
    logs = sorted(t.stdout for t in run["square"].tasks())  # and kept as the task's
    assert [line.splitlines()[-1] for line in logs] == ["squaring 1", "squaring 2", "squaring 3"]
    job = kube.requests.index(("POST", "/apis/batch/v1/namespaces/default/jobs"))
    assert job >= 0
    deleted = kube.deleted_jobs
    assert len(deleted) == 3 and {p for _, _, p in deleted} == {"Background"}
    assert kube.objects("jobs") == [] and kube.objects("pods") == []
    creates = [r for r in kube.requests if r == ("POST", "/apis/batch/v1/namespaces/default/jobs")]
    assert len(creates) == 3


def test_with_kubernetes_runs_every_step_and_retries_with_a_new_job(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "retry_flow.py", "--with", "kubernetes:memory=512", env=env)
    run = Flow("RetryFlow")[str(result.run_id)]
    assert run.successful and run["start"].task.data.attempt == 1
    assert "first attempt fails" in result.output
    assert "in a pod: retryflow-end-" in result.output
    assert len(kube.deleted_jobs) == 3  # start twice, end once


def test_timeout_stops_the_pod_and_deletes_the_job(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "slow_flow.py", env=env, ok=False)
    assert "sleeping" in result.output
    assert "timed out" in result.output.lower() or "Timeout" in result.output
    assert len(kube.deleted_jobs) == 1
    assert kube.objects("jobs") == []


def test_a_step_past_its_timeout_is_stopped_by_the_runtime_and_its_job_deleted(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    extra = "startup_allowance = 1\n"
    env = runner.env(**shared_profile(tmp_path, extra), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "stuck_flow.py", env=env, ok=False)
    assert "stuck" in result.output
    assert "TimeoutException: step 'start' timed out after 1 seconds" in result.output
    assert len(kube.deleted_jobs) == 1 and kube.objects("jobs") == []


@pytest.mark.slow
def test_a_killed_local_task_does_not_take_the_followers_with_it(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    """A fresh interpreter's task killed (its @timeout) makes the runtime end what it
    left behind: never a follower, whose Job would be left running."""
    extra = "startup_allowance = 1\n"  # the local task is killed ~13 s in (10 s: its own)
    env = runner.env(**shared_profile(tmp_path, extra), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "mixed_flow.py", env=env, ok=False, fork=False)
    assert "step 'local' timed out" in result.output
    run = Flow("MixedFlow")[str(result.run_id)]
    assert run["remote"].task.data.done is True, result.output
    assert len(kube.deleted_jobs) == 1 and kube.objects("jobs") == []


@pytest.mark.parametrize("group", [False, True], ids=["runtime", "terminal"])
def test_ctrl_c_deletes_the_running_jobs(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube, group: bool
) -> None:
    """SIGINT to the runtime, or to the whole process group as a terminal's Ctrl-C."""
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    argv, _ = runner.argv(project / "slow_flow.py", "run")
    proc = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=group,
    )
    while not [
        p for p in kube.objects("pods") if (p.get("status") or {}).get("phase") == "Running"
    ]:
        assert proc.poll() is None, proc.communicate()[0].decode()
        time.sleep(0.05)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 130, out
    assert len(kube.deleted_jobs) == 1, out
    assert kube.objects("jobs") == [] and kube.objects("pods") == []


def test_a_local_datastore_is_refused_without_a_shared_filesystem(
    runner: Runner, project: Path, kube: FakeKube
) -> None:
    env = runner.env(KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "kube_flow.py", env=env, ok=False)
    assert result.returncode == 2
    assert "pods cannot read" in result.output and "s3://" in result.output
    assert "Traceback" not in result.output
    assert kube.requests == []


def test_the_registry_policy_refuses_the_image_before_the_run(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    extra = '[profiles.fake.policy]\nallowed_registries = ["ghcr.io/acme"]\n'
    env = runner.env(**shared_profile(tmp_path, extra), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(project / "kube_flow.py", env=env, ok=False)
    assert result.returncode == 2 and "Refused by policy" in result.output
    assert "step 'square'" in result.output and "ghcr.io/acme" in result.output
    assert kube.requests == []


def test_an_image_that_cannot_be_pulled_fails_the_task_clearly(
    runner: Runner, project: Path, tmp_path: Path, kube: FakeKube
) -> None:
    kube.unpullable.add("ghcr.io/acme/missing:1")
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run(
        project / "retry_flow.py",
        "--with",
        "kubernetes:image=ghcr.io/acme/missing:1",
        env=env,
        ok=False,
    )
    assert "'ghcr.io/acme/missing:1' cannot be pulled" in result.output
    assert "ImagePullBackOff" in result.output
    assert len(kube.deleted_jobs) == 2  # both attempts of start (@retry)


def test_s3_datastore(
    runner: Runner, project: Path, kube: FakeKube, s3_server: MotoServer, s3_bucket: str
) -> None:
    root = f"s3://{s3_bucket}/kube"
    env = runner.env(
        **s3_server.env(), GRANGE_DATASTORE_ROOT=root, KUBECONFIG=os.environ["KUBECONFIG"]
    )
    # The nodes' own credentials (a real cluster: the service account's role).
    kube.node_env.update({k: v for k, v in s3_server.env().items() if k.startswith("AWS_")})
    result = runner.run(project / "kube_flow.py", env=env)
    from grange import metadata, namespace

    metadata(f"local@{root}")
    namespace(None)
    run = Flow("KubeFlow")[str(result.run_id)]
    assert run.successful and run.data.total == 14
    assert len(kube.deleted_jobs) == 3


def test_a_parallel_step_is_refused_on_kubernetes(
    runner: Runner, tmp_path: Path, kube: FakeKube
) -> None:
    env = runner.env(**shared_profile(tmp_path), KUBECONFIG=os.environ["KUBECONFIG"])
    result = runner.run("gang", "--with", "kubernetes", env=env, ok=False)
    assert result.returncode == 2 and "is @parallel" in result.output
    assert "Traceback" not in result.output and kube.requests == []
