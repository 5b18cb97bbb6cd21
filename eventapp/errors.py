"""Friendly error pages: no user ever sees a stack trace."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, render_template, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    403: ("You do not have access to this page", "If you think you should, ask the assembly organisers."),
    404: ("Page not found", "Check the address, or start again from the home page."),
    405: ("That action is not available here", "Please go back and use the buttons on the page."),
    413: ("That was too large to send", "Please send a smaller file."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: ("Sorry, something went wrong on our side", "Your request was not completed. Please try again in a moment."),
}


def init_app(app: Flask) -> None:
    def render(code: int, message: str | None = None):
        title, hint = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
        return render_template("error.html", code=code, title=title, hint=message or hint), code

    @app.errorhandler(CSRFError)
    def csrf_error(err):
        fields = _fields_to_send_again()
        if fields is not None:
            return render_template("send_again.html", fields=fields, action=_same_url(), back=_page_it_came_from(),
                                   signed_out=_needs_signing_in_again()), 400, \
                {"Cache-Control": "private, no-store"}  # it holds what was typed
        return render(400, "The form had expired or came from another site. Your changes were not saved: "
                           "go back, reload the page and submit it again.")

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException):
        if err.code is None or err.code < 400:
            return err
        if err.response is not None:  # a page of its own (a rate limit's on_breach, abort(response))
            return err.response
        if isinstance(err, SecurityError):
            # A Host not in FLASK_TRUSTED_HOSTS: no page of ours can be built for it (no links without a host).
            return "This site does not answer to that host name.\n", 400, {"Content-Type": "text/plain; charset=utf-8"}
        if err.code == 413:
            return too_large()
        body, code = render(err.code)
        # What the error's own response would have said besides its body (Allow on a 405, Retry-After).
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        return body, code, headers

    def too_large():
        if request.endpoint == "documents.index":
            from .documents.views import too_large as upload_too_large

            page = upload_too_large()
            if page is not None:
                return page
        limit = request.max_content_length or app.config["MAX_CONTENT_LENGTH"]
        # The body was not read, so the form cannot be shown again filled in: the browser's Back button may
        # still hold what was typed, and a fresh form is one link away when the address shows one.
        back = _same_url() if request.method == "POST" and _shows_a_page() else None
        return render_template("error.html", code=413, title=MESSAGES[413][0], back=back,
                               hint=f"What was sent is over the {_megabytes(limit)} this site accepts from a form, "
                                    "so nothing was saved. If you pasted a long text or pictures into a box, "
                                    "shorten it or leave the pictures out. Your browser’s Back button may "
                                    "still show what you typed."), 413

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        # The request id matches this traceback to its line in the request log.
        app.logger.exception("Unhandled error in %s %s (request_id %s)", request.method,
                             request.url_rule.rule if request.url_rule else "(no route)",
                             getattr(g, "request_id", "-"))
        return render(500)


def signed_out_send_again():
    """The "send again" page for a form from one of our pages posted by someone no longer signed in, or None.

    Used by the login manager instead of its redirect, which would lose what was typed."""
    fields = _fields_to_send_again()
    if fields is None:
        return None
    return render_template("send_again.html", fields=fields, action=_same_url(), back=_page_it_came_from(),
                           signed_out=True, reason="signed_out"), 401, {"Cache-Control": "private, no-store"}


def limited_send_again():
    """The "send again" page, status 429, for a form from one of our pages refused by a rate limit, or None.

    For a form whose page cannot simply be shown again with what was typed (form_limits does that where it can)."""
    fields = _fields_to_send_again()
    if fields is None:
        return None
    return current_app.make_response((
        render_template("send_again.html", fields=fields, action=_same_url(), back=_page_it_came_from(),
                        signed_out=False, reason="rate_limited"), 429, {"Cache-Control": "private, no-store"}))


def _from_this_site() -> bool:
    """Whether the browser says the refused form was on one of our own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return bool(origin) and origin != "null" and urlsplit(origin).netloc == request.host


def _fields_to_send_again() -> list[tuple[str, str]] | None:
    """What a form refused for its token carried, when it can safely be offered back to send again.

    Only for a form on one of our own pages whose token had expired (a tab left open overnight,
    a session that lapsed): a form from another site is refused outright, or its "send again"
    would carry a forged request past the check with one click. Never for passwords (they would
    sit in the page) or files (a page cannot carry them back)."""
    if request.method != "POST" or request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return None
    if request.files or not _from_this_site():
        return None
    fields = [(name, value) for name in request.form for value in request.form.getlist(name) if name != "csrf_token"]
    if not fields or any("password" in name.lower() for name, _ in fields):
        return None
    return fields


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".removesuffix(".0") + " MB"


def _shows_a_page() -> bool:
    """Whether this request's address also answers a GET: the page its form was on, as forms post to themselves."""
    rule = request.url_rule
    return rule is not None and "GET" in (rule.methods or ())


def _same_url() -> str:
    query = request.query_string.decode("latin-1")
    return request.script_root + request.path + (f"?{query}" if query else "")


STAFF_PREFIXES = ("/organiser/", "/facilitator/", "/account")


def _needs_signing_in_again() -> bool:
    # A staff page's session lapsed: sent again as it is, the form would only meet the sign-in page.
    return "_user_id" not in session and request.path.startswith(STAFF_PREFIXES)


def _page_it_came_from() -> str | None:
    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host or parts.scheme not in ("http", "https"):
        return None
    if parts.path.startswith("//") or "\\" in parts.path:
        # A browser reads a path starting "//" (or with a backslash for a slash) as another site's address.
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
