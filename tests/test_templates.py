"""Page templates write their typographic characters as HTML entities.

One non-ASCII character in a page's own text (the en dash in every page's title, say) makes
Python hold the whole rendered page four bytes a character wider and transcode it to UTF-8 at
the end: measured, 4-5% of the organiser list's instructions. Written as ``&ndash;`` the page
stays ASCII whenever its data is, and a browser shows the same character. Emails are plain text
as well as HTML, so their templates keep the characters themselves.
"""
from __future__ import annotations

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
