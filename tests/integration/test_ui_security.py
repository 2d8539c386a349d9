"""grange ui under attack: hosts, paths, tokens, writes, headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flow_runs import run_flow
from grange.client.config import Stores
from grange.exceptions import ConfigError
from grange.ui.guard import COOKIE, csrf_token
from grange.ui.settings import UiSettings, read_settings
from ui_support import UI_FLOWS, browser, raw_get, raw_head, stores_at, ui_server

TOKEN = "a-token-long-enough-for-the-rule"


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    root = tmp_path_factory.mktemp("uisec") / ".grange"
    (root.parent / "secret.txt").write_text("do not serve me")
    run_flow(UI_FLOWS / "hostile_flow.py", root=root, user="ada")
    yield stores_at(root)


TRAVERSALS = [
    b"/flows/..%2f..%2fsecret.txt",
    b"/flows/%2e%2e/%2e%2e/secret.txt",
    b"/flows/UiHostileFlow/runs/../../../secret.txt",
    b"/flows/UiHostileFlow/runs/1/steps/start/tasks/..%2F..%2F..",
    b"/api/logs/UiHostileFlow/1/start/1/..%2fstdout",
    b"/api/logs/UiHostileFlow/1/start/1/%2Fetc%2Fpasswd",
    b"/download/UiHostileFlow/1/start/1/%00note",
    b"/download/UiHostileFlow/1/start/1/..",
    b"/cards/UiHostileFlow/1/start/1/..%5c..%5csecret.txt",
    b"/cards/UiHostileFlow/1/start/1/0-default?attempt=../../x",
    b"/static/../../secret.txt",
    b"/static/%2e%2e/%2e%2e/secret.txt",
    b"//etc/passwd",
    b"/flows/UiHostileFlow/runs/1/steps/start/tasks/1?attempt=-1",
    b"/api/logs/UiHostileFlow/1/start/1/stdin",
]


def test_no_path_reaches_outside_the_store(stores: Stores) -> None:
    with ui_server(stores) as ui:
        for target in TRAVERSALS:
            status, body = raw_get(ui.port, target)
            assert status in (400, 404), (target, status)
            assert b"do not serve me" not in body and b"root:" not in body


def test_dns_rebinding_hosts_are_refused_on_loopback(stores: Stores) -> None:
    with ui_server(stores) as ui:
        port = str(ui.port).encode()
        assert raw_get(ui.port, b"/", b"evil.example:" + port)[0] == 400
        assert raw_get(ui.port, b"/", b"127.0.0.1:1")[0] == 400
        assert raw_get(ui.port, b"/", b"")[0] == 400
        for good in (b"127.0.0.1:", b"localhost:", b"[::1]:"):
            assert raw_get(ui.port, b"/", good + port)[0] == 200


def test_every_request_needs_the_token_once_set(stores: Stores) -> None:
    with ui_server(stores, token=TOKEN) as ui, browser(ui) as client:
        assert client.get("/").status_code == 401
        assert client.get("/api/flows").status_code == 401
        assert client.get("/static/ui.js").status_code == 401
        assert client.get("/", params={"token": TOKEN + "x"}).status_code == 401
        assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        first = client.get("/flows/UiHostileFlow", params={"token": TOKEN, "user": "ada"})
        assert first.status_code == 303
        assert first.headers["location"] == "/flows/UiHostileFlow?user=ada"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={TOKEN};") and "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert client.get("/flows/UiHostileFlow").status_code == 200  # the cookie, from now on
        assert client.get("/api/flows").status_code == 200


def test_off_loopback_without_a_token_refuses_to_start() -> None:
    with pytest.raises(ConfigError) as refused:
        UiSettings(host="0.0.0.0").check()
    assert "--token generate" in (refused.value.fix or "")
    settings, generated = read_settings({}, {}, host="0.0.0.0", token="generate")
    assert generated and settings.token and len(settings.token) >= 16
    with pytest.raises(ConfigError):
        read_settings({}, {}, token="short")
    assert read_settings({"token": "${T}"}, {"T": TOKEN})[0].token == TOKEN


def test_writes_need_the_profile_the_token_and_this_origin(stores: Stores) -> None:
    run = "/flows/UiHostileFlow/runs/1"
    form = {"action": "add", "tag": "<b>approved</b>", "csrf": csrf_token(TOKEN)}
    with (
        ui_server(stores, token=TOKEN) as ui,
        browser(ui, headers={"Authorization": f"Bearer {TOKEN}"}) as client,
    ):
        assert client.post(f"{run}/tags", data=form).status_code == 403  # writes not allowed
        assert 'data-testid="tag-form"' not in client.get(run).text
    with ui_server(stores, allow_writes=True) as ui, browser(ui) as client:
        assert client.post(f"{run}/tags", data=form).status_code == 403  # no token: no writes
    with ui_server(stores, token=TOKEN, allow_writes=True) as ui:
        with browser(ui) as client:
            client.get("/", params={"token": TOKEN})  # a browser, with the cookie
            page = client.get(run).text
            assert 'data-testid="tag-form"' in page
            assert client.post(f"{run}/tags", data={**form, "csrf": "forged"}).status_code == 403
            evil = {"Origin": "http://evil.example"}
            assert client.post(f"{run}/tags", data=form, headers=evil).status_code == 403
            done = client.post(f"{run}/tags", data=form, headers={"Origin": ui.url.rstrip("/")})
            assert done.status_code == 303
            page = client.get(run).text
            assert "&lt;b&gt;approved&lt;/b&gt;" in page and "<b>approved" not in page
            removed = client.post(f"{run}/tags", data={**form, "action": "remove"})
            assert removed.status_code == 303
        assert (
            "&lt;b&gt;approved"
            not in httpx.get(
                ui.url + run.lstrip("/"), headers={"Authorization": f"Bearer {TOKEN}"}
            ).text
        )


def test_pages_and_cards_carry_their_security_headers(stores: Stores) -> None:
    with ui_server(stores) as ui, browser(ui) as client:
        page = client.get("/")
        card = client.get("/cards/UiHostileFlow/1/end/6/0-default")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in re.search(r"script-src[^;]*", csp).group(0)  # type: ignore[union-attr]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert card.headers["content-security-policy"].startswith("sandbox allow-scripts;")
    assert "default-src 'none'" in card.headers["content-security-policy"]
    assert card.headers["x-content-type-options"] == "nosniff"


def test_a_preview_never_runs_code_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("UI_MARKER", str(marker))
    root = tmp_path / ".grange"
    run_flow(UI_FLOWS / "pickled_flow.py", root=root, user="ada")
    task = "UiPickledFlow/1/start/1"
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        evil = client.get(f"/preview/{task}/evil")
        assert "no preview in the UI for" in evil.text and "never runs code" in evil.text
        assert not marker.exists()
        assert client.get(f"/download/{task}/evil").status_code == 200
        assert not marker.exists()
        frame = client.get(f"/preview/{task}/frame").text
        assert "never runs code" not in frame and "x" in frame
        assert "never runs code" not in client.get(f"/preview/{task}/array").text
        assert "never runs code" not in client.get(f"/preview/{task}/plain").text


def test_only_cards_and_this_servers_previews_are_served_into_frames(stores: Stores) -> None:
    task = "UiHostileFlow/1/start/1"
    framed = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "cross-site"}
    with ui_server(stores) as ui, browser(ui) as client:
        assert (
            client.get("/cards/UiHostileFlow/1/end/6/0-default", headers=framed).status_code != 403
        )
        for where in ("/", f"/preview/{task}/note", f"/download/{task}/note", "/api/flows"):
            assert client.get(where, headers=framed).status_code == 403, where
            assert (
                client.get(where, headers={**framed, "Sec-Fetch-Dest": "frame"}).status_code == 403
            )
        own = {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Site": "same-origin"}
        assert client.get(f"/preview/{task}/note", headers=own).status_code == 200
        assert client.get(f"/download/{task}/note", headers=own).status_code == 403


def test_odd_numbers_in_queries_are_400_not_500(stores: Stores) -> None:
    step = "/flows/UiHostileFlow/runs/1/steps/start"
    with ui_server(stores) as ui, browser(ui) as client:
        for bad in ("%C2%B2", "1" * 5000, "-1", "x"):
            assert client.get(f"{step}?page={bad}").status_code == 400, bad
            assert client.get(f"{step}/tasks/1?attempt={bad}").status_code == 400, bad
            logs = f"/api/logs/UiHostileFlow/1/start/1/stdout?start={bad}"
            assert client.get(logs).status_code == 400, bad
        assert client.get("/api/flows/UiHostileFlow/runs?status=nope").status_code == 400


def test_the_token_redirect_stays_on_this_server_and_is_ascii(stores: Stores) -> None:
    with ui_server(stores, token=TOKEN) as ui:
        status, head = raw_head(ui.port, b"//evil.example/?token=" + TOKEN.encode())
        assert status == 303 and b"\r\nlocation: /evil.example/\r\n" in head.lower()
        status, head = raw_head(ui.port, b"/flows/%C3%A9?token=" + TOKEN.encode())
        assert status == 303 and b"location: /flows/%c3%a9\r\n" in head.lower()


def test_a_wrong_bearer_with_a_good_cookie_still_needs_the_csrf_field(stores: Stores) -> None:
    run = "/flows/UiHostileFlow/runs/1"
    with ui_server(stores, token=TOKEN, allow_writes=True) as ui, browser(ui) as client:
        client.get("/", params={"token": TOKEN})
        junk = {"Authorization": "Bearer junk"}
        refused = client.post(f"{run}/tags", data={"action": "add", "tag": "x"}, headers=junk)
        assert refused.status_code == 403


def test_info_tells_the_store_apart_without_the_token(stores: Stores, tmp_path: Path) -> None:
    with ui_server(stores, token=TOKEN) as ui, browser(ui) as client:
        anonymous = client.get("/api/info").json()
        assert set(anonymous) == {"grange", "fingerprint"}
        assert TOKEN not in client.get("/api/info").text
        full = client.get("/api/info", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert full["fingerprint"] == anonymous["fingerprint"] and "store" in full
    with ui_server(stores_at(tmp_path / ".grange")) as other, browser(other) as client:
        assert client.get("/api/info").json()["fingerprint"] != anonymous["fingerprint"]


def test_an_artifact_whose_name_is_no_identifier_has_working_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import html

    monkeypatch.setenv("UI_MARKER", str(tmp_path / "ran"))
    root = tmp_path / ".grange"
    run_flow(UI_FLOWS / "pickled_flow.py", root=root, user="ada")
    with ui_server(stores_at(root)) as ui, browser(ui) as client:
        page = client.get("/flows/UiPickledFlow/runs/1/steps/start/tasks/1").text
        links = re.findall(r'href="(/download/[^"]+)"', page)
        odd = [html.unescape(link) for link in links if "/-?" in link]
        assert len(odd) == 1, links
        assert client.get(odd[0]).status_code == 200
        preview = client.get(odd[0].replace("/download/", "/preview/", 1))
        assert preview.status_code == 200 and "2" in preview.text
        assert client.get("/download/UiPickledFlow/1/start/1/-?name=nope").status_code == 404
