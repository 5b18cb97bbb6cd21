"""Role checks for views: least privilege per role."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required


def role_required(*roles: str):
    """Require a signed-in user with one of ``roles``; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


organiser_required = role_required("organiser")
staff_required = role_required("organiser", "facilitator")
# Reception staff and volunteers on the day: the check-in pages and nothing else.
checkin_required = role_required("organiser", "reception")
