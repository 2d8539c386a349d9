"""`python flow.py check` on each broken flow, as a user types it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN = Path(__file__).resolve().parents[1] / "flows" / "broken"

# stem -> (rule, line, what the error must name: the step, else the parameter or step
# that is missing). Lines are hard-coded from the files.
EXPECTED: dict[str, tuple[str, int, str]] = {
    "bad_project_name": ("flow-decorator", 4, "@project(name='Fraud-Detection')"),
    "bad_decorator_args": ("decorator", 9, "step 'train'"),
    "bad_step_name": ("step-name", 12, "step 'TrainModel'"),
    "card_duplicate_id": ("decorator-conflict", 8, "step 'start'"),
    "catch_on_foreach": ("decorator-placement", 25, "step 'start'"),
    "catch_on_parallel_split": ("decorator-placement", 7, "step 'start'"),
    "catch_var_parameter": ("decorator-attribute", 9, "step 'start'"),
    "cycle": ("cycle", 18, "step 'check'"),
    "decorator_below_step": ("decorator", 23, "step 'train'"),
    "duplicate_parameter": ("duplicate-parameter", 8, "parameter 'Learning-Rate'"),
    "end_before_join": ("split-join-balance", 17, "step 'end'"),
    "end_calls_next": ("end-has-next", 18, "step 'end'"),
    "end_is_join": ("end-is-join", 20, "step 'end'"),
    "foreach_into_join": ("foreach-into-join", 10, "step 'start'"),
    "inherited_parameter_clash": ("parameter-step-clash", 7, "step 'train'"),
    "invalid_next": ("invalid-next", 9, "step 'start'"),
    "invalid_parameter": ("invalid-parameter", 7, "parameter 'sizes'"),
    "long_flow_name": ("flow-name", 6, "(130 characters)"),
    "join_and_split": ("argument-count", 20, "step 'join'"),
    "join_without_split": ("split-join-balance", 16, "step 'gather'"),
    "method_without_step": ("unknown-step", 9, "step 'start'"),
    "missing_end": ("missing-end", 6, "'end' step"),
    "missing_self": ("argument-count", 12, "step 'train'"),
    "missing_start": ("missing-start", 6, "'start' step"),
    "next_in_if": ("missing-next", 11, "step 'start'"),
    "next_twice": ("missing-next", 9, "step 'start'"),
    "no_next": ("missing-next", 12, "step 'train'"),
    "orphan": ("orphan", 12, "step 'report'"),
    "parallel_caller": ("parallel-caller", 13, "step 'train'"),
    "parallel_join": ("parallel-join", 14, "step 'train'"),
    "parallel_switch": ("parallel-join", 15, "step 'train'"),
    "parallel_target": ("parallel-target", 9, "step 'start'"),
    "parameter_step_clash": ("parameter-step-clash", 7, "step 'train'"),
    "reserved_parameter": ("reserved-parameter", 8, "parameter 'tags'"),
    "reserved_step": ("reserved-step-name", 12, "step 'input'"),
    "start_has_inputs": ("start-has-inputs", 13, "step 'train'"),
    "switch_into_join": ("switch-into-join", 14, "step 'a'"),
    "switch_no_condition": ("switch-shape", 9, "step 'start'"),
    "switch_one_case": ("switch-shape", 10, "step 'start'"),
    "too_many_args": ("argument-count", 12, "step 'train'"),
    "typo_target": ("unknown-step", 9, "step 'start'"),
    "unbalanced_join": ("split-join-balance", 28, "step 'inner_join'"),
}

FILES = sorted(BROKEN.glob("*.py"))


def test_every_broken_flow_is_expected() -> None:
    assert {p.stem for p in FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_check_reports_one_located_error(path: Path) -> None:
    rule, line, names = EXPECTED[path.stem]
    result = subprocess.run(
        [sys.executable, path.name, "check"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert f"{path.name}:{line}" in output
    assert names in output
    assert re.findall(r"Invalid flow \[([a-z-]+)\]", output) == [rule], output
    assert output.count("Fix:") == 1, output
