"""Check a run through the flow's command line: ``dump``, ``logs`` and ``tag``.

Output formats are grange's: ``dump --file`` pickles ``{task: {name: value}}``
as Metaflow's does, but ``--include NAME`` of an artifact that no task has is
an error (Metaflow writes tasks without the name), so that case is read from a
dump of every artifact; ``tag list`` prints ``user tags: a, b`` and
``system tags: ...`` lines (``-`` for none), which are parsed here instead
of Metaflow's ``--flat`` list on stderr. Cards are read with ``card list
--as-json`` (a list of cards, turned into Metaflow's ``{pathspec, cards}``)
and ``card get``; "has no card" in the error is a task without that card.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from metaflow_test import AssertLogFailed
from metaflow_test.checker import Checker


class CliFailed(subprocess.CalledProcessError):
    """A command of the flow's CLI failed; its message ends with what the command printed."""

    def __str__(self) -> str:
        printed = (self.stderr or b"").decode("utf-8", "replace").strip()
        return f"{super().__str__()}\n{printed}"


class CliCheck(Checker):
    def run_cli(self, args: list[str]) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "test_flow.py"]
        cmd += [o for o in self.cli_options if o != "--quiet"]
        cmd += args
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode:
            raise CliFailed(done.returncode, cmd, done.stdout, done.stderr)
        return done

    def _dump(self, step: str, *options: str) -> dict[str, dict[str, Any]]:
        with tempfile.NamedTemporaryFile(dir=".", suffix=".pkl") as tmp:
            self.run_cli(
                ["dump", "--private", *options, "--file", tmp.name, f"{self.run_id}/{step}"]
            )
            with open(tmp.name, "rb") as f:
                return pickle.load(f)

    def artifact_dict(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        try:
            return self._dump(step, "--include", name)
        except subprocess.CalledProcessError as e:
            if b"no artifact named" not in e.stderr:
                raise
        every = self._dump(step)
        return {task: {k: v for k, v in arts.items() if k == name} for task, arts in every.items()}

    def artifact_dict_if_exists(self, step: str, name: str) -> dict[str, dict[str, Any]]:
        return self.artifact_dict(step, name)

    def get_log(self, step: str, logtype: str) -> str:
        done = self.run_cli(["--quiet", "logs", f"--{logtype}", f"{self.run_id}/{step}"])
        return done.stdout.decode("utf-8")

    def assert_log(self, step: str, logtype: str, value: str, exact_match: bool = True) -> bool:
        log = self.get_log(step, logtype)
        if (exact_match and log != value) or (not exact_match and value not in log):
            raise AssertLogFailed(
                f"Task '{self.run_id}/{step}' expected {logtype} log {value!r} but got {log!r}"
            )
        return True

    def _tags(self) -> tuple[frozenset[str], frozenset[str]]:
        out = self.run_cli(["tag", "list", "--run-id", self.run_id]).stdout.decode("utf-8")
        found: dict[str, frozenset[str]] = {}
        for line in out.splitlines():
            kind, sep, rest = line.strip().partition(" tags:")
            if sep and kind in ("user", "system"):
                rest = rest.strip()
                found[kind] = frozenset() if rest == "-" else frozenset(rest.split(", "))
        return found.get("user", frozenset()), found.get("system", frozenset())

    def get_user_tags(self) -> frozenset[str]:
        return self._tags()[0]

    def get_system_tags(self) -> frozenset[str]:
        return self._tags()[1]

    def add_tag(self, tag: str) -> None:
        self.run_cli(["tag", "add", "--run-id", self.run_id, tag])

    def add_tags(self, tags: list[str]) -> None:
        self.run_cli(["tag", "add", "--run-id", self.run_id, *tags])

    def remove_tag(self, tag: str) -> None:
        self.run_cli(["tag", "remove", "--run-id", self.run_id, tag])

    def remove_tags(self, tags: list[str]) -> None:
        self.run_cli(["tag", "remove", "--run-id", self.run_id, *tags])

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        self.run_cli(["tag", "replace", "--run-id", self.run_id, tag_to_remove, tag_to_add])

    def replace_tags(self, tags_to_remove: list[str], tags_to_add: list[str]) -> None:
        cmd = ["tag", "replace", "--run-id", self.run_id]
        for tag in tags_to_remove:
            cmd += ["--remove", tag]
        for tag in tags_to_add:
            cmd += ["--add", tag]
        self.run_cli(cmd)

    # -- cards ----------------------------------------------------------------------------

    def _card_cli(self, args: list[str]) -> str | None:
        """What ``card ...`` printed, or None when the task has no such card."""
        try:
            return self.run_cli(["card", *args]).stdout.decode("utf-8")
        except CliFailed as err:
            if b"has no card" in (err.stderr or b""):
                return None
            raise

    def list_cards(self, step: str, task: str, card_type: str | None = None) -> Any:
        pathspec = f"{self.run_id}/{step}/{task}"
        args = ["list", pathspec, "--as-json"] + (["--type", card_type] if card_type else [])
        printed = self._card_cli(args)
        if printed is None:
            return None
        cards = json.loads(printed)
        return {
            "pathspec": cards[0]["pathspec"] if cards else pathspec,
            "cards": [
                {
                    "hash": c["hash"],
                    "id": c["id"],
                    "type": c["type"],
                    "filename": c["path"].split("/")[-1],
                }
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
        with tempfile.NamedTemporaryFile(dir=".", suffix=".html") as tmp:
            args = ["get", f"{self.run_id}/{step}/{task}", tmp.name, "--type", card_type]
            args += ["--hash", card_hash] if card_hash else []
            args += ["--id", card_id] if card_id else []
            if self._card_cli(args) is None:
                return None
            with open(tmp.name, encoding="utf-8") as f:
                return f.read()

    def get_card_data(
        self, step: str, task: str, card_type: str, card_id: str | None = None
    ) -> tuple[bool, Any]:
        # The CLI has no verb for a card's live data; Metaflow's CliCheck has none either.
        raise NotImplementedError("get_card_data is checked through the client only")
