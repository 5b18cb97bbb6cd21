"""Hostile query strings on every page: never a 500, never echoed unescaped.

Every GET route is opened by an organiser, a facilitator and a delegate (with their personal
links) with each query parameter the app reads (found in its source, so a new one is covered)
set to numbers too big for any column, negative pages, NUL and control characters, markup,
LIKE wildcards, a 400-digit number and an off-site address.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

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
    names = set(re.findall(r"""args(?:\.get|\.getlist|\.to_dict\(\)\.get)?[\(\[]["']([a-z_]+)["']""", source))
    for form in ("ActionFilterForm", "TrackerFilterForm", "DeskForm"):
        body = re.search(rf"class {form}\(.*?\n(.*?)(?:\n\S|\Z)", source, re.S).group(1)
        names |= set(re.findall(r"^    ([a-z_]+) = ", body, re.M))
    return sorted(names | {"page"})


def test_the_parameter_names_are_found():
    names = parameter_names()
    assert {"q", "page", "status", "organisation", "assembly", "due_from", "overdue", "desks", "desk"} <= set(names), names


@pytest.mark.parametrize("role", [O, F, D, R])
def test_hostile_query_strings_never_error_and_are_escaped(app, db, role):
    world = build_world()
    client = app.test_client()
    sign_in(client, role, world)
    names = parameter_names()
    problems = []
    for rule in rules(app):
        if "GET" not in rule.methods:
            continue
        url = build_url(app, rule, world, role)
        cases = [{name: value for name in names} for value in VALUES]
        cases += [{name: value} for name in names for value in ONE_BY_ONE]
        for query in cases:
            response = client.get(url, query_string=query)
            body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
            response.close()
            if response.status_code >= 500:
                problems.append(f"{rule.endpoint} {query!r}: {response.status_code}")
            elif MARKER in body:
                problems.append(f"{rule.endpoint} {query!r}: echoed the markup unescaped")
    assert not problems, "\n".join(p[:300] for p in problems[:40])
