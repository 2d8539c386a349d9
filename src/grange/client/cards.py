"""``get_cards(task)``: the ``@card`` reports of a task, as Metaflow's ``get_cards``.

``get_cards`` lists a task's cards (of its latest attempt) without reading
them; :meth:`Card.get` reads a card's page when asked. A card is *final* once
the task stored its page; while the task runs, a card may only have live data
(``current.card.refresh()``): :meth:`Card.get` then renders that live
document. A task that ``resume`` reused has its cards in the run it comes
from: ``follow_resumed=True`` (the default) reads them there.

    from grange.cards import get_cards
    cards = get_cards("TrainFlow/3/train/4", id="metrics")
    cards[0].get()      # the HTML page
    cards               # in a notebook: each card in a sandboxed iframe
"""

from __future__ import annotations

import copy
import html as html_text
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from grange.client.task import Task
from grange.datastore import BlobStore, TaskPaths, read_record
from grange.datastore.cards import (
    StoredCard,
    html_key,
    list_cards,
    parse_slot,
    read_card_html,
    read_live_data,
)
from grange.exceptions import ClientError, InvalidPathspec

_builtin_type = type  # get_cards() has an argument named type
_FRAME = (
    '<iframe sandbox="allow-scripts" srcdoc="{doc}" title="{title}" '
    'style="width:100%;height:{height}px;border:1px solid #ddd"></iframe>'
)


class Card:
    """One card of a task: a self-contained HTML page, read when asked for."""

    def __init__(
        self,
        blobs: BlobStore,
        paths: TaskPaths,
        stored: StoredCard,
        *,
        pathspec: str,
        ended: Callable[[], bool] = lambda: False,
    ) -> None:
        self._blobs = blobs
        self._ended = ended
        self._paths = paths
        self._stored = stored
        self._html: str | None = None
        index, card_type, card_id = parse_slot(stored.slot)
        self.index: int = index
        self.type: str = card_type
        self.slot: str = stored.slot
        self.pathspec: str = pathspec  # the task whose attempt holds the card
        self.attempt: int = paths.attempt
        self._id = card_id

    @property
    def id(self) -> str | None:
        """The card's ``@card(id=...)``, or None."""
        return self._id

    @property
    def final(self) -> bool:
        """Whether the task stored the card's page (False: only live data so far)."""
        return self._stored.meta is not None

    @property
    def status(self) -> str:
        """``ok``, ``error`` (the card shows why it could not be rendered), ``timeout``,
        ``running`` while only live data exists and the task runs, ``unfinished`` when
        the task's attempt ended without the card's page (killed, ``os._exit``), or
        ``damaged`` when its stored files cannot be read (:attr:`damage` says why)."""
        if self._stored.damaged is not None:
            return "damaged"
        meta = self._stored.meta
        if meta is not None:
            return meta.status
        return "unfinished" if self._ended() else "running"

    @property
    def damage(self) -> str | None:
        """Why the card is ``damaged``, or None."""
        damaged = self._stored.damaged
        return None if damaged is None else damaged.message

    @property
    def hash(self) -> str | None:
        """The sha256 of the final page (None before there is one)."""
        meta = self._stored.meta
        return meta.sha256 if meta is not None else None

    @property
    def created_at(self) -> float | None:
        meta = self._stored.meta
        return meta.created_at if meta is not None else None

    @property
    def path(self) -> str:
        """Where the card's page is stored (``file://...`` or ``s3://...``)."""
        return self._blobs.url(html_key(self._paths, self.slot))

    def get(self) -> str:
        """The card's HTML page; while only live data exists, that data rendered."""
        if self._html is not None:
            return self._html
        if self._stored.damaged is not None:
            raise self._stored.damaged
        meta = self._stored.meta
        if meta is not None:
            page = read_card_html(self._blobs, self._paths, meta).decode("utf-8")
            self._html = page
            return page
        doc = self.get_data()
        if doc is None:
            raise ClientError(
                f"card {self.slot} of task {self.pathspec} has no page and no live data",
                fix="wait for the task to end, or call current.card.refresh() in the step",
            )
        from grange.cards.render import render_html

        if self._ended():
            doc = _unfinished(doc, self)
        return render_html(doc)

    def get_data(self) -> dict[str, Any] | None:
        """The card's latest live document (``current.card.refresh()``), or None."""
        return read_live_data(self._blobs, self._paths, self.slot)

    def view(self) -> str:
        """Open the card in a web browser; returns the temporary file it wrote."""
        import webbrowser

        path = write_temp_page(self)
        webbrowser.open("file://" + path)
        return path

    def _repr_html_(self) -> str:
        return iframe(self.get(), title=f"{self.type} card of {self.pathspec}")

    def __repr__(self) -> str:
        return f"<Card {self.slot} of {self.pathspec} (attempt {self.attempt}, {self.status})>"


def _unfinished(doc: dict[str, Any], card: Card) -> dict[str, Any]:
    """The live document of a card its task never finished, under a banner saying so."""
    from grange.cards.components import error_dict

    doc = copy.copy(doc)
    components = doc.get("components")
    banner = error_dict(
        "This card was never finished",
        f"Task {card.pathspec} (attempt {card.attempt}) ended without storing this card's "
        "page (it was killed, or exited before its cards were rendered). This is the "
        "card's last live update, as the step left it.",
    )
    doc["components"] = [banner, *(components if isinstance(components, list) else [])]
    doc["final"] = False
    return doc


class CardContainer(Sequence[Card]):
    """The cards ``get_cards`` found, in the order of the step's decorators (a list)."""

    def __init__(self, cards: list[Card], *, origin_pathspec: str | None = None) -> None:
        self._cards = cards
        self.origin_pathspec = origin_pathspec  # the task resume reused, if followed
        self.from_resumed = origin_pathspec is not None

    @overload
    def __getitem__(self, index: int) -> Card: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Card]: ...

    def __getitem__(self, index: int | slice) -> Card | Sequence[Card]:
        return self._cards[index]

    def __len__(self) -> int:
        return len(self._cards)

    def __iter__(self) -> Iterator[Card]:
        return iter(self._cards)

    def _repr_html_(self) -> str:
        if not self._cards:
            return "<p>No cards.</p>"
        parts = []
        for card in self._cards:
            label = f"{card.type} card" + (f" '{card.id}'" if card.id else "")
            parts.append(f"<h3>{html_text.escape(label)}</h3>{card._repr_html_()}")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<CardContainer of {len(self._cards)} card(s)>"


def iframe(page: str, *, title: str = "card", height: int = 600) -> str:
    """``page`` in a sandboxed iframe (scripts run, nothing else: no same origin)."""
    return _FRAME.format(
        doc=html_text.escape(page, quote=True),
        title=html_text.escape(title, quote=True),
        height=height,
    )


def write_temp_page(card: Card) -> str:
    """Write the card's page to a new temporary ``.html`` file; its path."""
    fd, path = tempfile.mkstemp(prefix=f"grange-card-{card.slot}-", suffix=".html")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(card.get())
    return path


def get_cards(
    task: str | Task,
    id: str | None = None,
    type: str | None = None,
    follow_resumed: bool = True,
) -> CardContainer:
    """The cards of ``task`` (a :class:`~grange.Task` or ``"Flow/run/step/task"``).

    ``id`` / ``type`` keep the cards with that ``@card(id=...)`` / type.
    ``follow_resumed``: for a task ``resume`` reused, the cards of the task it
    was cloned from. Reading the cards' pages waits for :meth:`Card.get`.
    """
    if isinstance(task, str):
        parts = task.strip("/").split("/")
        if len(parts) != 4 or not all(parts):
            raise InvalidPathspec(
                f"get_cards() needs a task pathspec Flow/run/step/task, not {task!r}",
                fix="e.g. get_cards('TrainFlow/3/train/4'), or pass a Task",
            )
        task = Task("/".join(parts), _namespace_check=False)
    elif not isinstance(task, Task):
        raise TypeError(
            f"get_cards() takes a Task or a task pathspec, not {_builtin_type(task).__name__}"
        )
    origin = None
    source = task
    if follow_resumed:
        source = task._ran_as()
        if source.pathspec != task.pathspec:
            origin = source.pathspec
    flow, run_id, step, task_id = source.path_components
    paths = TaskPaths(flow, run_id, step, task_id, source.current_attempt)
    blobs = source._stores.blobs
    ended = _Ended(blobs, paths, source)
    cards = [
        Card(blobs, paths, stored, pathspec=source.pathspec, ended=ended)
        for stored in list_cards(blobs, paths)
    ]
    cards = [c for c in cards if (id is None or c.id == id) and (type is None or c.type == type)]
    return CardContainer(cards, origin_pathspec=origin)


class _Ended:
    """Whether the task's attempt ended (its record exists, or the index says it
    finished, failed or crashed): asked once, only for a card without a page."""

    def __init__(self, blobs: BlobStore, paths: TaskPaths, task: Task) -> None:
        self._blobs, self._paths, self._task = blobs, paths, task
        self._answer: bool | None = None

    def __call__(self) -> bool:
        if self._answer is None:
            p = self._paths
            ended = read_record(self._blobs, p.flow, p.run_id, p.step, p.task_id, p.attempt)
            self._answer = ended is not None or _task_finished(self._task)
        return self._answer


def _task_finished(task: Task) -> bool:
    """The index has the task's attempt, or its whole run, as ended."""
    try:
        if task.finished:
            return True
        return bool(task.parent.parent.finished)  # the run succeeded, failed or crashed
    except Exception:  # no index row: not known to have ended
        return False
