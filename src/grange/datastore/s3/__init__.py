"""Amazon S3 (and S3-compatible stores) under grange: where to connect and how.

* :mod:`~grange.datastore.s3.url` parses ``s3://bucket/prefix`` locations;
* :mod:`~grange.datastore.s3.settings` holds what a connection needs
  (endpoint, region, timeouts, retries, concurrency), read from the
  environment when a command starts, never at import;
* :mod:`~grange.datastore.s3.connect` opens one obstore client per bucket per
  process and turns its errors into :class:`~grange.exceptions.StoreAccessError`
  and :class:`~grange.exceptions.BlobNotFound` in the user's terms.

Transfers go through obstore (Rust, async, no GIL held while bytes move);
credentials follow the standard AWS chain and are never written anywhere by
grange. Nothing here is imported unless an ``s3://`` location is used:
``pip install 'grange[s3]'`` brings the libraries.
"""

from grange.datastore.s3.settings import S3Settings
from grange.datastore.s3.url import S3Url, is_s3_url, parse_s3_url

__all__ = ["S3Settings", "S3Url", "is_s3_url", "parse_s3_url"]
