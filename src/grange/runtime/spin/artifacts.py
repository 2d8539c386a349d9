"""``spin --artifacts-module m.py``: input artifacts replaced by the values a module gives.

As in Metaflow, the module defines ``ARTIFACTS``, a dict of artifact names to
values; they replace (or add to) what the spun step inherits from its parent.
For a join, whose inputs are several tasks, the keys are the parents' paths
(``RUN/STEP/TASK``, as ``spin`` prints them), each mapping to such a dict.
A parameter's name changes the run's parameter value for the step (the start
step reads parameters only). A flow constant (a class attribute) cannot be
given: the step reads the flow file's own, as it is now.
"""

from __future__ import annotations

import importlib.util
import keyword
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from grange.exceptions import CommandError

OPTION = "--artifacts-module"
#: Read by a step as self.input / self.index, from its task's place in the foreach.
FOREACH_NAMES = ("input", "index")


@dataclass
class Overrides:
    """What ``ARTIFACTS`` gives, sorted by where it goes."""

    parameters: dict[str, Any] = field(default_factory=dict)  # the run's parameter values
    parents: dict[str, dict[str, Any]] = field(default_factory=dict)  # "run/step/task" -> values

    @property
    def names(self) -> set[str]:
        """Every artifact name given."""
        return set(self.parameters).union(*self.parents.values())


def read_artifacts_module(path: str) -> dict[str, Any]:
    """The ``ARTIFACTS`` dict of the Python file at ``path``; its problems said in the
    user's terms (a missing file, an import that fails, no or another ``ARTIFACTS``)."""
    if not os.path.isfile(path):
        raise CommandError(
            f"{OPTION} {path}: no such file"
            + (" (it is a directory)" if os.path.isdir(path) else ""),
            fix="give the path of a .py file that defines ARTIFACTS = {'name': value, ...}",
        )
    # Under its own name (as Metaflow loads it), kept in sys.modules: a class the
    # module defines pickles as <module>.<class>, and loads again where the module
    # imports (beside the flow file). A name taken already gets a private one.
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier() or name in sys.modules:
        name = "_grange_spin_artifacts"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CommandError(
            f"{OPTION} {path}: not a Python file that can be imported",
            fix="give a .py file that defines ARTIFACTS = {'name': value, ...}",
        )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as err:  # the user's module: whatever it raises is said, not shown
        sys.modules.pop(name, None)
        if isinstance(err, KeyboardInterrupt):
            raise
        raise CommandError(
            f"{OPTION} {path} failed to import:\n{_user_traceback(err, path)}",
            file=path,
            line=_user_line(err, path),
            fix="fix the module: it must import on its own and define ARTIFACTS = {...}",
        ) from None
    if not hasattr(module, "ARTIFACTS"):
        raise CommandError(
            f"{OPTION} {path} defines no ARTIFACTS",
            file=path,
            fix="define a dict of the artifacts to change: ARTIFACTS = {'name': value, ...}",
        )
    artifacts = module.ARTIFACTS
    if not isinstance(artifacts, dict):
        raise CommandError(
            f"{OPTION} {path}: ARTIFACTS is a {type(artifacts).__name__}, not a dict",
            file=path,
            fix="write ARTIFACTS = {'name': value, ...}",
        )
    return artifacts


def sort_overrides(
    artifacts: dict[str, Any],
    *,
    path: str,
    step: str,
    run_id: str,
    parents: tuple[str, ...],
    is_join: bool,
    parameters: list[str],
    constants: list[str],
    taken: frozenset[str] = frozenset(),
) -> Overrides:
    """Sort ``ARTIFACTS`` of module ``path`` by where each value goes, for ``step``
    (a join or not) whose ``parents`` are ``run/step/task`` paths. ``taken``: the flow
    class's own attributes (its steps, ``next``...), which no artifact can be."""
    out = Overrides()
    where: dict[str, Any] = {"file": path, "step": step}
    for key, value in artifacts.items():
        if not isinstance(key, str):
            raise CommandError(
                f"{OPTION} {path}: ARTIFACTS has the key {key!r}, not an artifact's name",
                fix="use the artifacts' names (strings) as keys",
                **where,
            )
        if "/" in key:
            parent = _parent_of(key, run_id, parents, path, **where)
            values = _values_for(parent, key, value, path, constants, taken)
            out.parents.setdefault(parent, {}).update(values)
            continue
        _check_name(key, path, constants, taken)
        if key in parameters:
            out.parameters[key] = value
        elif not parents:
            shown = ", ".join(parameters) or "none"
            raise CommandError(
                f"{OPTION} {path}: ARTIFACTS gives '{key}', but the start step reads only the "
                f"run's parameters ({shown})",
                fix="give the start step parameter values only; spin a later step to change "
                "other artifacts",
                **where,
            )
        elif is_join:
            raise CommandError(
                f"{OPTION} {path}: ARTIFACTS gives '{key}', but '{step}' is a join: its "
                "inputs are several tasks",
                fix="key the values by the parent they change, e.g. ARTIFACTS = "
                f"{{'{parents[0]}': {{'{key}': ...}}}}; the parents are " + ", ".join(parents),
                **where,
            )
        else:
            out.parents.setdefault(parents[0], {})[key] = value
    return out


def _parent_of(key: str, run_id: str, parents: tuple[str, ...], path: str, **where: Any) -> str:
    parts = key.strip("/").split("/")
    if len(parts) == 4:
        parts = parts[1:]  # FLOW/RUN/STEP/TASK
    elif len(parts) == 2:
        parts = [run_id, *parts]  # STEP/TASK
    candidate = "/".join(parts)
    if candidate not in parents:
        raise CommandError(
            f"{OPTION} {path}: ARTIFACTS key '{key}' names no input of the step",
            fix="its inputs are " + (", ".join(parents) or "the run's parameters only"),
            **where,
        )
    return candidate


def _values_for(
    parent: str,
    key: str,
    value: Any,
    path: str,
    constants: list[str],
    taken: frozenset[str],
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CommandError(
            f"{OPTION} {path}: ARTIFACTS['{key}'] is a {type(value).__name__}; for an input "
            "task it must be a dict of artifact names to values",
            file=path,
            fix=f"write ARTIFACTS = {{'{key}': {{'name': value, ...}}}}",
        )
    for name in value:
        if not isinstance(name, str):
            raise CommandError(
                f"{OPTION} {path}: ARTIFACTS['{key}'] has the key {name!r}, not an artifact's name",
                file=path,
                fix="use the artifacts' names (strings) as keys",
            )
        _check_name(name, path, constants, taken)
    return dict(value)


def _check_name(name: str, path: str, constants: list[str], taken: frozenset[str]) -> None:
    """Refuse a name no step reads as an artifact: the value would be stored, shown as
    given, and never seen by the step."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise CommandError(
            f"{OPTION} {path}: '{name}' cannot be an artifact's name",
            file=path,
            fix="an artifact is an attribute of the step: use a Python identifier",
        )
    if name.startswith("_"):
        raise CommandError(
            f"{OPTION} {path}: '{name}' starts with '_': grange keeps no state of its own "
            "in such artifacts (Metaflow's _task_ok, _foreach_stack are not grange's), and "
            "the client does not show them",
            file=path,
            fix="give the artifacts the step reads as self.<name>",
        )
    if name in FOREACH_NAMES:
        raise CommandError(
            f"{OPTION} {path}: '{name}' is the step's place in its foreach (self.{name}), "
            "which comes from the task spun, not from an artifact",
            file=path,
            fix="spin the task of that item instead: spin RUN/STEP/TASK",
        )
    if name in taken:
        raise CommandError(
            f"{OPTION} {path}: '{name}' is a step or method of the flow class, not an "
            "artifact: the step would never see the value",
            file=path,
            fix="give the artifacts the step reads as self.<name>",
        )
    if name in constants:
        raise CommandError(
            f"{OPTION} {path}: '{name}' is a constant of the flow (a class attribute), "
            "which spin reads from the flow file as it is now",
            file=path,
            fix=f"change {name} in the flow file instead",
        )


def _user_traceback(err: BaseException, path: str) -> str:
    """The failure, with the frames of the user's module only."""
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if os.path.abspath(f.filename) == os.path.abspath(path)
    ]
    where = "".join(traceback.format_list(frames))
    return f"{where}{type(err).__name__}: {err}"


def _user_line(err: BaseException, path: str) -> int | None:
    if isinstance(err, SyntaxError):
        return err.lineno
    lines = [
        f.lineno
        for f in traceback.extract_tb(err.__traceback__)
        if os.path.abspath(f.filename) == os.path.abspath(path)
    ]
    return lines[-1] if lines else None
