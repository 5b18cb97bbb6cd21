"""Calendar feeds: a delegate's personal feed (secret link) and an assembly's public agenda."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from ..assemblies.views import load_assembly
from . import services

bp = Blueprint("invites", __name__)


def _calendar_response(body: str, filename: str, *, private: bool) -> Response:
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": f'inline; filename="{filename}"',
        # A personal feed names the delegate: never in a shared cache.
        "Cache-Control": "private, no-store" if private else "public, max-age=300",
    })


@bp.route("/calendar/<token>.ics")
def feed(token: str):
    reg = services.load_feed_token(token)
    if reg is None:
        abort(404)
    return _calendar_response(services.delegate_calendar(reg), "my-assembly.ics", private=True)


@bp.route("/a/<slug>/agenda.ics")
def agenda(slug: str):
    assembly = load_assembly(slug)
    if not assembly.is_public:
        abort(404)
    return _calendar_response(services.agenda_calendar(assembly), f"{assembly.slug}.ics", private=False)


@bp.app_template_global()
def calendar_links(registration) -> dict | None:
    """The subscribe links for a delegate's manage page (None until they hold a confirmed place)."""
    if registration.status != "confirmed":
        return None
    return {"https": services.feed_url(registration), "webcal": services.webcal_url(registration)}
