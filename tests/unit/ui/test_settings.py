"""The [ui] profile table, the command line and the environment; names and the guard's rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from grange.config import resolve
from grange.exceptions import ConfigError
from grange.ui import names
from grange.ui.settings import DEFAULT_PORT, read_settings

TOKEN = "t" * 20


def test_the_ui_table_of_a_profile_is_read_and_checked_by_its_owner(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[profiles.team]\ndatastore_root = "/data"\n'
        '[profiles.team.ui]\nhost = "0.0.0.0"\ntoken = "${UI_TOKEN}"\nallow_writes = true\n'
    )
    env = {"GRANGE_CONFIG": str(config), "UI_TOKEN": TOKEN}
    profile = resolve("team", env)
    settings, generated = read_settings(profile.ui, env)
    assert (settings.host, settings.port, settings.token) == ("0.0.0.0", DEFAULT_PORT, TOKEN)
    assert settings.writes and not generated
    flags, _ = read_settings(profile.ui, {**env, "GRANGE_UI_PORT": "9000"}, host="127.0.0.1")
    assert (flags.host, flags.port) == ("127.0.0.1", 9000)
    with pytest.raises(ConfigError, match=r"\[ui\] colour: is not a known key"):
        read_settings({"colour": "red"}, env)
    with pytest.raises(ConfigError, match="allow_writes"):
        read_settings({"allow_writes": "yes"}, env)
    with pytest.raises(ConfigError, match="without a token"):
        read_settings({"host": "10.0.0.5"}, {})
    assert not read_settings({"allow_writes": True}, {})[0].writes  # no token: no writes


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        (names.flow, ".."), (names.flow, "a/b"), (names.flow, "Flow\x00"), (names.flow, "/etc"),
        (names.run_id, ".."), (names.run_id, "1/../2"), (names.run_id, ".hidden"),
        (names.run_id, "a..b"), (names.task_id, "%2e%2e"), (names.step, "start/../x"),
        (names.slot, "../0-default"), (names.slot, "0-default/x"), (names.slot, "0-Default"),
        (names.stream, "stdin"), (names.stream, "../stdout"), (names.artifact, "a.b"),
    ],
)  # fmt: skip
def test_names_that_break_their_rule_are_refused(rule: object, bad: str) -> None:
    with pytest.raises(names.BadName):
        rule(bad)  # type: ignore[operator]


def test_names_that_keep_their_rule_pass() -> None:
    assert names.run_id("argo-train.20240101:3") == "argo-train.20240101:3"
    assert names.slot("0-default") == "0-default" and names.slot("2-blank-my_id") == "2-blank-my_id"
    assert names.attempt(None) is None and names.attempt("3") == 3
    with pytest.raises(names.BadName):
        names.attempt("-1")


def test_a_reverse_proxy_s_names_are_accepted() -> None:
    from grange.ui.guard import Guard

    settings, _ = read_settings(
        {"public_url": "https://Grange.example.com", "allowed_hosts": ["grange.internal"]}, {}
    )
    guard = Guard(lambda *a: None, settings)  # type: ignore[arg-type, return-value]
    post = {"method": "POST", "path": "/flows/F/runs/1/tags", "raw_path": b"/"}
    ok = {"host": "grange.example.com", "origin": "https://grange.example.com"}
    assert guard._refused({**post, "method": "GET"}, ok) is None
    assert guard._refused({**post, "method": "GET"}, {"host": "grange.internal:80"}) is None
    assert guard._refused({**post, "method": "GET"}, {"host": "evil.example"})[0] == 400  # type: ignore[index]
    with pytest.raises(ConfigError):
        read_settings({"public_url": "grange.example.com"}, {})
    with pytest.raises(ConfigError):
        read_settings({"allowed_hosts": "x"}, {})
