"""PostgreSQL as a team's metadata index, on a real server: schema upgrades on purpose,
runs that wrote only records indexed by ``grange db sync`` and by readers, a reader
that may not write, retries under serializable isolation, and each way of failing
to connect named with its fix.

The module works in a database of its own (created, then dropped), each test in a
schema of it; ``.ci/run`` starts the server and sets ``GRANGE_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from grange import Flow, Run, metadata
from grange.exceptions import MetadataError, ObjectNotFound
from grange.metastore import MetadataStore, migrations, retry
from grange.metastore.engine import dispose_all, normalize_url
from pgdb import fresh_database, needs_postgres
from pgfake import fake_postgres
from support import Runner, postgres_schema

pytestmark = needs_postgres

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"
FLOW = "LinearRunFlow"


@pytest.fixture(scope="module")
def team_db() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture
def pg_url(team_db: str) -> Iterator[str]:
    """A schema of its own in the module's database."""
    yield from postgres_schema(team_db)


def grange(runner: Runner, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", GRANGE, *args],
        cwd=runner.cwd,
        env=runner.env(**env),
        capture_output=True,
        text=True,
        check=False,
    )


def _downgrade_to_1(url: str) -> None:
    """Make the database look as grange 1's schema left it (before migration 2)."""
    MetadataStore.from_url(url)
    engine = sa.create_engine(normalize_url(url))
    with engine.begin() as connection:
        for column in ("runtime_host", "runtime_pid", "runtime_started"):
            connection.exec_driver_sql(f"ALTER TABLE runs DROP COLUMN {column}")
        for table in (
            "events", "deployments", "scheduler_state", "deployment_runs", "scheduler_leases"
        ):  # fmt: skip
            connection.exec_driver_sql(f"DROP TABLE {table}")
        connection.exec_driver_sql("UPDATE schema_version SET version = 1")
    engine.dispose()
    dispose_all()


def test_an_older_database_is_refused_until_upgraded_once(runner: Runner) -> None:
    with fresh_database() as url:
        _downgrade_to_1(url)
        with pytest.raises(MetadataError, match="at schema version 1; this grange needs") as err:
            MetadataStore.from_url(url)
        assert "grange db upgrade" in (err.value.fix or "")
        refused = runner.run("linear", top=("--metadata", url), ok=False)
        assert refused.returncode == 2 and "grange db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
        status = grange(runner, "db", "status", GRANGE_METADATA=url)
        assert "1; this grange needs 3: run 'grange db upgrade' once" in status.stdout
        # four teammates upgrade at once: they queue on the lock, one does the work
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", GRANGE, "db", "upgrade", "--metadata", url],
                cwd=runner.cwd,
                env=runner.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        outputs = [p.communicate() for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
        done = [out for out, _ in outputs if "applied migration 2" in out]
        assert len(done) == 1 and "from schema version 1 to 3" in done[0]
        assert "applied migration 3: events and the local scheduler" in done[0]
        assert sum("is up to date (schema version 3)" in out for out, _ in outputs) == 3
        engine = sa.create_engine(normalize_url(url))
        assert migrations.schema_version(engine) == 3
        engine.dispose()
        runner.run("linear", top=("--metadata", url))


def test_runs_that_wrote_only_records_are_indexed_by_sync_and_by_readers(
    runner: Runner, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = runner.run("linear", top=("--metadata", pg_url))
    # two runs whose runtime indexed them elsewhere: the team's index has only records
    lost = [runner.run("linear", top=("--metadata", "local")).run_id for _ in range(2)]
    synced = grange(runner, "db", "sync", "--flow", FLOW, "--metadata", pg_url)
    assert synced.returncode == 0, synced.stderr
    assert [f"  added {FLOW}/{r}" for r in lost] == synced.stdout.splitlines()[:2]
    again = grange(runner, "db", "sync", GRANGE_METADATA=pg_url)
    assert "the index was up to date" in again.stdout
    # a reader indexes what it finds: the newest run, then one asked for by name
    later = runner.run("linear", top=("--metadata", "local")).run_id
    monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(runner.root))
    metadata(pg_url)
    flow = Flow(FLOW)
    assert flow.latest_run is not None and flow.latest_run.id == later
    assert [r.id for r in flow.runs()] == [later, *reversed(lost), first.run_id]
    last = runner.run("linear", top=("--metadata", "local")).run_id
    run = Run(f"{FLOW}/{last}")  # this flow was compared already: the lookup finds it
    assert run.successful and run.data.counter == 20
    assert run["end"].task.data.counter == 20
    status = grange(runner, "db", "status", GRANGE_METADATA=pg_url)
    assert "Runs             5 in 1 flow(s)" in status.stdout
    assert "Connection pool  size 5" in status.stdout


def test_a_reader_that_may_not_write_the_index_says_so(
    runner: Runner, pg_url: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    indexed = runner.run("linear", top=("--metadata", pg_url)).run_id
    lost = runner.run("linear", top=("--metadata", "local")).run_id
    role = f"grange_reader_{uuid.uuid4().hex[:8]}"
    url = sa.make_url(pg_url)
    schema = str(url.query["options"]).split("=")[-1]
    admin = sa.create_engine(normalize_url(pg_url))
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        connection.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        connection.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    try:
        reader = url.set(username=role).render_as_string(hide_password=False)
        monkeypatch.setenv("GRANGE_DATASTORE_ROOT", str(runner.root))
        metadata(reader)
        assert [r.id for r in Flow(FLOW).runs()] == [indexed]
        said = capfd.readouterr().err
        assert f"1 run(s) of {FLOW} are in the datastore but not in the metadata index" in said
        assert f"grange db sync --flow {FLOW}" in said
        with pytest.raises(ObjectNotFound, match="which cannot be written from here") as caught:
            Run(f"{FLOW}/{lost}")
        assert f"grange db sync --flow {FLOW}" in caught.value.render()
        dispose_all()
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            connection.exec_driver_sql(f'REVOKE USAGE ON SCHEMA "{schema}" FROM {role}')
            connection.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def test_rebuild_fills_a_postgresql_index(runner: Runner, pg_url: str) -> None:
    runner.run("linear", top=("--metadata", "local"))
    done = grange(runner, "db", "rebuild", "--metadata", pg_url)
    assert done.returncode == 0, done.stderr
    assert "added 1 run(s)" in done.stdout and "***" not in pg_url
    fresh = grange(runner, "db", "rebuild", "--fresh", "--metadata", pg_url)
    assert fresh.returncode == 2 and "--fresh replaces the local metadata.db only" in fresh.stderr


def test_serialization_failures_are_run_again(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a server whose transactions are serializable, writers of one flow's counter
    conflict; each conflict is run again, and every run gets its own id."""
    url = sa.make_url(pg_url)
    options = f"{url.query['options']} -c default_transaction_isolation=serializable"
    strict = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    store = MetadataStore.from_url(strict)
    pauses: list[int] = []
    real_pause = retry.pause
    monkeypatch.setattr(retry, "pause", lambda tries: pauses.append(tries) or real_pause(tries))
    ids: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer() -> None:
        try:
            start.wait()
            for _ in range(5):
                ids.append(store.new_run("BusyFlow", user="ada", system_tags=["user:ada"]))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(ids, key=int) == [str(n) for n in range(1, 41)]
    assert pauses, "no transaction was aborted: the test did not load the server"
    dispose_all()


@pytest.mark.parametrize("case", ["password", "silent", "refused", "no-database", "no-driver"])
def test_failing_to_connect_names_the_url_and_the_fix(
    runner: Runner, team_db: str, case: str
) -> None:
    server = sa.make_url(team_db)
    with fake_postgres("silent" if case == "silent" else "password") as fake:
        urls = {
            "password": f"postgresql://ada:hunter2@127.0.0.1:{fake}/team",
            "silent": f"postgresql://ada:hunter2@127.0.0.1:{fake}/team?connect_timeout=1",
            "refused": f"postgresql://ada:hunter2@127.0.0.1:{_closed_port()}/team",
            "no-database": server.set(password="hunter2", database="no_such_db").render_as_string(
                hide_password=False
            ),
            "no-driver": f"postgresql://ada:hunter2@127.0.0.1:{fake}/team",
        }
        code = GRANGE
        if case == "no-driver":
            code = "import sys; sys.modules['psycopg'] = None; " + GRANGE
        done = subprocess.run(
            [sys.executable, "-c", code, "db", "status", "--metadata", urls[case]],
            cwd=runner.cwd,
            env=runner.env(),
            capture_output=True,
            text=True,
            check=False,
        )
    expected = {
        "password": ("the server refused the password", "PGPASSWORD"),
        "silent": ("timeout expired", "connect_timeout"),
        "refused": ("Connection refused", "that the server runs"),
        "no-database": ('database "no_such_db" does not exist', "createdb"),
        "no-driver": ("the PostgreSQL driver is not installed", "pip install 'grange[postgres]'"),
    }[case]
    assert done.returncode == 2, done.stderr
    assert expected[0] in done.stderr and expected[1] in done.stderr, done.stderr
    assert ":***@" in done.stderr and "hunter2" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readers_indexing_the_same_runs_at_once_index_each_once(
    pg_url: str, tmp_path: Path
) -> None:
    from grange.datastore import LocalBlobStore
    from grange.reindex import index_missing_runs

    sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
    from test_reindex import FLOW as TRAIN
    from test_reindex import _a_run

    blobs = LocalBlobStore(tmp_path / ".grange")
    for number in range(1, 11):
        _a_run(blobs, str(number))
    store = MetadataStore.from_url(pg_url)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            start.wait()
            index_missing_runs(blobs, store, TRAIN)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.run_ids(TRAIN) == {str(n) for n in range(1, 11)}
    for number in range(1, 11):
        assert len(store.list_tasks(TRAIN, str(number))) == 4
    dispose_all()
