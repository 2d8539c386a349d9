"""``grange events publish|list`` as a user types them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from flow_runs import clean_env, python
from grange.events.server import make_app, serve
from grange.events.store import EventStore
from grange.metastore import MetadataStore, sqlite_url

GRANGE = "import sys; from grange.cli.main import main; sys.argv[0] = 'grange'; main()"


def grange(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return python(
        "-c", GRANGE, *args, cwd=folder, env=clean_env(HOME=str(folder), **env), check=False
    )


def test_publish_then_list(tmp_path: Path) -> None:
    empty = grange(tmp_path, "events", "list")
    assert empty.returncode == 2 and "no grange store" in empty.stderr
    assert not (tmp_path / ".grange").exists()
    (tmp_path / "payload.json").write_text('{"rows": 3, "tags": ["a"]}')
    done = grange(
        tmp_path, "events", "publish", "new_data", "--payload", "date=2024-06-01",
        "--payload-file", "payload.json", "--id", "first",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "first" and "Published event new_data to" in done.stderr
    grange(tmp_path, "--quiet", "events", "publish", "other")
    listed = grange(tmp_path, "events", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["TIME", "NAME", "ID", "SOURCE", "USER", "PAYLOAD"]
    assert len(rows) == 2 and rows[0].split()[2] == "other"
    assert '{"date": "2024-06-01", "rows": 3, "tags": ["a"]}' in rows[1]
    as_json = json.loads(grange(tmp_path, "events", "list", "--name", "new_data", "--json").stdout)
    assert [e["id"] for e in as_json] == ["first"] and as_json[0]["source"] == "cli"
    assert as_json[0]["payload"]["rows"] == 3
    none = grange(tmp_path, "events", "list", "--name", "nothing")
    assert none.returncode == 0 and "No events named nothing" in none.stderr


def test_publish_to_a_scheduler_and_list_it(tmp_path: Path) -> None:
    store = EventStore(MetadataStore.from_url(sqlite_url(tmp_path / "scheduler")))
    with serve(make_app(lambda: store, token="tok")) as server:
        url = f"{server.url}/events"
        done = grange(tmp_path, "events", "publish", "x", "--url", url, GRANGE_EVENTS_TOKEN="tok")
        assert done.returncode == 0, done.stderr
        listed = grange(
            tmp_path, "events", "list", "--url", url, "--json", GRANGE_EVENTS_TOKEN="tok"
        )
        refused = grange(tmp_path, "events", "publish", "x", "--url", url)
    assert [e["name"] for e in json.loads(listed.stdout)] == ["x"]
    assert [e.event_id for e in store.list()] == [done.stdout.strip()]
    assert refused.returncode == 2 and "HTTP 401" in refused.stderr
    assert "GRANGE_EVENTS_TOKEN" in refused.stderr and "Traceback" not in refused.stderr


def test_mistakes_are_named(tmp_path: Path) -> None:
    bad = grange(tmp_path, "events", "publish", "x", "--payload", "novalue")
    assert bad.returncode == 2 and "expected KEY=VALUE" in bad.stderr
    (tmp_path / "list.json").write_text("[1]")
    bad = grange(tmp_path, "events", "publish", "x", "--payload-file", "list.json")
    assert bad.returncode == 2 and "not an object" in bad.stderr
    bad = grange(tmp_path, "events", "publish", " x")
    assert bad.returncode == 2 and "invalid event name" in bad.stderr
    config = tmp_path / ".grange" / "config.toml"
    config.parent.mkdir()
    config.write_text("[profiles.p.events]\nurll = 'http://x'\n")
    bad = grange(tmp_path, "--profile", "p", "events", "publish", "x")
    assert bad.returncode == 2 and "did you mean 'url'" in bad.stderr
