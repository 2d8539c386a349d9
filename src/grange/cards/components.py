"""The components a step puts on its card, named and built as ``metaflow.cards``'.

Each component's :meth:`CardComponent.render` gives a *component dict*: plain
JSON-able data with a ``"type"`` key that :func:`grange.cards.render.render_html`
turns into HTML. The fields of each type are listed in docs/cards.md. A
component whose ``render`` raises becomes an ``error`` component (see
:func:`render_component`): a broken component never breaks the card.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
import traceback
from collections.abc import Callable
from typing import Any

from grange.cards._limits import (
    MAX_LONG_TEXT,
    MAX_TABLE_ROWS,
    MAX_TEXT,
    PREVIEW_ROWS,
    cut,
    safe_repr,
    type_name,
)

_CSS_CLASS = re.compile(r"^-?[_a-zA-Z][_a-zA-Z0-9-]*$")
_CSS_LENGTH = re.compile(r"^\d+(\.\d+)?(px|em|rem|vh|%)$")


class CardComponent:
    """Base class of card components (Metaflow's ``MetaflowCardComponent``).

    A subclass sets what it shows in ``__init__`` and returns a component dict
    from :meth:`render`. ``REALTIME_UPDATABLE`` says whether ``update`` may
    change it on a live card; ``component_id`` (optional) names it in the doc.
    """

    type = "component"
    REALTIME_UPDATABLE = False
    component_id: str | None = None

    def render(self) -> dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__}.render() is not implemented")

    def _dict(self, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.component_id is not None:
            out["id"] = str(self.component_id)
        out.update(fields)
        return out


MetaflowCardComponent = CardComponent


def error_dict(title: str, text: str = "") -> dict[str, Any]:
    """An ``error`` component dict."""
    return {"type": "error", "title": cut(str(title)), "text": cut(str(text), MAX_LONG_TEXT)}


def render_component(component: Any) -> dict[str, Any]:
    """``component.render()``, or an ``error`` component saying why it failed.

    Accepts a :class:`CardComponent` or an already rendered component dict.
    """
    if isinstance(component, dict):
        if isinstance(component.get("type"), str):
            return component
        return error_dict("A card component dict has no 'type'", safe_repr(component))
    if not isinstance(component, CardComponent) and not callable(
        getattr(component, "render", None)
    ):
        return error_dict(
            f"{type_name(component)} is not a card component",
            "Append components from grange.cards (Markdown, Table, Image ...) to current.card.",
        )
    name = type(component).__name__
    try:
        out = component.render()
    except Exception as exc:
        return error_dict(f"{name}.render() failed: {type(exc).__name__}: {exc}", _trace(exc))
    if not isinstance(out, dict) or not isinstance(out.get("type"), str):
        return error_dict(
            f"{name}.render() must return a dict with a 'type' key",
            f"It returned {safe_repr(out)}",
        )
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        return error_dict(f"{name}.render() returned data that is not JSON: {exc}")
    return out


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _check_str(component: str, arg: str, value: Any, limit: int | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{component}({arg}=...) must be a str, not {type_name(value)}")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{component}({arg}=...) must be {limit} characters or less")


def _check_number(component: str, arg: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise TypeError(f"{component}({arg}=...) must be a number, not {safe_repr(value)}")


class Markdown(CardComponent):
    """Text in Markdown (raw HTML in it is shown as text; common indentation removed)."""

    type = "markdown"
    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None) -> None:
        _check_str("Markdown", "text", text)
        self._text = textwrap.dedent(text) if text is not None else None

    def update(self, text: str | None = None) -> None:
        _check_str("Markdown", "text", text)
        self._text = textwrap.dedent(text) if text is not None else None

    def render(self) -> dict[str, Any]:
        return self._dict(text=cut(self._text or "", MAX_LONG_TEXT))


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return cut(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, CardComponent):
        return render_component(value)
    return safe_repr(value)


class Table(CardComponent):
    """A table: ``data`` is a list of rows, each a list of values or components."""

    type = "table"
    REALTIME_UPDATABLE = True

    def __init__(
        self,
        data: list[list[Any]] | None = None,
        headers: list[str] | None = None,
        disable_updates: bool = False,
    ) -> None:
        data = [[]] if data is None else data
        headers = [] if headers is None else headers
        if not isinstance(headers, (list, tuple)):
            raise TypeError(f"Table(headers=...) must be a list of str, not {type_name(headers)}")
        if not isinstance(data, (list, tuple)) or not all(
            isinstance(r, (list, tuple)) for r in data
        ):
            raise TypeError("Table(data=...) must be a list of rows, each row a list of values")
        self._headers = [str(h) for h in headers]
        self._data = [list(r) for r in data]
        if disable_updates:
            self.REALTIME_UPDATABLE = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        """A table is not updated as a whole (as in Metaflow): update its cells' components."""
        import warnings

        warnings.warn(
            "Table has no update(): update the components inside its cells instead",
            stacklevel=2,
        )

    @classmethod
    def from_dataframe(cls, dataframe: Any = None, truncate: bool = True) -> Table:
        """A table of a pandas DataFrame (its first rows when ``truncate``)."""
        module = getattr(type(dataframe), "__module__", "") or ""
        if type(dataframe).__name__ != "DataFrame" or not module.startswith("pandas"):
            raise TypeError(
                f"Table.from_dataframe() needs a pandas DataFrame, not {type_name(dataframe)}"
            )
        frame = dataframe.head(PREVIEW_ROWS) if truncate else dataframe.head(MAX_TABLE_ROWS)
        headers = [str(c) for c in frame.columns]
        rows = [[_scalar(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        table = cls(data=rows, headers=headers, disable_updates=True)
        table._total_rows = len(dataframe)
        return table

    _total_rows: int | None = None

    def render(self) -> dict[str, Any]:
        rows = [r for r in self._data if r] or []
        total = self._total_rows if self._total_rows is not None else len(rows)
        shown = rows[:MAX_TABLE_ROWS]
        return self._dict(
            headers=[cut(h) for h in self._headers],
            rows=[[_cell(v) for v in r] for r in shown],
            more_rows=max(0, total - len(shown)),
        )


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item):
        try:
            return _scalar(item())
        except Exception:
            pass
    return safe_repr(value)


class Artifact(CardComponent):
    """Any Python object, pretty-printed (truncated unless ``compressed=False``)."""

    type = "artifact"
    REALTIME_UPDATABLE = True

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self._artifact = artifact
        self._name = None if name is None else str(name)
        self._compressed = compressed

    def update(self, artifact: Any) -> None:
        self._artifact = artifact

    def render(self) -> dict[str, Any]:
        text = safe_repr(
            self._artifact,
            compressed=self._compressed,
            limit=MAX_TEXT if self._compressed else MAX_LONG_TEXT,
        )
        return self._dict(name=self._name, type_name=type_name(self._artifact), repr=text)


class ProgressBar(CardComponent):
    """A progress bar: ``value`` of ``max``, with an optional label, unit and details."""

    type = "progress"
    REALTIME_UPDATABLE = True

    def __init__(
        self,
        max: int | float = 100,
        label: str | None = None,
        value: int | float = 0,
        unit: str | None = None,
        metadata: str | None = None,
    ) -> None:
        _check_number("ProgressBar", "max", max)
        _check_number("ProgressBar", "value", value)
        if max <= 0:
            raise ValueError(f"ProgressBar(max=...) must be above 0, not {max}")
        for arg, text in (("label", label), ("unit", unit), ("metadata", metadata)):
            _check_str("ProgressBar", arg, text)
        self._max, self._value, self._label = max, value, label
        self._unit, self._metadata = unit, metadata

    def update(self, new_value: int | float, metadata: str | None = None) -> None:
        _check_number("ProgressBar.update", "new_value", new_value)
        _check_str("ProgressBar.update", "metadata", metadata)
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    def render(self) -> dict[str, Any]:
        return self._dict(
            max=self._max,
            value=self._value,
            label=self._label,
            unit=self._unit,
            details=self._metadata,
        )


class ValueBox(CardComponent):
    """A key figure: a big value with a title, subtitle, theme and change indicator."""

    type = "valuebox"
    REALTIME_UPDATABLE = True
    VALID_THEMES = frozenset(
        {"default", "success", "warning", "danger", "bg-gradient-indigo-purple"}
    )

    def __init__(
        self,
        title: str | None = None,
        value: str | int | float = "",
        subtitle: str | None = None,
        theme: str | None = None,
        change_indicator: str | None = None,
    ) -> None:
        self._fields: dict[str, Any] = {}
        self.update(title, value, subtitle, theme, change_indicator)

    def update(
        self,
        title: str | None = None,
        value: str | int | float | None = None,
        subtitle: str | None = None,
        theme: str | None = None,
        change_indicator: str | None = None,
    ) -> None:
        _check_str("ValueBox", "title", title, 200)
        _check_str("ValueBox", "subtitle", subtitle, 300)
        _check_str("ValueBox", "change_indicator", change_indicator, 200)
        _check_str("ValueBox", "theme", theme)
        if theme is not None and not _CSS_CLASS.match(theme):
            raise ValueError(
                f"ValueBox(theme={theme!r}) must be a CSS class name such as "
                + ", ".join(sorted(self.VALID_THEMES))
            )
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (str, int, float))
        ):
            raise TypeError(
                f"ValueBox(value=...) must be a str, int or float, not {type_name(value)}"
            )
        given = dict(
            title=title,
            value=value,
            subtitle=subtitle,
            theme=theme,
            change_indicator=change_indicator,
        )
        self._fields.update({k: v for k, v in given.items() if v is not None})

    def render(self) -> dict[str, Any]:
        f = self._fields
        return self._dict(
            title=f.get("title"),
            value=f.get("value", ""),
            subtitle=f.get("subtitle"),
            theme=f.get("theme") or "default",
            change_indicator=f.get("change_indicator"),
        )


class PythonCode(CardComponent):
    """Python source: a function's (``code_func``) or a string (``code_string``)."""

    type = "code"

    def __init__(
        self, code_func: Callable[..., Any] | None = None, code_string: str | None = None
    ) -> None:
        if code_func is None and code_string is None:
            raise ValueError("PythonCode() needs code_func=<a function> or code_string=<text>")
        _check_str("PythonCode", "code_string", code_string)
        if code_func is not None:
            import inspect

            try:
                code_string = inspect.getsource(code_func)
            except (OSError, TypeError) as exc:
                raise ValueError(
                    f"PythonCode(code_func=...) has no readable source: {exc}"
                ) from None
        self._code = textwrap.dedent(code_string or "")

    def render(self) -> dict[str, Any]:
        return self._dict(language="python", code=cut(self._code, MAX_LONG_TEXT))


class _Viewer(CardComponent):
    REALTIME_UPDATABLE = True
    _label = "viewer"

    def __init__(
        self,
        data: Any,
        collapsible: bool = True,
        max_height: str | None = None,
        show_copy_button: bool = True,
        title: str | None = None,
    ) -> None:
        name = type(self).__name__
        _check_str(name, "title", title)
        _check_str(name, "max_height", max_height)
        if max_height is not None and not _CSS_LENGTH.match(max_height):
            raise ValueError(f"{name}(max_height={max_height!r}) must be a CSS length like '400px'")
        self._data = data
        self._collapsible = bool(collapsible)
        self._max_height = max_height
        self._show_copy_button = bool(show_copy_button)
        self._title = title

    def update(self, data: Any) -> None:
        self._data = data

    def _text(self) -> str:
        raise NotImplementedError

    def render(self) -> dict[str, Any]:
        return self._dict(
            text=cut(self._text(), MAX_LONG_TEXT),
            title=self._title,
            collapsible=self._collapsible,
            max_height=self._max_height,
        )


class JSONViewer(_Viewer):
    """Data shown as indented JSON (values that are not JSON shown by repr)."""

    type = "json"

    def _text(self) -> str:
        return json.dumps(self._data, indent=2, default=safe_repr, ensure_ascii=False)


class YAMLViewer(_Viewer):
    """Data shown as YAML (``yaml.safe_dump``; values that are not plain data shown by repr)."""

    type = "yaml"

    def _text(self) -> str:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        plain = json.loads(json.dumps(self._data, default=safe_repr))
        return str(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))


class Error(CardComponent):
    """An exception shown on the card, with its traceback when it has one."""

    type = "error"

    def __init__(self, exception: BaseException, title: str | None = None) -> None:
        _check_str("Error", "title", title)
        self._exception = exception
        self._title = title

    def render(self) -> dict[str, Any]:
        exc = self._exception
        if isinstance(exc, BaseException) and exc.__traceback__ is not None:
            text = _trace(exc)
        else:
            text = safe_repr(exc)
        return self._dict(title=cut(self._title or "Error"), text=cut(text, MAX_LONG_TEXT))
