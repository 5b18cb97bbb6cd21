"""Helpers shared by forms: length limits and unreadable values in our words; turn domain errors into field
errors; know what this browser just added."""
from __future__ import annotations

import time

from flask import session
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, IntegerField, SelectField, SelectMultipleField, TimeField
from wtforms.validators import Length, StopValidation, ValidationError

from .domain import DomainError


def at_most(limit: int) -> Length:
    """A Length(max=limit) that says "Use at most 200 characters.", not WTForms' "Field cannot be longer than 200
    characters." (tests/test_form_limits.py refuses that wording on every form)."""
    return Length(max=limit, message=f"Use at most {limit:,} characters.")


class TextLength(Length):
    """at_most for a text box: a line break counts as one character, as the browser counts it (it sends CR LF),
    and no maxlength is set, which would cut a long paste short without a word; the error says how much was used."""

    def __init__(self, limit: int) -> None:
        super().__init__(max=limit, message=f"Use at most {limit:,} characters.")
        self.field_flags = {}

    def __call__(self, form, field) -> None:
        used = len((field.data or "").replace("\r\n", "\n"))
        if used > self.max:
            raise ValidationError(f"Use at most {self.max:,} characters (you used {used:,}).")


class _SaysWhatToSend:
    """A field that reads what was sent as a number, a date, a time or a choice from its list. When it cannot, it
    says ``invalid``: what to type or choose, e.g. "Enter the capacity as a whole number, e.g. 120.". WTForms'
    own words ("Not a valid integer value.", "Not a valid choice.") say neither, so ``invalid`` has no default
    (tests/test_form_messages.py refuses them on every form). Nothing else is said about a value that could not
    be read or is not offered: a range check would add "Enter a number from 0 to 100,000." and DataRequired
    would replace ours with "Enter the date." although one was typed. An empty one is left to Optional and the
    required checks, as WTForms leaves it."""

    def __init__(self, label=None, validators=None, *, invalid: str, **kwargs) -> None:
        if isinstance(self, SelectMultipleField):
            kwargs["invalid_choice_message"] = invalid.replace("%", "%%")  # formatted with the values refused
        elif isinstance(self, SelectField):
            kwargs["invalid_choice_message"] = invalid
        super().__init__(label, validators, invalid_value_message=invalid, **kwargs)

    def pre_validate(self, form) -> None:
        sent = any(isinstance(v, str) and v.strip() for v in self.raw_data or ())
        if self.process_errors and sent:
            raise StopValidation()  # ``invalid`` is already said
        try:
            super().pre_validate(form)  # a choice field's: is the value one of its choices?
        except ValidationError as err:
            if not sent:
                raise
            raise StopValidation(*err.args) from None


class WholeNumberField(_SaysWhatToSend, IntegerField):
    """An IntegerField that says ``invalid`` when what was typed is not a whole number."""


class DayField(_SaysWhatToSend, DateField):
    """A DateField that says ``invalid`` when what was typed is not a date as year-month-day."""


class TimeOfDayField(_SaysWhatToSend, TimeField):
    """A TimeField that says ``invalid`` when what was typed is not hours:minutes."""


class DayAndTimeField(_SaysWhatToSend, DateTimeLocalField):
    """A DateTimeLocalField that says ``invalid`` when what was typed is not a date and a time."""


class ChoiceField(_SaysWhatToSend, SelectField):
    """A SelectField that says ``invalid`` when the value sent is not one of its choices (a stale page's, e.g.
    a round deleted in another tab) or cannot be coerced."""


class ChoicesField(_SaysWhatToSend, SelectMultipleField):
    """A SelectMultipleField that says ``invalid`` when a value sent is not one of its choices or cannot be
    coerced."""


def apply_domain_error(form: FlaskForm, err: DomainError) -> None:
    """Show a service's refusal next to the field it concerns (or at the top)."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [err.message]
    else:
        form.form_errors.append(err.message)


# An "Add" clicked twice: the second click finds what the first made, when this browser made it this long ago at most.
JUST_ADDED_SECONDS = 60


def remember_added(kind: str, obj_id: int) -> None:
    """Note that this browser has just added the ``kind`` with this id (see just_added)."""
    session[f"added_{kind}"] = [obj_id, int(time.time())]


def just_added(kind: str) -> int | None:
    """The id of the ``kind`` this browser added within JUST_ADDED_SECONDS, if any."""
    entry = session.get(f"added_{kind}")
    if (isinstance(entry, list) and len(entry) == 2 and all(isinstance(v, int) for v in entry)
            and 0 <= time.time() - entry[1] <= JUST_ADDED_SECONDS):
        return entry[0]
    return None
