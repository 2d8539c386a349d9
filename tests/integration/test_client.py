"""The client API over real runs: flows run with ``python flow.py run``, read back here.

One store is filled once for the module (runs by two users, tags, a failure,
a foreach, a static split, a resume); every test points the client at it in
the namespace ``user:ada``.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import grange
from flow_runs import CLIENT_FLOWS, VALID_FLOWS, run_flow
from grange import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from grange.client import TaskException
from grange.exceptions import (
    ClientError,
    GrangeError,
    InvalidPathspec,
    NamespaceMismatch,
    ObjectNotFound,
    TagError,
)


@dataclass(frozen=True)
class Store:
    root: Path
    first: str  # ClientParamsFlow by ada, alpha 0.25, tags nightly + exp:1
    second: str  # ClientParamsFlow by ada, defaults, tag nightly
    bobs: str  # ClientParamsFlow by bob (newest), tag bobs
    failed: str  # ClientFailFlow by ada, failed in 'explode'
    resumed: str  # ClientFailFlow resumed from `failed`, succeeded
    foreach: str  # ClientForeachFlow by ada
    branch: str  # BranchFlow by ada


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("client") / ".grange"
    params, fail = CLIENT_FLOWS / "params_flow.py", CLIENT_FLOWS / "fail_flow.py"
    ada = {"root": root, "user": "ada"}
    first = run_flow(params, "--alpha", "0.25", "--tag", "nightly", "--tag", "exp:1", **ada)
    second = run_flow(params, "--tag", "nightly", **ada)
    bobs = run_flow(params, "--tag", "bobs", root=root, user="bob")
    failed = run_flow(fail, **ada, expect_failure=True, CLIENT_FAIL="1")
    resumed = run_flow(fail, "--origin-run-id", failed, **ada, command="resume")
    foreach = run_flow(CLIENT_FLOWS / "foreach_flow.py", **ada)
    branch = run_flow(VALID_FLOWS / "branch.py", **ada)
    return Store(root, first, second, bobs, failed, resumed, foreach, branch)


@pytest.fixture(autouse=True)
def client(store: Store) -> Iterator[Store]:
    metadata(f"local@{store.root}")
    namespace("user:ada")
    yield store
    default_namespace()
    default_metadata()


# -- flows and runs ------------------------------------------------------------------------


def test_latest_run_is_the_newest_in_the_namespace(store: Store) -> None:
    flow = Flow("ClientParamsFlow")
    assert flow.latest_run == Run(f"ClientParamsFlow/{store.second}")
    assert [run.id for run in flow] == [store.second, store.first]  # bob's is hidden
    assert flow.latest_successful_run is not None
    assert flow.latest_successful_run.id == store.second


def test_latest_successful_run_skips_failed_runs(store: Store) -> None:
    flow = Flow("ClientFailFlow")
    assert flow.latest_run is not None and flow.latest_run.id == store.resumed
    assert flow.latest_successful_run is not None
    assert flow.latest_successful_run.id == store.resumed
    failed = flow[store.failed]
    assert not failed.successful


def test_runs_filters_on_every_tag_given(store: Store) -> None:
    flow = Flow("ClientParamsFlow")
    assert [r.id for r in flow.runs("nightly")] == [store.second, store.first]
    assert [r.id for r in flow.runs("nightly", "exp:1")] == [store.first]
    assert list(flow.runs("nightly", "absent")) == []
    assert [r.id for r in flow.runs("runtime:local")] == [store.second, store.first]


def test_metaflow_lists_the_flows_of_the_namespace(store: Store) -> None:
    names = {flow.id for flow in Metaflow().flows}
    assert names == {"ClientParamsFlow", "ClientFailFlow", "ClientForeachFlow", "BranchFlow"}
    assert "ClientForeachFlow" in Metaflow()
    assert Metaflow()["BranchFlow"] == Flow("BranchFlow")


def test_run_data_is_the_end_tasks_data(store: Store) -> None:
    run = Run(f"ClientParamsFlow/{store.first}")
    assert run.data is not None
    assert run.data.result == 20
    assert run.data.alpha == 0.25  # parameters are artifacts of every task
    assert run.data.label == "plain"
    assert run.end_task == Task(f"ClientParamsFlow/{store.first}/end/{run.end_task.id}")  # type: ignore[union-attr]
    assert "result" in run.data and "nope" not in run.data
    with pytest.raises(AttributeError, match="did you mean 'result'"):
        _ = run.data.resullt


def test_run_status_and_times(store: Store) -> None:
    run = Run(f"ClientParamsFlow/{store.first}")
    assert (run.status, run.successful, run.finished) == ("succeeded", True, True)
    assert isinstance(run.created_at, datetime) and isinstance(run.finished_at, datetime)
    assert run.created_at <= run.finished_at
    assert run.parent == Flow("ClientParamsFlow")
    assert run.path_components == ["ClientParamsFlow", store.first]
    assert run.origin_pathspec is None


def test_a_failed_run_is_finished_but_has_no_data(store: Store) -> None:
    run = Run(f"ClientFailFlow/{store.failed}")
    assert run.status == "failed"
    assert run.finished  # unlike Metaflow (issue #1104): nothing more will happen to it
    assert not run.successful
    assert run.end_task is None and run.data is None
    assert [s.id for s in run] == ["explode", "start"]


def test_steps_are_newest_first_and_hide_parameters(store: Store) -> None:
    run = Run(f"ClientParamsFlow/{store.first}")
    assert [step.id for step in run] == ["end", "middle", "start"]
    assert [step.id for step in run.steps()] == ["end", "middle", "start"]
    assert "_parameters" in run and "nope" not in run
    assert run["_parameters"].task.data.alpha == 0.25  # type: ignore[union-attr]


# -- steps and tasks --------------------------------------------------------------------------


def test_step_task_data_and_private_artifacts(store: Store) -> None:
    task = Run(f"ClientParamsFlow/{store.first}")["start"].task
    assert task is not None
    assert task.data.x == 1
    assert task.data.big[-1] == 4999
    assert "_hidden" not in task.data
    assert task["_hidden"].data == "secret"
    assert sorted(a.id for a in task) == ["alpha", "big", "label", "x"]
    assert task.artifacts.x.data == 1
    assert task["x"].data == 1


def test_task_logs_hold_what_the_step_printed(store: Store) -> None:
    task = Step(f"ClientParamsFlow/{store.first}/start").task
    assert task is not None
    assert task.stdout == "hello from start alpha=0.25\n"
    assert task.stderr == "a warning from start\n"
    assert list(task.loglines("stdout")) == [(None, "hello from start alpha=0.25")]
    assert task.stdout_size == len(b"hello from start alpha=0.25\n")
    middle = Run(f"ClientParamsFlow/{store.first}")["middle"].task
    assert middle is not None and "middle sees x=2" in middle.stdout


def test_task_status_attempts_and_metadata(store: Store) -> None:
    task = Run(f"ClientParamsFlow/{store.first}")["middle"].task
    assert task is not None
    assert task.successful and task.finished and task.exception is None
    assert task.current_attempt == 0
    assert isinstance(task.finished_at, datetime)
    assert task.metadata_dict["attempt"] == "0"
    assert task.metadata_dict["attempt_ok"] == "True"
    assert Task(task.pathspec, attempt=0).data.x == 2
    with pytest.raises(ObjectNotFound, match="no attempt 3"):
        Task(task.pathspec, attempt=3)
    assert task.runtime_name == "local"
    assert task.index is None


def test_task_metadata_reads_each_runs_code_package_record_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Task.metadata of a run's many tasks: the run's claim is read once, not per task."""
    import grange.datastore.runs as runs

    read = runs.read_claim
    calls: list[tuple[str, str]] = []

    def counted(blobs: Any, flow: str, run_id: str) -> Any:
        calls.append((flow, run_id))
        return read(blobs, flow, run_id)

    monkeypatch.setattr(runs, "read_claim", counted)
    run = Run(f"ClientParamsFlow/{store.first}")
    run._stores.packages.clear()  # the client's stores may have read it already
    tasks = [task for step in run for task in step]
    assert len(tasks) > 2
    packages = {task.metadata_dict["code-package"] for task in tasks}
    assert calls == [("ClientParamsFlow", store.first)]
    (package,) = packages
    assert run.code is not None and json.loads(package)["sha"] == run.code.sha
    assert {task.metadata_dict["runtime"] for task in tasks} == {"dev"}


def test_a_failed_task_exposes_its_exception(store: Store) -> None:
    task = Run(f"ClientFailFlow/{store.failed}")["explode"].task
    assert task is not None
    assert not task.successful and task.finished
    error = task.exception
    assert isinstance(error, TaskException)
    assert error.type == "builtins.ValueError"  # qualified, as Metaflow's client shows it
    assert error.message == "exploded on purpose"
    assert "fail_flow.py" in error.traceback
    assert "exploded on purpose" in str(error)
    assert "about to explode" in task.stdout
    assert "ValueError: exploded on purpose" in task.stderr
    # As in Metaflow, a failed attempt keeps its artifacts as they were when it failed.
    assert [a.id for a in task] == ["before"]
    assert task.data.before == "saved before the failure"
    before = Run(f"ClientFailFlow/{store.failed}")["start"].task
    assert before is not None and before.data.before == "saved before the failure"


def test_foreach_tasks_indexes_and_lineage(store: Store) -> None:
    run = Run(f"ClientForeachFlow/{store.foreach}")
    work = list(run["work"])
    assert [t.index for t in work] == [0, 1, 2]
    assert [t.data.out for t in work] == ["A", "B", "C"]
    assert [t.stdout for t in work] == [f"working on {x}\n" for x in "abc"]
    start, join = run["start"].task, run["join"].task
    assert start is not None and join is not None
    assert list(start.child_tasks) == work
    assert list(join.parent_tasks) == work
    for task in work:
        assert list(task.parent_task_pathspecs) == [start.pathspec]
        assert list(task.child_task_pathspecs) == [join.pathspec]
    assert join.data.outs == ["A", "B", "C"]
    assert [s.id for s in run["work"].parent_steps] == ["start"]
    assert [s.id for s in run["work"].child_steps] == ["join"]
    assert run["work"].finished_at == max(t.finished_at for t in work)  # type: ignore[type-var]


def test_static_split_parent_and_child_steps(store: Store) -> None:
    run = Run(f"BranchFlow/{store.branch}")
    assert sorted(s.id for s in run["start"].child_steps) == ["a", "b", "c"]
    assert sorted(s.id for s in run["join"].parent_steps) == ["a", "b", "c"]
    assert list(run["start"].parent_steps) == [] and list(run["end"].child_steps) == []
    join = run["join"].task
    assert join is not None
    assert sorted(t.parent.id for t in join.parent_tasks) == ["a", "b", "c"]


def test_resumed_run_points_at_its_origin(store: Store) -> None:
    run = Run(f"ClientFailFlow/{store.resumed}")
    assert run.successful
    assert run.origin_pathspec == f"ClientFailFlow/{store.failed}"
    start = run["start"].task
    assert start is not None
    assert start.origin_pathspec is not None
    assert start.origin_pathspec.startswith(f"ClientFailFlow/{store.failed}/start/")
    assert run["explode"].task.origin_pathspec is None  # type: ignore[union-attr]
    assert run["explode"].task.data.after == "recovered"  # type: ignore[union-attr]


# -- artifacts ------------------------------------------------------------------------------


def test_data_artifact_sha_and_size_describe_the_stored_blob(store: Store) -> None:
    artifact = DataArtifact(f"ClientParamsFlow/{store.first}/start/1/big")
    blob = store.root / "ClientParamsFlow" / "data" / artifact.sha[:2] / artifact.sha
    assert blob.is_file()
    assert artifact.size == blob.stat().st_size
    assert hashlib.sha1(blob.read_bytes()).hexdigest() == artifact.sha
    assert artifact.data == list(range(5000))
    assert artifact.type == "list"
    assert isinstance(artifact.finished_at, datetime)
    # equal values share one blob, across runs
    other = DataArtifact(f"ClientParamsFlow/{store.second}/start/1/big")
    assert other.sha == artifact.sha


# -- namespaces -----------------------------------------------------------------------------


def test_a_run_of_another_user_raises_namespace_mismatch(store: Store) -> None:
    pathspec = f"ClientParamsFlow/{store.bobs}"
    with pytest.raises(NamespaceMismatch) as caught:
        Run(pathspec)
    text = str(caught.value)
    assert pathspec in text and "user:ada" in text and "namespace(None)" in text
    assert "user:bob" in text  # the namespace that would show it
    with pytest.raises(NamespaceMismatch):
        Task(f"{pathspec}/start/1")
    with pytest.raises(NamespaceMismatch):
        Flow("ClientParamsFlow")[store.bobs]
    assert isinstance(caught.value, GrangeError) and caught.value.exit_code == 2


def test_namespace_none_shows_every_run(store: Store) -> None:
    assert namespace(None) is None and get_namespace() is None
    flow = Flow("ClientParamsFlow")
    assert flow.latest_run is not None and flow.latest_run.id == store.bobs
    assert [r.id for r in flow.runs("bobs")] == [store.bobs]
    run = Run(f"ClientParamsFlow/{store.bobs}")
    assert "user:bob" in run.system_tags and run.data is not None and run.data.result == 20


def test_a_flow_without_runs_in_the_namespace_is_a_mismatch(store: Store) -> None:
    namespace("user:carol")
    with pytest.raises(NamespaceMismatch, match="ClientParamsFlow"):
        Flow("ClientParamsFlow")
    assert Metaflow().flows == []


def test_default_namespace_is_the_user(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANGE_USER", "bob")
    assert default_namespace() == "user:bob"
    assert get_namespace() == "user:bob"
    assert [run.id for run in Flow("ClientParamsFlow")] == [store.bobs]
    monkeypatch.delenv("GRANGE_USER")
    monkeypatch.setenv("USER", "carol")
    assert default_namespace() == "user:carol"


# -- tags -------------------------------------------------------------------------------------


def test_add_remove_replace_tags(store: Store) -> None:
    run = Run(f"ClientForeachFlow/{store.foreach}")
    run.add_tag("approved")
    run.add_tags(["x1", "x2"])
    assert run.user_tags == {"approved", "x1", "x2"}
    assert Run(run.pathspec).user_tags == {"approved", "x1", "x2"}
    run.remove_tag("x1")
    run.replace_tag("x2", "x3")
    assert Run(run.pathspec).user_tags == {"approved", "x3"}
    run.replace_tags(["approved", "x3"], ["final"])
    assert Run(run.pathspec).user_tags == {"final"}
    assert [r.id for r in Flow("ClientForeachFlow").runs("final")] == [store.foreach]
    assert "final" in run["work"].task.tags  # type: ignore[union-attr]
    run.add_tag("user:ada")  # already a system tag: nothing changes
    assert run.user_tags == {"final"}


def test_removing_a_system_tag_is_refused(store: Store) -> None:
    run = Run(f"ClientParamsFlow/{store.second}")
    before = run.tags
    with pytest.raises(TagError, match="system tag"):
        run.remove_tag("user:ada")
    with pytest.raises(TagError):
        run.replace_tags(["runtime:local"], ["other"])
    assert Run(run.pathspec).tags == before


# -- pickling, errors, which store ------------------------------------------------------------


def test_client_objects_pickle_as_their_pathspec(store: Store) -> None:
    run = Run(f"ClientParamsFlow/{store.first}")
    objects = [
        Flow("ClientParamsFlow"),
        run,
        run["start"],
        run["start"].task,
        Task(f"ClientParamsFlow/{store.first}/start/1", attempt=0),
        DataArtifact(f"ClientParamsFlow/{store.first}/start/1/big"),
    ]
    for obj in objects:
        data = pickle.dumps(obj)
        assert len(data) < 300, obj  # no rows, no stores, no loaded values
        assert pickle.loads(data) == obj
    assert pickle.loads(pickle.dumps(objects[-1])).data[-1] == 4999
    assert pickle.loads(pickle.dumps(run)).data.result == 20


def test_missing_objects_name_the_pathspec_and_close_names(store: Store) -> None:
    run_ps = f"ClientParamsFlow/{store.first}"
    cases = [
        (lambda: Flow("ClientParamFlow"), "ClientParamFlow", "did you mean 'ClientParamsFlow'"),
        (lambda: Run("ClientParamsFlow/999"), "ClientParamsFlow/999", "newest runs"),
        (lambda: Step(f"{run_ps}/midle"), f"{run_ps}/midle", "did you mean 'middle'"),
        (lambda: Task(f"{run_ps}/middle/77"), f"{run_ps}/middle/77", "known tasks"),
        (lambda: Task(f"{run_ps}/start/1")["bigg"], "bigg", "did you mean 'big'"),
    ]
    for make, pathspec, hint in cases:
        with pytest.raises(ObjectNotFound) as caught:
            make()
        assert pathspec in str(caught.value) and hint in str(caught.value)
        assert caught.value.exit_code == 2
    with pytest.raises(KeyError):  # obj[child] fails like a mapping
        Run(run_ps)["nope"]


def test_pathspecs_of_the_wrong_shape_are_refused() -> None:
    for make in (lambda: Run("ClientParamsFlow"), lambda: Task("A/1/start"), lambda: Flow("")):
        with pytest.raises(InvalidPathspec, match="pathspec"):
            make()
    with pytest.raises(InvalidPathspec, match="attempt"):
        Run("ClientParamsFlow/1", attempt=1)  # type: ignore[call-arg]


def test_metadata_accepts_local_paths_and_urls(store: Store) -> None:
    assert get_metadata() == f"local@{store.root}"
    assert metadata(str(store.root)) == f"local@{store.root}"
    assert Flow("ClientForeachFlow").latest_run is not None
    url = f"sqlite:///{store.root.resolve() / 'metadata.db'}"
    assert metadata(url) == f"local@{store.root.resolve()}"
    assert Flow("ClientForeachFlow").latest_run is not None
    with pytest.raises(ClientError, match="unknown metadata provider"):
        metadata("service@http://example.org")


def test_default_metadata_follows_env_then_the_working_directory(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(store.root))
    monkeypatch.delenv("GRANGE_METADATA", raising=False)
    assert default_metadata() == f"local@{store.root}"
    monkeypatch.delenv("GRANGE_DATASTORE_ROOT")
    nested = store.root.parent / "sub" / "dir"
    nested.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(nested)
    assert default_metadata() == f"local@{store.root}"  # found like git finds .git
    monkeypatch.chdir(tmp_path)
    assert default_metadata() == f"local@{tmp_path / '.grange'}"
    assert Metaflow().flows == []
    with pytest.raises(ObjectNotFound, match="no grange runs are stored"):
        Flow("ClientParamsFlow")
    assert not (tmp_path / ".grange").exists()  # reading never creates a store


def test_the_client_is_exported_lazily_from_grange() -> None:
    assert grange.Flow is Flow and grange.namespace is namespace
    assert grange.metadata is metadata  # the function; the index package is grange.metastore
