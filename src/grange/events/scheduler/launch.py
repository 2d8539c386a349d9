"""Starting a deployed flow's run as a process, and following it.

:class:`ProcessLauncher` starts ``python -m grange.environments.bootstrap`` on
the deployment's code package (the exact files deployed, whatever happened to
the flow's directory since), which runs ``python FLOW_FILE [top-level options]
run --trigger-json @FILE --run-id-file FILE [--tag T] [--<param> V]``. The
child is a session of its own, so a Ctrl-C meant for the scheduler does not
reach it; its output goes to a log file in the scheduler's work directory.

What a start leaves (:class:`Started`) is stored with the launch, so that a
scheduler restarted while its runs go on finds them (by pid, checked against
the pid's start time, then by run id) instead of starting them again.
:class:`Launcher` is the seam; tests use an in-memory twin.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from grange.events.deployments import DeploymentSpec
from grange.metastore.liveness import is_alive, start_time, this_host
from grange.user_configs.read import BOUND_ENV

#: Whether ``--trigger-json`` goes after ``run`` (True) or before it, with the
#: top-level options (the flow's command line accepts it there).
TRIGGER_JSON_AFTER_RUN = False


@dataclass(frozen=True)
class Started:
    """A launched run's process and files."""

    pid: int
    host: str | None
    started: int | None  # the pid's start time (clock ticks), to tell a reused pid
    run_id_file: str
    log: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Started:
        return cls(
            pid=int(data["pid"]),
            host=data.get("host"),
            started=data.get("started"),
            run_id_file=str(data["run_id_file"]),
            log=str(data["log"]),
        )


RUNNING = "running"
GONE = "gone"  # a process this scheduler did not start has ended: its exit code is unknown
UNKNOWN = "unknown"  # a process of another machine: its run's status says whether it ended


class Launcher(Protocol):
    def start(
        self,
        spec: DeploymentSpec,
        key: str,
        events: Sequence[Mapping[str, Any]],
        parameter_args: Sequence[str],
    ) -> Started:
        """Start the run; an ``OSError`` if the process cannot start."""
        ...

    def poll(self, started: Started) -> int | str:
        """The exit code, :data:`RUNNING`, :data:`GONE` or :data:`UNKNOWN`."""
        ...

    def run_id(self, started: Started) -> str | None:
        """The run's id once it has claimed one."""
        ...

    def terminate(self, started: Started) -> None:
        """Ask the run to stop (SIGTERM: the runtime stops its tasks, resumable)."""
        ...


def safe_name(text: str) -> str:
    """``text`` as a file name, one of its own: a readable prefix (at most 60
    characters, others as ``_``) and a digest of the whole text, so that two
    texts never share a name (two launch keys, their trigger and log files)."""
    import hashlib

    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:60]
    return f"{readable}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


class ProcessLauncher:
    """Runs launches as child processes; files under ``workdir`` (made absolute: the
    children run there). ``metadata``: the scheduler's metadata URL (None: the
    local index under each deployment's datastore root), given to every run in
    ``GRANGE_METADATA`` (a password never goes on a command line)."""

    def __init__(
        self,
        workdir: Path,
        env: Mapping[str, str] | None = None,
        *,
        metadata: str | None = None,
    ) -> None:
        self.workdir = Path(workdir).expanduser().absolute()
        self.env = dict(os.environ if env is None else env)
        self.metadata = metadata
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._codes: dict[int, int] = {}  # exit codes of ended children, until polled

    def command(
        self,
        spec: DeploymentSpec,
        trigger_file: Path,
        run_id_file: Path,
        parameter_args: Sequence[str],
    ) -> list[str]:
        package = spec.package
        trigger = ["--trigger-json", f"@{trigger_file}"]
        top = list(spec.top_level_args())
        run = ["run", "--run-id-file", str(run_id_file)]
        if TRIGGER_JSON_AFTER_RUN:
            run += trigger
        else:
            top += trigger
        for tag in spec.tags:
            run += ["--tag", tag]
        return [
            sys.executable, "-m", "grange.environments.bootstrap",
            "--package-url", package.url, "--package-sha", package.sha,
            "--flow-file", package.flow_file, "--",
            *top, *run, *parameter_args,
        ]  # fmt: skip

    def start(
        self,
        spec: DeploymentSpec,
        key: str,
        events: Sequence[Mapping[str, Any]],
        parameter_args: Sequence[str],
    ) -> Started:
        name = f"{safe_name(spec.name)}/{safe_name(key)}"
        for sub in ("trigger", "runs", "logs"):
            (self.workdir / sub / safe_name(spec.name)).mkdir(parents=True, exist_ok=True)
        trigger_file = self.workdir / "trigger" / f"{name}.json"
        run_id_file = self.workdir / "runs" / f"{name}.run_id"
        log = self.workdir / "logs" / f"{name}.log"
        trigger_file.write_text(json.dumps([dict(e) for e in events]))
        run_id_file.unlink(missing_ok=True)
        env = dict(self.env)
        env["GRANGE_PLAIN_OUTPUT"] = "1"
        env["GRANGE_DEPLOYMENT"] = spec.name  # a deployed run (Event.safe_publish publishes)
        if spec.user:
            env["GRANGE_USER"] = spec.user
        if spec.storage.profile:
            env["GRANGE_PROFILE"] = spec.storage.profile
        env["GRANGE_METADATA"] = self.metadata or "local"  # the scheduler's database
        if spec.configs is not None:  # the values bound at deploy (grange.user_configs)
            env[BOUND_ENV] = json.dumps({"flow": spec.flow, "configs": dict(spec.configs)})
        command = self.command(spec, trigger_file, run_id_file, parameter_args)
        with open(log, "ab") as out:
            out.write(f"$ {' '.join(command)}\n".encode())
            out.flush()
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                cwd=str(self.workdir),
            )
        self._children[child.pid] = child
        return Started(
            pid=child.pid,
            host=this_host(),
            started=start_time(child.pid),
            run_id_file=str(run_id_file),
            log=str(log),
        )

    def _reap(self) -> None:
        """Collect every child that has ended (a replaced run's too: no zombies)."""
        for pid, child in list(self._children.items()):
            code = child.poll()
            if code is not None:
                self._codes[pid] = code
                del self._children[pid]

    def poll(self, started: Started) -> int | str:
        self._reap()
        if started.pid in self._codes:
            return self._codes.pop(started.pid)
        if started.pid in self._children:
            return RUNNING
        alive = is_alive(started.host, started.pid, started.started)
        if alive is None:
            if started.host != this_host():
                return UNKNOWN  # started on another machine: the run's status tells
            alive = _pid_exists(started.pid)  # here, without a start time to check
        return RUNNING if alive else GONE

    def run_id(self, started: Started) -> str | None:
        try:
            text = Path(started.run_id_file).read_text().strip()
        except OSError:
            return None
        return text or None

    def terminate(self, started: Started) -> None:
        if self.poll(started) != RUNNING:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(started.pid, signal.SIGTERM)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
