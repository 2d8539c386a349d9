"""Lint: each rule on a flow that breaks it, and silence on every valid flow."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from grange import FlowSpec
from grange.exceptions import LintError, LintProblem
from grange.graph import graph_of
from grange.graph.lint import RULES, check, lint
from grange.graph.rules.steps import FLOW_ATTRIBUTES, suggest_step_name
from support import FLOWS, load_flow

BROKEN = FLOWS / "broken"
VALID = FLOWS / "valid"


@dataclass(frozen=True)
class Expected:
    """What lint must say about one broken flow file."""

    stem: str
    rule: str
    step: str | None
    line: int
    message: tuple[str, ...]
    fix: tuple[str, ...]
    flow: str | None = None  # the flow class, when the file defines two


# One broken flow per row; `line` is hard-coded from the file.
CASES = [
    Expected("bad_project_name", "flow-decorator", None, 4, ("@project(name='Fraud-Detection')", "lowercase letters"), ("@project(name='fraud_detection')",)),
    Expected("decorator_below_step", "decorator", "train", 23, ("@note", "below @step"), ("move @note above @step",)),
    Expected("long_flow_name", "flow-name", None, 6, ("(130 characters)", "at most 128 bytes", "folder name"), ("shorter name",)),
    Expected("reserved_step", "reserved-step-name", "input", 12, ("'input'", "reserved", "self.input"), ("rename the step", "'input_step'")),
    Expected("bad_step_name", "step-name", "TrainModel", 12, ("'TrainModel'", "lowercase"), ("'train_model'",)),
    Expected("missing_start", "missing-start", None, 6, ("MissingStartFlow", "no 'start' step"), ("def start(self)",)),
    Expected("missing_end", "missing-end", None, 6, ("MissingEndFlow", "no 'end' step"), ("def end(self)", "self.next(self.end)")),
    Expected("start_has_inputs", "start-has-inputs", "train", 13, ("'train' goes to the start step",), ("switch", "condition=")),
    Expected("end_calls_next", "end-has-next", "end", 18, ("end step calls self.next()", "line 18"), ("remove the self.next(...)",)),
    Expected("end_is_join", "end-is-join", "end", 20, ("takes 'inputs'", "cannot be a join"), ("add a join step", "def end(self)")),
    Expected("missing_self", "argument-count", "train", 12, ("no arguments", "'self'"), ("def train(self)",)),
    Expected("too_many_args", "argument-count", "train", 12, ("3 arguments",), ("def train(self)", "def train(self, inputs)")),
    Expected("join_and_split", "argument-count", "join", 20, ("both a join", "foreach split"), ("add a step", "join_next")),
    Expected("no_next", "missing-next", "train", 12, ("'train' does not end with self.next",), ("last statement", "self.next(self.end)")),
    Expected("next_in_if", "missing-next", "start", 11, ("inside an if statement",), ("switch", "condition='route'")),
    Expected("next_twice", "missing-next", "start", 9, ("calls self.next() twice (lines 9 and 10)", "exactly once"), ("self.next(self.a, self.b)", "switch")),
    Expected("invalid_next", "invalid-next", "start", 9, ("num_parallel=0", "at least 1"), ("foreach='items'", "num_parallel=4", "condition='attr'")),
    Expected("typo_target", "unknown-step", "start", 9, ("'trian'", "not a step of this flow"), ("did you mean 'train'?", "self.train")),
    Expected("method_without_step", "unknown-step", "start", 9, ("'prepare'", "not a step"), ("add @step", "def prepare")),
    Expected("switch_one_case", "switch-shape", "start", 10, ("'train' whatever the value of 'mode'", "two different steps"), ("self.next(self.train)",)),
    Expected("switch_no_condition", "switch-shape", "start", 9, ("no condition=",), ("condition='route'",)),
    Expected("cycle", "cycle", "check", 18, ("loop: train -> check -> train",), ("'check'", "back to itself")),
    Expected("orphan", "orphan", "report", 12, ("'report' is never run",), ("self.report", "delete 'report'")),
    Expected("unbalanced_join", "split-join-balance", "inner_join", 28, ("'c'", "split 'outer_a'"), ("self.next(self.inner_join)",)),
    Expected("join_without_split", "split-join-balance", "gather", 16, ("'gather' is a join", "no split"), ("def gather(self)",)),
    Expected("end_before_join", "split-join-balance", "end", 17, ("end step is reached before", "'start'"), ("add a join step",)),
    Expected("foreach_into_join", "foreach-into-join", "start", 10, ("'start' goes straight to the join 'join'",), ("add a step between", "foreach='items'")),
    Expected("switch_into_join", "switch-into-join", "a", 14, ("'a' goes straight to the join 'join'", "'fast'"), ("insert a step", "self.next(self.join)")),
    Expected("parallel_target", "parallel-target", "start", 9, ("'train' is not a @parallel step",), ("put @parallel above @step",)),
    Expected("parallel_caller", "parallel-caller", "train", 13, ("'train' is @parallel", "'start' goes to it without num_parallel="), ("self.next(self.train, num_parallel=",)),
    Expected("parallel_join", "parallel-join", "train", 14, ("goes to 'evaluate', which is not a join",), ("def <join>(self, inputs)",)),
    Expected("parallel_switch", "parallel-join", "train", 15, ("goes to several steps (join, other)",), ("def <join>(self, inputs)",)),
    Expected("duplicate_parameter", "duplicate-parameter", None, 8, ("'Learning-Rate'", "'learning_rate' (line 7)", "--learning-rate"), ("rename or remove",)),
    Expected("reserved_parameter", "reserved-parameter", None, 8, ("'tags'", "reserved"), ("Parameter('tags_value'",)),
    Expected("invalid_parameter", "invalid-parameter", None, 7, ("'sizes'", "separator"), ("type=str",)),
    Expected("parameter_step_clash", "parameter-step-clash", "train", 7, ("'train' is defined twice", "line 14"), ("train_value = Parameter",)),
    Expected("bad_decorator_args", "decorator", "train", 9, ("@retry got unknown argument(s) minutes_betwen_retries",), ("accepts: minutes_between_retries, times",)),
    Expected("catch_on_foreach", "decorator-placement", "start", 25, ("@catch cannot go on step 'start'", "starts a foreach"), ("remove @catch from 'start'",), flow="CatchOnSplitFlow"),
    Expected("catch_on_parallel_split", "decorator-placement", "start", 7, ("@catch cannot go on step 'start'", "starts a gang"), ("remove @catch from 'start'",)),
    Expected("card_duplicate_id", "decorator-conflict", "start", 8, ("two @card decorators have id='a'",), ("an id of its own",)),
    Expected("catch_var_parameter", "decorator-attribute", "start", 9, ("@catch stores into self.alpha", "parameter 'alpha'", "replace its value"), ("@catch(var='start_failed')",)),
    Expected("inherited_parameter_clash", "parameter-step-clash", "train", 7, ("parameter attribute 'train'", "step 'train' (line 16)"), ("train_value = Parameter",), flow="InheritedParameterClashFlow"),
]  # fmt: skip


def problems_of(stem: str, flow: str | None = None) -> list[LintProblem]:
    return lint(graph_of(load_flow(BROKEN / f"{stem}.py", flow)))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.rule}:{c.stem}" for c in CASES])
def test_broken_flow_breaks_exactly_its_rule(case: Expected) -> None:
    problems = problems_of(case.stem, case.flow)
    assert [p.rule for p in problems] == [case.rule], problems
    problem = problems[0]
    assert (problem.step, problem.line) == (case.step, case.line)
    assert problem.file == str(BROKEN / f"{case.stem}.py")
    for words in case.message:
        assert words in problem.message
    assert problem.fix
    for words in case.fix:
        assert words in problem.fix


def test_every_broken_flow_file_has_a_case() -> None:
    assert {p.stem for p in BROKEN.glob("*.py")} == {c.stem for c in CASES}


@pytest.mark.parametrize("path", sorted(VALID.glob("*.py")), ids=lambda p: p.stem)
def test_valid_flows_have_no_problems(path: Path) -> None:
    assert lint(graph_of(load_flow(path))) == []


def test_check_raises_a_lint_error_listing_every_problem() -> None:
    with pytest.raises(LintError) as info:
        check(graph_of(load_flow(BROKEN / "typo_target.py")))
    assert info.value.exit_code == 2
    assert [p.rule for p in info.value.problems] == ["unknown-step"]
    assert "typo_target.py:9, step 'start'" in info.value.render()
    check(graph_of(load_flow(VALID / "branch.py")))  # a valid flow raises nothing


def test_flow_attributes_cover_every_public_flowspec_attribute() -> None:
    public = {name for name in dir(FlowSpec) if not name.startswith("_")}
    assert public <= FLOW_ATTRIBUTES
    assert {"name", "next", "input", "index", "foreach_stack", "merge_artifacts"} <= FLOW_ATTRIBUTES


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("TrainModel", "train_model"), ("_private", "private"), ("Fit2Data", "fit2_data")],
)
def test_suggested_step_names_are_valid(name: str, suggestion: str) -> None:
    assert suggest_step_name(name) == suggestion


def test_every_rule_is_listed_once() -> None:
    assert len({id(r) for r in RULES}) == len(RULES)


# -- edge cases, on small flows written for the test ---------------------------------


def write_flow(tmp_path: Path, body: str, header: str = "", base: str = "FlowSpec") -> Path:
    """A flow file: ``header``, then class ``FixtureFlow(base)`` with ``body``, from line 5."""
    source = (
        "from grange import FlowSpec, Parameter, step\n"
        + textwrap.dedent(header)
        + f"\n\nclass FixtureFlow({base}):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    path = tmp_path / "fixture_flow.py"
    path.write_text(source)
    return path


END = """
@step
def end(self):
    pass
"""


def lint_source(tmp_path: Path, body: str) -> list[LintProblem]:
    """Lint ``FixtureFlow`` with ``body`` and an ordinary end step."""
    path = write_flow(tmp_path, textwrap.dedent(body) + END)
    return lint(graph_of(load_flow(path, "FixtureFlow")))


def test_start_is_join(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "@step\ndef start(self, inputs):\n    self.next(self.end)\n")
    assert [(p.rule, p.step, p.line) for p in problems] == [("start-is-join", "start", 6)]
    assert "def start(self)" in (problems[0].fix or "")


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("self.next(self.end)\nself.x = 1", 7, "more code after"),
        ("for i in range(2):\n    self.next(self.end)", 8, "inside a for loop"),
        ("with open('f') as f:\n    self.next(self.end)", 8, "inside a with block"),
    ],
)
def test_misplaced_next(tmp_path: Path, body: str, line: int, words: str) -> None:
    source = "@step\ndef start(self):\n" + textwrap.indent(body, "    ") + "\n"
    problems = lint_source(tmp_path, source)
    assert [(p.rule, p.line) for p in problems] == [("missing-next", line)]
    assert words in problems[0].message


def test_non_literal_foreach_is_invalid(tmp_path: Path) -> None:
    body = """
    @step
    def start(self):
        name = "items"
        self.next(self.end, foreach=name)
    """
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.line) for p in problems] == [("invalid-next", 9)]
    assert "string literal" in problems[0].message


@pytest.mark.parametrize("cases", ["{}", "{}, condition='mode'"])
def test_switch_without_cases(tmp_path: Path, cases: str) -> None:
    problems = lint_source(tmp_path, f"@step\ndef start(self):\n    self.next({cases})\n")
    assert [(p.rule, p.step) for p in problems] == [("switch-shape", "start")]
    assert "no cases" in problems[0].message


def test_unknown_step_without_a_close_name_lists_the_steps(tmp_path: Path) -> None:
    problems = lint_source(tmp_path, "@step\ndef start(self):\n    self.next(self.zzz)\n")
    assert [p.rule for p in problems] == ["unknown-step"]
    assert "did you mean" not in (problems[0].fix or "")
    assert "start, end" in (problems[0].fix or "")


def test_a_switch_looping_back_to_itself_is_no_cycle_but_a_linear_self_loop_is(
    tmp_path: Path,
) -> None:
    body = """
    @step
    def start(self):
        self.next(self.again)

    @step
    def again(self):
        self.next(self.again)
    """
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.step, p.line) for p in problems] == [("cycle", "again", 12)]
    assert "again -> again" in problems[0].message


def test_only_the_first_unreachable_step_of_a_chain_is_reported(tmp_path: Path) -> None:
    body = """
    @step
    def start(self):
        self.next(self.end)

    @step
    def lost(self):
        self.next(self.after_lost)

    @step
    def after_lost(self):
        self.next(self.end)
    """
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.step) for p in problems] == [("orphan", "lost")]


def test_lint_stops_at_the_first_failing_rule(tmp_path: Path) -> None:
    body = """
    @step
    def start(self):
        self.next(self.Work)

    @step
    def Work(self):
        pass
    """
    problems = lint_source(tmp_path, body)  # also no self.next in Work
    assert [p.rule for p in problems] == ["step-name"]


@pytest.mark.parametrize(
    ("assignment", "rule", "words"),
    [
        ('name = Parameter("flow_label")', "reserved-parameter", "self.name"),
        ('alpha = Parameter("1alpha")', "invalid-parameter", "not valid"),
        ('alpha = Parameter("alpha", default="x", type=int)', "invalid-parameter", "default"),
    ],
)
def test_parameter_definitions(tmp_path: Path, assignment: str, rule: str, words: str) -> None:
    body = assignment + "\n\n@step\ndef start(self):\n    self.next(self.end)\n"
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.line, p.step) for p in problems] == [(rule, 5, None)]
    assert words in problems[0].message


def test_a_parameter_hiding_a_base_step_is_named(tmp_path: Path) -> None:
    header = """

    class Base(FlowSpec):
        @step
        def start(self):
            self.next(self.train)

        @step
        def train(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
    path = write_flow(tmp_path, 'train = Parameter("train")\n', header, base="Base")
    problems = lint(graph_of(load_flow(path, "FixtureFlow")))
    assert [(p.rule, p.step) for p in problems] == [("parameter-step-clash", "start")]
    assert "'train', which is a parameter" in problems[0].message


def test_inherited_parameters_are_located_in_their_base_class() -> None:
    graph = graph_of(load_flow(VALID / "inherited.py"))
    seed, depth = graph.parameters
    assert (Path(seed.file or "").name, seed.line) == ("base_flow.py", 7)
    assert (Path(depth.file or "").name, depth.line) == ("inherited.py", 9)
    assert seed.definition_problems == ()


def test_a_step_name_too_long_to_store_is_refused_at_its_def(tmp_path: Path) -> None:
    """300 characters once reached the datastore: OSError: File name too long."""
    long = "s" * 300
    body = f"@step\ndef start(self):\n    self.next(self.{long})\n\n"
    body += f"@step\ndef {long}(self):\n    self.next(self.end)\n"
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.step, p.line) for p in problems] == [("step-name", long, 10)]
    assert "(300 characters)" in problems[0].message
    assert "at most 128 characters" in problems[0].message
    assert "update the self.next" in (problems[0].fix or "")


@pytest.mark.parametrize(
    ("name", "ok"), [("F" * 128, True), ("F" * 129, False), ("Ü" * 64, True), ("Ü" * 65, False)]
)
def test_the_flow_name_limit_counts_utf8_bytes(tmp_path: Path, name: str, ok: bool) -> None:
    path = tmp_path / "named_flow.py"
    path.write_text(
        "from grange import FlowSpec, step\n\n\n"
        f"class {name}(FlowSpec):\n"
        "    @step\n    def start(self):\n        self.next(self.end)\n\n"
        "    @step\n    def end(self):\n        pass\n",
        encoding="utf-8",
    )
    problems = lint(graph_of(load_flow(path, name)))
    assert [(p.rule, p.line) for p in problems] == ([] if ok else [("flow-name", 4)])


def test_self_next_in_a_branch_and_at_the_end_is_reported_as_called_more_than_once(
    tmp_path: Path,
) -> None:
    body = """
    @step
    def start(self):
        if self.x:
            self.next(self.a)
        self.next(self.end)
        self.next(self.a)

    @step
    def a(self):
        self.next(self.end)
    """
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.step, p.line) for p in problems] == [("missing-next", "start", 9)]
    assert "3 times (lines 9, 10 and 11)" in problems[0].message


@pytest.mark.parametrize(
    ("var", "words"),
    [
        ("input", "every flow already has"),
        ("next", "every flow already has"),
        ("end", "is the step 'end'"),
        ("_transition", "starts with '_'"),
    ],
)
def test_catch_var_naming_a_reserved_attribute_or_a_step_is_refused(
    tmp_path: Path, var: str, words: str
) -> None:
    path = write_flow(
        tmp_path,
        f"@catch(var={var!r})\n@step\ndef start(self):\n    self.next(self.end)\n" + END,
        header="from grange import catch\n",
    )
    problems = lint(graph_of(load_flow(path, "FixtureFlow")))
    assert [(p.rule, p.step) for p in problems] == [("decorator-attribute", "start")]
    assert words in problems[0].message


def test_catch_var_of_its_own_is_fine(tmp_path: Path) -> None:
    path = write_flow(
        tmp_path,
        "@catch(var='start_failed')\n@step\ndef start(self):\n    self.next(self.end)\n" + END,
        header="from grange import catch\n",
    )
    assert lint(graph_of(load_flow(path, "FixtureFlow"))) == []


def test_a_step_on_a_special_method_is_named(tmp_path: Path) -> None:
    """Once silently no step: '__call__' was then 'not a step of this flow'."""
    body = """
    @step
    def start(self):
        self.next(self.__call__)

    @step
    def __call__(self):
        self.next(self.end)
    """
    problems = lint_source(tmp_path, body)
    assert [(p.rule, p.step, p.line) for p in problems] == [("step-name", "__call__", 10)]
    assert "a name starting with '__' is Python's own" in problems[0].message
    assert "def call(self)" in (problems[0].fix or "")
