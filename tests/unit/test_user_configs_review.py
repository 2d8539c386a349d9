"""Config fixes from review: one value everywhere (JSON's), bound per class, clear errors
for misuse in the class body and for bad ``Config(...)`` arguments."""

from __future__ import annotations

import copy
import pickle
import textwrap
import time
from pathlib import Path

import pytest
from tests.support import load_flow

from grange import Config, ConfigValue, config_expr
from grange.decorators.base import decorators_of
from grange.decorators.flow import flow_decorator
from grange.exceptions import LintError
from grange.graph.configs import bind_configs
from grange.parameters import resolve_values
from grange.user_configs.read import ConfigSources, read_values


def _flow(tmp_path: Path, text: str, name: str = "flow") -> type:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    return load_flow(path)


def _read(*configs: Config, **sources: object) -> tuple[dict, list]:
    return read_values({c.name: c for c in configs}, ConfigSources(**sources))  # type: ignore[arg-type]


# -- HIGH 1: the value a task sees is the one every other task sees ------------------


def test_a_value_is_bound_as_json_keeps_it() -> None:
    values, problems = _read(
        Config("c", default_value={"stages": {1: 4}, "t": (1, 2)}),
        Config("p", default_value=lambda ctx: {2: (3,)}, plain=True, parser=lambda t: {2: (3,)}),
    )
    assert problems == []
    assert values["c"] == {"stages": {"1": 4}, "t": [1, 2]}  # as --no-fork, pods, Argo see it
    assert values["p"] == {"2": [3]}


def test_values_given_to_bind_are_bound_as_json_keeps_them(tmp_path: Path) -> None:
    cls = _flow(tmp_path, CACHED)
    assert bind_configs(cls, {"cfg": {"k": {1: (2,)}}}) == {"cfg": {"k": {"1": [2]}}}
    assert object.__new__(cls).cfg.k == {"1": [2]}


def test_keys_that_json_would_merge_are_refused() -> None:
    _, [problem] = _read(Config("c", default_value={1: "a", "1": "b"}))
    assert "two keys that are both '1' in JSON" in problem.message


# -- HIGH 2 is in tests/unit/deploy/test_argo_parameters.py --------------------------

# -- MEDIUM 3: self.cfg is built once per binding -------------------------------------

CACHED = """
from grange import Config, FlowSpec, step

class CachedFlow(FlowSpec):
    cfg = Config("cfg", default_value={f"k{i}": {"v": i} for i in range(50)})

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_reading_a_config_in_a_step_does_not_rebuild_it(tmp_path: Path) -> None:
    cls = _flow(tmp_path, CACHED)
    bind_configs(cls)
    flow = object.__new__(cls)
    assert flow.cfg is flow.cfg
    assert flow.cfg.k3.v == 3
    bind_configs(cls, {"cfg": {"k0": {"v": 9}}})
    assert flow.cfg == {"k0": {"v": 9}}  # binding again: the new value
    start = time.perf_counter()
    for _ in range(20_000):
        flow.cfg  # noqa: B018
    assert time.perf_counter() - start < 2  # rebuilt each time: ~5 s


# -- MEDIUM 4 / LOW 16: delayed values -------------------------------------------------


def test_delayed_values_do_not_hide_keys() -> None:
    cfg = Config("cfg")
    for key in ("expr", "globals", "evaluate"):
        assert repr(getattr(cfg.search, key)) == f"config_expr('cfg.search.{key}')"
    assert repr(config_expr("cfg").expr) == "config_expr('cfg.expr')"


def test_misuse_of_a_delayed_value_in_a_class_body_says_what_to_do() -> None:
    cpu = Config("cfg").cpu
    for misuse in (
        lambda: f"{cpu}",
        lambda: str(cpu),
        lambda: cpu == 1,
        lambda: cpu * 2,
        lambda: 2 + cpu,
        lambda: cpu < 3,
        lambda: int(cpu),
        lambda: -cpu,
    ):
        with pytest.raises(TypeError, match=r"has no value in the class body.*config_expr"):
            misuse()


def test_delayed_values_copy_and_pickle() -> None:
    value = config_expr("str(cfg.cpu)")
    assert copy.copy(value) is value and copy.deepcopy({"a": value})["a"] is value
    back = pickle.loads(pickle.dumps(value))
    assert repr(back) == repr(value)
    assert back._evaluate({"cfg": ConfigValue({"cpu": 2})}) == "2"
    unpack = pickle.loads(pickle.dumps(Config("cfg").retry["_grange_unpack_1"]))
    assert repr(unpack) == "**cfg.retry"


# -- MEDIUM 5, LOW 10: plain configs are text -------------------------------------------


def test_a_plain_config_is_text_whatever_gives_it() -> None:
    given = {"a": [1]}
    values, problems = _read(
        Config("d", default_value=given, plain=True),
        Config("s", default_value="raw text", plain=True),
        Config("t", plain=True),
        texts={"t": '{"a": [1]}'},
    )
    assert problems == []
    assert values == {"d": '{"a": [1]}', "s": "raw text", "t": '{"a": [1]}'}


def test_a_plain_value_with_a_parser_is_a_copy() -> None:
    given = {"a": [1]}
    cfg = Config("p", default_value=lambda ctx: given, plain=True, parser=lambda t: given)
    values, _ = _read(cfg)
    values["p"]["a"].append(2)
    assert given == {"a": [1]}


# -- MEDIUM 6: a subclass binds its own copy -----------------------------------------------

INHERIT = """
from grange import Config, FlowSpec, Parameter, config_expr, environment, project, resources, step

@project(name=config_expr("cfg.tag"))
class Base(FlowSpec):
    cfg = Config("cfg", default_value={"cpu": 1, "tag": "base"})
    p = Parameter("p", default=cfg.tag)
    q = Parameter("q", default=1)

    @resources(cpu=cfg.cpu)
    @environment(vars={"TAG": cfg.tag})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class Big(Base):
    cfg = Config("cfg", default_value={"cpu": 8, "tag": "big"})


class Sub(Base):
    cfg = Config("cfg", default_value={"mem": 100})

    @step
    def start(self):
        self.next(self.end)
"""


def test_binding_a_subclass_leaves_its_base_alone(tmp_path: Path) -> None:
    path = tmp_path / "inherit.py"
    path.write_text(INHERIT)
    base, big, sub = (load_flow(path, name) for name in ("Base", "Big", "Sub"))
    assert big.__bases__[0] is base
    bind_configs(base)
    bind_configs(big)
    assert decorators_of(big.start)[0].attributes["cpu"] == 8
    assert decorators_of(base.start)[0].attributes["cpu"] == 1  # not Big's
    assert resolve_values(base, {})["p"] == "base"
    assert resolve_values(big, {})["p"] == "big"
    assert list(resolve_values(big, {})) == ["p", "q"]  # the order written
    assert flow_decorator(base, "project").attributes["name"] == "base"
    assert flow_decorator(big, "project").attributes["name"] == "big"
    bind_configs(base, {"cfg": {"cpu": 3, "tag": "t"}})
    assert decorators_of(big.start)[0].attributes["cpu"] == 8
    # Sub overrides start without decorators: Base.start's @resources is not its concern
    with pytest.raises(LintError) as err:
        bind_configs(sub)
    assert "start" not in str(err.value)  # only the project/parameter reading cfg.tag
    assert "cfg.tag" in str(err.value)


# -- MEDIUM 7: values given to bind_configs are checked -----------------------------------


def test_bind_configs_refuses_unknown_names_and_bad_values(tmp_path: Path) -> None:
    cls = _flow(tmp_path, CACHED)
    with pytest.raises(LintError) as err:
        bind_configs(cls, {"cgf": {}})
    assert "the flow has no config 'cgf'" in str(err.value)
    assert "did you mean 'cfg'" in str(err.value)
    with pytest.raises(LintError, match="must be a mapping"):
        bind_configs(cls, {"cfg": [1, 2]})


# -- MEDIUM 8, LOW 14, LOW 17: bad Config(...) arguments are lint errors -----------------

BAD = """
from grange import Config, FlowSpec, step

class BadFlow(FlowSpec):
    a = Config("a", parser=42)
    b = Config("b", default=123)
    c = Config("c", default=["a.json"])
    d = Config("d", default=lambda ctx: 5)
    e = Config("e", default_value=[1])
    f = Config("True", default_value={})
    g = Config("class", default_value={})
    h = Config("h", default_value={}, plain="no")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_bad_config_arguments_are_lint_errors_at_their_line(tmp_path: Path) -> None:
    cls = _flow(tmp_path, BAD)
    with pytest.raises(LintError) as err:
        bind_configs(cls)
    lines = {p.line: p.message for p in err.value.problems}
    assert "parser= of config 'a' is 42, not a function" in lines[5]
    assert "default= of config 'b' is int 123, not a file path" in lines[6]
    assert "default= of config 'c' is list" in lines[7]
    assert "the default of config 'd' gives int 5, not a file path" in lines[8]
    assert "default_value= of config 'e' is list, not a mapping" in lines[9]
    assert "'True' is a Python keyword" in lines[10]
    assert "'class' is a Python keyword" in lines[11]
    assert "plain= of config 'h' is 'no', not True or False" in lines[12]
    assert len(err.value.problems) == 8  # one each: a bad definition is not read too


def test_config_value_fromkeys() -> None:
    value = ConfigValue.fromkeys(["a", "b"], 1)
    assert isinstance(value, ConfigValue) and value.a == 1


# -- MEDIUM 9: @catch cannot store into a config ------------------------------------------

CATCH = """
from grange import Config, FlowSpec, catch, step

class CatchFlow(FlowSpec):
    cfg = Config("cfg", default_value={"v": "cfg"})

    @catch(var=VAR)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.parametrize("var", ["cfg.v", "'cfg'"])
def test_catch_var_naming_a_config_is_refused(tmp_path: Path, var: str) -> None:
    from grange.graph import graph_of
    from grange.graph.lint import lint

    cls = _flow(tmp_path, CATCH.replace("VAR", var))
    problems = lint(graph_of(cls))
    assert [(p.rule, p.step) for p in problems] == [("decorator-attribute", "start")]
    assert "self.cfg, which is the config 'cfg'" in problems[0].message
