"""``@pypi`` / ``@pypi_base`` and ``@conda`` / ``@conda_base``: a step's own Python environment.

As in Metaflow: ``@pypi(packages={}, python=None, disabled=None)`` on a step,
``@pypi_base(...)`` (same arguments) above the flow's class for every step;
``@conda`` / ``@conda_base`` also take ``libraries={}`` (a deprecated alias
merged into ``packages``). A step's own decorator is merged over the flow's:
``packages = {**base, **step}``, ``python`` the step's else the base's,
``disabled`` the step's if given else the base's (``disabled=True``: the step
runs in the runtime's own Python). ``--with pypi:packages={...}`` gives a
decorator to every step that has none of its own.

Unlike Metaflow (which lets the step silently override), a package pinned to
different versions by ``@pypi_base`` and ``@pypi`` is an error, and so are
``@pypi`` and ``@conda`` (either form) on one step. ``--environment=pypi``
(Metaflow's flag) is accepted but not needed: these decorators alone put their
steps in an environment; a step without one runs in the runtime's Python.

:func:`environment_spec` merges a step's decorators into the :class:`EnvSpec`
the runtime resolves; :func:`conflicts` is the check lint and the runtime share.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from grange.decorators.base import StepDecorator, make_step_decorator
from grange.decorators.flow import FlowDecorator, make_flow_decorator
from grange.decorators.options import EnvSpec
from grange.exceptions import DecoratorError

KINDS = ("pypi", "conda")
OPERATORS = ("==", ">=", "<=", "!=", "~=", ">", "<", "=")


def check_arguments(name: str, attributes: dict[str, Any]) -> None:
    """Normalise and check an environment decorator's arguments in place (``python``
    as text, ``libraries`` merged into ``packages``); DecoratorError when unusable."""
    packages = _packages(name, "packages", attributes["packages"])
    if "libraries" in attributes:
        libraries = _packages(name, "libraries", attributes["libraries"])
        packages = {**libraries, **packages}
        attributes["libraries"] = {}
    attributes["packages"] = packages
    attributes["python"] = _python(name, attributes["python"])
    disabled = attributes["disabled"]
    if isinstance(disabled, str) and disabled.lower() in ("true", "false"):
        disabled = attributes["disabled"] = disabled.lower() == "true"
    if disabled is not None and not isinstance(disabled, bool):
        raise DecoratorError(
            f"@{name}(disabled={disabled!r}): disabled must be True or False",
            fix=f"write @{name}(disabled=True) to run the step in the runtime's own Python",
        )


def _packages(name: str, arg: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DecoratorError(
            f"@{name}({arg}={value!r}): {arg} must be a dict of package names to versions",
            fix=f'write @{name}({arg}={{"tabulate": "0.9.0"}}) ("" for any version)',
        )
    out: dict[str, str] = {}
    for pkg, version in value.items():
        if not isinstance(pkg, str) or not pkg.strip():
            raise DecoratorError(
                f"@{name}({arg}=...): package name {pkg!r} is not a non-empty string",
                fix=f'write @{name}({arg}={{"tabulate": "0.9.0"}})',
            )
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            raise DecoratorError(
                f"@{name}({arg}=...): the version of '{pkg}' is the number {version!r}; "
                "a version is text (a number loses digits: 1.10 reads as 1.1)",
                fix=f'quote it: {{"{pkg}": "{version}"}}',
            )
        if version is None:
            version = ""
        if not isinstance(version, str):
            raise DecoratorError(
                f"@{name}({arg}=...): the version of '{pkg}' must be text, not {version!r}",
                fix=f'write {{"{pkg}": "1.2.3"}}, {{"{pkg}": ">=1.2"}} or {{"{pkg}": ""}}',
            )
        out[pkg.strip()] = version.strip()
    return out


def _python(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        text = value.strip() if isinstance(value, str) else None
        if text is not None and not re.fullmatch(r"\d+(\.\d+){1,2}", text):
            raise DecoratorError(
                f"@{name}(python={value!r}): python must be a version x.y or x.y.z, such as "
                "'3.11' or '3.11.7'",
                fix=f'write @{name}(python="3.11")',
            )
        return text or None
    if isinstance(value, float):
        # --with pypi:python=3.10 arrives as the float 3.1: text back only when
        # no digit can have been lost (a one-digit minor could have been 3.10, 3.20...).
        text = repr(value)
        minor = text.partition(".")[2]
        if (len(minor) >= 2 and not minor.endswith("0")) or minor in ("6", "7", "8", "9"):
            return text
    raise DecoratorError(
        f"@{name}(python={value!r}): python must be text; a number is ambiguous "
        "(python=3.10 reads as 3.1)",
        fix=f'quote the version: @{name}(python="3.10") (--with {name}:python="3.10")',
    )


class _StepEnvironment(StepDecorator):
    """Shared by ``@pypi`` and ``@conda``: arguments checked when decorating."""

    def validate(self) -> None:
        check_arguments(self.name, self.attributes)


class _FlowEnvironment(FlowDecorator):
    def validate(self) -> None:
        check_arguments(self.name, self.attributes)


class PyPIDecorator(_StepEnvironment):
    """Run the step in its own environment of PyPI packages, resolved with uv to a lock
    recorded with the run: ``@pypi(packages={"pandas": "2.2.2"}, python="3.11")``.

    A version ``"0.9.0"`` means ``==0.9.0``; one starting with an operator
    (``">=1.2,<2"``) is used as written; ``""`` is any version.
    ``disabled=True``: the step runs in the runtime's own Python."""

    name = "pypi"
    defaults = {"packages": {}, "python": None, "disabled": None}


class CondaDecorator(_StepEnvironment):
    """Run the step in its own conda environment (py-rattler), resolved to a lock
    recorded with the run: ``@conda(packages={"numpy": "1.26"}, python="3.11")``.
    ``libraries=`` is a deprecated alias of ``packages=``."""

    name = "conda"
    defaults = {"packages": {}, "libraries": {}, "python": None, "disabled": None}


class PyPIBaseDecorator(_FlowEnvironment):
    """``@pypi`` for every step of the flow; a step's own ``@pypi`` is merged over it."""

    name = "pypi_base"
    defaults = {"packages": {}, "python": None, "disabled": None}


class CondaBaseDecorator(_FlowEnvironment):
    """``@conda`` for every step of the flow; a step's own ``@conda`` is merged over it."""

    name = "conda_base"
    defaults = {"packages": {}, "libraries": {}, "python": None, "disabled": None}


pypi = make_step_decorator(PyPIDecorator)
conda = make_step_decorator(CondaDecorator)
pypi_base = make_flow_decorator(PyPIBaseDecorator)
conda_base = make_flow_decorator(CondaBaseDecorator)


def normal_name(kind: str, package: str) -> str:
    """The name two spellings of one package share (PEP 503 for PyPI)."""
    if kind == "pypi":
        return re.sub(r"[-_.]+", "-", package).lower()
    return package.lower()


def normal_version(version: str) -> str:
    """``"0.9.0"`` and ``"==0.9.0"`` are the same request."""
    text = version.replace(" ", "")
    if text and not text.startswith(OPERATORS):
        return "==" + text
    return text


def conflicts(
    step: Mapping[str, Mapping[str, Any]],
    base: Mapping[str, Mapping[str, Any]],
    *,
    added: bool = False,
) -> list[tuple[str, str, str]]:
    """What is wrong with a step's environment decorators together: ``step`` maps its
    own decorator names (``pypi``/``conda``) to their arguments, ``base`` the flow's
    (``pypi_base``/``conda_base``); ``added``: the step's came from ``--with``. Each
    problem: ``(decorator to blame, message, fix)``."""

    def said(kind: str) -> str:
        return f"--with {kind}" if added else f"@{kind}"

    problems: list[tuple[str, str, str]] = []
    kinds = {k for k in KINDS if k in step or f"{k}_base" in base}
    if len(kinds) > 1:
        written = [said(k) for k in KINDS if k in step] + [
            f"@{k}_base" for k in KINDS if f"{k}_base" in base
        ]
        blame = next((k for k in reversed(KINDS) if k in step), f"{KINDS[1]}_base")
        problems.append(
            (
                blame,
                f"{_all(written)} apply: a step runs in a PyPI environment or a conda one, "
                "not both",
                "use one of @pypi or @conda for the step (under @conda_base, give the step "
                "@conda; under @pypi_base, @pypi)",
            )
        )
        return problems
    for kind in kinds:
        own, flow = step.get(kind), base.get(f"{kind}_base")
        if own is None or flow is None:
            continue
        theirs = {normal_name(kind, p): (p, v) for p, v in dict(flow["packages"]).items()}
        for pkg, version in dict(own["packages"]).items():
            other = theirs.get(normal_name(kind, pkg))
            if other is None or normal_version(other[1]) == normal_version(version):
                continue
            problems.append(
                (
                    kind,
                    f"'{pkg}' is pinned to {version!r} by {said(kind)} and to {other[1]!r} "
                    f"by @{kind}_base",
                    f"remove '{pkg}' from one of them (the step's {said(kind)} adds to "
                    f"@{kind}_base's packages)",
                )
            )
    return problems


def environment_spec(
    decorators: Iterable[StepDecorator],
    flow_decorators: Iterable[FlowDecorator],
    *,
    step: str,
    file: str | None = None,
    line: int | None = None,
) -> EnvSpec | None:
    """The environment a step runs in, from its decorators (own and ``--with``: a
    ``--with`` one applies only to a step with no environment decorator of its own)
    over the flow's ``_base`` ones; None: the runtime's own Python. A conflict is a
    DecoratorError at ``file``:``line``."""
    decos = list(decorators)
    own = [d for d in decos if d.name in KINDS and d.statically_defined]
    added = [d for d in decos if d.name in KINDS and not d.statically_defined]
    chosen = own or added[:1]
    base = {d.name: d for d in flow_decorators if d.name in ("pypi_base", "conda_base")}
    if not chosen and not base:
        return None
    step_attrs = {d.name: d.attributes for d in chosen}
    bases = {n: d.attributes for n, d in base.items()}
    for _blame, message, fix in conflicts(step_attrs, bases, added=not own):
        raise DecoratorError(message, file=file, line=line, step=step, fix=fix)
    kind = chosen[0].name if chosen else next(iter(base)).removesuffix("_base")
    mine = step_attrs.get(kind)
    flow = base[f"{kind}_base"].attributes if f"{kind}_base" in base else None
    disabled = mine["disabled"] if mine and mine["disabled"] is not None else None
    if disabled is None and flow is not None:
        disabled = flow["disabled"]
    if disabled:
        return None
    packages = {**(flow["packages"] if flow else {}), **(mine["packages"] if mine else {})}
    python = (mine["python"] if mine else None) or (flow["python"] if flow else None)
    names = ([f"@{kind}_base"] if flow is not None else []) + (
        [f"@{kind}" if own else f"--with {kind}"] if mine is not None else []
    )
    return EnvSpec(
        kind=kind,
        packages=tuple(sorted(packages.items())),
        python=python,
        step=step,
        decorator=" + ".join(names),
        file=file,
        line=line,
    )


def _all(written: list[str]) -> str:
    """``a and b both``, ``a, b and c all``."""
    if len(written) == 2:
        return f"{written[0]} and {written[1]} both"
    return f"{', '.join(written[:-1])} and {written[-1]} all"
