"""The final render of a task's cards, in forked children, never in the task's process.

Building a card runs user code (components' ``render()``, the ``__repr__`` of
artifacts in the previews) that may hang or crash. So the task forks one child
per card: the child has the artifacts in memory (copy-on-write), builds the
document and the HTML, sends both back through a pipe and exits; it writes
nothing to the datastore, and reads from it only through ``prepare`` (the
inherited artifacts of a default card, from a local-disk store: an S3 client
is not fork-safe). A step that ignores SIGCHLD (or reaps children itself)
leaves no exit status to read: the page already received is kept all the same.
The parent waits up to each card's ``timeout`` and kills a child past it. A child that raises, dies
(segfault) or runs out of time gives a result with status ``error`` or
``timeout`` and the reason; the caller decides what to store.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import selectors
import signal
import struct
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from grange.cards.collector import CardHandle
from grange.cards.default import TaskFacts
from grange.cards.render import render_html

_OK, _FAILED = b"K", b"E"
_SIZES = struct.Struct("!QQ")


@dataclass
class RenderJob:
    handle: CardHandle
    timeout: float  # seconds
    cut_by_step: bool = False  # the step's @timeout left less than the card's timeout


@dataclass
class RenderResult:
    status: Literal["ok", "error", "timeout"]
    html: bytes | None
    doc: bytes | None  # the final document's JSON
    seconds: float
    reason: str = ""  # why it failed


def render_cards(
    jobs: Sequence[RenderJob],
    facts: TaskFacts,
    *,
    prepare: Callable[[TaskFacts], None] | None = None,
) -> list[RenderResult]:
    """Render every job's card in a child of its own, all at once; a result per job.

    ``prepare(facts)`` runs in each child of a default card before it builds the
    card (loading the inherited artifacts the card previews): under the card's
    timeout, never in the task's process."""
    sys.stdout.flush()  # what the parent printed is not printed again by a child
    sys.stderr.flush()
    running: dict[int, _Child] = {}
    results: list[RenderResult | None] = [None] * len(jobs)
    with selectors.DefaultSelector() as selector:
        for position, job in enumerate(jobs):
            child = _start(job, facts, position, prepare)
            if isinstance(child, RenderResult):
                results[position] = child
                continue
            running[child.fd] = child
            selector.register(child.fd, selectors.EVENT_READ)
        while running:
            now = time.monotonic()
            wait = max(0.0, min(c.deadline for c in running.values()) - now)
            for key, _ in selector.select(timeout=wait):
                child = running[key.fd]
                chunk = os.read(key.fd, 1 << 20)
                if chunk:
                    child.buffer += chunk
                    continue
                selector.unregister(key.fd)
                del running[key.fd]
                results[child.position] = child.finish(killed=False)
            now = time.monotonic()
            for fd, child in list(running.items()):
                if now >= child.deadline:
                    selector.unregister(fd)
                    del running[fd]
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(child.pid, signal.SIGKILL)
                    results[child.position] = child.finish(killed=True)
    return [r for r in results if r is not None]


class _Child:
    def __init__(self, pid: int, fd: int, job: RenderJob, position: int) -> None:
        self.pid, self.fd, self.job, self.position = pid, fd, job, position
        self.started = time.monotonic()
        self.deadline = self.started + job.timeout
        self.buffer = bytearray()

    def finish(self, *, killed: bool) -> RenderResult:
        os.close(self.fd)
        status: int | None
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:  # the step set SIGCHLD to SIG_IGN, or reaped it itself
            status = None
        seconds = time.monotonic() - self.started
        if killed:
            return RenderResult(
                "timeout",
                None,
                None,
                seconds,
                f"it took longer than {self.job.timeout:.3g} seconds",
            )
        data = bytes(self.buffer)
        if data[:1] == _OK and len(data) >= 1 + _SIZES.size:
            html_size, doc_size = _SIZES.unpack_from(data, 1)
            body = data[1 + _SIZES.size :]
            if len(body) == html_size + doc_size:
                return RenderResult("ok", body[:html_size], body[html_size:], seconds)
        if data[:1] == _FAILED:
            return RenderResult("error", None, None, seconds, data[1:].decode(errors="replace"))
        return RenderResult("error", None, None, seconds, f"its renderer {_ended(status)}")


def _ended(status: int | None) -> str:
    if status is None:
        return (
            "ended without a card, and its exit status is lost (the step set SIGCHLD "
            "to SIG_IGN or reaped child processes itself)"
        )
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"was killed by {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)} without a card"


def _start(
    job: RenderJob,
    facts: TaskFacts,
    position: int,
    prepare: Callable[[TaskFacts], None] | None,
) -> _Child | RenderResult:
    read_fd, write_fd = os.pipe()
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking a process with threads (an S3 client's, the
            # step's): the child only builds the card and exits, under a time limit.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError as err:
        os.close(read_fd)
        os.close(write_fd)
        return RenderResult("error", None, None, 0.0, f"no process to render it: {err}")
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(write_fd, job, facts, prepare)
    os.close(write_fd)
    return _Child(pid, read_fd, job, position)


def _child(
    fd: int, job: RenderJob, facts: TaskFacts, prepare: Callable[[TaskFacts], None] | None
) -> None:
    code = 0
    try:
        _die_with_parent()
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the parent's @timeout alarm is not ours
        signal.alarm(math.ceil(job.timeout) + 5)  # never outlive the wait much
        try:
            if prepare is not None and job.handle.spec.type == "default":
                prepare(facts)
            doc = job.handle.doc(facts, final=True)
            page = render_html(doc).encode()
            doc_json = json.dumps(doc, separators=(",", ":"), default=str).encode()
            payload = _OK + _SIZES.pack(len(page), len(doc_json)) + page + doc_json
        except BaseException as exc:
            code = 1
            print(f"[@card] card {job.handle.spec.slot}: building it raised:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)  # into the task's stderr log
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            payload = _FAILED + f"building the card raised {text}".encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.close(fd)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        code = 2
    finally:
        os._exit(code)


def _die_with_parent() -> None:
    """Linux: be killed if the task process dies while this child renders."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
