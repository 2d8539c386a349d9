"""The result table as Markdown."""

from __future__ import annotations

from mfcompat.runner import Result


def markdown(results: list[Result]) -> str:
    rows = ["| test | graph | result | cause |", "|---|---|---|---|"]
    for r in sorted(results, key=lambda r: (r.test, r.graph)):
        rows.append(
            f"| {r.test} | {r.graph} | {'pass' if r.passed else 'fail'} | "
            f"{'' if r.passed else (r.category + ': ' + r.reason).replace('|', '/')} |"
        )
    return "\n".join(rows) + "\n"
