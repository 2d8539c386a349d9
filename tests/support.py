"""Helpers shared by the tests: load flow files from tests/flows by path."""

from __future__ import annotations

import importlib.util
import itertools
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

FLOWS = Path(__file__).parent / "flows"


def load_module(path: Path) -> ModuleType:
    """Import a flow file by path (its directory on sys.path, for its own imports)."""
    name = f"_grange_test_{path.parent.name}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def load_flow(path: Path, name: str | None = None) -> type:
    """The FlowSpec subclass defined in ``path`` (the one named ``name``, if given)."""
    from grange import FlowSpec

    module = load_module(path)
    flows = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, FlowSpec) and v.__module__ == module.__name__
    ]
    if name is not None:
        flows = [f for f in flows if f.__name__ == name]
    assert len(flows) == 1, f"expected one flow in {path}, found {flows}"
    return flows[0]


# -- running flows as a user does (tests/integration/test_run_*.py) ---------------------------

RUN_FLOWS = FLOWS / "run"
USER = "tester"


@dataclass
class Result:
    """What one command printed and returned; ``run_id`` from ``--run-id-file``."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    run_id: str | None

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        return (
            f"{' '.join(self.argv[1:])} exited {self.returncode}\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


class Runner:
    """Runs flow files from tests/flows/run in ``cwd``, storing under ``cwd/.grange``."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.root = cwd / ".grange"
        self._ids = itertools.count()

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment without GRANGE_* variables (but the cache and S3
        connection ones, which point at the tests' own), storing under ``root``."""
        keep = ("GRANGE_CACHE_DIR", "GRANGE_S3_")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("GRANGE_") or k.startswith(keep)
        }
        env.update({"GRANGE_DATASTORE_ROOT": str(self.root), "GRANGE_USER": USER, **extra})
        return env

    def argv(
        self,
        flow: str | Path,
        command: str,
        *args: str,
        fork: bool = True,
        top: tuple[str, ...] = (),
    ) -> tuple[list[str], Path | None]:
        """The command line of ``python FLOW [TOP] COMMAND ARGS``, and its run-id file."""
        file = flow if isinstance(flow, Path) else RUN_FLOWS / f"{flow}.py"
        argv = [sys.executable, str(file), *top, command]
        id_file = None
        if command in ("run", "resume"):
            id_file = self.cwd / f"run-id-{next(self._ids)}"
            argv += ["--run-id-file", str(id_file)]
            if not fork:
                argv.append("--no-fork")
        return [*argv, *args], id_file

    def __call__(
        self,
        flow: str | Path,
        command: str,
        *args: str,
        ok: bool | None = True,
        fork: bool = True,
        top: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Result:
        """Run the command; ``ok=True``/``False`` asserts it exits zero / non-zero."""
        argv, id_file = self.argv(flow, command, *args, fork=fork, top=top)
        proc = subprocess.run(
            argv,
            cwd=cwd or self.cwd,
            env=env if env is not None else self.env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        run_id = id_file.read_text().strip() if id_file and id_file.exists() else None
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr, run_id)
        if ok is True and result.returncode != 0:
            raise AssertionError(result.explain())
        if ok is False and result.returncode == 0:
            raise AssertionError("expected a failure, but " + result.explain())
        return result

    def run(self, flow: str | Path, *args: str, **kwargs: object) -> Result:
        return self(flow, "run", *args, **kwargs)  # type: ignore[arg-type]

    def resume(self, flow: str | Path, *args: str, **kwargs: object) -> Result:
        return self(flow, "resume", *args, **kwargs)  # type: ignore[arg-type]

    def metadata_url(self) -> str:
        from grange.metastore import sqlite_url

        return sqlite_url(self.root)


POSTGRES_ENV = "GRANGE_TEST_POSTGRES_URL"  # postgresql://user@host:port/db; .ci/run sets it


def postgres_schema(base: str) -> Iterator[str]:
    """A URL whose connections work in a new schema, dropped afterwards."""
    import sqlalchemy as sa

    from grange.metastore.engine import dispose_all, normalize_url

    name = f"grange_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(base))
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        url = sa.make_url(normalize_url(base)).update_query_dict(
            {"options": f"-csearch_path={name}"}
        )
        yield url.render_as_string(hide_password=False)
        dispose_all()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        admin.dispose()
