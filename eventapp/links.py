"""Absolute links for emails and feeds."""
from __future__ import annotations

from flask import current_app, has_request_context, url_for


def absolute_url(endpoint: str, **values) -> str | None:
    """PUBLIC_BASE_URL plus the path when set, else the current request's host; None from the CLI."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    try:
        if base and not has_request_context():
            # From the command line (scheduled reminders, the worker) url_for has no request
            # to build from: build the path from the URL map itself.
            adapter = current_app.url_map.bind("", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
            return base.rstrip("/") + adapter.build(endpoint, values)
        if base:
            return base.rstrip("/") + url_for(endpoint, **values)
        return url_for(endpoint, _external=True, **values)
    except RuntimeError:
        # From the command line with no PUBLIC_BASE_URL there is no host to name.
        return None
