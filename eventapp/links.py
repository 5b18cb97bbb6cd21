"""Absolute links for emails and feeds."""
from __future__ import annotations

from flask import current_app, url_for


def absolute_url(endpoint: str, **values) -> str | None:
    """PUBLIC_BASE_URL plus the path when set, else the current request's host; None from the CLI."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    try:
        if base:
            return base.rstrip("/") + url_for(endpoint, **values)
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        # From the command line with no PUBLIC_BASE_URL there is no host to name.
        return None
