"""Page templates write their typographic characters as HTML entities.

One non-ASCII character in a page's own text (the en dash in every page's title, say) makes
Python hold the whole rendered page four bytes a character wider and transcode it to UTF-8 at
the end: measured, 4-5% of the organiser list's instructions. Written as ``&ndash;`` the page
stays ASCII whenever its data is, and a browser shows the same character. Emails are plain text
as well as HTML, so their templates keep the characters themselves.
"""
from __future__ import annotations

import re
from pathlib import Path

from eventapp.app import resource_dir


def _page_templates() -> list[Path]:
    root = resource_dir("templates")
    return [p for p in sorted(root.rglob("*.html")) if "email" not in p.relative_to(root).parts]


def test_page_templates_are_ascii():
    found = []
    for path in _page_templates():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            wide = sorted({ch for ch in line if ord(ch) > 127})
            if wide:
                found.append(f"{path.name}:{number}: {' '.join(f'U+{ord(ch):04X}' for ch in wide)}")
    assert not found, ("write these as HTML entities (&ndash;), or as \\u escapes inside {{ }}: "
                       + "; ".join(found))


def test_a_page_with_ascii_data_is_sent_as_ascii(client):
    html = client.get("/login").get_data()
    assert html.isascii()
    assert b"<title>Staff sign in &ndash; eventapp</title>" in html


def test_the_num_filter_writes_thousands_with_commas(app):
    import numpy as np

    num = app.jinja_env.filters["num"]
    assert [num(0), num(999), num(1000), num(10_000), num(-1234567), num(np.int64(12345))] == [
        "0", "999", "1,000", "10,000", "-1,234,567", "12,345"]
    assert num(None) == "" and num("n/a") == "n/a"


def test_staff_pages_give_times_in_the_halls_clock_with_its_zone(app):
    from datetime import datetime

    with app.test_request_context():
        clock = app.jinja_env.filters["clock"]
        # 08:30 UTC on 18 October is 09:30 in London (BST); in January it is 08:30 GMT.
        assert clock(datetime(2026, 10, 18, 8, 30)) == "18 Oct 2026 09:30 BST"
        assert clock(datetime(2027, 1, 18, 8, 30), "Europe/London", "%H:%M") == "08:30 GMT"
        assert clock(datetime(2027, 1, 18, 8, 30), "Europe/Paris") == "18 Jan 2027 09:30 CET"
        assert clock(None) == ""


def test_today_is_the_date_in_the_hall_not_on_the_server(monkeypatch):
    from datetime import date, datetime

    from eventapp import timeutil

    # 23:30 UTC on 30 September is 00:30 on 1 October in London (BST).
    monkeypatch.setattr(timeutil, "utcnow", lambda: datetime(2026, 9, 30, 23, 30))
    assert timeutil.local_today() == date(2026, 10, 1)
    assert timeutil.local_today("UTC") == date(2026, 9, 30)


MENU_RE = re.compile(r'<ul class="nav">(.*?)</ul>', re.S)


def _menu(client, path: str) -> str:
    return MENU_RE.search(client.get(path).get_data(as_text=True)).group(1)


def test_each_role_sees_only_its_own_menu_and_sign_out_works_from_it(app, db):
    """The header's menu is built once per role and kept: each role must still get its own, and each
    browser its own sign-out token."""
    from tests.conftest import Auth
    from tests.factories import make_user

    users = {role: make_user(role) for role in ("organiser", "facilitator", "reception")}
    staff_only = ("Organisations", "Users", "Outbox", "Tracker")
    anonymous = app.test_client()
    assert ">Staff sign in</a>" in _menu(anonymous, "/login") and "Sign out" not in _menu(anonymous, "/login")

    menus, tokens = {}, {}
    for role, user in users.items():
        browser = app.test_client()
        Auth(browser).login(user.email)
        menus[role] = _menu(browser, "/account/password")
        tokens[role] = re.search(r'name="csrf_token" value="([^"]+)"', menus[role]).group(1)
        # The menu's own Sign out form signs this browser out.
        assert browser.post("/logout", data={"csrf_token": tokens[role]}).status_code == 302
        assert browser.get("/account/password").status_code == 302
    assert all(f">{label}</a>" in menus["organiser"] for label in staff_only + ("My workshops",))
    assert not any(f">{label}</a>" in menus["facilitator"] for label in staff_only + ("Check-in",))
    assert ">My workshops</a>" in menus["facilitator"]
    assert ">Check-in</a>" in menus["reception"] and ">My workshops</a>" not in menus["reception"]
    assert all(">Password</a>" in m and "Staff sign in" not in m for m in menus.values())
    assert len(set(tokens.values())) == 3
    # Signed out again, the same browser gets the signed-out menu back.
    assert ">Staff sign in</a>" in _menu(anonymous, "/login")


def test_every_html_email_isolates_the_names_and_titles_people_typed():
    # A right-to-left name in a left-to-right sentence takes the punctuation beside it along
    # ("Dear <name>," shows the comma on the name's left) unless it is isolated in <bdi>.
    root = resource_dir("templates")
    typed = re.compile(r"\{\{ (to_name|[\w.]*\.(?:title|name|venue_name|venue_address|full_name))\b")
    bare = []
    for path in sorted(root.glob("email/*/body.html")) + sorted(root.glob("invites/_*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            bare += [f"{path.relative_to(root)}:{number}: {m.group(1)}" for m in typed.finditer(line)
                     if not line[:m.start()].endswith(("<bdi>", "<title>"))]  # a <title> holds text only
    assert not bare, "wrap in <bdi>: " + "; ".join(bare)
