"""``s3://bucket/prefix`` locations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grange.exceptions import CommandError

SCHEME = "s3://"
# S3's rules for bucket names (3-63 chars, lowercase, digits, dots, hyphens).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Url:
    """A bucket and a key prefix inside it (no leading or trailing ``/``)."""

    bucket: str
    prefix: str = ""

    def key(self, relative: str) -> str:
        """The full key of ``relative`` under the prefix."""
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def join(self, relative: str) -> S3Url:
        """The location ``relative`` below this one."""
        relative = relative.strip("/")
        return S3Url(self.bucket, self.key(relative) if relative else self.prefix)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"


def is_s3_url(text: object) -> bool:
    """Whether ``text`` is a string starting with ``s3://``."""
    return isinstance(text, str) and text.startswith(SCHEME)


def parse_s3_url(text: str, *, what: str = "an S3 location") -> S3Url:
    """``s3://bucket/some/prefix`` as an :class:`S3Url`; a clear error otherwise."""
    if not is_s3_url(text):
        raise CommandError(
            f"{what} must start with s3://, not {text!r}",
            fix="write it as s3://BUCKET/PREFIX",
        )
    bucket, _, prefix = text[len(SCHEME) :].partition("/")
    prefix = prefix.strip("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise CommandError(
            f"{what} {text!r} does not name a valid bucket ({bucket!r})",
            fix="bucket names are 3-63 lowercase letters, digits, dots and hyphens: "
            "s3://my-bucket/prefix",
        )
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise CommandError(
            f"{what} {text!r} has an empty, '.' or '..' part in its prefix",
            fix="write the prefix as plain folder names: s3://bucket/team/grange",
        )
    return S3Url(bucket, prefix)
