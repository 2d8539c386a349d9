"""@pypi/@pypi_base and @conda/@conda_base: argument checks, the step-over-flow merge
into an EnvSpec, --with, and the conflicts lint reports at the decorator's line."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import grange
from grange import FlowSpec, conda, conda_base, pypi, pypi_base, step
from grange.decorators.environments import PyPIDecorator, check_arguments
from grange.decorators.options import EnvSpec
from grange.decorators.registry import parse_decospec
from grange.exceptions import DecoratorError, LintError
from grange.graph import graph_of
from grange.graph.lint import lint
from grange.runtime.run import step_options


def _envs(cls: type[FlowSpec], *decospecs: str) -> dict[str, EnvSpec | None]:
    graph = graph_of(cls)
    return {n: o.environment for n, o in step_options(cls, graph, decospecs).items()}


def _problems(cls: type) -> list[tuple[str, int | None, str | None]]:
    return [(p.message, p.line, p.fix) for p in lint(graph_of(cls))]


def _line(cls: type, text: str) -> int:
    lines, first = inspect.getsourcelines(cls)
    return first + next(i for i, line in enumerate(lines) if text in line)


@pypi_base(packages={"tabulate": "0.9.0"}, python="3.11")
class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @pypi(packages={"six": ">=1.16"}, python="3.12")
    @step
    def train(self):
        self.next(self.plain)

    @pypi(disabled=True)
    @step
    def plain(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_exported_from_grange() -> None:
    for name in ("pypi", "pypi_base", "conda", "conda_base"):
        assert name in grange.__all__
        assert getattr(grange, name) is getattr(grange.decorators, name)


def test_step_merges_over_base_and_disabled_runs_on_host() -> None:
    envs = _envs(BaseFlow)
    start, train = envs["start"], envs["train"]
    assert start is not None and train is not None
    assert start.kind == "pypi" and start.packages == (("tabulate", "0.9.0"),)
    assert start.python == "3.11" and start.decorator == "@pypi_base"
    assert train.packages == (("six", ">=1.16"), ("tabulate", "0.9.0"))
    assert train.python == "3.12" and train.decorator == "@pypi_base + @pypi"
    assert train.line == _line(BaseFlow, '@pypi(packages={"six"')
    assert train.file and train.file.endswith("test_env_decorators.py")
    assert envs["plain"] is None  # disabled=True: the runtime's own Python


class NoEnvFlow(FlowSpec):
    @conda(packages={"numpy": "1.26"}, libraries={"zlib": ""})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_no_decorator_no_environment_and_conda_libraries_merged() -> None:
    envs = _envs(NoEnvFlow)
    assert envs["end"] is None
    start = envs["start"]
    assert start is not None and start.kind == "conda"
    assert start.packages == (("numpy", "1.26"), ("zlib", ""))


def test_with_pypi_goes_to_steps_without_one() -> None:
    envs = _envs(NoEnvFlow, 'pypi:packages={"tabulate":"0.9.0"}')
    end = envs["end"]
    assert end is not None and end.kind == "pypi" and end.decorator == "--with pypi"
    assert end.packages == (("tabulate", "0.9.0"),)
    start = envs["start"]
    assert start is not None and start.kind == "conda"  # its own @conda wins
    # merged over @pypi_base like a step's own, and never over a step's own @pypi
    envs = _envs(BaseFlow, 'pypi:packages={"rich":""}')
    assert envs["start"] is not None and envs["start"].packages == (
        ("rich", ""),
        ("tabulate", "0.9.0"),
    )
    assert envs["train"] is not None and ("rich", "") not in envs["train"].packages
    assert envs["plain"] is None


def test_with_python_float() -> None:
    assert parse_decospec("pypi:python=3.11").attributes["python"] == "3.11"
    assert parse_decospec("pypi:python=3.9").attributes["python"] == "3.9"
    assert parse_decospec('pypi:python="3.10"').attributes["python"] == "3.10"
    with pytest.raises(DecoratorError) as err:
        parse_decospec("pypi:python=3.10")  # read as the float 3.1
    assert "ambiguous" in err.value.message and 'python="3.10"' in (err.value.fix or "")


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"packages": ["tabulate"]}, "must be a dict"),
        ({"packages": {"tabulate": 0.9}}, "quote it"),
        ({"packages": {"tabulate": 1}}, "quote it"),
        ({"packages": {"": "1"}}, "not a non-empty string"),
        ({"python": 3}, "python must be text"),
        ({"python": "three"}, "python must be a version"),
        ({"python": "3"}, "python must be a version x.y or x.y.z"),
        ({"python": "3.11.7.1"}, "python must be a version"),
        ({"disabled": "maybe"}, "disabled must be True or False"),
    ],
)
def test_bad_arguments(given: dict[str, Any], words: str) -> None:
    with pytest.raises(DecoratorError) as err:
        PyPIDecorator(given)
    assert words in f"{err.value.message} {err.value.fix}"


def test_unknown_argument_and_conda_only_libraries() -> None:
    with pytest.raises(DecoratorError, match="unknown argument"):
        PyPIDecorator({"libraries": {}})
    attrs = {"packages": {"a": "1"}, "libraries": {"b": "2"}, "python": None, "disabled": "true"}
    check_arguments("conda", attrs)
    assert attrs["packages"] == {"b": "2", "a": "1"} and attrs["disabled"] is True


class BadVersionFlow(FlowSpec):
    @pypi(packages={"tabulate": 0.9})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_bad_argument_reported_by_lint_at_its_line() -> None:
    [(message, line, fix)] = _problems(BadVersionFlow)
    assert "the version of 'tabulate' is the number 0.9" in message
    assert line == _line(BadVersionFlow, "@pypi(packages=")
    assert fix == 'quote it: {"tabulate": "0.9"}'


@pypi_base(packages={"tabulate": "0.9.0"})
class PinClashFlow(FlowSpec):
    @pypi(packages={"Tabulate": "==0.8.10"})
    @step
    def start(self):
        self.next(self.end)

    @pypi(packages={"tabulate": "==0.9.0"})  # the same pin written differently: fine
    @step
    def end(self):
        pass


def test_same_package_two_versions_is_an_error() -> None:
    [(message, line, fix)] = _problems(PinClashFlow)
    assert message == ("'Tabulate' is pinned to '==0.8.10' by @pypi and to '0.9.0' by @pypi_base")
    assert line == _line(PinClashFlow, '@pypi(packages={"Tabulate"')
    assert fix is not None and fix.startswith("remove 'Tabulate' from one of them")
    with pytest.raises(DecoratorError, match="pinned to"):
        _envs(PinClashFlow)


@conda_base(packages={"numpy": ""})
class MixedFlow(FlowSpec):
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class BothFlow(FlowSpec):
    @conda(packages={"numpy": ""})
    @pypi(packages={"tabulate": "0.9.0"})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@pypi_base(packages={"tabulate": "0.9.0"})
class ThreeFlow(FlowSpec):
    @conda(packages={"numpy": ""})
    @pypi(packages={"rich": ""})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_three_environment_decorators_on_one_step() -> None:
    [(message, _line_no, _)] = _problems(ThreeFlow)
    assert message == (
        "@pypi, @conda and @pypi_base all apply: a step runs in a PyPI environment "
        "or a conda one, not both"
    )


def test_pypi_and_conda_on_one_step() -> None:
    [(message, line, _)] = _problems(MixedFlow)
    assert message == (
        "@pypi and @conda_base both apply: a step runs in a PyPI environment "
        "or a conda one, not both"
    )
    assert line == _line(MixedFlow, "@pypi(packages=")
    [(message, line, _)] = _problems(BothFlow)
    assert "@pypi and @conda both apply" in message
    assert line == _line(BothFlow, "@conda(packages=")
    with pytest.raises(LintError):
        from grange.graph import lint as lint_module

        lint_module.check(graph_of(BothFlow))


def test_with_conda_on_a_pypi_base_flow_is_an_error_at_run() -> None:
    @pypi_base(packages={})
    class Flow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(DecoratorError) as err:
        _envs(Flow, 'conda:packages={"numpy":""}')
    assert err.value.message.startswith("--with conda and @pypi_base both")


def test_a_with_pin_clash_names_with() -> None:
    @pypi_base(packages={"tabulate": "0.9.0"})
    class Flow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    with pytest.raises(DecoratorError) as err:
        _envs(Flow, 'pypi:packages={"tabulate":"0.8.10"}')
    assert err.value.message == (
        "'tabulate' is pinned to '0.8.10' by --with pypi and to '0.9.0' by @pypi_base"
    )
    assert "the step's --with pypi adds to" in (err.value.fix or "")


def test_flow_decorator_on_a_step_is_refused() -> None:
    class Flow(FlowSpec):
        @pypi_base(packages={})
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    [(message, _, _)] = _problems(Flow)
    assert "@pypi_base is a flow decorator" in message
