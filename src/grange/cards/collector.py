"""``current.card``: the components a step adds to its cards, and their live updates.

The task layer builds one :class:`CardCollector` per task of a step that has
``@card`` and binds it as ``current.card``. Which card ``current.card.append``
(without an id) adds to follows Metaflow: the card with ``customize=True``;
else the only card of the step; else the only card without an id; with none
of these, a warning (once) and nothing happens. ``current.card["id"]`` is the
card of that id, ``current.card.get(type="blank")`` the cards of a type.

``refresh()`` turns a card's components into a *live* card document and hands
its JSON to the ``write`` callback the task layer gave (which stores it beside
the attempt): this module knows no storage. Writes are rate-limited by the
card's ``refresh_interval``: a refresh sooner than that after the last write
is kept as pending and written by the next refresh after the interval, or at
the end of the task (:attr:`CardHandle.pending`), never dropped.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from grange.cards._limits import MAX_CARD_BYTES, describe_exception
from grange.cards.components import error_dict, render_component
from grange.cards.default import TaskFacts, card_doc


@dataclass(frozen=True)
class CardSpec:
    """One ``@card`` of the step: its place among the step's cards and its arguments."""

    index: int
    type: str
    id: str | None = None
    customize: bool = False
    refresh_interval: float = 5.0
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def slot(self) -> str:
        """``<index>-<type>[-<id>]``: the card's name among the attempt's files."""
        return f"{self.index}-{self.type}" + (f"-{self.id}" if self.id else "")


def _warn(message: str) -> None:
    print(f"[@card WARNING] {message}", file=sys.stderr, flush=True)


_F = TypeVar("_F", bound=Callable[..., None])


def _never_fails(method: _F) -> _F:
    """A card call never fails the step: what it raises (not KeyboardInterrupt or
    SystemExit) is a warning, once per card and method, and the call does nothing."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception as exc:
            collector = self if isinstance(self, CardCollector) else self._collector
            where = "current.card" if isinstance(self, CardCollector) else f"card {self.spec.slot}"
            collector._warn_once(
                f"raised:{where}.{method.__name__}",
                f"{where}: {method.__name__}() raised {describe_exception(exc, 300)}; "
                "it is ignored (a card never fails the step)",
            )

    return guarded  # type: ignore[return-value]


class ComponentList:
    """A card's components in order; ``[component_id]`` finds one by its id."""

    def __init__(self) -> None:
        self._items: list[Any] = []

    def append(self, component: Any, id: str | None = None) -> None:
        if id is not None:
            with contextlib.suppress(AttributeError):
                component.component_id = id
        self._items.append(component)

    def extend(self, components: Iterable[Any]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._items.clear()

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[str]:
        return [str(c.component_id) for c in self._items if getattr(c, "component_id", None)]

    def __contains__(self, key: object) -> bool:
        return key in self.keys()

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self._items[key]
        for component in self._items:
            if getattr(component, "component_id", None) == key:
                return component
        raise KeyError(f"no component with id {key!r} on this card (ids: {self.keys()})")

    def __delitem__(self, key: str) -> None:
        self._items.remove(self[key])

    def __repr__(self) -> str:
        return f"<card components: {len(self._items)}>"


class CardHandle:
    """One card of the running task: ``current.card["id"]`` and what ``current.card``
    forwards to (Metaflow's ``CardComponentManager``)."""

    def __init__(self, spec: CardSpec, collector: CardCollector) -> None:
        self.spec = spec
        self._collector = collector
        self._components = ComponentList()
        self._data: Any = None
        self._last_write: float | None = None
        self.pending = False  # a refresh not written yet (rate-limited)
        self.refreshed = False  # refresh() was called at least once

    @_never_fails
    def append(self, component: Any, id: str | None = None) -> None:
        self._components.append(component, id=id)

    @_never_fails
    def extend(self, components: Iterable[Any]) -> None:
        self._components.extend(components)

    @_never_fails
    def clear(self) -> None:
        self._components.clear()

    @property
    def components(self) -> ComponentList:
        return self._components

    def __iter__(self) -> Iterator[Any]:
        return iter(self._components)

    def __len__(self) -> int:
        return len(self._components)

    @property
    def data(self) -> Any:
        """What the last ``refresh(data)`` passed."""
        return self._data

    @_never_fails
    def refresh(self, data: Any = None, force: bool = False) -> None:
        """Store the card's live document (its components as they are now, and
        ``data``), at most once per ``refresh_interval`` seconds (``force``: now)."""
        if data is not None:
            try:
                json.dumps(data)
            except Exception as exc:  # not JSON, too deep (RecursionError), a bad __str__
                self._collector._warn_once(
                    f"data:{self.spec.slot}",
                    f"card {self.spec.slot}: refresh(data=...) is not JSON it can store "
                    f"({type(exc).__name__}); the data is ignored",
                )
                data = None
        self._data = data
        self.pending = True
        self.refreshed = True
        now = self._collector.clock()
        interval = self.spec.refresh_interval
        if force or self._last_write is None or now - self._last_write >= interval:
            self._collector._write_live(self)
            self._last_write = now

    def rendered_components(self) -> list[dict[str, Any]]:
        """Each component's dict (``render()``); one that fails becomes an error component."""
        return [render_component(c) for c in self._components]

    def doc(self, facts: TaskFacts, *, final: bool) -> dict[str, Any]:
        """The card's document for ``facts`` (live with ``final=False``)."""
        spec = self.spec
        doc = card_doc(
            spec.type, spec.id, facts, self.rendered_components(), final=final, options=spec.options
        )
        if facts.exception and spec.type != "default":  # the default card shows it already
            doc["components"].append(error_dict("The step failed", facts.exception))
        if self._data is not None:
            doc["data"] = self._data
        return doc

    def __repr__(self) -> str:
        return f"<card {self.spec.slot}: {len(self._components)} component(s)>"


class _DetachedHandle(CardHandle):
    """What ``current.card["unknown"]`` returns: it takes components and keeps none."""

    def append(self, component: Any, id: str | None = None) -> None:
        pass

    def extend(self, components: Iterable[Any]) -> None:
        pass

    def refresh(self, data: Any = None, force: bool = False) -> None:
        pass


class CardCollector:
    """``current.card``: the cards of the running task (Metaflow's ``CardComponentCollector``).

    ``facts()`` gives what is known of the task so far, for live documents;
    ``write(spec, data)`` stores a card's live document (JSON bytes).
    """

    def __init__(
        self,
        specs: Iterable[CardSpec],
        *,
        facts: Callable[[], TaskFacts],
        write: Callable[[CardSpec, bytes], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cards = [CardHandle(spec, self) for spec in specs]
        self._facts = facts
        self._write = write
        self.clock = clock
        self._warned: set[str] = set()
        by_id: dict[str, CardHandle] = {}
        for handle in self.cards:
            if handle.spec.id is not None:
                by_id.setdefault(handle.spec.id, handle)
        self._by_id = by_id
        self._default = self._default_card()

    def _default_card(self) -> CardHandle | None:
        """Where ``append`` without an id goes (Metaflow's rules), or None."""
        customized = [c for c in self.cards if c.spec.customize]
        if len(customized) == 1:
            return customized[0]
        if len(self.cards) == 1:
            return self.cards[0]
        no_id = [c for c in self.cards if c.spec.id is None]
        return no_id[0] if len(no_id) == 1 else None

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _warn(message)

    def _target(self, what: str) -> CardHandle | None:
        if self._default is None:
            self._warn_once(
                "default",
                f"current.card.{what} cannot tell which of the step's {len(self.cards)} cards "
                "to use, so it does nothing: give one @card customize=True, or use "
                "current.card['id'] with the id of a @card",
            )
        return self._default

    # -- what a step calls ------------------------------------------------------------

    @_never_fails
    def append(self, component: Any, id: str | None = None) -> None:
        target = self._target("append")
        if target is not None:
            target.append(component, id=id)

    @_never_fails
    def extend(self, components: Iterable[Any]) -> None:
        target = self._target("extend")
        if target is not None:
            target.extend(components)

    @_never_fails
    def clear(self) -> None:
        target = self._target("clear")
        if target is not None:
            target.clear()

    @_never_fails
    def refresh(self, data: Any = None, force: bool = False) -> None:
        target = self._target("refresh")
        if target is not None:
            target.refresh(data, force=force)

    @property
    def components(self) -> ComponentList:
        target = self._target("components")
        return target.components if target is not None else ComponentList()

    def __getitem__(self, card_id: str) -> CardHandle:
        handle = self._by_id.get(card_id) if isinstance(card_id, str) else None
        if handle is None:
            known = ", ".join(repr(k) for k in self._by_id) or "none"
            self._warn_once(
                f"id:{card_id}",
                f"current.card[{card_id!r}]: no @card of this step has id={card_id!r} "
                f"(ids: {known}); what is added to it is not shown",
            )
            return _DetachedHandle(CardSpec(-1, "blank", card_id), self)
        return handle

    @_never_fails
    def __setitem__(self, card_id: str, components: list[Any]) -> None:
        handle = self[card_id]
        handle.clear()
        handle.extend(components)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self._by_id

    def get(self, type: str | None = None) -> list[CardHandle]:
        """The cards of ``type`` (all of them without one)."""
        return [c for c in self.cards if type is None or c.spec.type == type]

    def __iter__(self) -> Iterator[CardHandle]:
        return iter(self.cards)

    def __len__(self) -> int:
        return len(self.cards)

    def __repr__(self) -> str:
        return f"<current.card: {', '.join(c.spec.slot for c in self.cards)}>"

    # -- the task layer's side -----------------------------------------------------------

    def _write_live(self, handle: CardHandle) -> None:
        try:
            doc = handle.doc(self._facts(), final=False)
            data = json.dumps(doc, separators=(",", ":"), default=str).encode()
            if len(data) > MAX_CARD_BYTES:
                self._warn_once(
                    f"size:{handle.spec.slot}",
                    f"card {handle.spec.slot}: its live update is {len(data):,} bytes, past "
                    f"the {MAX_CARD_BYTES:,}-byte budget of a card; an error is stored "
                    "instead: put less in the card or in refresh(data=...)",
                )
                data = _too_large(doc, len(data))
            self._write(handle.spec, data)
        except Exception as exc:  # a live update never fails the step
            self._warn_once(
                f"write:{handle.spec.slot}",
                f"card {handle.spec.slot}: its live update could not be stored "
                f"({type(exc).__name__}: {exc})",
            )
            return
        handle.pending = False


def _too_large(doc: dict[str, Any], size: int) -> bytes:
    """The live document stored instead of one past the budget (strings only)."""
    small = {k: doc.get(k) for k in ("version", "type", "id", "title", "created_at")}
    small["final"] = False
    small["components"] = [
        error_dict(
            "This live update is too large",
            f"It is {size:,} bytes, past the {MAX_CARD_BYTES:,}-byte budget of a card. "
            "Put fewer or smaller components in the card, or less in refresh(data=...).",
        )
    ]
    return json.dumps(small, separators=(",", ":"), default=str).encode()
