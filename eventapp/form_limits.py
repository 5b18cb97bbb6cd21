"""Rate limits on forms anyone may send: past a limit the form comes back as typed, saying when to send it again.

A bare "Too many attempts" page would drop what was typed (feedback written after the day, a registration
with its access needs). Instead the limit's on_breach shows the view's own page, the form unsent and marked
with the reason (``sent`` below), with status 429.
"""
from __future__ import annotations

import time
from typing import Callable

from flask import Response, current_app, g, request
from flask_limiter import RequestLimit

# Why a form came back, for limits counted per client address: colleagues behind their office's one
# address (its NAT) share them.
FROM_YOUR_NETWORK = ("This form has not been sent yet: a lot of forms have come from your network (colleagues on "
                     "the same connection count too) in a short time. Everything you entered is kept here.")


def refused_with(view: Callable, reason: str = FROM_YOUR_NETWORK,
                 again: str = "send it again") -> Callable[[RequestLimit], Response]:
    """An on_breach for ``view``'s limit: the view's page again, its form refused with ``reason``, status 429.

    ``view`` is the undecorated function, so showing the page counts nothing further; it must check its form
    with ``sent``, which is how the refusal reaches the form."""

    def refused(limit: RequestLimit) -> Response:
        g.form_refused = f"{reason} {_wait(limit.reset_at - time.time(), again)}"
        response = current_app.make_response(view(**(request.view_args or {})))
        if g.pop("form_refused_shown", False):
            response.status_code = 429
        return response

    return refused


def _wait(seconds: float, again: str) -> str:
    minutes = max(1, round(seconds / 60))
    wait = "a minute" if minutes == 1 else f"about {minutes} minutes"
    return f"Please wait {wait}, then {again}."


def sent(form) -> bool:
    """form.validate_on_submit(), except for a form its rate limit refused: that one gets the refusal as its error."""
    refusal = g.pop("form_refused", None)
    if refusal is not None:
        g.form_refused_shown = True
        form.form_errors.append(refusal)
        return False
    return form.validate_on_submit()
