"""Helpers shared by forms: length limits in our words; turn domain errors into field errors; know what this
browser just added."""
from __future__ import annotations

import time

from flask import session
from flask_wtf import FlaskForm
from wtforms.validators import Length, ValidationError

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
