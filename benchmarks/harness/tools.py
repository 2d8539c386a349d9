"""The two tools under test: how each runs a flow file, and the Metaflow venv.

grange runs with the interpreter that runs the harness (where grange is
installed); Metaflow runs from its own virtual environment, created once
under ``benchmarks/.venv-metaflow`` with Metaflow from PyPI and NumPy.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

METAFLOW_PIN = "2.19.39"
BENCH_USER = "bench"
_READY = ".grange-bench-ready"  # marker: the venv finished installing; holds the version


@dataclass(frozen=True)
class Tool:
    """One orchestrator: its interpreter, the options it needs, its environment."""

    name: str  # "grange" or "metaflow": also the module a flow imports from
    python: str
    top_args: tuple[str, ...] = ()  # options before the command, e.g. --no-pylint
    version: str = ""
    home: Path | None = None  # METAFLOW_HOME (a temp dir), Metaflow only
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, root: Path, **extra: str) -> dict[str, str]:
        """The environment of one command whose store lives under ``root``."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GRANGE_", "METAFLOW_", "BENCH_"))
        }
        # Python's defaults: bytecode caches are used and written, as on a user's machine.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(USER=BENCH_USER, USERNAME=BENCH_USER, LOGNAME=BENCH_USER)
        if self.name == "grange":
            env.update(GRANGE_DATASTORE_ROOT=str(root), GRANGE_USER=BENCH_USER)
        else:
            env.update(
                METAFLOW_DEFAULT_DATASTORE="local",
                METAFLOW_DEFAULT_METADATA="local",
                METAFLOW_DATASTORE_SYSROOT_LOCAL=str(root),
                METAFLOW_HOME=str(self.home),
                METAFLOW_USER=BENCH_USER,
            )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def compile_bytecode(self) -> None:
        """Write the ``.pyc`` files of the tool's package, as ``pip install`` does.

        An editable install (grange's, here) has none until a first import
        writes them, and never if PYTHONDONTWRITEBYTECODE is set: every
        process would then compile grange from source while Metaflow's
        pip-installed package loads its bytecode."""
        code = (
            "import compileall, importlib.util, os; "
            f"spec = importlib.util.find_spec({self.name!r}); "
            "compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([self.python, "-c", code], env={**env, **self.extra_env}, check=True)

    def flow_command(self, flow_file: Path, verb: str, *args: str) -> list[str]:
        """``python FLOW_FILE [TOP_ARGS] VERB ARGS``."""
        return [self.python, str(flow_file), *self.top_args, verb, *args]


def grange_tool(src: Path | None = None) -> Tool:
    """grange from this interpreter; with ``src``, from that source tree instead
    (put first on PYTHONPATH), e.g. a ``git worktree`` of another commit."""
    if src is None:
        import grange

        return Tool("grange", sys.executable, version=grange.__version__)
    env = {"PYTHONPATH": str(src.resolve())}
    version = subprocess.run(
        [sys.executable, "-c", "import grange; print(grange.__version__, grange.__file__)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return Tool("grange", sys.executable, version=version, extra_env=env)


def metaflow_tool(venv: Path, home: Path, log: Path) -> Tool:
    python = ensure_metaflow_venv(venv, log)
    version = (venv / _READY).read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    return Tool("metaflow", str(python), top_args=("--no-pylint",), version=version, home=home)


def ensure_metaflow_venv(venv: Path, log: Path) -> Path:
    """Create ``venv`` with Metaflow (pinned, else the newest) and NumPy, once."""
    python = venv / "bin" / "python"
    if (venv / _READY).exists() and python.exists():
        return python
    print(f"creating {venv} with metaflow=={METAFLOW_PIN} and numpy (once)...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    with open(log, "w") as out:
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
        pinned = subprocess.run(
            [*pip, f"metaflow=={METAFLOW_PIN}", "numpy"], stdout=out, stderr=subprocess.STDOUT
        )
        if pinned.returncode != 0:
            print(f"metaflow=={METAFLOW_PIN} not installable; trying the newest", file=sys.stderr)
            newest = subprocess.run(
                [*pip, "metaflow", "numpy"], stdout=out, stderr=subprocess.STDOUT
            )
            if newest.returncode != 0:
                raise SystemExit(f"could not install Metaflow into {venv}; see {log}")
    version = subprocess.run(
        [str(python), "-c", "from importlib.metadata import version; print(version('metaflow'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (venv / _READY).write_text(version + "\n")
    return python


_IMPORT = re.compile(r"^from grange import ", re.MULTILINE)


def render_flow(template: Path, tool: Tool, dest_dir: Path) -> Path:
    """Write ``template`` into ``dest_dir`` with its ``from grange import`` line
    pointing at ``tool``; the path of the copy (same file name)."""
    text = template.read_text()
    if len(_IMPORT.findall(text)) != 1:
        raise ValueError(f"{template} must have exactly one 'from grange import' line")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / template.name
    dest.write_text(_IMPORT.sub(f"from {tool.name} import ", text))
    return dest
