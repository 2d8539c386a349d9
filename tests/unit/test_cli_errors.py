"""How the CLI reports errors: GrangeError text, internal errors, --debug."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from grange import FlowSpec, step
from grange.cli.errors import GuardedCommand, GuardedGroup, debug_option
from grange.cli.flow import build_flow_cli
from grange.exceptions import (
    CommandError,
    DatastoreError,
    GrangeError,
    InvalidNextError,
    LintError,
    LintProblem,
    MetadataError,
)


def raising(exc: Exception) -> click.Group:
    """A group with --debug and one command, ``go``, that raises ``exc``."""

    @click.group(cls=GuardedGroup)
    @debug_option
    def cli(debug: bool) -> None:
        pass

    @cli.command()
    def go() -> None:
        raise exc

    return cli


def test_a_grange_error_prints_its_render_text_and_exit_code() -> None:
    result = CliRunner().invoke(raising(CommandError("no such run", fix="list runs")), ["go"])
    assert result.exit_code == 2
    assert result.stderr == "Invalid command: no such run\n  Fix: list runs\n"


def test_a_lint_error_prints_every_problem() -> None:
    problems = [LintProblem("orphan", "step 'x' is never reached", "f.py", 3, "x", "remove it")]
    problems.append(LintProblem("orphan", "step 'y' is never reached", "f.py", 9, "y", "remove it"))
    result = CliRunner().invoke(raising(LintError(problems)), ["go"])
    assert result.exit_code == 2
    assert "f.py:3, step 'x': Invalid flow [orphan]" in result.stderr
    assert "f.py:9, step 'y': Invalid flow [orphan]" in result.stderr


def test_an_internal_error_is_one_line_and_a_hint() -> None:
    result = CliRunner().invoke(raising(RuntimeError("boom\nsecond line")), ["go"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Internal error: RuntimeError: boom",
        "This is a bug in grange; run with --debug (or GRANGE_DEBUG=1) for the traceback.",
    ]


@pytest.mark.parametrize("args,env", [(["--debug", "go"], {}), (["go"], {"GRANGE_DEBUG": "1"})])
def test_debug_re_raises(args: list[str], env: dict[str, str]) -> None:
    result = CliRunner().invoke(raising(RuntimeError("boom")), args, env=env)
    assert isinstance(result.exception, RuntimeError)
    assert "Internal error" not in result.output


def test_click_usage_errors_pass_through() -> None:
    result = CliRunner().invoke(raising(RuntimeError("boom")), ["go", "--nope"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr and "--nope" in result.stderr


def test_a_guarded_command_reports_errors_of_its_own() -> None:
    command = GuardedCommand("solo", callback=lambda: (_ for _ in ()).throw(KeyError("k")))
    result = CliRunner().invoke(command, [])
    assert result.exit_code == 1
    assert result.stderr.startswith("Internal error: KeyError: 'k'\n")


@pytest.mark.parametrize(
    "exc",
    [
        MetadataError("'bogus' is not a database URL"),
        DatastoreError("the datastore root is not writable"),
        InvalidNextError("bad next"),
        GrangeError("anything else"),
    ],
)
def test_every_grange_error_exits_2(exc: GrangeError) -> None:
    # docs/cli.md: errors end with status 2, a failed run with 1.
    assert CliRunner().invoke(raising(exc), ["go"]).exit_code == 2


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_bogus_metadata_url_exits_2(tmp_path: Path) -> None:
    args = ["--datastore-root", str(tmp_path), "--metadata", "bogus", "run"]
    result = CliRunner().invoke(build_flow_cli(TinyFlow), args)
    assert result.exit_code == 2, result.output
    assert "'bogus' is not a database URL" in result.stderr


def test_the_step_command_names_an_unknown_step(tmp_path: Path) -> None:
    args = ["--datastore-root", str(tmp_path), "step", "strat", "--run-id", "1", "--task-id", "2"]
    result = CliRunner().invoke(build_flow_cli(TinyFlow), args)
    assert result.exit_code == 2, result.output
    assert "step 'strat': flow TinyFlow has no step of that name" in result.stderr
    assert "did you mean 'start'?" in result.stderr
