"""PostgreSQL as a team's index, the parts that need no server: pool settings from the
URL or the environment, URLs shown without their password, errors in the user's terms,
transactions run again when the server aborts them under load."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grange.exceptions import ConfigError, MetadataError, StoreReadOnlyError
from grange.metastore import retry
from grange.metastore.engine import dispose_all, get_engine, pool_of
from grange.metastore.pg_errors import translate
from grange.metastore.pool import PoolSettings, pool_settings
from grange.metastore.urls import mask_url

URL = "postgresql://ada:s3cret@db.example.com:5432/grange"


def test_pool_settings_come_from_the_url_then_the_environment() -> None:
    url = sa.make_url(URL + "?pool_size=3&sslmode=require&pool_pre_ping=off")
    env = {"GRANGE_METADATA_POOL_SIZE": "7", "GRANGE_METADATA_MAX_OVERFLOW": "2"}
    clean, settings = pool_settings(url, env)
    assert settings == PoolSettings(pool_size=3, max_overflow=2, pool_pre_ping=False)
    # grange's own parameters never reach the driver; the others do, as given
    assert dict(clean.query) == {
        "sslmode": "require",
        "connect_timeout": "10",
        "application_name": "grange",
    }
    _, defaults = pool_settings(sa.make_url(URL + "?application_name=etl"), {})
    assert defaults == PoolSettings()


@pytest.mark.parametrize(
    ("query", "env", "named"),
    [
        ("?pool_size=lots", {}, "'pool_size' in postgresql://ada:***@"),
        ("", {"GRANGE_METADATA_POOL_RECYCLE": "-1"}, "GRANGE_METADATA_POOL_RECYCLE"),
        ("?pool_pre_ping=maybe", {}, "not true or false"),
    ],
)
def test_a_bad_pool_setting_is_named(query: str, env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match="is '") as caught:
        pool_settings(sa.make_url(URL + query), env, shown=mask_url(URL))
    assert named in caught.value.message
    assert "s3cret" not in caught.value.render()


def test_an_engine_is_pooled_as_its_url_says() -> None:
    pytest.importorskip("psycopg")
    engine = get_engine(URL + "?pool_size=2&max_overflow=1&pool_recycle=60")
    try:
        assert engine.pool.size() == 2  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 1  # type: ignore[attr-defined]
        assert engine.pool._recycle == 60  # type: ignore[attr-defined]
        assert engine.pool._pre_ping
        settings = pool_of(engine)
        assert settings is not None and "size 2" in settings.describe()
    finally:
        dispose_all()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "postgresql://ada:***@db.example.com:5432/grange"),
        ("postgres://ada@db/x?password=pw&sslmode=require", "postgres://ada@db/x?password=***&sslmode=require"),
        ("postgresql://db/x", "postgresql://db/x"),
        ("sqlite:////tmp/a:b@c/metadata.db", "sqlite:////tmp/a:b@c/metadata.db"),
    ],
)  # fmt: skip
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert mask_url(url) == shown


class _DriverError(Exception):
    def __init__(self, text: str, sqlstate: str | None = None) -> None:
        super().__init__(text)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("text", "state", "says", "fix"),
    [
        ('connection failed: connection to server at "10.0.0.1", port 5432 failed: FATAL:  '
         'password authentication failed for user "ada"', None, "refused the password", "PGPASSWORD"),
        ('connection failed: connection to server at "db", port 5432 failed: FATAL:  database '
         '"grange" does not exist', None, 'database "grange" does not exist', "createdb"),
        ("connection failed: could not translate host name \"db\" to address", None,
         "could not translate host name", "reachable from here"),
        ("sorry, too many clients already", "53300", "no connection left", "POOL_SIZE"),
        ("permission denied for table runs", "42501", "can be read but not written", "GRANT"),
        ("cannot execute INSERT in a read-only transaction", "25006", "read but not", "replica"),
        ("server closed the connection unexpectedly", None, "lost the connection", "resume"),
    ],
)  # fmt: skip
def test_driver_errors_become_messages_with_the_fix(
    text: str, state: str | None, says: str, fix: str
) -> None:
    err = translate(_DriverError(text, state), URL, doing="write to")
    assert err is not None
    assert says in err.message and fix in (err.fix or "")
    assert "postgresql://ada:***@db.example.com:5432/grange" in err.message
    assert "s3cret" not in err.render()
    assert isinstance(err, StoreReadOnlyError) == (state in ("42501", "25006"))


def test_an_error_of_grange_itself_is_not_translated() -> None:
    assert translate(_DriverError('syntax error at or near "SELEC"', "42601"), URL) is None


def test_an_aborted_transaction_runs_again_then_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "pause", lambda tries: 0.0)
    calls: list[int] = []

    @retry.retrying
    def transaction(fail_times: int) -> str:
        calls.append(1)
        if len(calls) <= fail_times:
            raise retry.RetryTransaction("deadlock detected", "postgresql://ada:***@db/x")
        return "done"

    assert transaction(3) == "done" and len(calls) == 4
    calls.clear()
    with pytest.raises(MetadataError, match="aborted the same transaction 8 times") as caught:
        transaction(100)
    assert len(calls) == retry.MAX_TRIES and "deadlock detected" in caught.value.message


def test_pauses_grow_and_stay_bounded() -> None:
    assert all(0 <= retry.pause(n) <= min(1.0, 0.01 * 2**n) for n in range(1, 20))
