"""Card components that show text as it is: ``PythonCode``, ``JSONViewer``, ``YAMLViewer``."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any

from grange.cards._limits import MAX_LONG_TEXT, cut, safe_repr, type_name
from grange.cards.components import _CSS_LENGTH, CardComponent, _check_str


class PythonCode(CardComponent):
    """Python source: a function's (``code_func``) or a string (``code_string``)."""

    type = "code"

    def __init__(
        self, code_func: Callable[..., Any] | None = None, code_string: str | None = None
    ) -> None:
        self._code: str | None = None
        self._problem: str | None = None
        if code_func is not None:
            import inspect

            try:
                code_string = inspect.getsource(code_func)
            except (OSError, TypeError) as exc:
                self._problem = f"PythonCode(code_func=...) has no readable source: {exc}"
        elif code_string is None:
            self._problem = "PythonCode() needs code_func=<a function> or code_string=<text>"
        elif not isinstance(code_string, str):
            self._problem = (
                f"PythonCode(code_string=...) must be a str, not {type_name(code_string)}"
            )
        if self._problem is None:
            self._code = textwrap.dedent(code_string or "")

    def render(self) -> dict[str, Any]:
        if self._problem is not None:
            raise ValueError(self._problem)
        return self._dict(language="python", code=cut(self._code or "", MAX_LONG_TEXT))


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
        name = type(self).__name__
        _check_str(name, "title", self._title)
        _check_str(name, "max_height", self._max_height)
        if self._max_height is not None and not _CSS_LENGTH.match(self._max_height):
            raise ValueError(
                f"{name}(max_height={self._max_height!r}) must be a CSS length like '400px'"
            )
        return self._dict(
            text=cut(self._text(), MAX_LONG_TEXT),
            title=self._title,
            collapsible=self._collapsible,
            max_height=self._max_height,
        )


def _parsed_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


class JSONViewer(_Viewer):
    """Data shown as indented JSON (values that are not JSON shown by repr).

    As in Metaflow, a str that is JSON is parsed and pretty-printed; any other
    str is shown as a JSON string.
    """

    type = "json"

    def _text(self) -> str:
        data = self._data
        if isinstance(data, str):
            ok, parsed = _parsed_json(data)
            if ok:
                data = parsed
        return json.dumps(data, indent=2, default=safe_repr, ensure_ascii=False)


class YAMLViewer(_Viewer):
    """Data shown as YAML (``yaml.safe_dump``; values that are not plain data shown by repr).

    As in Metaflow, a str that is JSON is shown converted to YAML; any other
    str (YAML text, say) is shown as it is.
    """

    type = "yaml"

    def _text(self) -> str:
        import yaml  # type: ignore[import-untyped,unused-ignore]

        data = self._data
        if isinstance(data, str):
            text = data
            ok, data = _parsed_json(text)
            if not ok:
                return text
        plain = json.loads(json.dumps(data, default=safe_repr))
        return str(yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))
