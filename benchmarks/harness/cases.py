"""The benchmarks: what each runs, how it prepares, what it is measured against.

Every case runs a flow from ``benchmarks/flows/`` (rendered for each tool by
swapping its ``from grange import`` line) as ``python flow.py ...`` in a
subprocess and is timed from outside. Each repetition gets a fresh, empty
datastore root unless the case says otherwise (the client read keeps one
store of many runs; resume keeps the failed run it resumes).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.measure import Timing, tail
from harness.tools import Tool, render_flow

FLOWS = Path(__file__).resolve().parent.parent / "flows"
GIB_KIB = 1 << 20


@dataclass
class Context:
    """One tool's working state inside one benchmark."""

    tool: Tool
    workdir: Path  # flows are rendered here; commands run here
    logs: Path
    flow: Path
    root: Path = Path()
    state: dict[str, Any] = field(default_factory=dict)

    def log(self, label: str) -> Path:
        return self.logs / f"{self.tool.name}-{label}.log"


@dataclass
class Case:
    """A flow run with both tools; the default: ``python flow.py run ARGS``."""

    name: str
    template: str
    args: tuple[str, ...] = ()
    about: str = ""
    target: str = ""
    target_ratio: float | None = None  # wanted: metaflow median / grange median >= this
    heavy: bool = False  # skipped by --quick
    repeat: int | None = None  # default repetitions (else the harness default)
    tools: tuple[str, ...] = ("grange", "metaflow")
    sample_hwm: bool = False
    # Run the flow once, untimed, in each repetition's new store before the timed
    # run: the figure is then a run in a store that exists (what users do all day),
    # not the one-time creation of a store. Same for both tools.
    warm: bool = False

    def context(self, tool: Tool, base: Path) -> Context:
        workdir = base / self.name / tool.name
        flow = render_flow(FLOWS / self.template, tool, workdir)
        logs = base / "logs" / self.name
        logs.mkdir(parents=True, exist_ok=True)
        return Context(tool, workdir, logs, flow)

    def setup(self, ctx: Context) -> None:
        """Once per tool, untimed."""

    def prepare(self, ctx: Context, rep: int) -> None:
        """Before each timed repetition, untimed: a fresh, empty store."""
        if ctx.root != Path() and ctx.root.exists():
            shutil.rmtree(ctx.root, ignore_errors=True)
        ctx.root = ctx.workdir / f"store-{rep}"
        if self.warm:
            cmd, env = self.command(ctx)
            subprocess.run(cmd, env=env, cwd=ctx.workdir, capture_output=True, check=False)

    def command(self, ctx: Context) -> tuple[list[str], dict[str, str]]:
        return ctx.tool.flow_command(ctx.flow, "run", *self.args), ctx.tool.env(ctx.root)

    def extras(self, ctx: Context, timing: Timing) -> dict[str, Any]:
        """Figures beyond the wall time, read from the run's output."""
        return {}

    def finish(self, ctx: Context) -> None:
        shutil.rmtree(ctx.workdir, ignore_errors=True)

    def check(self, summary: dict[str, Any], floor: dict[str, Any]) -> bool | None:
        """Whether the target is met (None: no target, or not measurable here)."""
        ratio = summary.get("ratio")
        if self.target_ratio is None or ratio is None:
            return None
        return bool(ratio >= self.target_ratio)


_STAMP = re.compile(r"BENCH (\w+)=([0-9.]+)")


@dataclass
class ArtifactCase(Case):
    """Save + load of a big array; also reports the in-flow hand-off time."""

    compare_dd: bool = False

    def extras(self, ctx: Context, timing: Timing) -> dict[str, Any]:
        stamps = {k: float(v) for k, v in _STAMP.findall(timing.log.read_text(errors="replace"))}
        if "made" in stamps and "summed" in stamps:
            return {"handoff_s": stamps["summed"] - stamps["made"]}
        return {}

    def check(self, summary: dict[str, Any], floor: dict[str, Any]) -> bool | None:
        met = super().check(summary, floor)
        if not self.compare_dd:
            return met
        handoff = summary.get("grange", {}).get("handoff_s")
        dd = floor.get("dd")
        if handoff is None or not dd:
            return met
        within = handoff <= 2 * (dd["write_s"] + dd["read_s"])
        return within if met is None else (met and within)


@dataclass
class ResumeCase(Case):
    """Resume of a run whose last step failed; only the resume is timed."""

    def prepare(self, ctx: Context, rep: int) -> None:
        super().prepare(ctx, rep)
        id_file = ctx.workdir / f"failed-run-id-{rep}"
        cmd = ctx.tool.flow_command(ctx.flow, "run", "--run-id-file", str(id_file))
        log = ctx.log(f"failing-run-{rep}")
        with open(log, "wb") as out:
            done = subprocess.run(
                cmd,
                env=ctx.tool.env(ctx.root, BENCH_FAIL="1"),
                cwd=ctx.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode == 0 or not id_file.exists():
            raise RuntimeError(f"the run meant to fail did not fail as planned:\n{tail(log)}")
        ctx.state["origin"] = id_file.read_text().strip()

    def command(self, ctx: Context) -> tuple[list[str], dict[str, str]]:
        cmd = ctx.tool.flow_command(ctx.flow, "resume", "--origin-run-id", ctx.state["origin"])
        return cmd, ctx.tool.env(ctx.root)


@dataclass
class ReadCase(Case):
    """``Flow(name).latest_run.data.x`` from a fresh interpreter, ``runs`` runs in the store.

    The store is filled once per tool with ``python read.py run --value I``
    (the public run command), ``os.cpu_count()`` runs at a time; the last run
    is made alone afterwards, so it is the latest and holds ``x == runs - 1``.
    """

    runs: int = 1000

    def setup(self, ctx: Context) -> None:
        ctx.root = ctx.workdir / "store"
        parallel = max(1, os.cpu_count() or 1)
        failures = 0
        running: list[subprocess.Popen[bytes]] = []
        log = open(ctx.log("fill"), "wb")  # noqa: SIM115 - shared by many children
        try:

            def start(value: int) -> subprocess.Popen[bytes]:
                cmd = ctx.tool.flow_command(ctx.flow, "run", "--value", str(value))
                return subprocess.Popen(
                    cmd,
                    env=ctx.tool.env(ctx.root),
                    cwd=ctx.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

            for value in range(self.runs - 1):
                while len(running) >= parallel:
                    failures += running.pop(0).wait() != 0
                running.append(start(value))
                if value % 100 == 99:
                    print(f"  {ctx.tool.name}: {value + 1} runs made", file=sys.stderr)
            for proc in running:
                failures += proc.wait() != 0
            failures += start(self.runs - 1).wait() != 0
        finally:
            log.close()
        if failures:
            raise RuntimeError(f"{failures} of {self.runs} runs failed:\n{tail(ctx.log('fill'))}")
        ctx.state["runs"] = self.runs

    def prepare(self, ctx: Context, rep: int) -> None:
        pass  # the same store for every read

    def command(self, ctx: Context) -> tuple[list[str], dict[str, str]]:
        code = (
            f"from {ctx.tool.name} import Flow\n"
            f"x = Flow('ReadFlow').latest_run.data.x\n"
            f"assert x == {self.runs - 1}, x\n"
        )
        return [ctx.tool.python, "-c", code], ctx.tool.env(ctx.root)

    def extras(self, ctx: Context, timing: Timing) -> dict[str, Any]:
        return {"runs_in_store": ctx.state.get("runs")}

    def check(self, summary: dict[str, Any], floor: dict[str, Any]) -> bool | None:
        grange = summary.get("grange", {})
        return bool(grange.get("ok")) and grange["median"] < 0.3


@dataclass
class ScaleCase(Case):
    """A huge foreach, grange only: wall time and the runtime's own peak RSS."""

    def extras(self, ctx: Context, timing: Timing) -> dict[str, Any]:
        return {
            "runtime_peak_rss_kib": timing.hwm_kib.get("runtime"),
            "fork_server_peak_rss_kib": timing.hwm_kib.get("fork-server"),
            "largest_process_peak_rss_kib": timing.maxrss_tree_kib,
        }

    def check(self, summary: dict[str, Any], floor: dict[str, Any]) -> bool | None:
        grange = summary.get("grange", {})
        rss = grange.get("runtime_peak_rss_kib")
        if not grange.get("ok") or rss is None:
            return False
        return rss < GIB_KIB


FOREACH = ("--max-workers", "16", "--max-num-splits", "100000")


def all_cases(read_runs: int) -> list[Case]:
    """Every benchmark, in the order they run."""
    return [
        Case(
            "start_end",
            "start_end.py",
            about="start -> end",
            target=">=4x",
            target_ratio=4,
            warm=True,
        ),
        Case("linear10", "linear10.py", about="10 steps in a line", warm=True),
        Case("branch3", "branch3.py", about="3-way static branch + join", warm=True),
        ResumeCase("resume10", "resume10.py", about="resume: 10 steps, last one failed"),
        Case(
            "foreach_100",
            "foreach.py",
            ("--width", "100", *FOREACH),
            about="foreach of 100 trivial tasks",
            target=">=30x",
            target_ratio=30,
            warm=True,
        ),
        ArtifactCase(
            "artifact_256mib",
            "artifact.py",
            ("--mib", "256"),
            about="256 MiB NumPy array saved, then summed",
        ),
        ArtifactCase(
            "artifact_1gib",
            "artifact.py",
            ("--mib", "1024"),
            about="1 GiB NumPy array saved, then summed",
            target=">=10x; hand-off <=2x dd",
            target_ratio=10,
            heavy=True,
            repeat=3,
            compare_dd=True,
        ),
        Case(
            "foreach_1000",
            "foreach.py",
            ("--width", "1000", *FOREACH),
            about="foreach of 1,000 trivial tasks",
            target=">=50x",
            target_ratio=50,
            heavy=True,
            repeat=3,
        ),
        ReadCase(
            "client_read",
            "read.py",
            about=f"latest_run.data.x, fresh process, {read_runs} runs stored",
            target="grange <0.3 s",
            heavy=True,
            runs=read_runs,
        ),
        ScaleCase(
            "foreach_100k",
            "foreach.py",
            ("--width", "100000", "--max-workers", "16", "--max-num-splits", "100000"),
            about="foreach of 100,000 trivial tasks (grange only)",
            target="completes; runtime RSS <1 GiB",
            heavy=True,
            repeat=1,
            tools=("grange",),
            sample_hwm=True,
        ),
    ]
