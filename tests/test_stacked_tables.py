"""On a phone (320px) a table without keep-columns stacks its cells: each cell after the row's first names its
column (data-label), or a row reads "Room 1 / 20 / Everyone" with nothing saying what each is. Tables of figures
keep their columns instead."""
from __future__ import annotations

from html.parser import HTMLParser

from tests.factories import make_assembly, make_document, make_org, make_round, make_topic, make_workshop


class _Cells(HTMLParser):
    """The cells of stacked tables that say nothing of their column: (table caption, cell text)."""

    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []  # per open table: does it stack?
        self.caption = ""
        self.in_caption = False
        self.cell: dict | None = None
        self.first_in_row = False
        self.unlabelled: list[tuple[str, str]] = []
        self.figures_stacked: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.stack.append("keep-columns" not in (a.get("class") or "").split())
        elif tag == "caption":
            self.in_caption, self.caption = True, ""
        elif tag == "tr":
            self.first_in_row = True
        elif tag in ("td", "th") and self.stack and self.stack[-1]:
            first, self.first_in_row = self.first_in_row, False
            actions = "row-actions" in (a.get("class") or "").split()
            if tag == "td" and not first and not actions and "data-label" not in a:
                self.cell = {"text": ""}

    def handle_endtag(self, tag):
        if tag == "table" and self.stack:
            self.stack.pop()
        elif tag == "caption":
            self.in_caption = False
        elif tag == "td" and self.cell is not None:
            self.unlabelled.append((self.caption.strip(), self.cell["text"].strip()))
            self.cell = None

    def handle_data(self, data):
        if self.in_caption:
            self.caption += data
        if self.cell is not None:
            self.cell["text"] += data


def unlabelled_cells(html: str) -> list[tuple[str, str]]:
    parser = _Cells()
    parser.feed(html)
    return parser.unlabelled


def test_organiser_set_up_documents_and_allocation_tables_label_their_stacked_cells(as_organiser):
    from tests.placements.helpers import delegates, two_round_assembly
    from tests.placements.test_views import _run

    assembly, topics, rounds, ws = two_round_assembly(capacity=4)
    delegates(assembly, topics, 3)
    _run(as_organiser, assembly)
    make_document(assembly, title="Agenda")
    make_document(assembly, title="Slides", visibility="delegates")
    base = f"/organiser/assemblies/{assembly.slug}"
    for url in (base, base + "/documents", base + "/allocation/delegates", "/organiser/topics"):
        html = as_organiser.get(url).get_data(as_text=True)
        assert "<td" in html, url
        assert unlabelled_cells(html) == [], url


def test_feedback_figures_keep_their_columns(as_organiser):
    from datetime import date

    from eventapp.extensions import db
    from eventapp.feedback.models import Feedback
    from tests.placements.helpers import make_registration

    assembly = make_assembly(date=date(2020, 3, 18))
    workshop = make_workshop(make_round(assembly), make_topic())
    reg = make_registration(assembly, make_org(sector="health"), "Ada Lovelace", [workshop.topic])
    db.session.add(Feedback(assembly_id=assembly.id, registration_id=reg.id, overall=5, sector="health",
                            differently="", next_time="More on hidden harm"))
    db.session.commit()
    html = as_organiser.get(f"/organiser/assemblies/{assembly.slug}/feedback").get_data(as_text=True)
    assert "How useful each workshop was" in html and "Health" in html
    assert unlabelled_cells(html) == []


def test_the_organisations_and_users_lists_label_their_stacked_cells(as_organiser):
    from tests.factories import make_user

    make_org("Shireford Constabulary", sector="police", status="pending")
    make_user("facilitator", "fay@example.org", name="Fay Facilitator")
    for url in ("/organiser/organisations/", "/organiser/users"):
        html = as_organiser.get(url).get_data(as_text=True)
        assert "<td" in html, url
        assert unlabelled_cells(html) == [], url
    # On a phone a row reads "Sector: Police / Status: Pending approval", not "Police / Pending approval".
    html = as_organiser.get("/organiser/organisations/").get_data(as_text=True)
    assert '<td data-label="Sector">Police</td><td data-label="Status">Pending approval</td>' in html


def test_the_audit_log_outbox_and_public_updates_lists_label_their_stacked_cells(as_organiser):
    from datetime import date

    from eventapp.audit import services as audit
    from eventapp.extensions import db
    from eventapp.outcomes import services as outcomes
    from tests.mail.test_outbox_pages import add

    assembly = make_assembly()
    audit.record(None, "registrations.export", assembly_id=assembly.id, subject="registrations of x", detail="3 rows")
    db.session.commit()
    add(1, assembly_id=assembly.id)
    outcomes.save_update(assembly, {"title": "Six months on", "published_on": date(2026, 1, 2), "body": "B"})
    for url in ("/organiser/audit", "/organiser/outbox/", f"/organiser/assemblies/{assembly.slug}/updates"):
        html = as_organiser.get(url).get_data(as_text=True)
        assert "<td" in html, url
        assert unlabelled_cells(html) == [], url
