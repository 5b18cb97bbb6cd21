"""Every form's length limits speak our words and fit the column the value is saved to.

A Length validator without a message answers in WTForms' words ("Field cannot be longer than 200 characters."),
and a text field saved to a String(N) column with no limit at all sends an over-long value to the database:
PostgreSQL refuses it with a DataError (a 500), SQLite keeps it longer than the column says. Every form class of
the app is found here, including those added later, and every text field in them must be accounted for below.
"""
from __future__ import annotations

import importlib
import pkgutil
from types import SimpleNamespace

import pytest
from flask import Flask
from wtforms import Form
from wtforms.fields import HiddenField, StringField
from wtforms.validators import Length

import eventapp
from eventapp.accounts.forms import (ChangePasswordForm, ForgotPasswordForm, LoginForm, RecoveryCodesForm,
                                     ResetPasswordForm, TwoStepCodeForm, TwoStepOffForm, TwoStepSetupForm, UserForm)
from eventapp.accounts.models import User
from eventapp.assemblies.forms import AgendaItemForm, AssemblyForm, RoundForm, TopicForm, WorkshopForm
from eventapp.assemblies.models import AgendaItem, Assembly, Round, Series, Topic, Workshop
from eventapp.documents.forms import DocumentEditForm, DocumentForm
from eventapp.documents.models import Document
from eventapp.documents.services import TITLE_MAX
from eventapp.feedback.forms import FeedbackForm, feedback_form
from eventapp.feedback.models import Feedback
from eventapp.mail.models import OutboxMessage
from eventapp.messages.forms import MessageForm
from eventapp.messages.models import AssemblyMessage
from eventapp.messages.services import SUBJECT_MAX
from eventapp.notes.forms import ActionForm, NotesForm, WalkInForm
from eventapp.notes.models import SECTIONS, Action, Attendance, NoteSection
from eventapp.organisations.forms import OrganisationForm
from eventapp.organisations.models import Organisation
from eventapp.outcomes.forms import ContactForm, StatusForm, UpdateForm
from eventapp.outcomes.models import ActionStatusUpdate, AssemblyUpdate, PartnerContact
from eventapp.placements.forms import move_form_class
from eventapp.registration.forms import (CorrectEmailForm, DeskForm, DetailsForm, OrganiserAddForm, RegistrationForm,
                                         ResendForm, with_choices)
from eventapp.registration.models import PendingRegistration, Registration

# Each text field, by the form class that declares it, and the columns its value is saved to (as typed or
# trimmed). A field saved to a String(N) column needs a limit of at most N; one saved only to Text columns need not.
SAVED_TO = {
    (DetailsForm, "full_name"): (Registration.full_name, PendingRegistration.full_name),
    (DetailsForm, "email"): (Registration.email, Registration.email_key, PendingRegistration.email),
    (DetailsForm, "job_title"): (Registration.job_title,),
    # The organisation chosen by name, or the one not listed that the registration adds.
    (DetailsForm, "organisation_name"): (Organisation.name,),
    (DetailsForm, "new_organisation_name"): (Organisation.name,),
    (DetailsForm, "access_needs"): (Registration.access_needs,),
    (DetailsForm, "dietary_needs"): (Registration.dietary_needs,),
    (CorrectEmailForm, "email"): (Registration.email, PendingRegistration.email, OutboxMessage.to_email),
    (AssemblyForm, "title"): (Assembly.title,),
    (AssemblyForm, "slug"): (Assembly.slug,),
    (AssemblyForm, "series_name"): (Series.name,),
    (AssemblyForm, "summary"): (Assembly.summary,),
    (AssemblyForm, "venue_name"): (Assembly.venue_name,),
    (AssemblyForm, "venue_address"): (Assembly.venue_address,),
    (AssemblyForm, "timezone"): (Assembly.timezone,),
    (AssemblyForm, "privacy_notice"): (Assembly.privacy_notice,),
    (RoundForm, "name"): (Round.name,),
    (WorkshopForm, "new_topic"): (Topic.name,),
    (WorkshopForm, "title"): (Workshop.title,),
    (WorkshopForm, "description"): (Workshop.description,),
    (WorkshopForm, "room"): (Workshop.room,),
    (TopicForm, "name"): (Topic.name,),
    (TopicForm, "description"): (Topic.description,),
    (AgendaItemForm, "title"): (AgendaItem.title,),
    (AgendaItemForm, "speaker"): (AgendaItem.speaker,),
    (DocumentForm, "title"): (Document.title,),
    (DocumentEditForm, "title"): (Document.title,),
    (FeedbackForm, "differently"): (Feedback.differently,),
    (FeedbackForm, "next_time"): (Feedback.next_time,),
    (MessageForm, "subject"): (AssemblyMessage.subject,),
    (MessageForm, "body"): (AssemblyMessage.body,),
    **{(NotesForm, key): (NoteSection.body,) for key in SECTIONS},
    (WalkInForm, "name"): (Attendance.walk_in_name,),
    (WalkInForm, "organisation"): (Attendance.walk_in_organisation,),
    (ActionForm, "description"): (Action.description,),
    (ActionForm, "lead_person"): (Action.lead_person,),
    (OrganisationForm, "name"): (Organisation.name,),
    (UpdateForm, "title"): (AssemblyUpdate.title,),
    (UpdateForm, "body"): (AssemblyUpdate.body,),
    (StatusForm, "note"): (ActionStatusUpdate.note,),
    (ContactForm, "contact_name"): (PartnerContact.contact_name,),
    (ContactForm, "contact_email"): (PartnerContact.contact_email,),
    (UserForm, "name"): (User.name,),
    (UserForm, "email"): (User.email,),
}

# Fields with no Length validator on purpose: their service checks the length with its own message, so that a
# refused send or upload comes back with everything typed. The service's limit must fit the column all the same.
SERVICE_LIMITS = {
    (MessageForm, "subject"): SUBJECT_MAX,
    (DocumentForm, "title"): TITLE_MAX,
    (DocumentEditForm, "title"): TITLE_MAX,
}

# Text fields whose value is never saved as typed: compared, looked up or hashed. A limit they have still
# speaks our words (checked for every field).
NOT_SAVED = {
    (LoginForm, "email"), (LoginForm, "password"),
    (ForgotPasswordForm, "email"),  # only a keyed hash of it is kept; the email goes to the account's address
    (ChangePasswordForm, "current_password"), (ChangePasswordForm, "password"), (ChangePasswordForm, "confirm"),
    (ResetPasswordForm, "password"), (ResetPasswordForm, "confirm"),
    (UserForm, "password"),
    (TwoStepCodeForm, "code"), (TwoStepSetupForm, "code"), (TwoStepOffForm, "password"), (TwoStepOffForm, "code"),
    (RecoveryCodesForm, "code"),
    (ResendForm, "email"),  # emails the registrations found under it, at their own addresses
    (CorrectEmailForm, "typed"),  # compared with the address the form was sent with
    (DeskForm, "desks"), (DeskForm, "desk"),  # the day sheets' GET form: numbers read from the address
}


def form_classes() -> set[type]:
    """Every form class of the app: those of its modules, and those built for an assembly's topics or rounds."""
    for info in pkgutil.walk_packages(eventapp.__path__, "eventapp."):
        if info.name.rpartition(".")[2] != "__main__":  # runs a command when imported
            importlib.import_module(info.name)
    topics = [SimpleNamespace(id=1, name="Hidden harm")]
    built = {type(with_choices(kind, topics, 1)) for kind in (RegistrationForm, OrganiserAddForm)}
    built.add(type(feedback_form([SimpleNamespace(id=1, title="Hidden harm")])))
    built.add(move_form_class([SimpleNamespace(id=1, name="Morning")], {1: [("1", "Hidden harm")]}))

    def subclasses(kind: type):
        for sub in kind.__subclasses__():
            yield sub
            yield from subclasses(sub)

    return built | {kind for kind in subclasses(Form) if kind.__module__.startswith("eventapp.")}


@pytest.fixture(scope="module")
def forms() -> list[Form]:
    """An instance of every form class: its fields bound, with their validators."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-only", WTF_CSRF_ENABLED=False)
    with app.test_request_context():
        return [kind() for kind in form_classes()]


@pytest.fixture(scope="module")
def text_fields(forms) -> dict[tuple[type, str], StringField]:
    """Each typed text field (not the hidden ones, which the pages fill) by (declaring form class, name)."""
    found = {}
    for form in forms:
        for field in form:
            if isinstance(field, StringField) and not isinstance(field, HiddenField):
                owner = next(k for k in type(form).__mro__ if field.name in vars(k))
                found[(owner, field.name)] = field
    return found


def _name(key: tuple[type, str]) -> str:
    return f"{key[0].__module__}.{key[0].__qualname__}.{key[1]}"


def _length(column) -> int | None:
    return column.property.columns[0].type.length


def test_the_forms_are_all_found(text_fields):
    owners = {owner for owner, _ in text_fields}
    assert {DetailsForm, AssemblyForm, WalkInForm, ContactForm, UserForm, NotesForm, FeedbackForm} <= owners


def test_every_length_limit_says_the_limit_in_our_words(forms):
    # Every field of every form, hidden ones included: a form added later with WTForms' wording fails here.
    wrong = set()
    for form in forms:
        for field in form:
            for validator in field.validators:
                if isinstance(validator, Length):
                    ours = (f"Use at most {validator.max:,} characters." if validator.min < 1
                            else f"Use {validator.min:,} to {validator.max:,} characters.")
                    if validator.message != ours:
                        wrong.add(f"{type(form).__module__}.{type(form).__qualname__}.{field.name}: "
                                  f"{validator.message or 'no message, so WTForms words it'!r}")
    assert not wrong, ("say the limit as \"Use at most N characters.\" (eventapp.forms_util.at_most(N)): "
                       + "; ".join(sorted(wrong)))


def test_every_text_field_says_where_its_value_goes(text_fields):
    unknown = sorted(_name(key) for key in text_fields if key not in SAVED_TO and key not in NOT_SAVED)
    assert not unknown, ("add each to SAVED_TO (with the columns it is saved to) or NOT_SAVED in this file: "
                         + ", ".join(unknown))
    stale = sorted(_name(key) for key in {*SAVED_TO, *NOT_SAVED, *SERVICE_LIMITS} if key not in text_fields)
    assert not stale, "no such text field any more: " + ", ".join(stale)


def test_no_field_takes_more_than_its_column_holds(text_fields):
    wrong = []
    for key, columns in SAVED_TO.items():
        lengths = [_length(c) for c in columns if _length(c) is not None]
        if not lengths:
            continue  # Text columns: any limit the form has is its own choice
        room = min(lengths)
        limits = [v.max for v in text_fields[key].validators if isinstance(v, Length) and v.max >= 0]
        limit = min(limits) if limits else SERVICE_LIMITS.get(key)
        if limit is None:
            wrong.append(f"{_name(key)} has no limit, its column holds {room}")
        elif limit > room:
            wrong.append(f"{_name(key)} takes {limit} characters, its column holds {room}")
    assert not wrong, "; ".join(wrong)
