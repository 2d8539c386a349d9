"""What an error from PostgreSQL means for the user, with the URL (password masked) and the fix.

psycopg reports a refused connection with the server's text and no SQLSTATE
("FATAL: password authentication failed for user ..."), and a failed
statement with a SQLSTATE; SQLAlchemy wraps both in a ``DBAPIError`` whose
traceback says nothing useful to a user. :func:`translate` turns them into the
:class:`~grange.exceptions.GrangeError` that says what is wrong and how to
fix it, or returns ``None`` for errors that are grange's own bugs (to be
raised as they are). Serialization failures and deadlocks are not errors for
the user: :mod:`grange.metastore.retry` runs the transaction again.
"""

from __future__ import annotations

from grange.exceptions import GrangeError, MetadataError, StoreReadOnlyError
from grange.metastore.urls import mask_url

RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_READ_ONLY = frozenset({"25006", "42501"})  # read_only_sql_transaction, insufficient_privilege
_LOST = ("server closed the connection", "terminating connection", "connection is closed",
         "consuming input failed", "connection not open", "ssl syscall error", "eof detected")  # fmt: skip
_UNREACHABLE = ("connection refused", "could not translate host name", "name or service not known",
                "no route to host", "network is unreachable", "timeout expired",
                "temporary failure in name resolution", "could not connect", "connection timed out")  # fmt: skip


def sqlstate(err: BaseException) -> str | None:
    """The SQLSTATE of a psycopg error (wrapped by SQLAlchemy or not), if it has one."""
    orig = getattr(err, "orig", err)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def detail(err: BaseException) -> str:
    """The driver's message without psycopg's "connection failed: connection to ... failed:"."""
    text = str(getattr(err, "orig", err) or err).strip()
    for marker in ("FATAL:", "ERROR:"):
        if marker in text:
            text = text.split(marker, 1)[1]
    if text.startswith("connection failed:") and " failed: " in text:
        text = text.rsplit(" failed: ", 1)[1]
    first = text.strip().splitlines()[0] if text.strip() else text  # libpq adds a hint line
    return " ".join(first.split())


def translate(err: BaseException, url: str, *, doing: str = "use") -> GrangeError | None:
    """The error to raise for ``err``, met trying to ``doing`` the database at ``url``."""
    where = mask_url(url)
    state = sqlstate(err)
    said = detail(err)
    text = said.lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return MetadataError(
            f"cannot connect to the metadata database {where}: the server refused the "
            f"password ({said})",
            fix="check the user and password in the URL (postgresql://USER:PASSWORD@host/db), "
            "or in PGPASSWORD / ~/.pgpass",
        )
    if "role" in text and "does not exist" in text:
        return MetadataError(
            f"cannot connect to the metadata database {where}: {said}",
            fix="use an existing user in the URL, or create it: CREATE ROLE name LOGIN PASSWORD '...'",
        )
    if "database" in text and "does not exist" in text:
        return MetadataError(
            f"cannot connect to the metadata database {where}: {said}",
            fix="create it (createdb NAME, or CREATE DATABASE name) or fix the name in the URL; "
            "grange creates its tables in an empty database",
        )
    if "pg_hba.conf" in text:
        return MetadataError(
            f"the server of the metadata database {where} does not accept connections from "
            f"here: {said}",
            fix="ask its administrator to allow this host and user in pg_hba.conf "
            "(or add ?sslmode=require if it accepts only SSL connections)",
        )
    if state == "53300" or "too many clients" in text or "too many connections" in text:
        return MetadataError(
            f"the metadata database {where} has no connection left: {said}",
            fix="lower GRANGE_METADATA_POOL_SIZE / GRANGE_METADATA_MAX_OVERFLOW (or ?pool_size=), "
            "raise the server's max_connections, or put PgBouncer in front of it",
        )
    if state in _READ_ONLY:
        return StoreReadOnlyError(
            f"cannot {doing} the metadata database {where}: it can be read but not written "
            f"with this user or server ({said})",
            fix="use a user allowed to write (GRANT INSERT, UPDATE, DELETE ON ALL TABLES IN "
            "SCHEMA ... TO it) and the primary server, not a read replica",
        )
    if any(s in text for s in _UNREACHABLE):
        return MetadataError(
            f"cannot connect to the metadata database {where}: {said}",
            fix="check the host and port in the URL, that the server runs and that it is "
            "reachable from here (firewall, VPN); connect_timeout in the URL or "
            "GRANGE_METADATA_CONNECT_TIMEOUT sets how long to wait",
        )
    if any(s in text for s in _LOST) or (state or "").startswith(("08", "57P")):
        return MetadataError(
            f"lost the connection to the metadata database {where} ({said})",
            fix="check that the server runs and is reachable, then run the command again "
            "('resume' continues a run that stopped here)",
        )
    return None


def pool_timeout_error(url: str, err: BaseException) -> MetadataError:
    """Every connection of this process's pool stayed in use for ``pool_timeout``."""
    return MetadataError(
        f"no free connection to the metadata database {mask_url(url)} in this process ({err})",
        fix="raise GRANGE_METADATA_POOL_SIZE or GRANGE_METADATA_MAX_OVERFLOW "
        "(or ?pool_size= / ?max_overflow= in the URL)",
    )
