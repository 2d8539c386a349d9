"""``bind_configs``: config values into a flow's decorators, parameters and steps, and the
lint errors that name the config, decorator, step and line of each problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from tests.support import load_flow

from grange.decorators.base import decorators_of
from grange.decorators.flow import flow_decorator
from grange.exceptions import LintError
from grange.graph import graph_of
from grange.graph.configs import bind_configs, is_bound
from grange.parameters import flow_constants, resolve_values
from grange.user_configs import ConfigValue

FLOW = """
import os
from grange import (FlowSpec, Parameter, step, resources, retry, environment, project,
                    Config, config_expr)

def twice(ctx):
    return ctx.configs.cfg.cpu * 2

@project(name=config_expr("cfg").project)
class BoundFlow(FlowSpec):
    cfg = Config("cfg", default_value={"cpu": 2, "project": "p", "alpha": 0.5,
                                        "retry": {"times": 1}, "env": {"A": "a"}})
    alpha = Parameter("alpha", default=cfg.alpha)
    doubled = Parameter("doubled", default=twice, type=int)

    @resources(cpu=cfg.cpu)
    @retry(**cfg.retry)
    @environment(vars={"N": config_expr("str(cfg.cpu)"), **cfg.env})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _flow(tmp_path: Path, text: str, name: str = "flow") -> type:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return load_flow(path)


def _attributes(flow_cls: type, step: str) -> dict[str, dict]:
    return {d.name: d.attributes for d in decorators_of(getattr(flow_cls, step))}


def test_binding_resolves_decorators_parameters_and_the_flow_decorator(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    assert not is_bound(cls)
    assert bind_configs(cls) == {
        "cfg": {"cpu": 2, "project": "p", "alpha": 0.5, "retry": {"times": 1}, "env": {"A": "a"}}
    }
    attrs = _attributes(cls, "start")
    assert attrs["resources"]["cpu"] == 2
    assert attrs["retry"] == {"times": 1, "minutes_between_retries": 2}
    assert attrs["environment"] == {"vars": {"N": "2", "A": "a"}}
    project = flow_decorator(cls, "project")
    assert project is not None and project.attributes["name"] == "p"
    assert cls.alpha.default == 0.5 and cls.alpha.type is float  # inferred once bound
    assert resolve_values(cls, {}) == {"alpha": 0.5, "doubled": 4}  # ctx.configs
    graph = graph_of(cls)
    assert graph["start"].decorators[0].attributes["cpu"] == 2
    flow = cls(use_cli=False)
    assert isinstance(flow.cfg, ConfigValue) and flow.cfg.cpu == 2
    with pytest.raises(TypeError):
        flow.cfg.cpu = 3
    assert flow_constants(cls)["cfg"]["cpu"] == 2  # stored with the run, a plain dict
    assert type(flow_constants(cls)["cfg"]) is dict


def test_binding_again_starts_from_the_arguments_as_written(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    bind_configs(cls)
    graph = graph_of(cls)
    other = {"cpu": 8, "project": "q", "alpha": 1.5, "retry": {"times": 4}, "env": {}}
    assert bind_configs(cls, {"cfg": other}) == {"cfg": other}
    assert graph_of(cls) is not graph  # the cached graph was dropped
    assert _attributes(cls, "start")["resources"]["cpu"] == 8
    assert _attributes(cls, "start")["retry"]["times"] == 4
    assert flow_decorator(cls, "project").attributes["name"] == "q"  # type: ignore[union-attr]
    assert cls.alpha.default == 1.5 and flow_constants(cls)["cfg"]["cpu"] == 8
    assert cls(use_cli=False).cfg.cpu == 8


def test_a_flow_without_configs_is_left_alone(tmp_path: Path) -> None:
    cls = _flow(tmp_path, "from grange import FlowSpec, step\nclass F(FlowSpec):\n    pass\n")
    assert bind_configs(cls) == {} and not is_bound(cls)


def _problems(cls: type, values: dict | None = None) -> list[tuple]:
    with pytest.raises(LintError) as err:
        bind_configs(cls, values)
    return [(p.rule, p.message, p.line, p.step, p.fix) for p in err.value.problems]


def test_a_missing_key_names_the_decorator_step_and_line(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    bad = {"cpu": 2, "project": "p", "alpha": 0.5, "env": {}}  # no "retry"
    [(rule, message, line, step, fix)] = _problems(cls, {"cfg": bad})
    assert rule == "config" and step == "start" and line == 17  # the @retry line
    assert message == (
        "@retry on step 'start' reads cfg.retry: the config has no key 'retry' "
        "(keys: cpu, project, alpha, env)"
    )
    assert "add the key" in fix


def test_an_argument_invalid_once_resolved_is_named(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    bad = {"cpu": "two", "project": "p", "alpha": 0.5, "retry": {"times": -1}, "env": {}}
    problems = _problems(cls, {"cfg": bad})
    assert [(p[2], p[3]) for p in problems] == [(16, "start"), (17, "start")]
    assert problems[0][1].startswith("@resources on step 'start', with its config values read:")
    assert "cpu must be a number" in problems[0][1]
    assert "@retry" in problems[1][1] and "times" in problems[1][1]


def test_a_config_without_a_value_is_said(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW.replace('default_value={"cpu": 2', 'help="x", xx={"cpu": 2'))
    problems = _problems(cls)
    assert problems[0][1] == "Config 'cfg' got unknown argument(s) xx"
    text = """
    from grange import FlowSpec, Config, resources, step
    class NoValueFlow(FlowSpec):
        cfg = Config("cfg")

        @resources(cpu=cfg.cpu)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
    [(_, message, line, step, fix)] = _problems(_flow(tmp_path, text, "novalue"))
    assert (line, step) == (6, "start")
    assert message == (
        "@resources on step 'start' reads cfg.cpu, but config 'cfg' has no value (none "
        "given, and no default)"
    )
    assert fix.startswith("give it: --config cfg FILE")


def test_config_names_clashing_with_parameters_or_options_are_refused(tmp_path: Path) -> None:
    text = """
    from grange import FlowSpec, Parameter, Config, step
    class ClashFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)
        a_cfg = Config("Alpha", default_value={})
        tags = Config("tags", default_value={})
        input = Config("inp", default_value={})
        twin = Config("tags", default_value={})

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
    """
    cls = _flow(tmp_path, text)
    problems = _problems(cls)
    lines = {(p[2], p[1].split(":")[0]) for p in problems}
    assert (
        5,
        "config 'Alpha' has the name of parameter 'alpha' (names ignore case, and '-' and '_' count as the same)",
    ) in lines
    assert any(line == 6 and "reserved name" in m for line, m in lines)
    assert any(line == 7 and "config attribute 'input' is reserved" in m for line, m in lines)
    assert any(line == 8 and "the same name" in m for line, m in lines)


def test_a_parameter_default_reading_a_missing_key_is_named(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    bad = {"cpu": 2, "project": "p", "retry": {}, "env": {}}
    [(_, message, line, _, _)] = _problems(cls, {"cfg": bad})
    assert line == 13 and message.startswith("the default of parameter 'alpha' reads cfg.alpha")


def test_a_step_cannot_assign_a_config(tmp_path: Path) -> None:
    from grange.exceptions import ParameterAssignmentError

    cls = _flow(tmp_path, FLOW)
    bind_configs(cls)

    def step_body(self: object) -> None:
        self.cfg = {"cpu": 9}  # type: ignore[attr-defined]

    with pytest.raises(ParameterAssignmentError, match="'cfg' is a config of the flow"):
        step_body(cls(use_cli=False))


def test_the_graph_of_an_unbound_flow_binds_the_defaults(tmp_path: Path) -> None:
    cls = _flow(tmp_path, FLOW)
    assert graph_of(cls)["start"].decorators[0].attributes["cpu"] == 2
    assert is_bound(cls)
