"""Argo's small languages: ``{{...}}`` substitution, ``depends`` and ``when``.

- :func:`substitute`: ``{{name}}`` references replaced from a scope; an unknown
  reference is an error (a compiler bug), except ``tasks.X.outputs...`` of a task
  that did not run, left as text as Argo leaves it. ``{{=expr}}`` is refused.
- :func:`eval_depends`: ``a.Succeeded && (b.Failed || !c.Skipped)``; a bare ``a``
  means ``a.Succeeded || a.Skipped || a.Daemoned`` as in Argo.
- :func:`eval_when`: the govaluate subset Argo's ``when`` uses: quoted strings,
  numbers, true/false, ``== != < > <= >=``, ``&& || !`` and parentheses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .refuse import Refused

_REF = re.compile(r"\{\{\s*(=?)([^{}]*?)\s*\}\}")

TASK_RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "Completed",
    "AnySucceeded",
    "AllFailed",
)


class ExpressionError(Exception):
    """An expression the executor cannot evaluate (Argo would fail the node)."""


def substitute(text: str, scope: Mapping[str, str], *, lenient: Callable[[str], bool]) -> str:
    """``text`` with each ``{{ref}}`` replaced by ``scope[ref]``."""

    def one(match: re.Match[str]) -> str:
        if match.group(1):
            raise Refused(
                f"expression template {match.group(0)!r} ({{{{=...}}}} is not implemented)"
            )
        ref = match.group(2)
        if ref in scope:
            return scope[ref]
        if lenient(ref):
            return match.group(0)
        raise ExpressionError(f"unresolved reference {match.group(0)!r}")

    return _REF.sub(one, text)


def references(text: str) -> list[str]:
    return [m.group(2) for m in _REF.finditer(text)]


# -- a tokenizer shared by depends and when ------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\))"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(f"cannot read {text!r} at {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str, atom: Callable[[str, str], Any]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.atom = atom

    def parse(self) -> Any:
        if not self.tokens:
            raise ExpressionError("empty expression")
        value = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return value

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"{self.text!r} ends too early")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = bool(value) or bool(right)
        return value

    def and_(self) -> Any:
        value = self.cmp()
        while self.peek() == "&&":
            self.take()
            right = self.cmp()
            value = bool(value) and bool(right)
        return value

    def cmp(self) -> Any:
        left = self.unary()
        op = self.peek()
        if op in ("==", "!=", "<", ">", "<=", ">="):
            self.take()
            right = self.unary()
            if op == "==":
                return left == right
            if op == "!=":
                return left != right
            if type(left) is not type(right) or isinstance(left, bool):
                raise ExpressionError(f"cannot compare {left!r} {op} {right!r}")
            return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[
                op
            ]
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not bool(self.unary())
        if self.peek() == "(":
            self.take()
            value = self.or_()
            if self.take()[1] != ")":
                raise ExpressionError(f"missing ')' in {self.text!r}")
            return value
        kind, text = self.take()
        return self.atom(kind, text)


def eval_depends(text: str, result: Callable[[str, str], bool]) -> bool:
    """``result(task, which)``: whether task ``task`` ended as ``which`` (see TASK_RESULTS)."""

    def atom(kind: str, token: str) -> bool:
        if kind != "name":
            raise ExpressionError(f"{token!r} is not a task result in depends {text!r}")
        task, _, which = token.partition(".")
        if not which:
            return result(task, "Succeeded") or result(task, "Skipped") or result(task, "Daemoned")
        if which not in TASK_RESULTS:
            raise Refused(f"depends result {which!r} in {text!r}")
        return result(task, which)

    return bool(_Parser(text, atom).parse())


def depends_tasks(text: str) -> set[str]:
    return {tok.partition(".")[0] for kind, tok in _tokens(text) if kind == "name"}


def eval_when(text: str) -> bool:
    def atom(kind: str, token: str) -> Any:
        if kind == "str":
            return token[1:-1]
        if kind == "num":
            return float(token)
        if token == "true":
            return True
        if token == "false":
            return False
        raise ExpressionError(f"when {text!r}: {token!r} is not a value (unquoted text?)")

    value = _Parser(text, atom).parse()
    if not isinstance(value, bool):
        raise ExpressionError(f"when {text!r} is not a boolean expression")
    return value
