"""Every page issues the same number of SQL statements at 10 and at 1,000 rows (no N+1 queries).

The world of tests/production/world.py is grown by 10 of everything (organisations, staff,
topics, assemblies, delegates placed in a workshop, emails, actions), every GET page is
opened and its statements counted (SQLAlchemy's ``before_cursor_execute``); then grown to
1,000 of everything and counted again. Lists paginate, so a query per row shows as a
difference between a page of 10 and a page of 25.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from eventapp.extensions import db as _db
from tests.production.world import build_world, grow
from tests.test_security_matrix import build_url, sign_in

# Pages that are not HTML lists of rows, or are only reachable by a token role.
NOT_COUNTED = {
    "static",
    # Exports: every row by design (one query for all of them, but the body grows).
    "registration.organiser_export", "audit.export",
}

# The list pages the issue names, which must be among those counted.
LIST_PAGES = {
    "registration.organiser_index", "organisations.index", "assemblies.organiser_index", "accounts.users",
    "assemblies.topics", "placements.delegates", "mail.index", "notes.all_actions", "notes.actions",
    "notes.attendance", "facilitators.home", "assemblies.index", "audit.index",
}


# SQLAlchemy's selectinload loads related rows in batches of 500 ids per statement:
# a page showing 1,000 rows without paging sends one more statement per 500 rows.
# That is batching, not a query per row, so a full batch is merged with the next.
BATCH = 500


def batches(statements: list[str]) -> int:
    """Statements, counting a selectin batch run (full batches + the rest) as one."""
    total = 0
    previous_full = None
    for statement in statements:
        params = statement.count("?") + statement.count("%(")
        shape = statement.split(" IN ")[0]
        if previous_full is not None and shape == previous_full:
            previous_full = shape if params >= BATCH else None
            continue
        total += 1
        previous_full = shape if params >= BATCH else None
    return total


@contextmanager
def counting():
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def pages(app, world, role):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.endpoint in NOT_COUNTED:
            continue
        if "token" in rule.arguments:
            continue
        yield rule.endpoint, build_url(app, rule, world, role)


def measure(client, urls):
    counts = {}
    for endpoint, url in urls:
        started = time.perf_counter()
        with counting() as statements:
            response = client.get(url)
            response.close()
        if os.environ.get("QUERY_COUNT_TIMES"):
            print(f"{time.perf_counter() - started:7.3f}s {len(statements):4d} {url}")
        assert response.status_code in (200, 302, 403, 404, 410), f"{url}: {response.status_code}"
        counts[url] = (endpoint, response.status_code, batches(statements), statements)
    return counts


@pytest.mark.parametrize("role", ["organiser", "facilitator", "delegate"])
def test_statement_count_does_not_grow_with_rows(app, db, role, monkeypatch):
    from eventapp.registration import views as registration_views

    # The day sheets open on their contents above 1,000 delegates (fewer statements, not more): counted here as
    # every part at once at both sizes, the page that loads every row (tests/registration/test_day_sheet_desks.py
    # counts the contents and the desks).
    monkeypatch.setattr(registration_views, "ALL_PARTS_MAX", 1_000_000)
    world = build_world()
    client = app.test_client()
    sign_in(client, role, world)
    grow(world, 10, start=0)
    urls = list(pages(app, world, role))
    if role == "delegate":
        from tests.test_security_matrix import rules

        urls = [(r.endpoint, build_url(app, r, world, role)) for r in rules(app)
                if "token" in r.arguments and "GET" in r.methods]
    small = measure(client, urls)
    grow(world, 990, start=10)
    large = measure(client, urls)
    if role == "organiser":
        counted = {endpoint for endpoint, _ in urls}
        assert LIST_PAGES <= counted, LIST_PAGES - counted
    grew = []
    for url, (endpoint, status, n_small, _) in small.items():
        _, status_large, n_large, statements = large[url]
        assert status == status_large, url
        if n_large != n_small:
            repeated = max(set(statements), key=statements.count)
            grew.append(f"{endpoint} {url}: {n_small} statements at 10 rows, {n_large} at 1,000 rows; "
                        f"most repeated ({statements.count(repeated)}×): {' '.join(repeated.split())[:300]}")
    assert not grew, "\n".join(grew)


def test_batches_merges_selectin_batches_but_not_a_query_per_row():
    per_row = ["SELECT * FROM organisation WHERE organisation.id = ?"] * 25
    assert batches(per_row) == 25
    ids = ", ".join("?" * BATCH)
    selectin = [f"SELECT * FROM organisation WHERE organisation.id IN ({ids})",
                f"SELECT * FROM organisation WHERE organisation.id IN ({ids})",
                "SELECT * FROM organisation WHERE organisation.id IN (?, ?)"]
    assert batches(["SELECT 1"] + selectin + ["SELECT 2"]) == 3
