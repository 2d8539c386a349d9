"""Name the cause of every failure: a feature grange lacks, a known difference, or unknown.

A failure is matched, in order, against

1. the missing features its generated code needs (from :mod:`mfcompat.adapt`),
   attributed to one feature in :data:`FEATURE_ORDER` when it needs several;
2. :data:`KNOWN`: the behaviour differences of issue 9, each recognised by its
   test and the message it fails with;

A failure whose output says the machine ran out of disk space is
``environment`` (run it again); any other is ``unclassified``: a new
difference or a harness problem, to be looked at. The suite test fails on
both.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from mfcompat.runner import Result

#: A combination needing several missing features counts under the first of these.
FEATURE_ORDER = [
    "custom card types",
    "cards",
    "Config",
    "@project",
    "@secrets",
    "unbounded foreach",
    "@parallel",
    "Metaflow extension plugins",
    "custom decorators",
]

MISSING = "missing feature"
DIFFERENCE = "behaviour difference"
UNCLASSIFIED = "unclassified"
ENVIRONMENT = "environment"
_DISK_FULL = re.compile(r"database or disk is full|No space left on device")


@dataclass(frozen=True)
class Known:
    """A known cause: the tests it shows in, and a pattern of the failure's output."""

    reason: str
    tests: frozenset[str]
    pattern: str

    def matches(self, result: Result) -> bool:
        return result.test in self.tests and re.search(self.pattern, result.output) is not None


KNOWN = [
    Known(
        "1 assigning a parameter raises ParameterError, not an AttributeError",
        frozenset({"BasicParameterTest", "BasicIncludeTest", "ConstantsTest"}),
        r"is a parameter of the flow and cannot be assigned in a step",
    ),
    Known(
        "2 @catch/@timeout store the bare exception type name, not the qualified one",
        frozenset({"CatchRetryTest", "TagCatchTest", "TimeoutDecoratorTest"}),
        r"Expected result: [\w.]+\.(\w+), got \1\b",
    ),
    Known(
        "3 @retry waits minutes_between_retries (default 2) locally",
        frozenset({"TagCatchTest"}),
        r"\[harness\] stopped after \d+ s: TIMEOUT",
    ),
    Known(
        "4 a task killed under @catch does not record what Metaflow records",
        frozenset({"TagCatchTest"}),
        r"FailureHandledByCatch",
    ),
    Known(
        "5 a segfault is not written to the task's stderr",
        frozenset({"DetectSegFaultTest"}),
        r"expected task\.stderr='segmentation fault'|expected stderr log 'segmentation fault'",
    ),
    Known(
        "6 resumed tasks have no origin-run-id metadata",
        frozenset(
            {
                "ResumeEndStepTest",
                "ResumeStartStepTest",
                "ResumeForeachInnerTest",
                "ResumeForeachJoinTest",
                "ResumeForeachSplitTest",
                "ResumeSucceededStepTest",
            }
        ),
        r"origin-run-id|Invalid resume",
    ),
    Known(
        "7 a running task is not visible to the client (Task(current.pathspec) in a step)",
        frozenset({"CurrentSingletonTest", "RuntimeDagTest", "TagMutationTest"}),
        r"ObjectNotFound: Not found: task",
    ),
]


def classify(result: Result) -> None:
    """Set ``result.category`` and ``result.reason``."""
    if result.passed:
        result.category, result.reason = "pass", ""
        return
    if result.features:
        result.category = MISSING
        result.reason = min(
            result.features,
            key=lambda f: FEATURE_ORDER.index(f) if f in FEATURE_ORDER else len(FEATURE_ORDER),
        )
        return
    if _DISK_FULL.search(result.output):
        result.category, result.reason = ENVIRONMENT, "the disk was full: run it again"
        return
    for known in KNOWN:
        if known.matches(result):
            result.category, result.reason = DIFFERENCE, known.reason
            return
    last = result.output.strip().splitlines()[-1:] or [""]
    result.category, result.reason = UNCLASSIFIED, f"{result.phase}: {last[0][:200]}"


def summary_lines(results: list[Result]) -> list[str]:
    """The figure, then the failures counted by cause."""
    passed = sum(r.passed for r in results)
    lines = [f"{passed} of {len(results)} combinations pass"]
    counts = Counter((r.category, r.reason) for r in results if not r.passed)
    for (category, reason), n in sorted(counts.items(), key=lambda kv: (kv[0][0], -kv[1])):
        lines.append(f"  {n:4}  {category}: {reason}")
    return lines
