"""Changing a run's user tags: the tag methods of :class:`~grange.metastore.store.MetadataStore`."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

from grange.metastore import runs
from grange.metastore.dbapi import Sql
from grange.metastore.retry import retrying
from grange.metastore.tags import mutate_user_tags


class RunTagging:
    """Adds, removes and replaces user tags, each call in one write transaction."""

    def _write(self) -> AbstractContextManager[Sql]:
        raise NotImplementedError

    def add_tags(self, flow: str, run_id: str, *, tags: Iterable[str]) -> frozenset[str]:
        """Add user tags; returns the run's user tags afterwards."""
        return self.replace_tags(flow, run_id, remove=(), add=tags)

    def remove_tags(self, flow: str, run_id: str, *, tags: Iterable[str]) -> frozenset[str]:
        """Remove user tags (a system tag cannot be removed); returns the user tags."""
        return self.replace_tags(flow, run_id, remove=tags, add=())

    @retrying
    def replace_tags(
        self, flow: str, run_id: str, *, remove: Iterable[str], add: Iterable[str]
    ) -> frozenset[str]:
        """Remove then add user tags, atomically; returns the user tags afterwards.

        Raises :class:`~grange.exceptions.TagError` for an empty tag, a tag
        over 500 characters, more than 50 user tags, or a system tag in
        ``remove``; nothing changes then.
        """
        with self._write() as c:
            runs.require_run(c, flow, run_id)
            old = runs.read_tags(c, flow, [run_id])[run_id]
            new = mutate_user_tags(user=old.user, system=old.system, remove=remove, add=add)
            runs.write_user_tags(c, flow, run_id, old.user, new)
            return new
