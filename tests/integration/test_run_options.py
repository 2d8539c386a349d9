"""The options of ``run``: parameters, --tag, --max-workers, --run-id-file,
--datastore-root and the default root found from subdirectories, --namespace;
and every invalid input refused with a clear message, a non-zero exit and no run."""

from __future__ import annotations

import pytest

from grange import Flow
from grange.metastore import MetadataStore
from support import FLOWS, Runner


def test_parameters_from_the_command_line(runner: Runner) -> None:
    args = ["--alpha", "0.25", "--count", "7", "--names", "p,q,r", "--flag", "true"]
    args += ["--config", '{"z": [1, 2]}', "--learning-rate", "0.5"]
    run_id = runner.run("params", *args).run_id
    run = Flow("ParamsRunFlow")[run_id]
    assert run["start"].task.data.seen == {
        "alpha": 0.25,
        "count": 7,
        "names": ["p", "q", "r"],
        "flag": True,
        "config": {"z": [1, 2]},
        "lr": 0.5,  # the attribute of Parameter("learning-rate")
    }
    assert run.data.alpha_in_end == 0.25
    assert run.data.lr == 0.5


def test_parameter_defaults(runner: Runner) -> None:
    run_id = runner.run("params").run_id
    seen = Flow("ParamsRunFlow")[run_id]["start"].task.data.seen
    assert seen == {
        "alpha": 0.5,
        "count": 2,
        "names": ["a", "b"],
        "flag": False,
        "config": {"k": 1},
        "lr": 0.01,
    }


def test_tags_and_run_id_file(runner: Runner) -> None:
    result = runner.run("linear", "--tag", "nightly", "--tag", "exp:1")
    assert result.run_id and result.run_id.isdigit()
    assert f"LinearRunFlow/{result.run_id}" in result.stdout
    run = Flow("LinearRunFlow")[result.run_id]
    assert {"nightly", "exp:1"} <= run.user_tags
    assert "user:tester" in run.system_tags
    assert [r.id for r in Flow("LinearRunFlow").runs("exp:1")] == [result.run_id]


@pytest.mark.parametrize("workers", [1, 2])
def test_max_workers_bounds_running_tasks(runner: Runner, workers: int) -> None:
    markers = runner.cwd / "markers"
    markers.mkdir()
    result = runner.run(
        "workers", "--max-workers", str(workers), env=runner.env(WORKERS_DIR=str(markers))
    )
    peak = Flow("WorkersFlow")[result.run_id].data.peak
    assert 1 <= peak <= workers
    if workers == 1:
        assert peak == 1


def test_datastore_root_option(runner: Runner) -> None:
    elsewhere = runner.cwd / "elsewhere"
    env = runner.env()
    del env["GRANGE_DATASTORE_ROOT"]
    result = runner.run("linear", top=("--datastore-root", str(elsewhere)), env=env)
    assert (elsewhere / "metadata.db").is_file()
    assert (elsewhere / "LinearRunFlow" / result.run_id).is_dir()
    assert not runner.root.exists()


def test_default_root_is_found_from_subdirectories(runner: Runner) -> None:
    env = runner.env()
    del env["GRANGE_DATASTORE_ROOT"]
    first = runner.run("linear", env=env)  # creates ./.grange
    assert (runner.root / "metadata.db").is_file()
    deeper = runner.cwd / "src" / "deeper"
    deeper.mkdir(parents=True)
    second = runner.run("linear", env=env, cwd=deeper)
    assert not (deeper / ".grange").exists()
    assert [r.id for r in Flow("LinearRunFlow")] == [second.run_id, first.run_id]
    logs = runner("linear", "logs", f"{second.run_id}/start", env=env, cwd=deeper)
    assert logs.returncode == 0


def test_namespace_option_reaches_the_steps(runner: Runner) -> None:
    run_id = runner.run("current_facts", "--namespace", "team:ml").run_id
    start = Flow("CurrentRunFlow")[run_id]["start"].task.data
    assert start.facts["namespace"] == "team:ml"
    assert start.client_namespace == "team:ml"  # what client calls in steps read


def runs_stored(runner: Runner) -> int:
    if not (runner.root / "metadata.db").exists():
        return 0
    store = MetadataStore.from_url(runner.metadata_url())
    return len(store.list_runs("ParamsRunFlow"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--alpha", "abc"], "'abc' is not a valid float value for parameter 'alpha'"),
        (["--count", "1.5"], "'1.5' is not a valid int value for parameter 'count'"),
        (["--config", "{bad"], "is not a valid JSON value for parameter 'config'"),
        (["--nosuch", "1"], "No such option '--nosuch'"),
        (["--max-workers", "0"], "Invalid value for '--max-workers'"),
        (["--max-num-splits", "0"], "Invalid value for '--max-num-splits'"),
        (["--tag", ""], "a tag must not be empty"),
        (["--tag", "x" * 501], "is 501 characters long; the limit is 500"),
        (["--run-id-file", "/nonexistent/dir/id"], "--run-id-file /nonexistent/dir/id: cannot"),
    ],
    ids=[
        "float",
        "int",
        "json",
        "unknown-option",
        "max-workers",
        "max-num-splits",
        "empty-tag",
        "long-tag",
        "run-id-file",
    ],
)
def test_invalid_options_are_refused_before_anything_runs(
    runner: Runner, args: list[str], expected: str
) -> None:
    runner.run("params")  # one run exists
    result = runner.run("params", *args, ok=False)
    assert result.returncode == 2
    assert expected in result.output
    assert "Traceback" not in result.output
    assert result.run_id is None
    assert runs_stored(runner) == 1


def test_a_broken_flow_is_refused_before_anything_is_stored(runner: Runner) -> None:
    result = runner.run(FLOWS / "broken" / "cycle.py", ok=False)
    assert result.returncode == 2
    assert "cycle.py:18, step 'check'" in result.stderr
    assert "train -> check -> train" in result.stderr
    assert "Traceback" not in result.output
    assert result.run_id is None
    assert not runner.root.exists()


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        (("--datastore-root", "a-file"), "is not a directory grange can write to"),
        (("--metadata", "garbage"), "'garbage' is not a database URL"),
        (
            ("--metadata", "postgresql://user:secret@127.0.0.1:1/db"),
            "cannot connect to the metadata database postgresql://user:***@127.0.0.1:1/db",
        ),
    ],
    ids=["datastore-root-is-a-file", "metadata-not-a-url", "metadata-unreachable"],
)
def test_stores_that_cannot_be_used_are_named_with_a_fix(
    runner: Runner, top: tuple[str, ...], expected: str
) -> None:
    (runner.cwd / "a-file").write_text("not a folder")
    result = runner.run("params", top=top, ok=False)
    assert expected in result.output
    assert "Fix:" in result.output
    assert "Internal error" not in result.output and "Traceback" not in result.output
    assert "secret" not in result.output  # no password in messages


def test_a_damaged_metadata_file_is_named(runner: Runner) -> None:
    runner.root.mkdir()
    (runner.root / "metadata.db").write_bytes(b"not a database " * 100)
    result = runner.run("params", ok=False)
    assert "metadata.db is not a grange metadata database, or it is damaged" in result.output
    assert "Internal error" not in result.output
