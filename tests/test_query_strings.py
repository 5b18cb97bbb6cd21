"""Hostile query strings on every page: never a 500, never echoed unescaped.

Every GET route is opened by an organiser, a facilitator and a delegate (with their personal
links) with each query parameter the app reads (found in its source, so a new one is covered)
set to numbers too big for any column, negative pages, NUL and control characters, markup,
LIKE wildcards, a 400-digit number and an off-site address; then each parameter the route was
seen to read (or every one, if it copies them all into its links) alone.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Request
from werkzeug.datastructures import ImmutableMultiDict

import eventapp
from tests.production.world import ROLES, build_world
from tests.test_security_matrix import build_url, rules, sign_in

A, D, OF, F, O, R = ROLES
MARKER = '<script>alert("query")</script>'
VALUES = ["99999999999999999999", "-1", "0", "abc", "%_", "\x00\r\nX-Injected: 1", "1e309", "NaN", MARKER,
          "9" * 400, "2027-13-45", "//evil.example.org"]
# Each parameter alone too (one bad value may hide behind another's 400 or redirect).
ONE_BY_ONE = ["99999999999999999999", "-1", "abc", "\x00\r\nX-Injected: 1", MARKER]


def parameter_names() -> list[str]:
    """Every name the app reads from request.args, or gets through a filter form bound to it."""
    source = "\n".join(p.read_text() for p in Path(eventapp.__file__).parent.rglob("*.py"))
    names = set(re.findall(r"""\bargs(?:\.get|\.getlist|\.to_dict\(\)\.get)?[\(\[]["']([a-z_]+)["']""", source))
    for form in ("ActionFilterForm", "TrackerFilterForm", "DeskForm"):
        body = re.search(rf"class {form}\(.*?\n(.*?)(?:\n\S|\Z)", source, re.S).group(1)
        names |= set(re.findall(r"^    ([a-z_]+) = ", body, re.M))
    return sorted(names | {"page"})


def test_the_parameter_names_are_found():
    names = parameter_names()
    assert {"q", "page", "status", "organisation", "assembly", "due_from", "overdue", "desks", "desk"} <= set(names), names


EVERY = "*"  # a route that copied every parameter (into its links, say), so may read any of them
_read: set[str] = set()


class _RecordingArgs(ImmutableMultiDict):
    """request.args noting which parameters the app read: by name, or EVERY when it copied them all."""

    def __getitem__(self, key):
        _read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):
        _read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):
        _read.add(key)
        return super().getlist(key, type)

    def __contains__(self, key):
        _read.add(key)
        return super().__contains__(key)

    def _every(self, method, *args, **kwargs):
        _read.add(EVERY)
        return getattr(super(), method)(*args, **kwargs)

    def keys(self):
        return self._every("keys")

    def values(self):
        return self._every("values")

    def items(self, multi=False):
        if multi:
            # How the app's NUL check scans every parameter of every request (eventapp/security.py), the same
            # for every route and met by VALUES; a copy of them into links is items() or to_dict().
            return super().items(multi=True)
        return self._every("items", multi)

    def lists(self):
        return self._every("lists")

    def __iter__(self):
        return self._every("__iter__")

    def to_dict(self, flat=True):
        return self._every("to_dict", flat)

    def copy(self):
        return self._every("copy")


class _RecordingRequest(Request):
    parameter_storage_class = _RecordingArgs


@pytest.mark.parametrize("role", [O, F, D, R])
def test_hostile_query_strings_never_error_and_are_escaped(app, db, role, monkeypatch):
    monkeypatch.setattr(app, "request_class", _RecordingRequest)
    world = build_world()
    client = app.test_client()
    sign_in(client, role, world)
    names = parameter_names()
    problems = []
    seen: set[str] = set()

    def check(url: str, query: dict) -> set[str]:
        """Open url with query; note any problem; return the parameters the route read."""
        _read.clear()
        response = client.get(url, query_string=query)
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        response.close()
        if response.status_code >= 500:
            problems.append(f"{url} {query!r}: {response.status_code}")
        elif MARKER in body:
            problems.append(f"{url} {query!r}: echoed the markup unescaped")
        return set(_read)

    for rule in rules(app):
        if "GET" not in rule.methods:
            continue
        url = build_url(app, rule, world, role)
        read = check(url, {})
        for value in VALUES:
            read |= check(url, {name: value for name in names})
        # Alone, each parameter this route read: one bad value may hide behind another's 400 or redirect. (A
        # request per parameter the route never reads would be the same page each time, and cost most of the test.)
        alone = names if EVERY in read else sorted(read - {EVERY})
        seen.update(alone)
        for name in alone:
            for value in ONE_BY_ONE:
                check(url, {name: value})
    assert not problems, "\n".join(p[:300] for p in problems[:40])
    # The recording works: some route reads a parameter by name (a list's page, say).
    assert seen, "no route was seen to read a parameter: is _RecordingArgs still request.args?"
