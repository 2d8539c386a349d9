"""The shared checks of free profile tables ([events], [ui], [kubernetes], [argo])."""

from __future__ import annotations

import pytest

from grange.config.tables import check_keys, flag, read_table, string, strings
from grange.exceptions import ConfigError

KNOWN = {"host": "h", "allow_writes": "w", "allowed_hosts": "a"}


def test_every_table_says_the_same_thing_the_same_way() -> None:
    with pytest.raises(ConfigError) as caught:
        check_keys("ui", {"hots": "x"}, KNOWN)
    assert caught.value.message == "[ui] hots: is not a known key"
    assert (caught.value.fix or "").startswith("did you mean 'host'? keys of [ui]: ")
    values = read_table("ui", {"host": "${H}", "allow_writes": "yes"}, KNOWN, {"H": "a"})
    assert string(values, "ui", "host") == "a"
    with pytest.raises(ConfigError) as caught:
        flag(values, "ui", "allow_writes", False)
    assert caught.value.message == "[ui] allow_writes: must be true or false, not 'yes'"
    assert caught.value.fix == "write allow_writes = true (or false) in the profile's [ui] table"
    assert strings({}, "ui", "allowed_hosts") == []
    with pytest.raises(ConfigError, match=r"\[ui\] allowed_hosts: must be a list of names"):
        strings({"allowed_hosts": [""]}, "ui", "allowed_hosts", what="names")
    with pytest.raises(ConfigError, match="must be a string, not int"):
        string({"host": 3}, "ui", "host")
    with pytest.raises(ConfigError, match=r"\[ui\] host uses \$\{H\}, but H is not set"):
        read_table("ui", {"host": "${H}"}, KNOWN, {})
