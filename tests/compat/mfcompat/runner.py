"""Run the generated graph x test combinations against grange, as Metaflow's run_tests.py does.

For each combination, in a fresh directory: write ``test_flow.py`` and
``check_flow.py`` (adapted by :mod:`mfcompat.adapt`), run the flow, resume it
when the test asks for a resume, then run both checks (``CliCheck`` and
``MetadataCheck``) on the run that the ``--run-id-file`` names. Combinations
run ``jobs`` at a time; each command may take ``timeout`` seconds before it is
stopped (a run that hangs must not hang the whole suite).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mfcompat.adapt import ENV_NAMES, adapt_check, adapt_flow

HERE = Path(__file__).resolve().parent
SUPPORT = HERE.parent / "support"
GENERATE = HERE / "generate.py"
TOP_OPTIONS = ["--quiet"]
CHECKS = ["CliCheck", "MetadataCheck"]
# Options of Metaflow's local context that grange's `run` and `resume` take as they are.
_RUN_OPTION_PREFIXES = ("--max-workers", "--max-num-splits", "--tag")


@dataclass
class Result:
    test: str
    graph: str
    passed: bool
    phase: str = ""  # where it failed: run, resume, CliCheck, MetadataCheck
    output: str = ""  # the tail of what the failing command printed
    features: list[str] = field(default_factory=list)  # missing features the code needs
    seconds: float = 0.0
    category: str = ""
    reason: str = ""

    @property
    def key(self) -> str:
        return f"{self.test}/{self.graph}"


def generate(metaflow_src: Path, out: Path) -> dict[str, Any]:
    """Metaflow's formatter output, made in a process that has the checkout on its path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-B", str(GENERATE), str(metaflow_src), str(out)],
        check=True,
        env=env,
        cwd=out.parent,
    )
    return json.loads(out.read_text())


def _swap_env_name(name: str) -> str:
    for old, new in ENV_NAMES.items():
        if name.startswith(old):
            return new + name[len(old) :]
    return name


def case_env(context: dict[str, Any]) -> dict[str, str]:
    """The environment of every command: Metaflow's context, with grange's variable names."""
    pythonpath = os.pathsep.join(p for p in (str(SUPPORT), os.environ.get("PYTHONPATH")) if p)
    env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
    env.update(
        {
            _swap_env_name(k): v
            for k, v in context.get("env", {}).items()
            if k.startswith(tuple(ENV_NAMES))
        }
    )
    env.update(
        LANG="C.UTF-8",
        LC_ALL="C.UTF-8",
        PYTHONIOENCODING="utf_8",
        PYTHONPATH=pythonpath,
        USER=env.get("GRANGE_USER", "tester"),
        GRANGE_PLAIN_OUTPUT="1",
    )
    return env


def run_options(context: dict[str, Any]) -> list[str]:
    return [o for o in context.get("run_options", []) if o.startswith(_RUN_OPTION_PREFIXES)]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        text = out.decode("utf-8", "replace")
        return -1, text + f"\n[harness] stopped after {timeout:.0f} s: TIMEOUT"
    return proc.returncode, out.decode("utf-8", "replace")


def run_case(
    case: dict[str, Any],
    context: dict[str, Any],
    grange_names: frozenset[str],
    timeout: float,
    keep: Path | None = None,
) -> Result:
    started = time.monotonic()
    result = Result(case["test"], case["graph"], passed=False)
    flow = adapt_flow(case["flow_code"], grange_names)
    check = adapt_check(case["check_code"], grange_names)
    result.features = flow.features + [f for f in check.features if f not in flow.features]
    workdir = Path(tempfile.mkdtemp(prefix=f"grange_compat_{case['test']}_{case['graph']}_"))
    try:
        (workdir / "test_flow.py").write_text(flow.code, encoding="utf-8")
        (workdir / "check_flow.py").write_text(check.code, encoding="utf-8")
        for f in case["files"]:
            shutil.copy2(f, workdir / Path(f).name)
        env = case_env(context)
        options = run_options(context)

        def flow_cmd(mode: str, *args: str) -> list[str]:
            return [sys.executable, "-B", "test_flow.py", *TOP_OPTIONS, mode, *args,
                    "--run-id-file", "run-id", *options]  # fmt: skip

        rc, out = _run(flow_cmd("run"), workdir, env, timeout)
        if rc and case["should_resume"]:
            step = [case["resume_step"]] if case["resume_step"] else []
            rc, out = _run(flow_cmd("resume", *step), workdir, env, timeout)
            if rc:
                result.phase, result.output = "resume", _tail(out)
                return result
        elif rc and not case["should_fail"]:
            result.phase, result.output = "run", _tail(out)
            return result
        elif not rc and case["should_fail"]:
            result.phase, result.output = "run", "the flow should have failed but it did not"
            return result
        run_id = (workdir / "run-id").read_text().strip()
        for checker in CHECKS:
            cmd = [sys.executable, "check_flow.py", checker, run_id, *TOP_OPTIONS]
            rc, out = _run(cmd, workdir, env, timeout)
            if rc:
                result.phase, result.output = checker, _tail(out)
                return result
        result.passed = True
        return result
    except Exception as ex:  # a harness problem: say so, keep going with the others
        result.phase, result.output = "harness", f"{type(ex).__name__}: {ex}"
        return result
    finally:
        result.seconds = round(time.monotonic() - started, 2)
        if keep is not None:
            target = keep / f"{case['test']}__{case['graph']}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.move(str(workdir), target)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_all(
    generated: dict[str, Any],
    jobs: int = 2,
    timeout: float = 120.0,
    keep: Path | None = None,
    progress: Any = None,
) -> list[Result]:
    import grange

    names = frozenset(grange.__all__)
    context = generated["context"]
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [
            pool.submit(run_case, case, context, names, timeout, keep)
            for case in generated["cases"]
        ]
        results = []
        for future in futures:
            result = future.result()
            if progress:
                progress(result)
            results.append(result)
    return results


def to_json(results: list[Result]) -> str:
    return json.dumps([asdict(r) for r in results], indent=1, ensure_ascii=False)
