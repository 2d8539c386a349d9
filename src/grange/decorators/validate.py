"""Checks of decorator arguments, each failing with a message naming decorator and argument."""

from __future__ import annotations

from typing import Any

from grange.decorators.base import StepDecorator
from grange.exceptions import DecoratorError


def _fail(deco: StepDecorator, arg: str, expected: str) -> DecoratorError:
    value = deco.attributes[arg]
    return DecoratorError(
        f"@{deco.name}({arg}={value!r}): {arg} must be {expected}",
        fix=f"pass {arg}= as {expected}, e.g. @{deco.name}({arg}={_example(expected)})",
    )


def _example(expected: str) -> str:
    return "1" if "integer" in expected or "number" in expected else "..."


def non_negative_int(deco: StepDecorator, arg: str, *, maximum: int | None = None) -> int:
    value = deco.attributes[arg]
    if isinstance(value, str) and value.strip().isdigit():
        value = deco.attributes[arg] = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(deco, arg, "an integer >= 0")
    if maximum is not None and value > maximum:
        raise _fail(deco, arg, f"an integer from 0 to {maximum}")
    return value


def non_negative_number(deco: StepDecorator, arg: str, *, optional: bool = False) -> float | None:
    value = deco.attributes[arg]
    if value is None and optional:
        return None
    if isinstance(value, str):
        try:
            value = deco.attributes[arg] = float(value)
        except ValueError:
            raise _fail(deco, arg, "a number >= 0") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise _fail(deco, arg, "a number >= 0")
    return float(value)


def mapping_of_strings(deco: StepDecorator, arg: str) -> dict[str, str]:
    value: Any = deco.attributes[arg]
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise DecoratorError(
            f"@{deco.name}({arg}=...) must be a dict of names to values",
            fix=f"write @{deco.name}({arg}={{'NAME': 'value'}})",
        )
    return {k: str(v) for k, v in value.items()}
