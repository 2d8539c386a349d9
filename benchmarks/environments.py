"""What a step environment costs: ``@pypi`` warm (the lock and the environment cached)
and cold (resolve + build from nothing), against uv run directly.

    python benchmarks/environments.py [--repeat 5] [--cold-repeat 3] [--no-cold]
                                      [--packages numpy pandas scikit-learn]

Prints medians (and every figure with ``--verbose``):

- **warm**: the same three-step flow (start -> train -> end) run with ``train`` plain
  and with ``train`` under ``@pypi(packages={"tabulate": "0.9.0"})``, alternating, each
  run in a fresh store but with the environment already built (one untimed run first).
  The difference of the medians is the extra start-up of a ``@pypi`` step over a plain
  step (goal <= 150 ms). The same for a 20-way foreach over the step.
- **cold**: ``grange.environments.manager.prepare`` of ``--packages`` with an empty
  grange cache and an empty uv cache (resolve to a lock, build the environment), against
  the floor: ``uv venv && uv pip install`` of the same packages with an empty uv cache
  (goal: within 1.2x). Alternating, ``--cold-repeat`` times each.
- **Metaflow's @pypi** is not run: it needs micromamba (downloaded from micro.mamba.pm)
  and conda-forge for the environment's Python; the harness checks whether they answer
  and says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINEAR = """
from grange import FlowSpec, step, pypi


class EnvBench(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    DECORATOR
    @step
    def train(self):
        self.x = 1
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvBench()
"""

FOREACH = """
from grange import FlowSpec, step, pypi


class EnvBench(FlowSpec):
    @step
    def start(self):
        self.items = list(range(WIDTH))
        self.next(self.train, foreach="items")

    DECORATOR
    @step
    def train(self):
        self.x = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    EnvBench()
"""


def flow_text(env: bool, width: int) -> str:
    text = (FOREACH if width else LINEAR).replace("WIDTH", str(width))
    decorator = '    @pypi(packages={"tabulate": "0.9.0"})\n' if env else ""
    return text.replace("    DECORATOR\n", decorator)


def run_flow(flow: Path, store: Path, env: dict[str, str]) -> float:
    env = {**env, "GRANGE_DATASTORE_ROOT": str(store)}
    began = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(flow), "run", "--max-workers", "8"],
        cwd=flow.parent,
        env=env,
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - began
    if proc.returncode != 0:
        sys.exit(f"{flow.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took


def warm(work: Path, repeat: int, width: int, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"plain": [], "pypi": []}
    flows = {}
    for kind in times:
        flow = work / f"{kind}_{width}" / "envbench.py"
        flow.parent.mkdir(parents=True)
        flow.write_text(flow_text(kind == "pypi", width))
        flows[kind] = flow
        run_flow(flow, work / f"warmup-{kind}-{width}", env)  # builds the environment once
    for i in range(repeat):
        order = list(times) if i % 2 == 0 else list(times)[::-1]
        for kind in order:
            store = Path(tempfile.mkdtemp(dir=work, prefix=f"store-{kind}-"))
            times[kind].append(run_flow(flows[kind], store, env))
    return times


def cold(work: Path, repeat: int, packages: list[str], uv: str) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"floor": [], "grange": []}
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for i in range(repeat):
        order = list(times) if i % 2 == 0 else list(times)[::-1]
        for kind in order:
            base = Path(tempfile.mkdtemp(dir=work, prefix=f"cold-{kind}-"))
            env = {**os.environ, "UV_CACHE_DIR": str(base / "uv"), "GRANGE_ENV_CACHE": str(base)}
            if kind == "floor":
                script = (
                    f"{uv} venv -q --no-python-downloads -p {version} {base / 'venv'} && "
                    f"VIRTUAL_ENV={base / 'venv'} {uv} pip install -q " + " ".join(packages)
                )
                cmd = ["sh", "-c", script]
            else:
                code = (
                    "from grange.decorators.options import EnvSpec\n"
                    "from grange.environments import manager\n"
                    "from grange.environments.settings import EnvSettings\n"
                    f"spec = EnvSpec(kind='pypi', packages=tuple((p, '') for p in {packages!r}),"
                    " step='bench', decorator='@pypi')\n"
                    "manager.prepare(spec, EnvSettings.from_table({}))\n"
                )
                cmd = [sys.executable, "-c", code]
            began = time.perf_counter()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            took = time.perf_counter() - began
            if proc.returncode != 0:
                sys.exit(f"cold {kind} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
            times[kind].append(took)
            shutil.rmtree(base, ignore_errors=True)
    return times


def metaflow_can_run() -> str:
    """Why Metaflow's @pypi cannot be measured here (empty: it could)."""
    for url in (
        "https://micro.mamba.pm/api/micromamba/linux-64/latest",
        "https://conda.anaconda.org",
    ):
        try:
            urllib.request.urlopen(url, timeout=5).close()
        except OSError as err:
            return f"{url} does not answer ({type(err).__name__}: {err})"
    return ""


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per variant")
    parser.add_argument("--cold-repeat", type=int, default=3, help="cold builds per side")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold comparison")
    parser.add_argument(
        "--packages", nargs="+", default=["numpy", "pandas", "scikit-learn"], metavar="PKG"
    )
    parser.add_argument("--verbose", action="store_true", help="print every figure")
    args = parser.parse_args(argv)
    try:
        import uv as uv_wheel

        uv = shutil.which("uv") or uv_wheel.find_uv_bin()
    except ImportError:
        uv = shutil.which("uv")
    if not uv:
        sys.exit("uv is needed: pip install 'grange[pypi]'")
    work = Path(tempfile.mkdtemp(prefix="grange-envbench-", dir=os.environ.get("TMPDIR")))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRANGE_")}
        env["GRANGE_ENV_CACHE"] = str(work / "envcache")  # shared by every warm run
        env["USER"] = "bench"
        print(f"warm: {args.repeat} runs per variant (medians; environment already built)")
        for width in (0, 20):
            t = warm(work, args.repeat, width, env)
            extra = statistics.median(t["pypi"]) - statistics.median(t["plain"])
            label = "start -> train -> end" if not width else f"foreach of {width} over train"
            print(
                f"  {label:28s} plain {median_ms(t['plain'])}   @pypi {median_ms(t['pypi'])}"
                f"   extra {extra * 1000:7.1f} ms" + ("   (goal <= 150 ms)" if not width else "")
            )
            if args.verbose:
                print("   ", {k: [round(v, 3) for v in vs] for k, vs in t.items()})
        if not args.no_cold:
            print(f"cold: {' '.join(args.packages)}, empty caches, {args.cold_repeat} each")
            t = cold(work, args.cold_repeat, args.packages, uv)
            ratio = statistics.median(t["grange"]) / statistics.median(t["floor"])
            print(
                f"  uv venv && uv pip install {median_ms(t['floor'])}   grange resolve+build"
                f" {median_ms(t['grange'])}   ratio {ratio:.2f}x (goal <= 1.2x)"
            )
            if args.verbose:
                print("   ", {k: [round(v, 3) for v in vs] for k, vs in t.items()})
        why = metaflow_can_run()
        print(
            "Metaflow @pypi: not measured: " + why
            if why
            else "Metaflow @pypi: reachable, but not automated here (see benchmarks/README.md)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
