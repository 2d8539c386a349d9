"""``Deployer``: deploy a flow to Argo Workflows from Python (notebooks, CI scripts).

As Metaflow's, it drives the flow's own command line in a subprocess
(``python flow.py [top-level options] argo-workflows ... create``), so a
deployment made from Python is exactly the one the command line makes::

    from grange import Deployer

    deployed = Deployer("train.py", profile="staging").argo_workflows().create(alpha=0.3)
    triggered = deployed.trigger(alpha=0.5)
    triggered.wait_for_run()         # the client Run, once its start task has run
    triggered.status                 # Argo's phase: Pending, Running, Succeeded, ...
    deployed.delete()

A command that fails raises :class:`DeployerError` with the command's own
message (what the CLI printed), never a subprocess traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from grange.exceptions import GrangeError
from grange.runner import cliargs


class DeployerError(GrangeError):
    """A deployer command failed; the message is what the command said."""

    exit_code = 1
    headline = "Deployment failed"


def _options(values: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> list[str]:
    return cliargs.options(values, parameters)


def _flow_parameters(flow_file: str) -> dict[str, Any]:
    """The flow's parameters by name, read from the file once."""
    loaded = cliargs.load_flow(flow_file, DeployerError)
    return loaded[1] if loaded else {}


class Deployer:
    """The deployers of one flow file: ``Deployer("flow.py").argo_workflows(...)``.

    ``profile``, ``env`` (extra environment) and ``cwd`` apply to every command;
    other keyword arguments are top-level options (``datastore_root=...``,
    ``branch="x"``, ``production=True``, ``with_=["retry"]``).
    """

    def __init__(
        self,
        flow_file: str,
        *,
        show_output: bool = False,
        profile: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        **top_level: Any,
    ) -> None:
        self.flow_file = os.path.abspath(os.path.join(cwd or os.getcwd(), flow_file))
        if not os.path.isfile(self.flow_file):
            raise DeployerError(f"no flow file {self.flow_file}", fix="give the flow file's path")
        self.show_output = show_output
        self.cwd = cwd
        self.env = {**os.environ, **dict(env or {})}
        self.top_level = ([f"--profile={profile}"] if profile else []) + _options(top_level)
        self._parameters: dict[str, Any] | None = None

    @property
    def parameters(self) -> dict[str, Any]:
        """The flow's parameters by name (read from the file on first use)."""
        if self._parameters is None:
            self._parameters = _flow_parameters(self.flow_file)
        return self._parameters

    def argo_workflows(self, name: str | None = None, **options: Any) -> ArgoDeployer:
        """The Argo Workflows deployer (``options``: ``k8s_namespace=...``)."""
        return ArgoDeployer(self, name=name, **options)

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, self.flow_file, *self.top_level, *args]
        done = subprocess.run(
            command, cwd=self.cwd, env=self.env, capture_output=True, text=True, check=False
        )
        if self.show_output:
            sys.stdout.write(done.stdout)
            sys.stderr.write(done.stderr)
        if done.returncode != 0:
            said = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            raise DeployerError(f"`{' '.join(args[:3])}` failed:\n{said}")
        return done


class ArgoDeployer:
    """``create`` a deployment, or find one made earlier."""

    def __init__(self, deployer: Deployer, *, name: str | None = None, **options: Any) -> None:
        self._deployer = deployer
        self._group = ["argo-workflows", *_options({"name": name, **options})]

    def create(self, **options: Any) -> DeployedFlow:
        """Deploy (``argo-workflows create``); ``options`` are its options and the
        flow's parameters (``max_workers=10``, ``tags=["x"]``, ``branch="exp"``,
        ``alpha=0.3``). The deployed flow remembers ``branch``/``production``."""
        for printing in ("only_json", "only_yaml"):
            if options.get(printing):
                raise DeployerError(
                    f"{printing}=True prints manifests and deploys nothing",
                    fix=f"use the command line: python flow.py argo-workflows create "
                    f"--{printing.replace('_', '-')}",
                )
        where = {k: options[k] for k in ("branch", "production") if options.get(k)}
        with tempfile.TemporaryDirectory() as tmp:
            attributes = Path(tmp) / "deployer.json"
            self._deployer._run(
                [*self._group, "create", *_options(options, self._deployer.parameters),
                 "--deployer-attribute-file", str(attributes)]
            )  # fmt: skip
            data = json.loads(attributes.read_text())
        return DeployedFlow(
            self._deployer, self._group, data["name"], data["flow_name"], _options(where)
        )


class DeployedFlow:
    """A flow deployed on Argo: trigger runs, delete it."""

    def __init__(
        self,
        deployer: Deployer,
        group: list[str],
        name: str,
        flow_name: str,
        where: list[str] | None = None,
    ) -> None:
        self._deployer = deployer
        self._group = group
        self.name = name
        self.flow_name = flow_name
        self._where = list(where or [])  # --branch/--production of the deployment

    @property
    def status(self) -> str:
        """``deployed`` while the template is on the cluster, else ``deleted``."""
        listed = self._deployer._run([*self._group, "list-workflow-templates"]).stdout
        return "deployed" if self.name in listed.split() else "deleted"

    @property
    def workflow_template(self) -> str:
        return self.name

    def trigger(self, **parameters: Any) -> TriggeredRun:
        """Start a run with these parameter values (others: the deployment's defaults)."""
        with tempfile.TemporaryDirectory() as tmp:
            run_id_file = Path(tmp) / "run-id"
            self._deployer._run(
                [
                    *self._group,
                    "trigger",
                    *self._where,
                    *_options(parameters, self._deployer.parameters),
                    "--run-id-file",
                    str(run_id_file),
                ]
            )
            run_id = run_id_file.read_text().strip()
        return TriggeredRun(self, run_id)

    def delete(self, **options: Any) -> bool:
        self._deployer._run([*self._group, "delete", *self._where, *_options(options)])
        return True

    def __repr__(self) -> str:
        return f"DeployedFlow({self.flow_name} as {self.name})"


class TriggeredRun:
    """A run started by :meth:`DeployedFlow.trigger`."""

    def __init__(self, deployed: DeployedFlow, run_id: str) -> None:
        self.deployed = deployed
        self.run_id = run_id
        self.pathspec = f"{deployed.flow_name}/{run_id}"

    def _verb(self, verb: str) -> str:
        return self.deployed._deployer._run([*self.deployed._group, verb, self.run_id]).stdout

    @property
    def status(self) -> str:
        """Argo's phase of the run: Pending, Running, Suspended, Succeeded, Failed, Error."""
        return self._verb("status").strip()

    @property
    def is_running(self) -> bool:
        return self.status in ("Pending", "Running", "Suspended")

    @property
    def run(self) -> Any:
        """The client's Run, or None before its start task has registered it."""
        from grange.client import Run
        from grange.exceptions import ObjectNotFound

        try:
            return Run(self.pathspec, _namespace_check=False)
        except ObjectNotFound:
            return None

    def wait_for_run(self, timeout: float | None = None, polling_interval: float = 5) -> Any:
        """Wait until the run exists in the datastore and return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            run = self.run
            if run is not None:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise DeployerError(f"run {self.pathspec} did not start within {timeout} s")
            time.sleep(polling_interval)

    def wait_for_completion(self, timeout: float | None = None, polling_interval: float = 5) -> str:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_running:
            if deadline is not None and time.monotonic() > deadline:
                raise DeployerError(f"run {self.pathspec} is still running after {timeout} s")
            time.sleep(polling_interval)
        return self.status

    def terminate(self) -> bool:
        self._verb("terminate")
        return True

    def suspend(self) -> bool:
        self._verb("suspend")
        return True

    def unsuspend(self) -> bool:
        self._verb("unsuspend")
        return True

    def __repr__(self) -> str:
        return f"TriggeredRun({self.pathspec})"
