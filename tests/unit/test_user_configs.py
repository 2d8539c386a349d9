"""``ConfigValue``, ``config_expr``, ``Config`` in a class body, and reading config values."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest

import grange
from grange import Config, ConfigValue, config_expr, yaml_parser
from grange.decorators.base import decorators_of, is_unpack
from grange.user_configs.delayed import ConfigExprError, DelayedValue, has_delayed, resolve
from grange.user_configs.read import ConfigSources, read_values, sources_from_env

# -- ConfigValue -------------------------------------------------------------


def test_config_value_reads_keys_as_attributes_and_items_nested() -> None:
    value = ConfigValue({"a": 1, "nested": {"b": [1, {"c": 2}]}})
    assert value.a == value["a"] == 1
    assert value.nested.b[1].c == value["nested"]["b"][1]["c"] == 2
    assert isinstance(value.nested, ConfigValue) and isinstance(value, dict)
    assert json.loads(json.dumps(value)) == {"a": 1, "nested": {"b": [1, {"c": 2}]}}
    assert value == {"a": 1, "nested": {"b": [1, {"c": 2}]}}


def test_config_value_is_immutable() -> None:
    value = ConfigValue({"a": 1, "n": {"b": 2}})
    for change in (
        lambda: setattr(value, "a", 2),
        lambda: value.__setitem__("a", 2),
        lambda: value.n.__setitem__("b", 3),
        lambda: value.update({"a": 3}),
        lambda: value.pop("a"),
        lambda: value.clear(),
        lambda: value.setdefault("x", 1),
        lambda: delattr(value, "a"),
    ):
        with pytest.raises(TypeError, match="immutable"):
            change()
    assert value == {"a": 1, "n": {"b": 2}}


def test_config_value_missing_keys_name_the_keys() -> None:
    value = ConfigValue({"cpu": 1, "alpha": 2})
    with pytest.raises(AttributeError, match=r"no key 'cpus' \(keys: cpu, alpha\).*'cpu'"):
        value.cpus  # noqa: B018
    with pytest.raises(KeyError, match="no key 'beta'"):
        value["beta"]
    assert value.get("beta", 3) == 3 and "cpu" in value


def test_config_value_pickles_copies_and_gives_plain_dicts() -> None:
    value = ConfigValue({"a": {"b": [1, {"c": 2}]}})
    again = pickle.loads(pickle.dumps(value))
    assert isinstance(again, ConfigValue) and again.a.b[1].c == 2
    assert copy.deepcopy(value) == value and copy.copy(value) is value
    plain = value.to_dict()
    assert type(plain) is dict and type(plain["a"]) is dict and type(plain["a"]["b"][1]) is dict
    plain["a"]["x"] = 1  # a copy: the config is unchanged
    assert "x" not in value.a


# -- delayed values -----------------------------------------------------------


def test_config_attributes_in_a_class_body_are_delayed_expressions() -> None:
    cfg = Config("my-cfg")
    assert repr(cfg.cpu.x["y"]) == "config_expr(\"my_cfg.cpu.x['y']\")"
    assert cfg.name == "my-cfg"  # the Config's own attributes win, as in Metaflow
    with pytest.raises(AttributeError):
        cfg.__deepcopy__  # noqa: B018  (copy/pickle probes are not keys)
    unpacked = dict(**cfg.retry)
    [(key, value)] = unpacked.items()
    assert key.startswith("_grange_unpack_") and is_unpack(value)
    with pytest.raises(TypeError, match="no value yet"):
        bool(cfg.flag)
    with pytest.raises(TypeError, match="cannot be iterated"):
        list(cfg.items_)


SCOPE = {"cfg": ConfigValue({"cpu": 2, "name": "Fit", "env": {"A": "1"}}), "other": None}


def test_resolve_evaluates_delayed_values_inside_containers() -> None:
    cfg = Config("cfg")
    given = {
        "cpu": cfg.cpu,
        "vars": {"N": config_expr("str(cfg.cpu * 2)"), "L": config_expr("cfg.name.lower()")},
        "list": [cfg["name"], 3],
        **cfg.env,
    }
    assert has_delayed(given) and not has_delayed({"a": [1, {"b": 2}]})
    assert resolve(given, SCOPE) == {
        "cpu": 2,
        "vars": {"N": "4", "L": "fit"},
        "list": ["Fit", 3],
        "A": "1",
    }


MODULE_CONSTANT = 10


def test_config_expr_sees_the_module_it_is_written_in() -> None:
    expr = config_expr("cfg.cpu + MODULE_CONSTANT")
    assert resolve(expr, SCOPE) == 12


def test_config_expr_refuses_what_is_not_an_expression() -> None:
    with pytest.raises(SyntaxError, match="not a Python expression"):
        config_expr("x = 1")
    with pytest.raises(TypeError):
        config_expr("")  # type: ignore[arg-type]


def test_a_failing_expression_says_which() -> None:
    with pytest.raises(ConfigExprError) as err:
        resolve({"cpu": Config("cfg").cpus}, SCOPE)
    assert err.value.expr == "cfg.cpus" and "no key 'cpus'" in str(err.value)
    with pytest.raises(ConfigExprError, match="not a mapping"):
        resolve(dict(**Config("cfg").cpu), SCOPE)


def test_step_decorators_wait_for_config_values_to_check_them() -> None:
    cfg = Config("cfg")

    @grange.resources(cpu=cfg.cpu)  # not a number yet: checked when bound
    @grange.retry(**cfg.retry)  # an unknown key, until bound
    @grange.step
    def train(self: object) -> None: ...

    resources, retry = decorators_of(train)
    assert set(resources.config_source) == {"cpu"}
    assert retry.config_source is not None and is_unpack(*retry.config_source.values())
    assert not hasattr(train, "__grange_problems__")


def test_a_delayed_parameter_default_is_not_checked_before_binding() -> None:
    param = grange.Parameter("alpha", default=Config("cfg").alpha)
    assert param.definition_problems() == []
    with pytest.raises(grange.GrangeError, match="configs are not bound"):
        param.default_value("F")
    assert isinstance(param.default, DelayedValue)


# -- reading values -----------------------------------------------------------


def _read(tmp_path: Path, *configs: Config, **sources: object) -> tuple[dict, list]:
    by_attr = {c.name: c for c in configs}
    return read_values(by_attr, ConfigSources(flow_dir=str(tmp_path), **sources))  # type: ignore[arg-type]


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfg.json").write_text('{"from": "default file"}')
    (tmp_path / "other.json").write_text('{"from": "given file"}')
    cfg = Config("cfg", default="cfg.json")
    assert _read(tmp_path, cfg)[0] == {"cfg": {"from": "default file"}}
    assert _read(tmp_path, cfg, files={"cfg": "other.json"})[0]["cfg"] == {"from": "given file"}
    assert _read(tmp_path, cfg, texts={"cfg": '{"from": "value"}'})[0]["cfg"] == {"from": "value"}
    bound = {"cfg": {"from": "the run"}}
    assert _read(tmp_path, cfg, files={"cfg": "nope"}, bound=bound)[0]["cfg"] == bound["cfg"]
    plain = Config("p", default_value={"a": 1})
    assert _read(tmp_path, plain)[0] == {"p": {"a": 1}}
    assert _read(tmp_path, Config("s", default_value='{"a": 2}'))[0] == {"s": {"a": 2}}
    assert _read(tmp_path, Config("f", default_value=lambda ctx: {"n": ctx.parameter_name}))[0] == {
        "f": {"n": "f"}
    }
    assert _read(tmp_path, Config("none"))[0] == {"none": None}


def test_a_relative_default_file_is_also_found_beside_the_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cfg.json").write_text('{"a": 1}')
    monkeypatch.chdir(tmp_path.parent)
    assert _read(tmp_path, Config("cfg", default="cfg.json"))[0] == {"cfg": {"a": 1}}


def test_parsers_plain_and_yaml(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("model:\n  layers: 3\n")
    cfg = Config("y", default=str(tmp_path / "c.yaml"), parser=yaml_parser)
    assert _read(tmp_path, cfg)[0] == {"y": {"model": {"layers": 3}}}
    named = Config("n", default=str(tmp_path / "c.yaml"), parser="grange.yaml_parser")
    assert _read(tmp_path, named)[0] == {"n": {"model": {"layers": 3}}}
    relative = Config("r", default=str(tmp_path / "c.yaml"), parser=".user_configs.yaml_parser")
    assert _read(tmp_path, relative)[0]["r"] == {"model": {"layers": 3}}
    text = Config("t", default=str(tmp_path / "c.yaml"), plain=True)
    assert _read(tmp_path, text)[0] == {"t": "model:\n  layers: 3\n"}


def _messages(tmp_path: Path, *configs: Config, **sources: object) -> list[str]:
    return [p.message for p in _read(tmp_path, *configs, **sources)[1]]


def test_bad_values_are_named(tmp_path: Path) -> None:
    cfg = Config("cfg")
    assert _messages(tmp_path, cfg, texts={"cfg": "{bad"}) == [
        "configuration value for 'cfg' is not valid JSON (the value given): Expecting property "
        "name enclosed in double quotes: line 1 column 2 (char 1)"
    ]
    [missing] = _messages(tmp_path, cfg, files={"cfg": "nofile.json"})
    assert missing.startswith("configuration file 'nofile.json' could not be read for 'cfg'")
    [default] = _messages(tmp_path, Config("d", default="gone.json"))
    assert default.startswith("default configuration file 'gone.json' could not be read for 'd'")
    assert _messages(tmp_path, Config("r", required=True)) == [
        "missing configuration for 'r': it is required and has no value"
    ]
    [listed] = _messages(tmp_path, cfg, texts={"cfg": "[1, 2]"})
    assert "must be a mapping" in listed and "list" in listed
    [both] = _messages(tmp_path, cfg, texts={"cfg": "{}"}, files={"cfg": "x"})
    assert "both as a file and as a value" in both
    [deep] = _messages(tmp_path, cfg, texts={"cfg": '{"a":' * 100_000})
    assert deep.startswith("configuration value for 'cfg' is not valid JSON")
    [unknown] = _messages(tmp_path, cfg, texts={"cgf": "{}"})
    assert unknown == "the flow has no config 'cgf'"


def test_a_failing_parser_and_an_unimportable_one_are_named(tmp_path: Path) -> None:
    def silly(text: str) -> dict[str, str]:
        raise ValueError("no colon")

    [failed] = _messages(tmp_path, Config("c", default_value="x", parser=silly))
    assert failed == "parser silly of config 'c' failed on default_value: ValueError: no colon"
    [missing] = _messages(tmp_path, Config("c", default_value="x", parser="nowhere.parse"))
    assert missing.startswith("parser 'nowhere.parse' of config 'c' cannot be imported")
    [default] = _messages(tmp_path, Config("c", default_value=lambda ctx: 1 / 0))
    assert default == "the default of config 'c' raised ZeroDivisionError: division by zero"


def test_a_value_that_json_cannot_hold_is_refused(tmp_path: Path) -> None:
    [message] = _messages(tmp_path, Config("c", default_value={"when": object()}))
    assert "cannot be stored as JSON" in message


def test_sources_from_the_environment() -> None:
    sources, errors = sources_from_env(
        {
            "GRANGE_FLOW_CONFIG": '{"a": "a.json"}',
            "GRANGE_FLOW_CONFIG_VALUE": '{"b": {"x": 1}, "c": "{\\"y\\": 2}"}',
        }
    )
    assert errors == []
    assert sources.files == {"a": "a.json"}
    assert sources.texts == {"b": '{"x": 1}', "c": '{"y": 2}'}
    _, errors = sources_from_env({"GRANGE_FLOW_CONFIG_VALUE": "[1]"})
    assert errors and "must be a JSON object" in errors[0]
    given = {"GRANGE_FLOW_CONFIG_BOUND": '{"flow": "F", "configs": {"a": {"k": 1}}}'}
    assert sources_from_env(given, flow_name="F")[0].bound == {"a": {"k": 1}}
    assert sources_from_env(given, flow_name="Other")[0].bound is None  # another flow's


def test_definition_problems() -> None:
    assert Config("ok", default_value={}).definition_problems() == []
    [(both, _)] = Config("c", default="f.json", default_value={}).definition_problems()
    assert "both default=" in both
    [(name, _)] = Config("1bad").definition_problems()
    assert "not valid" in name
    [(unknown, _)] = Config("c", type=int).definition_problems()
    assert "unknown argument(s) type" in unknown
