"""A new run never reuses or reads another run's records, whatever the index says.

The issue's reproducer: run, move ``metadata.db`` away, run again; the second
run used to take id 1 again, read the first run's records ("x = 1") and
"succeed" with them. The datastore's claim on each run id makes that
impossible, and the index is rebuilt from the records when it is behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from grange import Flow, Run, metadata, namespace
from grange.metastore import MetadataStore
from support import Runner


def _values(run: Run) -> dict[str, object]:
    return {"alpha": run.data.seen["alpha"], "in_end": run["end"].task.data.alpha_in_end}


def test_a_lost_index_never_makes_a_new_run_reuse_an_old_runs_folder(
    runner: Runner, tmp_path: Path
) -> None:
    first = runner.run("params", "--alpha", "1")
    shutil.move(runner.root / "metadata.db", tmp_path / "moved.db")
    for extra in ("metadata.db-wal", "metadata.db-shm"):
        if (runner.root / extra).exists():
            shutil.move(runner.root / extra, tmp_path / extra)
    second = runner.run("params", "--alpha", "2")
    assert first.run_id == "1"
    assert second.run_id == "2", second.explain()
    assert "rebuilt it from the records" in second.output
    metadata(f"local@{runner.root}")
    namespace(None)
    run1, run2 = Run("ParamsRunFlow/1"), Run("ParamsRunFlow/2")
    assert _values(run1) == {"alpha": 1.0, "in_end": 1.0}
    assert _values(run2) == {"alpha": 2.0, "in_end": 2.0}
    assert run1.successful and run2.successful
    assert [r.id for r in Flow("ParamsRunFlow")] == ["2", "1"]
    # the rebuilt run kept what the lost index knew of it
    assert "user:tester" in run1.system_tags
    assert run1["start"].task.successful


def test_a_second_index_over_one_datastore_never_shares_run_ids(
    runner: Runner, tmp_path: Path
) -> None:
    runner.run("params", "--alpha", "1")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    second = runner.run("params", "--alpha", "3", top=("--metadata", other))
    assert second.run_id == "2", second.explain()
    store = MetadataStore.from_url(other)
    assert store.run_ids("ParamsRunFlow") == {"1", "2"}
    metadata(f"local@{runner.root}")
    namespace(None)
    # the default index did not see run 2; a run with it claims 3, after rebuilding
    third = runner.run("params", "--alpha", "4")
    assert third.run_id == "3", third.explain()
    assert Run("ParamsRunFlow/2").data.seen["alpha"] == 3.0
    assert Run("ParamsRunFlow/3").data.seen["alpha"] == 4.0


def test_the_client_rebuilds_a_lost_local_index_from_the_records(runner: Runner) -> None:
    runner.run("params", "--alpha", "5")
    runner.run("params", "--alpha", "6", "--tag", "keep")
    metadata(f"local@{runner.root}")
    namespace(None)
    Run("ParamsRunFlow/2").replace_tags(["keep"], ["kept", "later"])
    for name in ("metadata.db", "metadata.db-wal", "metadata.db-shm"):
        (runner.root / name).unlink(missing_ok=True)
    metadata(f"local@{runner.root}")
    namespace(None)
    runs = list(Flow("ParamsRunFlow"))
    assert [r.id for r in runs] == ["2", "1"]
    assert [r.data.seen["alpha"] for r in runs] == [6.0, 5.0]
    assert runs[0].user_tags == frozenset({"kept", "later"}) and runs[0].successful
    assert Flow("ParamsRunFlow").latest_successful_run.id == "2"


def test_a_rebuilt_index_keeps_the_links_between_tasks(runner: Runner) -> None:
    runner.run("branches")
    for name in ("metadata.db", "metadata.db-wal", "metadata.db-shm"):
        (runner.root / name).unlink(missing_ok=True)
    metadata(f"local@{runner.root}")
    namespace(None)
    (run,) = list(Flow("BranchRunFlow"))
    join = run["join"].task
    assert sorted(t.pathspec.split("/")[2] for t in join.parent_tasks) == ["one", "two"]


def test_a_damaged_blob_is_named_and_the_next_run_that_saves_it_repairs_it(
    runner: Runner,
) -> None:
    import pytest

    from grange.exceptions import DamagedBlobError

    runner.run("params", "--alpha", "1")
    metadata(f"local@{runner.root}")
    namespace(None)
    first = Run("ParamsRunFlow/1")
    sha = first["start"].task["seen"].sha
    blob = runner.root / "ParamsRunFlow" / "data" / sha[:2] / sha
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0x01
    blob.write_bytes(bytes(data))
    with pytest.raises(DamagedBlobError) as info:
        first["start"].task.data.seen  # noqa: B018
    text = info.value.render()
    assert "artifact 'seen' of task ParamsRunFlow/1/start/1" in text and str(blob) in text
    dumped = runner("params", "dump", "1/start")  # the other artifacts are still shown
    assert "seen [size: 135 B, type: dict] = <cannot load: DamagedBlobError" in dumped.stdout
    assert "alpha [size: 53 B, type: float] = 1.0" in dumped.stdout
    # the same value saved again by a later run replaces the damaged blob
    second = runner.run("params", "--alpha", "1")
    assert "was damaged; replaced it" in second.output
    assert Run(f"ParamsRunFlow/{second.run_id}").data.seen["alpha"] == 1.0
    assert first["start"].task.data.seen["alpha"] == 1.0


def test_a_rebuilt_index_links_cloned_tasks_to_their_own_runs_parents(runner: Runner) -> None:
    first = runner.run("branches")
    resumed = runner.resume("branches", "join")
    for name in ("metadata.db", "metadata.db-wal", "metadata.db-shm"):
        (runner.root / name).unlink(missing_ok=True)
    metadata(f"local@{runner.root}")
    namespace(None)
    run = Run(f"BranchRunFlow/{resumed.run_id}")
    one = run["one"].task
    assert one.origin_pathspec and one.origin_pathspec.startswith(f"BranchRunFlow/{first.run_id}/")
    assert [t.pathspec for t in one.parent_tasks] == [run["start"].task.pathspec]


def _lose_index(runner: Runner) -> None:
    for name in ("metadata.db", "metadata.db-wal", "metadata.db-shm"):
        (runner.root / name).unlink(missing_ok=True)


def test_a_run_after_the_index_was_lost_rebuilds_every_flow(runner: Runner) -> None:
    runner.run("branches")
    runner.run("params")
    _lose_index(runner)
    again = runner.run("params")
    assert "was missing; rebuilt it from the records" in again.output
    metadata(f"local@{runner.root}")
    namespace(None)
    assert [r.id for r in Flow("BranchRunFlow")] == ["1"]
    assert [r.id for r in Flow("ParamsRunFlow")] == ["2", "1"]


def test_readers_racing_to_rebuild_a_lost_index_all_see_every_run(runner: Runner) -> None:
    import subprocess
    import sys

    for _ in range(4):
        runner.run("params")
    _lose_index(runner)
    code = "from grange import Flow, namespace; namespace(None); print(Flow('ParamsRunFlow').latest_run.id)"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], env=runner.env(), stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    assert [p.communicate()[0].strip() for p in procs] == ["4"] * 4
    assert not list(runner.root.glob(".metadata.db.rebuild-*"))
