"""The compatibility harness's own adapters, on a hand-written flow and check (no Metaflow needed).

The code below is written in the shape that Metaflow's formatter prints
(a fixed ``from metaflow import ...`` line, ``metaflow_test`` helpers, a
check that builds ``Flow(use_cli=False)``), but it is our own small example.
"""

from __future__ import annotations

import textwrap

import pytest
from mfcompat.adapt import adapt_check, adapt_flow, swap_imports, swap_names
from mfcompat.classify import DIFFERENCE, MISSING, UNCLASSIFIED, classify, summary_lines
from mfcompat.runner import Result, case_env, run_case, run_options

import grange

NAMES = frozenset(grange.__all__)

FLOW = textwrap.dedent(
    """\
    # -*- coding: utf-8 -*-
    from metaflow import FlowSpec, step, Parameter, project, current, parallel
    from metaflow_test import assert_equals, ResumeFromHere
    import os
    os.environ['METAFLOW_RUN_LIMIT'] = '3'
    class TinyFlow(FlowSpec):
        limit = Parameter("limit", default=None)
        @step
        def start(self):
            from metaflow.exception import MetaflowException
            self.where = self._current_step
            self.items = list(range(int(self.limit)))
            self.next(self.work, foreach="items")
        @step
        def work(self):
            self.vars = [frame.var for frame in self._foreach_stack]
            self.square = self.input * self.input
            self.next(self.join)
        @step
        def join(self, inputs):
            self.total = sum(i.square for i in inputs)
            self.vars = inputs[0].vars
            self.next(self.end)
        @step
        def end(self):
            assert_equals(5, self.total)
    if __name__ == '__main__':
        TinyFlow()
    """
)

CHECK = textwrap.dedent(
    """\
    # -*- coding: utf-8 -*-
    import sys
    from metaflow_test import assert_equals, assert_exception, new_checker
    def check_results(flow, checker):
        assert_equals("split", flow._graph["start"].type[-5:] and "split")
        assert_equals("foreach", flow._graph["start"].type)
        assert_equals(["start", "work", "join", "end"], [step.name for step in flow])
        checker.assert_artifact("end", "total", 5)
        checker.assert_artifact("start", "where", "start")
        checker.assert_artifact("join", "vars", ["items"])
        run = checker.get_run()
        if run is not None:
            assert_equals(3, len(list(run["work"])))
    if __name__ == '__main__':
        from test_flow import TinyFlow
        flow = TinyFlow(use_cli=False)
        check = new_checker(flow)
        check_results(flow, check)
    """
)


def test_swap_imports_keeps_used_names_and_records_missing_ones() -> None:
    code = (
        "from metaflow import FlowSpec, step, card, project, FlowMutator\n"
        "@project(name='x')\nclass F(FlowSpec): step, FlowMutator\n"
    )
    adapted = swap_imports(code, NAMES)
    assert adapted.code.splitlines()[0] == "from grange import FlowSpec, step, project, FlowMutator"
    assert adapted.missing == ["FlowMutator"]
    assert adapted.features == ["custom decorators"]


def test_swap_imports_keeps_code_on_the_same_line() -> None:
    code = "import os; from metaflow import current, card; x = current\n"
    assert swap_imports(code, NAMES).code == "import os; from grange import current; x = current\n"


def test_swap_imports_maps_submodules_indented() -> None:
    code = textwrap.dedent(
        """\
        def f():
            from metaflow.exception import MetaflowException, ExternalCommandFailed
            from metaflow.plugins.cards.card_client import Card
            from metaflow.plugins.cards.exception import CardNotPresentException
            return MetaflowException, ExternalCommandFailed, Card
        """
    )
    adapted = swap_imports(code, NAMES)
    lines = adapted.code.splitlines()
    assert lines[1] == "    from grange import GrangeError as MetaflowException"
    assert lines[2] == "    from metaflow_test.stand_ins import ExternalCommandFailed"
    assert lines[3] == "    from grange.client.cards import Card"
    assert lines[4] == "    from grange.plugins.cards.exception import CardNotPresentException"
    assert adapted.features == ["cards"]


def test_custom_card_types_are_a_missing_feature_of_their_own() -> None:
    code = textwrap.dedent(
        """        from metaflow import FlowSpec, step, card, current
        class F(FlowSpec):
            @card(type="blank", id="ok")
            @card(type="taskspec_card")
            @step
            def start(self):
                from metaflow.plugins.cards.card_modules.test_cards import TestStringComponent
                current.card.append(TestStringComponent("x"))
        """
    )
    adapted = adapt_flow(code, NAMES)
    assert "from grange import FlowSpec, step, card, current" in adapted.code
    assert adapted.features == ["custom card types"]
    builtin = code.replace("taskspec_card", "default").split("        from metaflow.")[0]
    assert adapt_flow(builtin + "        pass\n", NAMES).features == []
    r = Result("CardTest", "g", passed=False, features=["cards", "custom card types"])
    classify(r)
    assert (r.category, r.reason) == (MISSING, "custom card types")


def test_swap_names_env_and_qualified_names() -> None:
    code = (
        "os.environ['METAFLOW_RUN_X'] = os.environ['METAFLOW_USER']\n"
        'e = "metaflow.plugins.timeout_decorator." "TimeoutException"\n'
        "os.environ['METAFLOW_FLOW_CONFIG_VALUE'] = os.environ['METAFLOW_FLOW_CONFIG']\n"
    )
    assert swap_names(code) == (
        "os.environ['GRANGE_RUN_X'] = os.environ['GRANGE_USER']\n"
        'e = "grange.decorators.timeout.TimeoutException"\n'
        "os.environ['GRANGE_FLOW_CONFIG_VALUE'] = os.environ['GRANGE_FLOW_CONFIG']\n"
    )


def test_adapt_flow_and_check() -> None:
    flow = adapt_flow(FLOW, NAMES)
    # The names the file does not use (project, parallel) are not imported.
    assert "from grange import FlowSpec, step, Parameter, current\n" in flow.code
    assert "self.where = current.step_name" in flow.code
    assert "for frame in foreach_frames(self)" in flow.code
    assert "from metaflow_test import foreach_frames, assert_equals" in flow.code
    assert "GRANGE_RUN_LIMIT" in flow.code
    check = adapt_check(CHECK, NAMES)
    assert "flow = flow_view(TinyFlow)" in check.code
    assert check.missing == []
    with pytest.raises(ValueError, match="use_cli=False"):
        adapt_check("x = 1\n", NAMES)


def _case(flow: str, check: str = CHECK) -> dict:
    return {
        "test": "TinyTest", "graph": "tiny-foreach", "flow_name": "TinyFlow",
        "flow_code": flow, "check_code": check, "should_resume": False,
        "resume_step": None, "should_fail": False, "files": [],
    }  # fmt: skip


CONTEXT = {
    "env": {"METAFLOW_USER": "tester", "METAFLOW_DEFAULT_METADATA": "local"},
    "run_options": ["--max-workers=4", "--tag=a tag", "--metadata=local"],
}


def test_context_is_translated() -> None:
    env = case_env(CONTEXT)
    assert env["GRANGE_USER"] == "tester" and "METAFLOW_DEFAULT_METADATA" not in env
    assert run_options(CONTEXT) == ["--max-workers=4", "--tag=a tag"]


def test_run_case_passes_on_grange() -> None:
    result = run_case(_case(FLOW), CONTEXT, NAMES, timeout=300)
    assert result.passed, result.output
    classify(result)
    assert result.category == "pass"


CARD_FLOW = textwrap.dedent(
    """\
    from metaflow import FlowSpec, step, card, current
    from metaflow_test import assert_equals, try_to_get_card
    class CardFlow(FlowSpec):
        @card(type="blank", id="notes")
        @step
        def start(self):
            from grange.cards import Markdown
            current.card["notes"].append(Markdown("hello from the card"))
            current.card["notes"].refresh()
            assert_equals("notes", try_to_get_card(id="notes", timeout=30).id)
            self.next(self.end)
        @step
        def end(self):
            pass
    if __name__ == '__main__':
        CardFlow()
    """
)

CARD_CHECK = textwrap.dedent(
    """\
    import sys
    from metaflow_test import assert_equals, new_checker
    def check_results(flow, checker):
        task = "1"
        listed = checker.list_cards("start", task)
        assert_equals(["notes"], [c["id"] for c in listed["cards"]])
        assert_equals("blank", listed["cards"][0]["type"])
        checker.assert_card("start", task, "blank", "hello from the card", exact_match=False)
        assert_equals(None, checker.list_cards("end", "2"))
        if type(checker).__name__ == "MetadataCheck":
            present, data = checker.get_card_data("start", task, "blank", card_id="notes")
            assert_equals(True, present)
            assert_equals("blank", data["type"])
    if __name__ == '__main__':
        from test_flow import CardFlow
        flow = CardFlow(use_cli=False)
        check_results(flow, new_checker(flow))
    """
)


def test_checkers_read_cards_through_grange() -> None:
    case = {**_case(CARD_FLOW, CARD_CHECK), "flow_name": "CardFlow", "graph": "linear"}
    result = run_case(case, CONTEXT, NAMES, timeout=300)
    assert result.passed, result.output


def test_run_case_reports_a_failed_check() -> None:
    check = CHECK.replace('"total", 5', '"total", 6')
    result = run_case(_case(FLOW, check), CONTEXT, NAMES, timeout=300)
    assert not result.passed and result.phase == "CliCheck"
    assert "but got total=5" in result.output
    classify(result)
    assert result.category == UNCLASSIFIED


def test_classify_missing_features_and_known_differences() -> None:
    r = Result("SomeTest", "g", passed=False, features=["@parallel", "cards"])
    classify(r)
    assert (r.category, r.reason) == (MISSING, "cards")
    r = Result(
        "CatchRetryTest", "g", passed=False, output="x\nExpected result: a.b.Boom, got Boom\n"
    )
    classify(r)
    assert r.category == DIFFERENCE and r.reason.startswith("2 ")
    ok = Result("T", "g", passed=True)
    classify(ok)
    assert summary_lines([ok, r])[0] == "1 of 2 combinations pass"
