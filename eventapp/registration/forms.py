"""Forms for the public registration, the manage page and the organiser's registration pages."""
from __future__ import annotations

from functools import lru_cache

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional, ValidationError

from ..forms_util import ChoiceField, TextLength, at_most
from ..mail.services import is_email_address
from ..organisations.models import SECTORS
from ..text import has_control, is_number, visible

ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


def ordinal(n: int) -> str:
    return ORDINALS.get(n, f"{n}th")


class NoControlCharacters:
    """Refuse control characters (and, on one-line fields, line breaks) with a clear message."""

    def __init__(self, multiline: bool = False):
        self.allowed = "\n\r\t" if multiline else ""

    def __call__(self, form, field):
        value = field.data or ""
        if has_control(value, self.allowed):
            raise ValidationError("Remove line breaks and control characters from this answer."
                                  if not self.allowed else "Remove control characters from this answer.")


class EmailAddress:
    """An address in the form name@example.org (the check the registration service makes too)."""

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form, field):
        if not is_email_address(field.data or ""):
            raise ValidationError(self.message)


class SafeForm(FlaskForm):
    """Typed text comes back on error with control characters shown as \ufffd, never raw in the page."""

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for f in self:
            keep = "\n\r\t" if f.type == "TextAreaField" else ""
            if f.type in ("StringField", "TextAreaField", "EmailField"):
                if f.raw_data:
                    f.raw_data = [visible(v, keep) if isinstance(v, str) else v for v in f.raw_data]
                if isinstance(f.data, str):
                    f.data = visible(f.data, keep) if not ok else f.data
        return ok


def _line(label, message, max_len=200, required=True, **kw):
    validators = [DataRequired(message) if required else Optional(), at_most(max_len),
                  NoControlCharacters()]
    return StringField(label, validators=validators, **kw)


def _text(label, **kw):
    return TextAreaField(label, validators=[Optional(), TextLength(2000),
                                            NoControlCharacters(multiline=True)], **kw)


class DetailsForm(SafeForm):
    full_name = _line("Full name", "Enter your full name.")
    email = StringField(
        "Email address",
        description="We send your confirmation and your personal link here.",
        validators=[DataRequired("Enter your email address."), at_most(254),
                    NoControlCharacters(),
                    EmailAddress("Enter an email address in the form name@example.org.")],
    )
    job_title = _line("Job title", "Enter your job title.")
    organisation_name = StringField(
        "Organisation",
        description="Start typing and choose your organisation from the list.",
        validators=[Optional(), at_most(200), NoControlCharacters()],
    )
    organisation_not_listed = BooleanField("My organisation is not listed")
    new_organisation_name = _line("Your organisation's name", "", required=False,
                                  description="Only if your organisation is not listed. The organisers will check it.")
    new_organisation_sector = ChoiceField("Your organisation's sector",
                                          choices=[SelectChoice("", "Choose a sector")] + [SelectChoice(k, v) for k, v in SECTORS.items()],
                                          validators=[Optional()], invalid="Choose your organisation's sector from the list.")
    access_needs = _text("Access needs", description="Optional, up to 2,000 characters. Anything that helps you take part, e.g. step-free "
                                                          "access, a hearing loop.")
    dietary_needs = _text("Dietary needs", description="Optional, up to 2,000 characters. e.g. vegetarian, halal, nut allergy.")

    choice_count = 0
    required_count = 0

    def choice_fields(self):
        return [self[f"choice_{i}"] for i in range(1, self.choice_count + 1)]

    def page_order(self) -> list[str]:
        """Field names as the page shows them: the workshop choices (added per assembly, so last in the
        class) come before the needs boxes."""
        choices = [f.name for f in self.choice_fields()]
        rest = [name for name in self._fields if name not in choices]
        at = rest.index("access_needs") if "access_needs" in rest else len(rest)
        return rest[:at] + choices + rest[at:]

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.organisation_not_listed.data:
            typed = (self.organisation_name.data or "").strip()
            if not (self.new_organisation_name.data or "").strip() and typed and not self.organisation_name.errors:
                # Typed in "Organisation", found no match and ticked "not listed": that is the name.
                self.new_organisation_name.data = typed
                self.new_organisation_name.raw_data = [typed]
            if not (self.new_organisation_name.data or "").strip():
                self.new_organisation_name.errors = list(self.new_organisation_name.errors) + ["Enter your organisation's name."]
                ok = False
            if not self.new_organisation_sector.data:
                self.new_organisation_sector.errors = list(self.new_organisation_sector.errors) + ["Choose your organisation's sector."]
                ok = False
        elif not (self.organisation_name.data or "").strip():
            self.organisation_name.errors = list(self.organisation_name.errors) + [
                "Choose your organisation, or tick “My organisation is not listed”."]
            ok = False
        seen: set[int] = set()
        for i, f in enumerate(self.choice_fields(), start=1):
            if f.errors:
                ok = False
                continue
            if not f.data:
                if i <= self.required_count:
                    f.errors = list(f.errors) + [f"Choose your {ordinal(i)} choice of workshop topic."]
                    ok = False
                continue
            if f.data in seen:
                f.errors = list(f.errors) + ["You have already chosen this topic: choose a different one."]
                ok = False
            seen.add(f.data)
        return ok

    def topic_ids(self) -> list[int]:
        return [f.data for f in self.choice_fields() if f.data]


class EditDetailsForm(DetailsForm):
    """The details of a registration that exists, as the delegate's manage page and the organiser's edit form
    change them."""

    # What the form showed (services.registration_version): the registration has two editors, the delegate
    # and the organisers, and a form opened before the other's save must not put the old details back.
    seen = HiddenField()


class RegistrationForm(DetailsForm):
    class Meta:
        # CSRFProtect checks every POST before any view runs (a form's own check is then skipped),
        # and the page writes the token itself: with no token field, a POST that redirects does
        # not sign a new token it never shows (a registration POST spent 2% of its work on that).
        csrf = False

    consent = BooleanField("I have read the privacy notice and agree to my details being used as it describes",
                           validators=[DataRequired("Tick the box to confirm you have read the privacy notice.")])
    join_waiting_list = BooleanField("If no place is left for me, put me on the waiting list", default=True)


class OrganiserAddForm(DetailsForm):
    join_waiting_list = BooleanField("If no place is left, put them on the waiting list", default=True)
    # An add form's one-time token (eventapp.add_once): sent twice, it adds once.
    once = HiddenField()


def with_choices(form_class: type[DetailsForm], topics, required: int, **kwargs) -> DetailsForm:
    """An instance of form_class with one ranked select per topic on offer."""
    return _choices_class(form_class, tuple((t.id, t.name) for t in topics), required)(**kwargs)


@lru_cache(maxsize=64)
def _choices_class(form_class: type[DetailsForm], topics: tuple[tuple[int, str], ...], required: int) -> type:
    # Building a form class costs more than filling one in: one class per set of topics, kept.
    attrs = {}
    options = [SelectChoice(0, "No choice")] + [SelectChoice(topic_id, name) for topic_id, name in topics]
    for i in range(1, len(topics) + 1):
        label = f"{ordinal(i)} choice" + (" (required)" if i <= required else " (optional)")
        # A topic taken off the assembly while the form was open is not offered any more.
        attrs[f"choice_{i}"] = ChoiceField(label, coerce=int, choices=options, default=0,
                                           invalid="Choose a workshop topic from the list.")
    attrs["choice_count"] = len(topics)
    attrs["required_count"] = required
    return type(form_class.__name__, (form_class,), attrs)


class ResendForm(SafeForm):
    email = StringField(
        "Email address",
        validators=[DataRequired("Enter your email address."), at_most(254),
                    NoControlCharacters(),
                    EmailAddress("Enter an email address in the form name@example.org.")],
    )


class CorrectEmailForm(SafeForm):
    typed = StringField(
        "The address you typed",
        description="As you typed it on the form: the previous page showed it.",
        validators=[DataRequired("Enter the address you typed on the form."),
                    at_most(254), NoControlCharacters()],
    )
    email = StringField(
        "The right email address",
        validators=[DataRequired("Enter your email address."), at_most(254),
                    NoControlCharacters(),
                    EmailAddress("Enter an email address in the form name@example.org.")],
    )


class ImportForm(FlaskForm):
    file = FileField("CSV file", description="Columns: full_name, email, job_title, organisation, access_needs, "
                                             "dietary_needs, choice_1, choice_2, … (first row = column names; the usual "
                                             "spellings such as Name, Email address, Organization or Role "
                                             "are read too).")
    apply = BooleanField("Import the valid rows now (leave unticked to check the file first)")


class ActionForm(FlaskForm):
    """An empty form: a CSRF-protected button."""


MAX_DESKS = 20


class WholeNumber:
    """A whole number from 1 to ``most`` (typed, so "", "0", "-1", "two" and 10**9 are refused with one message)."""

    def __init__(self, most: int, message: str):
        self.most, self.message = most, message

    def __call__(self, form, field):
        text = (field.data or "").strip()
        if not (is_number(text, len(str(self.most))) and 1 <= int(text) <= self.most):
            raise ValidationError(self.message)


class DeskForm(SafeForm):
    """The day sheets' reception desks: a GET form, so a printed desk is a link that can be kept and shared."""

    class Meta:
        csrf = False

    desks = StringField("Reception desks", description=f"From 1 to {MAX_DESKS}. The names are shared out in "
                        "alphabetical order, about as many at each desk, and each desk prints on its own pages.",
                        validators=[Optional(), WholeNumber(MAX_DESKS, f"Enter a number of desks from 1 to {MAX_DESKS}.")])
    desk = StringField("Print one desk only", description="Its number. Leave empty to print every desk.",
                       validators=[Optional(), WholeNumber(MAX_DESKS, f"Enter a desk number from 1 to {MAX_DESKS}, "
                                                                      "or leave it empty to print every desk.")])

    def chosen(self, people: int) -> tuple[int, int | None]:
        """(how many desks, which one alone or None), once validated, for ``people`` delegates. A desk past the
        last is marked as an error; more desks than delegates are as many desks as delegates (a desk of nobody
        would print an empty page). Call it before anything reads ``errors``: WTForms keeps that dict once built."""
        if self.desks.errors:
            return 1, None  # the desk number means nothing without a number of desks
        asked, desk = (None if f.errors or not (f.data or "").strip() else int(f.data) for f in (self.desks, self.desk))
        desks = max(1, min(asked or 1, people))
        if desk is None:
            return desks, None
        if desk > desks:
            self.desk.errors.append(f"There is no desk {desk}: " + (
                "the list is not split into desks." if desks == 1
                else f"choose a desk from 1 to {desks}, or leave it empty to print every desk."))
            return desks, None
        return desks, desk
