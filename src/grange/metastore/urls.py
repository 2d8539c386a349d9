"""Metadata URLs as a user may see them: the password never shown.

Kept free of SQLAlchemy, so that a message or ``grange db status`` can name a
database without importing it.

    >>> mask_url("postgresql://ada:s3cret@db:5432/grange?sslmode=require")
    'postgresql://ada:***@db:5432/grange?sslmode=require'
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/]*):(?P<pw>[^@/]*)@")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&]*")

POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def mask_url(url: str) -> str:
    """``url`` with any password (``user:PASSWORD@`` or ``?password=``) as ``***``."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url, count=1)
    return _QUERY_PASSWORD.sub(r"\1***", masked)


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database."""
    return url.startswith(POSTGRES_SCHEMES)
