"""No form answers in WTForms' own words.

WTForms says "Not a valid integer value.", "Not a valid choice.", "This field is required.", "Number must be
between 1 and 100." and the like when a field or validator is given no message of ours: they say neither what
is wrong nor what to type. Every form class of the app (tests/test_form_limits.py finds them, those added later
and those built at run time included) is sent bad values here, each field at once: nothing, spaces, text where a
number, date, time or choice goes, numbers out of any range, dates and times typed the usual wrong ways, a value
no list offers. Every message that comes back must be ours: none may be one of the messages WTForms (or
Flask-WTF) has, read from their source. A field that reads a number, a date, a time or a choice takes its message
as an argument in eventapp.forms_util (WholeNumberField, DayField, ChoiceField, ...).
"""
from __future__ import annotations

import ast
import re
from html import unescape as html_unescape
from pathlib import Path

import flask_wtf
import pytest
import wtforms
from flask import Flask
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict
from wtforms import DateField, IntegerField, SelectField, SelectMultipleField, TimeField
from wtforms.fields.choices import SelectChoice, SelectFieldBase
from wtforms.validators import DataRequired, NumberRange, Optional

from eventapp.assemblies.forms import AssemblyForm, RoundForm, WorkshopForm
from eventapp.assemblies.models import Round, Workshop
from eventapp.notes.models import Action
from tests.conftest import post_form
from tests.factories import make_assembly, make_round, make_topic
from tests.notes.helpers import scene
from tests.test_form_limits import form_classes

_GETTEXT = {"gettext", "ngettext", "lazy_gettext", "_"}
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _library_messages() -> set[str]:
    """Every message WTForms and Flask-WTF can give: each string their source passes to gettext or ngettext."""
    found = set()
    for package in (wtforms, flask_wtf):
        for path in Path(package.__file__).parent.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                    if name in _GETTEXT:
                        found.update(arg.value for arg in node.args
                                     if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
    return found


LIBRARY_MESSAGES = _library_messages()
# As a message reaches the page: "Number must be between %(min)s and %(max)s." with its numbers filled in.
_LIBRARY_PATTERNS = [re.compile(".+?".join(re.escape(part) for part in _PLACEHOLDER.split(message)), re.DOTALL)
                     for message in LIBRARY_MESSAGES]


def _is_library_message(message: str) -> bool:
    return any(pattern.fullmatch(str(message).strip()) for pattern in _LIBRARY_PATTERNS)


# Sent to every field of a form at once, one value after another: the mistakes people make and the values a stale or
# hand-made request carries.
BAD_VALUES = [
    None,  # not sent at all
    "",
    "   ",
    "twelve",
    "1.5",
    "1,200",
    "-1",
    "0",
    "999999999",
    "18/03/2027",
    "2027-02-30",
    "25:00",
    "9am",
    "2027-03-18 9am",
    "x" * 20_001,
]


def _values_for(field, bad: str | None) -> list[str]:
    if bad is None:
        return []
    if bad == "twelve":
        # Each field its own text: two fields that must match (a password and its confirmation) do not.
        bad = f"not a {field.short_name}"
    if isinstance(field, SelectMultipleField):
        return ["1", bad]  # one offered, one not
    return [bad]


def _errors(form) -> list[tuple[str, str]]:
    out = [("(form)", message) for message in form.form_errors]
    for field in form:
        out.extend((field.name, message) for message in field.errors)
    return out


def _offer_choices(form) -> None:
    """Choices the views fill from the database: one, as a view would offer it."""
    for field in form:
        if isinstance(field, SelectFieldBase) and field.choices is None:
            field.choices = [SelectChoice("1", "One")]


def _context():
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-only", WTF_CSRF_ENABLED=False)
    return app.test_request_context(method="POST")


def library_words(kinds) -> list[str]:
    """Each message in WTForms' or Flask-WTF's words that a form of these classes gives for a bad value."""
    wrong: dict[str, list[str]] = {}
    with _context():
        for kind in kinds:
            blank = kind(formdata=None)
            for bad in BAD_VALUES:
                data = MultiDict()
                for field in blank:
                    for value in _values_for(field, bad):
                        data.add(field.name, value)
                form = kind(formdata=data)
                _offer_choices(form)
                form.validate()
                for name, message in _errors(form):
                    if _is_library_message(message):
                        sent = "nothing" if bad is None else repr(bad if len(bad) < 30 else f"{bad[:10]}...")
                        wrong.setdefault(f"{kind.__module__}.{kind.__qualname__}.{name}: {message!r}", []).append(sent)
    return [f"{where} (sent {', '.join(sent[:3])}{', ...' if len(sent) > 3 else ''})"
            for where, sent in sorted(wrong.items())]


def test_the_library_messages_are_found():
    for message in ("Not a valid integer value.", "Not a valid choice.", "Not a valid date value.",
                    "Not a valid time value.", "Not a valid datetime value.", "This field is required.",
                    "Invalid email address.", "Field must be equal to %(other_name)s.",
                    "Number must be between %(min)s and %(max)s.", "Invalid Choice: could not coerce."):
        assert message in LIBRARY_MESSAGES
    assert _is_library_message("Number must be between 1 and 100.")
    assert _is_library_message("'7', '9' are not valid choices for this field.")
    assert not _is_library_message("Enter a number from 1 to 100, or leave it empty.")


def test_a_form_left_with_the_library_words_is_caught():
    # What a form added later without messages of ours would say: this test must find every one of them.
    class Plain(FlaskForm):
        count = IntegerField("Count", validators=[Optional(), NumberRange(min=1, max=100)])
        day = DateField("Day", validators=[Optional()])
        at = TimeField("At", validators=[DataRequired()])
        kind = SelectField("Kind", choices=[SelectChoice("a", "A")])

    found = "\n".join(library_words([Plain]))  # DataRequired puts its words in place of "Not a valid time value."
    for message in ("Not a valid integer value.", "Number must be between 1 and 100.", "This field is required.",
                    "Not a valid date value.", "Not a valid choice."):
        assert f"{message!r}" in found, found


def test_the_bad_values_reach_the_fields():
    # The forms' own messages come back for them: the values are read, not left out.
    with _context():
        form = AssemblyForm(formdata=MultiDict({"capacity": "twelve", "date": "18/03/2027", "status": "published"}))
        form.validate()
        assert form.capacity.errors == ["Enter the capacity as a whole number, e.g. 120."]
        assert form.date.errors == ["Enter the date as year-month-day, e.g. 2027-03-18."]
        assert form.status.errors == ["Choose a status from the list."]
        rnd = RoundForm(formdata=MultiDict({"position": "0"}))
        rnd.validate()
        assert rnd.position.errors == ["Enter a number from 1 to 100, or leave it empty."]
        workshop = WorkshopForm(formdata=MultiDict({"round_id": "7", "facilitator_ids": ["3", "x"]}))
        workshop.round_id.choices = [SelectChoice(1, "Morning")]
        workshop.topic_id.choices = [SelectChoice(1, "Hidden harm")]
        workshop.facilitator_ids.choices = [SelectChoice(3, "Sam")]
        workshop.validate()
        assert workshop.round_id.errors == ["Choose a round from the list."]
        assert workshop.facilitator_ids.errors == ["Choose the facilitators from the list."]


def test_no_form_answers_in_the_library_words():
    with _context():
        kinds = form_classes()  # it builds forms, which needs a request
    wrong = library_words(kinds)
    assert not wrong, ("give each a message of ours that says what to type or choose (eventapp.forms_util: "
                       "WholeNumberField, DayField, TimeOfDayField, DayAndTimeField, ChoiceField, ChoicesField "
                       "take it as invalid=; validators as message=):\n" + "\n".join(wrong))


# --- through the pages: a value that cannot be read is said once, in our words, next to its field, and kept --------

def _field_errors(html: str, field_id: str) -> list[str]:
    """The messages shown beside one field (the macros' error paragraph), as read."""
    found = re.search(rf'<p class="error-message" id="{re.escape(field_id)}-error">(.*?)</p>', html, re.DOTALL)
    assert found, f"no error shown beside {field_id}"
    return [html_unescape(m).strip() for m in re.findall(r"</span>([^<]*)", found.group(1))]


def test_a_workshop_capacity_typed_in_words_is_explained_once_and_kept(as_organiser, db):
    assembly = make_assembly()
    rnd = make_round(assembly)
    topic = make_topic()
    url = f"/organiser/assemblies/{assembly.slug}/workshops/new"
    resp = post_form(as_organiser, url, {"round_id": rnd.id, "topic_id": topic.id, "title": "Hidden harm in homes",
                                         "room": "Room B", "capacity": "twelve"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    # Not "Not a valid integer value.", and not "Enter a number from 0 to 10,000." after it.
    assert _field_errors(html, "capacity") == ["Enter the capacity as a whole number, e.g. 30."]
    assert 'href="#capacity">Capacity: Enter the capacity as a whole number, e.g. 30.</a>' in html
    assert 'value="twelve"' in html and 'value="Hidden harm in homes"' in html and 'value="Room B"' in html
    assert db.session.scalar(select(func.count(Workshop.id))) == 0


@pytest.mark.parametrize("typed, message", [
    ("0", "Enter a number from 1 to 100, or leave it empty."),
    ("second", "Enter the order as a whole number, e.g. 2, or leave it empty."),
])
def test_a_round_order_out_of_range_or_in_words_says_what_to_enter(as_organiser, db, typed, message):
    assembly = make_assembly()
    url = f"/organiser/assemblies/{assembly.slug}/rounds/new"
    resp = post_form(as_organiser, url, {"name": "Morning breakouts", "starts_at": "11:00", "ends_at": "12:15",
                                         "position": typed})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert _field_errors(html, "position") == [message]  # not "Number must be between 1 and 100."
    assert f'value="{typed}"' in html and 'value="Morning breakouts"' in html
    assert db.session.scalar(select(func.count(Round.id)).where(Round.assembly_id == assembly.id)) == 0


def test_a_due_date_typed_day_first_says_how_to_type_it_not_that_it_is_missing(as_facilitator, facilitator, db):
    s = scene(facilitator)
    url = f"/facilitator/workshops/{s.workshop.id}/actions"
    resp = post_form(as_facilitator, url, {
        "description": "Publish a joint referral map", "owner_organisation_id": str(s.police.id),
        "lead_person": "", "due_date": "18/03/2027", "status": "open", "topic_ids": [str(s.workshop.topic_id)]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    # Neither WTForms' "Not a valid date value." nor "Enter the due date.": a date was typed.
    assert _field_errors(html, "due_date") == ["Enter the due date as year-month-day, e.g. 2027-06-30."]
    assert 'value="18/03/2027"' in html and "Publish a joint referral map" in html
    assert db.session.scalar(select(func.count(Action.id))) == 0
