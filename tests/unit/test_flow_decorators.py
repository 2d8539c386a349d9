"""Flow decorators: the base (arguments, problems reported by lint with file and line,
once per flow, inherited), ``@project``'s rules and the resolution of its branch."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from grange import FlowSpec, current, project, step
from grange.decorators import (
    FlowDecorator,
    ProjectInfo,
    flow_decorators_of,
    make_flow_decorator,
    project_info,
)
from grange.decorators.project import branch_options
from grange.exceptions import CommandError, DecoratorError
from grange.graph import graph_of
from grange.graph.lint import lint
from support import FLOWS, load_flow


class NoteDecorator(FlowDecorator):
    """A flow decorator a flow may carry several times (as ``@trigger`` will be)."""

    name = "note"
    defaults: ClassVar[dict[str, Any]] = {"text": ""}
    allow_multiple = True

    def flow_check(self, *, flow: Any) -> str | None:
        if self.attributes["text"] == "needs-x" and "x" not in flow.nodes:
            return "@note(text='needs-x') needs a step named x"
        return None


note = make_flow_decorator(NoteDecorator)


def _line(marker: str) -> int:
    """The line of this file holding ``marker`` (decorators are located by line)."""
    with open(__file__, encoding="utf-8") as fh:
        return next(i for i, text in enumerate(fh, 1) if marker in text and "_line(" not in text)


@note(text="one")  # marker: first-note
@project(name="demo")  # marker: demo-project
@note(text="two")
class Decorated(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class Inherited(Decorated):
    pass


def test_flow_decorators_are_recorded_in_order_without_wrapping_the_class() -> None:
    assert [repr(d) for d in flow_decorators_of(Decorated)] == [
        "@note(text='one')",
        "@project(name='demo')",
        "@note(text='two')",
    ]
    assert Decorated.__name__ == "Decorated" and issubclass(Decorated, FlowSpec)
    assert lint(graph_of(Decorated)) == []


def test_the_graph_records_flow_decorators_with_file_and_line() -> None:
    graph = graph_of(Decorated)
    assert [(d.name, d.line, d.file) for d in graph.decorators] == [
        ("note", _line("marker: first-note"), __file__),
        ("project", _line("marker: demo-project"), __file__),
        ("note", _line("marker: first-note") + 2, __file__),
    ]
    info = graph.decorator("project")
    assert info is not None
    assert info.attributes == {"name": "demo", "branch": None, "production": False}
    assert graph.to_dict()["decorators"][1]["attributes"]["name"] == "demo"


def test_flow_decorators_of_a_base_class_are_the_subclass_s_too() -> None:
    assert [d.name for d in flow_decorators_of(Inherited)] == ["note", "project", "note"]
    graph = graph_of(Inherited)
    assert graph.decorator("project") is not None
    assert graph.decorator("project").line == _line("marker: demo-project")  # type: ignore[union-attr]
    info = project_info(Inherited, user="ada")
    assert info is not None and info.project_flow_name == "demo.user.ada.Inherited"


@pytest.mark.parametrize(
    ("flow", "rule", "message", "fix"),
    [
        (
            "BadName",
            "flow-decorator",
            "@project(name='Fraud-Detection'): the project name may contain only lowercase "
            "letters (a-z), digits and underscores",
            "use e.g. @project(name='fraud_detection')",
        ),
        ("NoName", "flow-decorator", "@project needs a name", "write @project(name="),
        (
            "LongName",
            "flow-decorator",
            "is 129 characters long; at most 128 are allowed",
            "@project(name=",
        ),
        (
            "UnknownArgument",
            "flow-decorator",
            "@project got unknown argument(s) team",
            "@project accepts: branch, name, production",
        ),
        (
            "BadBranch",
            "flow-decorator",
            "@project(branch='My_Branch'): the branch name may contain only",
            "@project(branch='my_branch')",
        ),
        ("Twice", "flow-decorator", "@project is given twice on Twice", "keep one @project"),
        (
            "OnBaseAndSubclass",
            "flow-decorator",
            "@project is given on OnBaseAndSubclass and on its base class ProjectBase",
            "keep @project on one of the two classes",
        ),
        (
            "OnAStep",
            "decorator",
            "@project is a flow decorator: it goes above the flow's class, not on a step",
            "above 'class ...(FlowSpec):'",
        ),
    ],
)
def test_misuses_are_reported_by_lint_at_the_decorator_s_line(
    flow: str, rule: str, message: str, fix: str
) -> None:
    path = FLOWS / "project" / "misuse.py"
    problems = lint(graph_of(load_flow(path, flow)))
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.rule == rule
    assert message in problem.message
    assert fix in problem.fix
    assert problem.file == str(path)
    source = path.read_text().splitlines()
    assert problem.line is not None
    assert "@project" in source[problem.line - 1], (problem.line, source[problem.line - 1])


def test_a_flow_check_is_reported_by_lint() -> None:
    @note(text="needs-x")
    class NeedsX(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    from grange.decorators import registry

    registry.FLOW_DECORATORS["note"] = NoteDecorator
    try:
        problems = lint(graph_of(NeedsX))
    finally:
        del registry.FLOW_DECORATORS["note"]
    assert [(p.rule, p.message) for p in problems] == [
        ("flow-decorator", "@note(text='needs-x') needs a step named x")
    ]
    assert problems[0].line == NeedsX.__dict__["_grange_graph"].decorators[0].line


def test_a_flow_decorator_on_a_mixin_is_reported_in_the_flows_deriving_from_it() -> None:
    @project(name="x")
    class Mixin:
        pass

    class MixedFlow(Mixin, Plain):
        pass

    assert flow_decorators_of(MixedFlow) == []
    problems = lint(graph_of(MixedFlow))
    assert [(p.rule, p.message) for p in problems] == [
        (
            "flow-decorator",
            "@project is on class Mixin, which does not derive from FlowSpec; a flow "
            "decorator goes on the flow's class",
        )
    ]
    with pytest.raises(TypeError, match="keyword arguments only"):
        project("x")


USER = "ada"


@pytest.mark.parametrize(
    ("branch", "production", "branch_name", "is_user", "options"),
    [
        (None, False, "user.ada", True, []),
        ("feature_1", False, "test.feature_1", False, ["--branch", "feature_1"]),
        (None, True, "prod", False, ["--production"]),
        ("v2", True, "prod.v2", False, ["--branch", "v2", "--production"]),
    ],
)
def test_branch_resolution(
    branch: str | None, production: bool, branch_name: str, is_user: bool, options: list[str]
) -> None:
    info = project_info(Decorated, user=USER, branch=branch, production=production)
    assert info == ProjectInfo(
        project_name="demo",
        branch_name=branch_name,
        flow_name="Decorated",
        is_production=production,
        is_user_branch=is_user,
    )
    assert info.project_flow_name == f"demo.{branch_name}.Decorated"
    assert info.system_tags == ("project:demo", f"project_branch:{branch_name}")
    assert info.namespace == f"project_branch:{branch_name}"
    assert info.branch_options == options == branch_options(branch_name)


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("Feature", "--branch 'Feature': a branch name may contain only lowercase letters"),
        ("a.b", "--branch 'a.b': a branch name may contain only"),
        ("", "--branch '': a branch name must be a non-empty string"),
        ("x" * 129, "is 129 characters long; at most 128 are allowed"),
    ],
)
def test_a_bad_branch_name_is_an_error_naming_the_option(branch: str, message: str) -> None:
    with pytest.raises(CommandError) as info:
        project_info(Decorated, user=USER, branch=branch)
    assert message in info.value.message
    assert info.value.fix is not None and info.value.fix.startswith("pass e.g. --branch ")


class Plain(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_branch_options_without_project_are_refused_as_metaflow_does() -> None:
    assert project_info(Plain, user=USER) is None
    for kwargs, option in (({"branch": "x"}, "--branch"), ({"production": True}, "--production")):
        with pytest.raises(CommandError) as info:
            project_info(Plain, user=USER, **kwargs)  # type: ignore[arg-type]
        assert (
            info.value.message
            == f"{option} applies to flows in a project, and Plain has no @project"
        )
        assert "add @project(name='...') above 'class Plain'" in (info.value.fix or "")


@project(name="fixed", branch="staging")
class FixedBranch(Plain):
    pass


@project(name="always", production=True)
class AlwaysProduction(Plain):
    pass


def test_branch_and_production_in_the_decorator() -> None:
    fixed = project_info(FixedBranch, user=USER)
    assert fixed is not None and fixed.branch_name == "test.staging"
    same = project_info(FixedBranch, user=USER, branch="staging", production=True)
    assert same is not None and same.branch_name == "prod.staging"
    with pytest.raises(CommandError, match="--branch other contradicts @project"):
        project_info(FixedBranch, user=USER, branch="other")
    prod = project_info(AlwaysProduction, user=USER)
    assert prod is not None and prod.branch_name == "prod" and prod.is_production
    assert project_info(AlwaysProduction, user=USER, production=True) == prod


def test_a_broken_project_is_said_when_its_branch_is_resolved() -> None:
    broken = load_flow(FLOWS / "project" / "misuse.py", "BadName")
    with pytest.raises(DecoratorError, match="Fraud-Detection"):
        project_info(broken, user=USER, branch="x")


def test_current_project_facts_outside_a_run() -> None:
    assert current.project_name is None and current.branch_name is None
    assert current.project_flow_name is None
    assert current.is_production is False and current.is_user_branch is False
    assert "project_name" not in current and "is_production" not in current


def test_show_prints_flow_decorators_above_the_flow() -> None:
    from grange.graph.render import render_text

    text = render_text(graph_of(Decorated))
    assert text.startswith(
        "@note(text='one')\n@project(name='demo', branch=None, production=False)\n"
        "@note(text='two')\nFlow Decorated\n"
    )


def test_current_is_bound_with_the_project_facts_or_without() -> None:
    from grange.task.context import bind_current
    from grange.task.spec import TaskSpec

    spec = TaskSpec(flow="Decorated", run_id="1", step="start", task_id="1", user=USER)
    info = project_info(Decorated, user=USER, branch="x")
    try:
        bind_current(spec, {}, [], info)
        assert current.project_flow_name == "demo.test.x.Decorated"
        assert current.branch_name == "test.x" and current.is_user_branch is False
        assert current.namespace == f"user:{USER}"  # as Metaflow's local runs
        assert "is_production" in current
        current._unbind()
        bind_current(spec, {}, [], None)
        assert current.project_name is None and current.is_production is False
        assert current.namespace == f"user:{USER}"
    finally:
        current._unbind()


def test_run_takes_branch_options_after_the_command_unless_a_parameter_is_so_named() -> None:
    from grange import Parameter
    from grange.cli.commands.run import make_resume_command, make_run_command

    @project(name="demo")
    class WithBranchParameter(Plain):
        branch = Parameter("branch", default="main")

    def options(command: Any) -> set[str]:
        return {o for p in command.params for o in getattr(p, "opts", ())}

    assert {"--branch", "--production"} <= options(make_run_command(Decorated))
    assert {"--branch", "--production"} <= options(make_resume_command(Decorated))
    assert "--production" not in options(make_run_command(Plain))  # no @project
    own = make_run_command(WithBranchParameter)
    assert [p.name for p in own.params if "--branch" in getattr(p, "opts", ())] == ["branch"]
    assert "--production" not in options(own)
