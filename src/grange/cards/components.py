"""The components a step puts on its card, named and built as ``metaflow.cards``'.

Each component's :meth:`CardComponent.render` gives a *component dict*: plain
JSON-able data with a ``"type"`` key that :func:`grange.cards.render.render_html`
turns into HTML. The fields of each type are listed in docs/cards.md. A
component whose ``render`` raises becomes an ``error`` component (see
:func:`render_component`): a broken component never breaks the card.

As in Metaflow, what a step gives a component is checked when the card is
drawn, not when the component is made: a wrong image, a code component with
no code, a table of something that is not rows becomes an error box on the
card and the step goes on. Only ``ValueBox`` checks its arguments when made
(Metaflow's raises too).
"""

from __future__ import annotations

import json
import math
import numbers
import re
import textwrap
import traceback
from typing import Any

from grange.cards._limits import (
    MAX_LONG_TEXT,
    MAX_TABLE_CELLS,
    MAX_TABLE_COLUMNS,
    MAX_TABLE_ROWS,
    MAX_TEXT,
    PREVIEW_COLUMNS,
    PREVIEW_ROWS,
    cut,
    describe_exception,
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

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change what the component shows; a component that cannot be updated raises.

        As Metaflow's base class: ``NotImplementedError`` (naming the component)
        for components without an ``update`` of their own (``PythonCode``,
        ``Error``, ...), not an ``AttributeError``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} cannot be updated: it has no update(); replace the "
            "component instead (current.card.clear(), then append a new one)"
        )

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
        return error_dict(f"{name}.render() failed: {describe_exception(exc)}", _trace(exc))
    if not isinstance(out, dict) or not isinstance(out.get("type"), str):
        return error_dict(
            f"{name}.render() must return a dict with a 'type' key",
            f"It returned {safe_repr(out)}",
        )
    try:
        json.dumps(out)
    except (TypeError, ValueError, RecursionError) as exc:
        return error_dict(
            f"{name}.render() returned data that is not JSON: {describe_exception(exc)}"
        )
    return out


def _trace(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        return describe_exception(exc)


def _check_str(component: str, arg: str, value: Any, limit: int | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise TypeError(f"{component}({arg}=...) must be a str, not {type_name(value)}")
    if limit is not None and len(value) > limit:
        raise ValueError(f"{component}({arg}=...) must be {limit} characters or less")


def _number(component: str, arg: str, value: Any) -> int | float:
    """A plain int/float of a real number (NumPy scalars too); TypeError else."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{component}({arg}=...) must be a number, not {safe_repr(value)}")
    plain = int(value) if isinstance(value, numbers.Integral) else float(value)
    if isinstance(plain, float) and not math.isfinite(plain):
        raise TypeError(f"{component}({arg}=...) must be a finite number, not {plain}")
    return plain


class Markdown(CardComponent):
    """Text in Markdown (raw HTML in it is shown as text; common indentation removed)."""

    type = "markdown"
    REALTIME_UPDATABLE = True

    def __init__(self, text: str | None = None) -> None:
        self._text: Any = text

    def update(self, text: str | None = None) -> None:
        self._text = text

    def render(self) -> dict[str, Any]:
        _check_str("Markdown", "text", self._text)
        return self._dict(text=cut(textwrap.dedent(self._text or ""), MAX_LONG_TEXT))


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return cut(value) if isinstance(value, str) else value
    if isinstance(value, numbers.Real) and type(value).__module__ in ("builtins", "numpy"):
        return _scalar(value)
    if isinstance(value, CardComponent):
        if hasattr(value, "_chart_inside_table"):
            value._chart_inside_table = True  # as Metaflow: a chart fits its cell
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
        # As Metaflow: data that is not a list of rows (or headers not a list)
        # gives an empty table; the card says why (Metaflow's is silent).
        data = [[]] if data is None else data
        headers = [] if headers is None else headers
        self._problems: list[str] = []
        if not isinstance(headers, (list, tuple)):
            self._problems.append(
                f"Table(headers=...) must be a list of str, not {type_name(headers)}"
            )
            headers = []
        if not isinstance(data, (list, tuple)) or not all(
            isinstance(r, (list, tuple)) for r in data
        ):
            self._problems.append(
                "Table(data=...) must be a list of rows, each row a list of values, "
                f"not {cut(safe_repr(data), 100)}"
            )
            data = [[]]
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
        """A table of a pandas DataFrame.

        ``truncate=True``: its first 20 rows and 30 columns; ``False``: up to
        1,000 rows and 200 columns, and 100,000 cells (rows cut first). The
        rest is counted under the table. Anything but a DataFrame gives, as in
        Metaflow, a table whose header says that its type is not supported.
        """
        module = getattr(type(dataframe), "__module__", "") or ""
        if type(dataframe).__name__ != "DataFrame" or not module.startswith("pandas"):
            return cls(
                headers=[f"Object type {type_name(dataframe)} not supported"],
                disable_updates=True,
            )
        total_rows, total_cols = dataframe.shape
        if truncate:
            n_cols = min(total_cols, PREVIEW_COLUMNS)
            n_rows = min(total_rows, PREVIEW_ROWS)
        else:
            n_cols = min(total_cols, MAX_TABLE_COLUMNS)
            n_rows = min(total_rows, MAX_TABLE_ROWS, MAX_TABLE_CELLS // max(1, n_cols))
        frame = dataframe.iloc[:n_rows, :n_cols]  # cut before a cell is read
        headers = [str(c) for c in frame.columns]
        rows = [[_scalar(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        table = cls(data=rows, headers=headers, disable_updates=True)
        table._total_rows = int(total_rows)
        table._total_columns = int(total_cols)
        return table

    _total_rows: int | None = None
    _total_columns: int | None = None

    def render(self) -> dict[str, Any]:
        rows = [r for r in self._data if r] or []
        total = self._total_rows if self._total_rows is not None else len(rows)
        widest = max((len(r) for r in rows), default=0)
        width = max(widest, len(self._headers), self._total_columns or 0)
        n_cols = min(width, MAX_TABLE_COLUMNS)
        shown = rows[: min(MAX_TABLE_ROWS, MAX_TABLE_CELLS // max(1, n_cols))]
        out = self._dict(
            headers=[cut(h) for h in self._headers[:n_cols]],
            rows=[[_cell(v) for v in r[:n_cols]] for r in shown],
            more_rows=max(0, total - len(shown)),
            more_columns=max(0, width - min(n_cols, max(widest, len(self._headers)))),
        )
        if self._problems:
            out["error"] = "; ".join(self._problems)
        return out


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    try:  # NumPy scalars too (the .item() of a longdouble is a longdouble)
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            number = float(value)
            return number if math.isfinite(number) else str(number)
        item = getattr(value, "item", None)
        if callable(item) and type(value).__module__ == "numpy":
            plain = item()
            if plain is None or isinstance(plain, (bool, int, float, str)):
                return _scalar(plain)
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
        # Checked when drawn (as Metaflow): a wrong value is an error box, not an exception.
        self._max: Any = max
        self._value: Any = value
        self._label, self._unit, self._metadata = label, unit, metadata

    def update(self, new_value: int | float, metadata: str | None = None) -> None:
        self._value = new_value
        if metadata is not None:
            self._metadata = metadata

    def render(self) -> dict[str, Any]:
        for arg, text in (
            ("label", self._label),
            ("unit", self._unit),
            ("metadata", self._metadata),
        ):
            _check_str("ProgressBar", arg, text)
        top = _number("ProgressBar", "max", self._max)
        if top < 0:
            raise ValueError(f"ProgressBar(max=...) must be 0 or more, not {top}")
        return self._dict(
            max=top,
            value=_number("ProgressBar", "value", self._value),
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


class Error(CardComponent):
    """An exception shown on the card, with its traceback when it has one."""

    type = "error"

    def __init__(self, exception: BaseException, title: str | None = None) -> None:
        self._exception = exception
        self._title = title

    def render(self) -> dict[str, Any]:
        exc = self._exception
        if isinstance(exc, BaseException) and exc.__traceback__ is not None:
            text = _trace(exc)
        else:
            text = safe_repr(exc)
        title = self._title if isinstance(self._title, str) else safe_repr(self._title)
        return self._dict(title=cut(title or "Error"), text=cut(text, MAX_LONG_TEXT))
