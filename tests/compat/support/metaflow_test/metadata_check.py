"""Check a run through grange's client: ``Flow``, ``Run``, ``Task``, namespaces, tags."""

from __future__ import annotations

import os
from typing import Any

from metaflow_test import AssertLogFailed, assert_equals, assert_exception
from metaflow_test.checker import Checker


class MetadataCheck(Checker):
    def __init__(self, flow: Any) -> None:
        from grange import Flow

        super().__init__(flow)
        self.run = Flow(flow.name)[self.run_id]
        expected = {step.name for step in flow}
        actual = {step.id for step in self.run}
        assert actual <= expected, f"Executed steps {actual} not a subset of flow steps {expected}"
        self._test_namespace()

    def _test_namespace(self) -> None:
        from grange import Flow, default_namespace, get_namespace, namespace
        from grange.exceptions import NamespaceMismatch

        assert_equals(f"user:{os.environ.get('GRANGE_USER')}", get_namespace())
        assert_equals(True, self.run_id in [run.id for run in Flow(self.flow.name)])
        namespace("user:nobody")
        assert_equals("user:nobody", get_namespace())
        assert_exception(lambda: Flow(self.flow.name)[self.run_id], NamespaceMismatch)
        namespace(None)
        assert_equals(None, get_namespace())
        Flow(self.flow.name)[self.run_id]
        default_namespace()

    def get_run(self) -> Any:
        return self.run

    def artifact_dict(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        return {task.id: {name: task[name].data} for task in self.run[step]}

    def artifact_dict_if_exists(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        return {task.id: {name: task[name].data} for task in self.run[step] if name in task}

    def get_log(self, step: str, logtype: str) -> str:
        return "".join(getattr(task, logtype) for task in self.run[step])

    def assert_log(self, step: str, logtype: str, value: str, exact_match: bool = True) -> bool:
        log = self.get_log(step, logtype)
        if log == value or (not exact_match and value in log):
            return True
        raise AssertLogFailed(
            f"Step '{step}' expected task.{logtype}={value!r} but got task.{logtype}={log!r}"
        )

    def get_user_tags(self) -> Any:
        return self.run.user_tags

    def get_system_tags(self) -> Any:
        return self.run.system_tags

    def add_tag(self, tag: str) -> Any:
        return self.run.add_tag(tag)

    def add_tags(self, tags: list[str]) -> Any:
        return self.run.add_tags(tags)

    def remove_tag(self, tag: str) -> Any:
        return self.run.remove_tag(tag)

    def remove_tags(self, tags: list[str]) -> Any:
        return self.run.remove_tags(tags)

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> Any:
        return self.run.replace_tag(tag_to_remove, tag_to_add)

    def replace_tags(self, tags_to_remove: list[str], tags_to_add: list[str]) -> Any:
        return self.run.replace_tags(tags_to_remove, tags_to_add)

    # -- cards ----------------------------------------------------------------------------

    def get_card(
        self, step: str, task: str, card_type: str | None, card_id: str | None = None
    ) -> Any:
        from grange.cards import get_cards

        return get_cards(self.run[step][task], type=card_type, id=card_id)

    def list_cards(self, step: str, task: str, card_type: str | None = None) -> Any:
        cards = self.get_card(step, task, card_type)
        if not len(cards):
            return None
        return {
            "pathspec": self.run[step][task].pathspec,
            "cards": [
                {"hash": c.hash, "id": c.id, "type": c.type, "filename": c.path.split("/")[-1]}
                for c in cards
            ],
        }

    def card_page(
        self,
        step: str,
        task: str,
        card_type: str,
        card_hash: str | None = None,
        card_id: str | None = None,
    ) -> str | None:
        cards = [
            c
            for c in self.get_card(step, task, card_type, card_id=card_id)
            if card_hash is None or card_hash in (c.hash or "")
        ]
        return cards[0].get() if cards else None

    def get_card_data(
        self, step: str, task: str, card_type: str, card_id: str | None = None
    ) -> tuple[bool, Any]:
        cards = self.get_card(step, task, card_type, card_id=card_id)
        if not len(cards):
            return False, None
        return True, cards[0].get_data()
