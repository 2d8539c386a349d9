"""Step decorators by name, and ``--with`` specs: ``name[:key=value,...]``.

``--with retry`` or ``--with retry:times=5,minutes_between_retries=0`` add a
decorator to every step that does not have it already: a step's own
decorator wins. Values are read as JSON, else as text
(``--with environment:vars={"A":"1"}``); ``--with pypi:...`` / ``--with conda:...``
go to the steps with no environment decorator of either kind
(:func:`grange.decorators.environments.environment_spec`).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
from typing import Any

from grange.decorators.base import StepDecorator, decorators_of
from grange.decorators.card import CardDecorator
from grange.decorators.catch import CatchDecorator
from grange.decorators.environment import EnvironmentDecorator
from grange.decorators.environments import (
    CondaBaseDecorator,
    CondaDecorator,
    PyPIBaseDecorator,
    PyPIDecorator,
)
from grange.decorators.flow import FlowDecorator
from grange.decorators.kubernetes import KubernetesDecorator
from grange.decorators.options import TaskOptions
from grange.decorators.parallel import ParallelDecorator
from grange.decorators.project import ProjectDecorator
from grange.decorators.resources import ResourcesDecorator
from grange.decorators.retry import RetryDecorator
from grange.decorators.schedule import ScheduleDecorator
from grange.decorators.secrets import SecretsDecorator
from grange.decorators.timeout import TimeoutDecorator
from grange.decorators.trigger import TriggerDecorator, TriggerOnFinishDecorator
from grange.exceptions import DecoratorError

STEP_DECORATORS: dict[str, type[StepDecorator]] = {
    cls.name: cls
    for cls in (
        CardDecorator,
        CatchDecorator,
        CondaDecorator,
        EnvironmentDecorator,
        KubernetesDecorator,
        ParallelDecorator,
        PyPIDecorator,
        ResourcesDecorator,
        RetryDecorator,
        SecretsDecorator,
        TimeoutDecorator,
    )
}

# Flow decorators (above the class) by name.
FLOW_DECORATORS: dict[str, type[FlowDecorator]] = {
    cls.name: cls
    for cls in (
        CondaBaseDecorator,
        ProjectDecorator,
        PyPIBaseDecorator,
        ScheduleDecorator,
        TriggerDecorator,
        TriggerOnFinishDecorator,
    )
}


# Decorators that change the flow's graph cannot be added to every step.
NOT_WITH = frozenset({"parallel"})


def parse_decospec(spec: str) -> StepDecorator:
    """The decorator a ``--with`` spec names, with its arguments."""
    name, _, args = spec.partition(":")
    name = name.strip()
    if name in NOT_WITH:
        raise DecoratorError(
            f"--with {spec}: @{name} cannot be added to every step: it makes a step a gang "
            "that only self.next(..., num_parallel=N) may start",
            fix=f"put @{name} above @step on the step that num_parallel= goes to",
        )
    cls = STEP_DECORATORS.get(name)
    if cls is None:
        close = difflib.get_close_matches(
            name, [n for n in STEP_DECORATORS if n not in NOT_WITH], n=1
        )
        raise DecoratorError(
            f"--with {spec}: there is no step decorator '{name}'",
            fix=f"did you mean '{close[0]}'?"
            if close
            else "step decorators: " + ", ".join(sorted(set(STEP_DECORATORS) - NOT_WITH)),
        )
    attributes = _parse_args(spec, args)
    try:
        deco = cls(attributes, statically_defined=False)
    except DecoratorError as err:
        raise DecoratorError(f"--with {spec}: {err.message}", fix=err.fix) from None
    return deco


def _parse_args(spec: str, text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in _split_top_level(text):
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise DecoratorError(
                f"--with {spec}: '{part}' is not key=value",
                fix="write --with name:key=value,key2=value2",
            )
        out[key.strip()] = _value(raw.strip())
    return out


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes (JSON values may hold commas)."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return [p for p in (p.strip() for p in parts) if p]


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def step_decorators(
    func: Callable[..., Any], extra: Iterable[StepDecorator] = ()
) -> list[StepDecorator]:
    """A step's own decorators, then the ``--with`` ones it does not have already.

    A decorator a step may carry several times (``@card``) is added by ``--with``
    unless the step has one with the same ``type`` and ``id`` (Metaflow adds it
    alongside the step's own)."""
    own = decorators_of(func)
    names = {d.name for d in own}

    def wanted(deco: StepDecorator) -> bool:
        if deco.name not in names:
            return True
        return deco.allow_multiple and not any(
            d.name == deco.name and _same_kind(d, deco) for d in own
        )

    return own + [deco for deco in extra if wanted(deco)]


def check_siblings(
    decorators: Iterable[StepDecorator], *, file: str | None, line: int | None, step: str
) -> None:
    """Decorators given several times on a step agree (two ``@card`` with one id do
    not), checked on the decorator objects when a run starts: lint sees only the
    names written, not an alias (``blank = card(type="blank")``) nor ``--with``."""
    by_name: dict[str, list[StepDecorator]] = {}
    for deco in decorators:
        if deco.allow_multiple:
            by_name.setdefault(deco.name, []).append(deco)
    for name, decos in by_name.items():
        if len(decos) < 2:
            continue
        for position, message, fix in type(decos[0]).sibling_problems(
            [d.attributes for d in decos]
        ):
            origin = "" if decos[position].statically_defined else f" (--with {name})"
            raise DecoratorError(
                f"step '{step}'{origin}: {message}", file=file, line=line, step=step, fix=fix
            )


def _same_kind(a: StepDecorator, b: StepDecorator) -> bool:
    keys = ("type", "id")
    return all(a.attributes.get(k) == b.attributes.get(k) for k in keys)


def task_options(decorators: Iterable[StepDecorator]) -> TaskOptions:
    """The options of a step's tasks, as its decorators set them."""
    options = TaskOptions()
    for deco in decorators:
        deco.task_options(options=options)
    return options
