"""What both checkers share: the run id and options from the command line, artifact asserts."""

from __future__ import annotations

import json
import sys
from typing import Any

from metaflow_test import AssertArtifactFailed, AssertCardFailed, truncate


class Checker:
    def __init__(self, flow: Any) -> None:
        self.flow = flow

    @property
    def run_id(self) -> str:
        return sys.argv[2]

    @property
    def cli_options(self) -> list[str]:
        return sys.argv[3:]

    def get_run(self) -> Any:
        return None

    def artifact_dict(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        raise NotImplementedError

    def assert_artifact(self, step: str, name: str, value: Any, fields: Any = None) -> bool:
        for task, artifacts in self.artifact_dict(step, name).items():
            if name not in artifacts:
                raise AssertArtifactFailed(
                    f"Task '{task}' expected {name}={truncate(value)} but the key was not found"
                )
            artifact = artifacts[name]
            if not fields:
                if artifact != value:
                    raise AssertArtifactFailed(
                        f"Task '{task}' expected {name}={truncate(value)!r} "
                        f"but got {name}={truncate(artifact)}"
                    )
                continue
            data = json.loads(artifact) if isinstance(artifact, str) else artifact
            if not isinstance(data, dict):
                raise AssertArtifactFailed(
                    f"Task '{task}' expected {name} to be a dictionary (got {type(data)})"
                )
            for key, want in fields.items():
                if data.get(key) != want:
                    raise AssertArtifactFailed(
                        f"Task '{task}' expected {name}[{key}]={truncate(want)!r} "
                        f"but got {name}[{key}]={truncate(data.get(key))}"
                    )
        return True

    def card_page(
        self,
        step: str,
        task: str,
        card_type: str,
        card_hash: str | None = None,
        card_id: str | None = None,
    ) -> str | None:
        """The page of the matching card, or None when the task has none."""
        raise NotImplementedError

    def assert_card(
        self,
        step: str,
        task: str,
        card_type: str,
        value: Any,
        card_hash: str | None = None,
        card_id: str | None = None,
        exact_match: bool = True,
    ) -> bool:
        page = self.card_page(step, task, card_type, card_hash=card_hash, card_id=card_id)
        if (exact_match and page != value) or (
            not exact_match and (page is None or value not in page)
        ):
            raise AssertCardFailed(
                f"Task '{self.run_id}/{step}/{task}' expected {card_type} card with content "
                f"{truncate(value)!r} but got {truncate(page)!r}"
            )
        return True
