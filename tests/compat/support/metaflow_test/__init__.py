"""grange's own stand-in for the helper package that Metaflow's generated flows import.

The flows and checks that Metaflow's formatter writes say
``from metaflow_test import assert_equals, ResumeFromHere, new_checker, ...``.
This package provides those names for a flow that runs on grange: the
assertions, the two exceptions the tests raise on purpose, and the two
checkers (:mod:`.cli_check` through ``python flow.py dump|logs|tag``,
:mod:`.metadata_check` through grange's client). It is written for grange,
from the behaviour the tests expect; it is not Metaflow's code.
"""

from __future__ import annotations

import sys
from typing import Any

from metaflow_test.flowview import flow_view, foreach_frames


class ExpectationFailed(Exception):
    def __init__(self, expected: Any, got: Any) -> None:
        super().__init__(f"Expected result: {truncate(expected)}, got {truncate(got)}")


class AssertArtifactFailed(Exception):
    pass


class AssertLogFailed(Exception):
    pass


class MissingFeature(Exception):
    """The check needs a grange feature that does not exist yet."""


class AssertCardFailed(Exception):
    pass


class ResumeFromHere(Exception):
    """Raised by a step to make the run fail, so that the harness resumes it."""

    def __init__(self) -> None:
        super().__init__("This is not an error. Testing resume...")


class TestRetry(Exception):
    """Raised by a step to make its attempt fail, so that @retry runs it again."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        super().__init__("This is not an error. Testing retry...")


def truncate(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:500] + "..."


def assert_equals(expected: Any, got: Any) -> None:
    if expected != got:
        raise ExpectationFailed(expected, got)


def assert_equals_metadata(expected: dict, got: dict, exclude_keys: Any = None) -> None:
    excluded = set(exclude_keys or ())
    want, have = set(expected) - excluded, set(got) - excluded
    if want != have:
        raise ExpectationFailed(f"keys: {want}", f"keys: {have}")
    for key in want:
        if expected[key] != got[key]:
            raise ExpectationFailed(f"[{key}]: {expected[key]}", f"[{key}]: {got[key]}")


def assert_exception(func: Any, exception: type[BaseException]) -> None:
    try:
        func()
    except exception:
        return
    except Exception as ex:
        raise ExpectationFailed(exception, ex) from ex
    raise ExpectationFailed(exception, "no exception")


def is_resumed() -> bool:
    from grange import current

    return current.origin_run_id is not None


def origin_run_id_for_resume() -> str | None:
    from grange import current

    return current.origin_run_id


def try_to_get_card(id: Any = None, timeout: int = 60) -> Any:
    """The first card of the running task (with ``id``), once it exists; None after ``timeout`` s.

    As Metaflow's helper: a step that refreshes its card reads it back through
    the client, which may see it only after the first refresh is written.
    """
    import time

    from grange import current
    from grange.cards import get_cards

    deadline = time.monotonic() + timeout
    while True:
        cards = get_cards(current.pathspec, id=id)
        if len(cards):
            return cards[0]
        if time.monotonic() >= deadline:
            return None
        time.sleep(1)


def new_checker(flow: Any) -> Any:
    """The checker named by the command line: ``check_flow.py CliCheck|MetadataCheck RUN_ID``."""
    from metaflow_test.cli_check import CliCheck
    from metaflow_test.metadata_check import MetadataCheck

    checkers = {"CliCheck": CliCheck, "MetadataCheck": MetadataCheck}
    return checkers[sys.argv[1]](flow)


__all__ = [
    "AssertArtifactFailed",
    "AssertCardFailed",
    "AssertLogFailed",
    "ExpectationFailed",
    "MissingFeature",
    "ResumeFromHere",
    "TestRetry",
    "assert_equals",
    "assert_equals_metadata",
    "assert_exception",
    "flow_view",
    "foreach_frames",
    "is_resumed",
    "new_checker",
    "origin_run_id_for_resume",
    "truncate",
    "try_to_get_card",
]
