"""Helpers shared by forms: turn domain errors into field errors."""
from __future__ import annotations

from flask_wtf import FlaskForm

from .domain import DomainError


def apply_domain_error(form: FlaskForm, err: DomainError) -> None:
    """Show a service's refusal next to the field it concerns (or at the top)."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = list(field.errors) + [err.message]
    else:
        form.form_errors.append(err.message)
