"""Masking secret values in what a task process prints, at the file-descriptor level.

While a step that uses ``@secrets`` runs, descriptors 1 and 2 of its process
are pipes read by a thread, which writes what arrives to the real stdout and
stderr with every secret text replaced by ``****``. Because it works on the
descriptors, it also covers C extensions and subprocesses the step starts
(they inherit them). Only steps with ``@secrets`` pay for it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import selectors
import sys
import threading

from grange.secret_sources.redact import Redactor, StreamRedactor


class OutputMask:
    """Redirects fds 1 and 2 through a masking thread until :meth:`close`."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._saved: dict[int, int] = {}  # fd -> a duplicate of where it wrote before
        self._reads: dict[int, int] = {}  # read end -> the fd it stands in for
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    def start(self) -> OutputMask:
        _flush_std()
        for fd in (1, 2):
            self._saved[fd] = os.dup(fd)
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            self._reads[r] = fd
        self._wake_r, self._wake_w = os.pipe()
        if faulthandler.is_enabled():
            # A crash dump (code locations, no values) must not wait on the thread,
            # which dies with the process: write it to the real stderr.
            faulthandler.enable(file=self._saved[2])
        self._thread = threading.Thread(target=self._pump, name="grange-secrets-mask", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Put the descriptors back and write out what is still in the pipes."""
        if self._thread is None:
            return
        _flush_std()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)  # closes this process's write end of the pipe
        if faulthandler.is_enabled():
            faulthandler.enable(file=sys.stderr)
        os.write(self._wake_w, b"x")
        self._thread.join()
        self._thread = None
        for fd in (*self._saved.values(), *self._reads, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _pump(self) -> None:
        masks = {r: StreamRedactor(self.redactor) for r in self._reads}
        sel = selectors.DefaultSelector()
        for r in self._reads:
            sel.register(r, selectors.EVENT_READ)
        sel.register(self._wake_r, selectors.EVENT_READ)
        open_reads = set(self._reads)
        try:
            while open_reads:
                for key, _ in sel.select():
                    if key.fd == self._wake_r:
                        self._drain(open_reads, masks)
                        return
                    self._read(key.fd, open_reads, masks, sel)
        finally:
            for r in self._reads:
                self._emit(r, masks[r].flush())
            sel.close()

    def _read(
        self,
        r: int,
        open_reads: set[int],
        masks: dict[int, StreamRedactor],
        sel: selectors.BaseSelector,
    ) -> None:
        try:
            chunk = os.read(r, 65536)
        except BlockingIOError:
            return
        if not chunk:
            open_reads.discard(r)
            sel.unregister(r)
            return
        self._emit(r, masks[r].feed(chunk))

    def _drain(self, open_reads: set[int], masks: dict[int, StreamRedactor]) -> None:
        """After close: what is in the pipes now (a subprocess still holding one
        may write later; that is not waited for)."""
        for r in list(open_reads):
            os.set_blocking(r, False)
            while True:
                try:
                    chunk = os.read(r, 65536)
                except BlockingIOError:
                    break
                if not chunk:
                    break
                self._emit(r, masks[r].feed(chunk))

    def _emit(self, r: int, data: bytes) -> None:
        out = self._saved[self._reads[r]]
        view = memoryview(data)
        while view:
            try:
                n = os.write(out, view)
            except OSError:  # the reader went away: nothing more to show
                return
            view = view[n:]


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
