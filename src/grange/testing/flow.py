"""``run_flow``: run a whole flow in an isolated, temporary store and return its ``Run``.

The flow runs as a user runs it, ``python flow.py run``, in a subprocess (through
:class:`~grange.runner.process.FlowProcess`, the process layer of ``Runner``):
the runtime forks worker processes and installs signal handlers, which must not
happen inside the test's own process. The command stores its run under
``<tmp>/.grange`` (``--datastore-root``, ``--metadata local``) with every
``GRANGE_*`` variable of the test's environment left out (but the cache folder
and the user name)
and ``GRANGE_CONFIG`` pointing at an empty file, so that neither the user's
profile nor a store named in the environment is used. The ``Run`` returned is
bound to that store, whatever the client itself points at.

A flow class defined in a test module has no file of its own that runs it: the
command runs a small generated file that loads the class's module from its file
(under its own module name, so ``__file__``, imports relative to it, and the
line numbers of errors are the module's) and calls the class.
"""

from __future__ import annotations

import ast
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grange.exceptions import FlowFailed, HarnessError

#: GRANGE_* variables an isolated store keeps, as they say nothing about where runs go:
#: the cache of built environments (@pypi/@conda) is worth sharing, and the user's
#: name is the namespace the client reads in.
KEPT_VARIABLES = ("GRANGE_CACHE_DIR", "GRANGE_USER")
STORE_FOLDER = ".grange"
SCRATCH_FOLDER = ".grange-testing"


def isolated_env(root: Path, config_file: Path, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` without its ``GRANGE_*`` variables (but :data:`KEPT_VARIABLES`), storing
    under ``root``, reading the (empty) configuration ``config_file``."""
    env = {k: v for k, v in base.items() if not k.startswith("GRANGE_") or k in KEPT_VARIABLES}
    env["GRANGE_DATASTORE_ROOT"] = str(root)
    env["GRANGE_CONFIG"] = str(config_file)
    return env


def empty_config(folder: Path) -> Path:
    """An empty configuration file: no profile, nothing of ``~/.grange/config.toml``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    if not path.exists():
        path.write_text("# grange.testing: no profile, runs go to the test's own store\n")
    return path


def store_stores(root: Path) -> Any:
    """The client's stores of the local store at ``root`` (its own SQLite index)."""
    from grange.client.config import Stores
    from grange.datastore import DatastoreLocation
    from grange.metastore import sqlite_url

    location = DatastoreLocation.of(root)
    return Stores(location, sqlite_url(location.index_dir))


def run_flow(
    flow: type | str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    tmp_path: str | os.PathLike[str] | None = None,
    with_: str | Iterable[str] | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    show_output: bool = True,
    configs: Mapping[str, Any] | None = None,
) -> Any:
    """Run ``flow`` (a FlowSpec class, or the path of a flow file) to its end, storing
    under ``tmp_path/.grange`` (default: a fresh temporary folder, removed when the
    test process exits); return the client's ``Run``, readable after the call.

    ``params``: parameter values by name, and ``run`` options (``max_workers=2``);
    ``with_``: decorators for every step, as ``--with`` (``["retry"]``,
    ``"retry:times=2"``); ``profile``: a profile of your configuration for all but
    where runs go (its Kubernetes settings, say); ``env``: variables for the run's
    processes. ``show_output`` prints the run's output (pytest shows it for a test
    that fails). ``configs``: the flow's ``Config`` values by name (a dict each,
    passed as ``--config-value NAME JSON``); the others take their defaults.

    A run that fails returns its ``Run`` (``.successful`` False); a flow that cannot
    start (a lint error, a bad parameter, a file that does not import) raises
    :class:`~grange.exceptions.FlowFailed` with the command's output.
    """
    __tracebackhide__ = True  # pytest: the failure is the flow's, not this frame's
    from grange.runner import cliargs
    from grange.runner.process import FlowProcess
    from grange.testing.source import NESTED_VARIABLE, check_not_nested, die_with_this_process

    check_not_nested()
    base = Path(tmp_path) if tmp_path is not None else _fresh_folder()
    root = (base / STORE_FOLDER).absolute()
    scratch = (base / SCRATCH_FOLDER).absolute()
    config_file = empty_config(scratch)
    flow_file, flow_name, parameters, python_path = _flow_command(flow, scratch)
    run_env = isolated_env(root, config_file, os.environ)
    if profile is not None:  # its file, its profile; the store stays the test's
        run_env.pop("GRANGE_CONFIG")
        if "GRANGE_CONFIG" in os.environ:
            run_env["GRANGE_CONFIG"] = os.environ["GRANGE_CONFIG"]
    if python_path:
        run_env["PYTHONPATH"] = os.pathsep.join(
            [*python_path, *filter(None, [run_env.get("PYTHONPATH")])]
        )
    run_env.update({str(k): str(v) for k, v in dict(env or {}).items()})
    run_env[NESTED_VARIABLE] = "1"
    decorators = [with_] if isinstance(with_, str) else list(with_ or ())
    top = [f"--profile={profile}"] if profile else []
    top += ["--datastore", "local", "--datastore-root", str(root), "--metadata", "local"]
    top += [word for spec in decorators for word in ("--with", str(spec))]
    if configs:
        top += cliargs.options({"config_value": dict(configs)})
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    run_id_file = folder / "run-id"
    argv = [
        sys.executable, flow_file, *top, "run",
        *cliargs.options(dict(params or {}), parameters),
        "--run-id-file", str(run_id_file),
    ]  # fmt: skip
    process = FlowProcess(
        argv, env=run_env, cwd=os.getcwd(), folder=folder, preexec_fn=die_with_this_process()
    )
    try:
        process.wait_blocking(show_output)
    except BaseException:  # Ctrl-C in the test: the run must not go on unseen
        process.kill()
        raise
    output = process.read("stdout") + process.read("stderr")
    run_id = run_id_file.read_text().strip() if run_id_file.exists() else ""
    if not run_id:
        raise FlowFailed(
            f"{flow_name} did not start (exit status {process.returncode}):\n{output.strip()}",
            output=output,
        )
    from grange.client import Run
    from grange.exceptions import ObjectNotFound

    try:
        return Run(f"{flow_name}/{run_id}", _namespace_check=False, _stores=store_stores(root))
    except ObjectNotFound:  # an id, and no run under it: the command died before its claim
        raise FlowFailed(
            f"{flow_name} did not start run {run_id} (exit status {process.returncode}):\n"
            f"{output.strip()}",
            output=output,
        ) from None


# -- which file the command runs ---------------------------------------------------------


def _flow_command(
    flow: type | str | os.PathLike[str], scratch: Path
) -> tuple[str, str, dict[str, Any], list[str]]:
    """The file to run, the flow's name, its parameters by name, and the folders the
    command needs on its ``PYTHONPATH`` (those of the test's process, for a class)."""
    from grange.flowspec import FlowSpec
    from grange.parameters import flow_parameters

    if isinstance(flow, type) and issubclass(flow, FlowSpec) and flow is not FlowSpec:
        parameters = {p.name: p for p in flow_parameters(flow)}
        return _class_file(flow, scratch), flow.__name__, parameters, _test_path()
    if isinstance(flow, (str, os.PathLike)):
        from grange.runner import cliargs

        path = os.path.abspath(os.fspath(flow))
        if not os.path.isfile(path):
            raise HarnessError(
                f"no flow file at {path}", fix="pass the path of a flow file, or the FlowSpec class"
            )
        loaded = cliargs.load_flow(path, FlowFailed)
        if loaded is None:
            raise FlowFailed(f"{path} defines no FlowSpec class", file=path)
        return path, loaded[0], loaded[1], []
    raise HarnessError(
        f"run_flow takes a FlowSpec class or the path of a flow file, not {flow!r}",
        fix="run_flow(MyFlow) or run_flow('flows/train.py')",
    )


def _class_file(flow_cls: type, scratch: Path) -> str:
    """The file that runs ``flow_cls``: its module's file when that is a flow file
    (its ``__main__`` block calls the class), else a generated one that loads it."""
    from grange.testing.source import check_not_main, check_readable

    module = sys.modules.get(flow_cls.__module__)
    if flow_cls.__qualname__ != flow_cls.__name__ or module is None:
        raise HarnessError(
            f"{flow_cls.__qualname__} is not defined at the top level of a module file, so "
            "a run's processes cannot import it",
            fix="define the flow class at the top level of the test module (or a flow file)",
        )
    source_file = check_readable(flow_cls, "run_flow")
    check_not_main(flow_cls, source_file)
    if _main_calls(source_file, flow_cls.__name__):
        return source_file
    path = scratch / f"run_{flow_cls.__name__}.py"
    path.write_text(
        f'"""Runs {flow_cls.__name__} of {source_file} (written by grange.testing)."""\n'
        "import importlib.util\n"
        "import sys\n\n"
        f"_spec = importlib.util.spec_from_file_location({flow_cls.__module__!r}, "
        f"{source_file!r})\n"
        "_module = importlib.util.module_from_spec(_spec)\n"
        f"sys.modules[{flow_cls.__module__!r}] = _module\n"
        "_spec.loader.exec_module(_module)\n\n"
        'if __name__ == "__main__":\n'
        f"    _module.{flow_cls.__name__}()\n"
    )
    return str(path)


def _main_calls(source_file: str, name: str) -> bool:
    """Whether the file's ``if __name__ == "__main__":`` block calls ``name()``."""
    try:
        tree = ast.parse(Path(source_file).read_text(), source_file)
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            for call in ast.walk(node):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id == name
                ):
                    return True
    return False


def _test_path() -> list[str]:
    """This process's import folders (pytest adds the tests' own), for the command to
    import the test module as the test did."""
    return [os.path.abspath(p) if p else os.getcwd() for p in sys.path if not p or os.path.isdir(p)]


_created: list[str] = []


def _fresh_folder() -> Path:
    if not _created:
        atexit.register(_remove_created)
    folder = tempfile.mkdtemp(prefix="grange-test-")
    _created.append(folder)
    return Path(folder)


def _remove_created() -> None:
    for folder in _created:
        shutil.rmtree(folder, ignore_errors=True)
