"""Argo's limits, budgeted at compile time."""

from __future__ import annotations

import pytest
from tests.unit.deploy.support import ROOT, compile_path

from grange.deploy.argo import limits
from grange.exceptions import CompileError

LINEAR = ROOT / "tests" / "flows" / "valid" / "linear.py"


def test_the_batches_of_the_widest_foreach_fit_an_output_parameter() -> None:
    size = limits.batches_bytes(100_000, 1000)
    assert size < 4096 < limits.MAX_OUTPUT_PARAMETER_BYTES


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"foreach_batch_size": 0}, "--foreach-batch-size"),
        ({"foreach_batch_size": 20_000}, "--foreach-batch-size"),
        ({"max_num_splits": 0}, "--max-num-splits"),
        ({"max_workers": 0}, "--max-workers"),
        ({"max_num_splits": 10**9, "foreach_batch_size": 1}, "batches list"),
    ],
)
def test_settings_out_of_range_are_refused(overrides, words) -> None:
    with pytest.raises(CompileError, match=words):
        compile_path(LINEAR, **overrides)


def test_a_template_past_its_budget_is_refused() -> None:
    big = {f"K{i}": "v" * 1000 for i in range(300)}
    with pytest.raises(CompileError, match="bytes, more than"):
        compile_path(LINEAR, annotations=big)


def test_a_step_in_another_namespace_is_refused(tmp_path) -> None:
    flow = tmp_path / "ns.py"
    flow.write_text(
        LINEAR.read_text()
        .replace("from grange import", "from grange import kubernetes,")
        .replace(
            "    @step\n    def end", "    @kubernetes(namespace='other')\n    @step\n    def end"
        )
    )
    with pytest.raises(CompileError) as err:
        compile_path(flow)
    assert err.value.step == "end" and "--namespace other" in err.value.render()
