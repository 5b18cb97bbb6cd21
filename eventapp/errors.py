"""Friendly error pages: no user ever sees a stack trace."""
from __future__ import annotations

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, SecurityError

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    403: ("You do not have access to this page", "If you think you should, ask the assembly organisers."),
    404: ("Page not found", "Check the address, or start again from the home page."),
    405: ("That action is not available here", "Please go back and use the buttons on the page."),
    413: ("That upload is too large", "Please send a smaller file."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: ("Sorry, something went wrong on our side", "Your request was not completed. Please try again in a moment."),
}


def init_app(app: Flask) -> None:
    def render(code: int, message: str | None = None):
        title, hint = MESSAGES.get(code, MESSAGES[500] if code >= 500 else MESSAGES[400])
        return render_template("error.html", code=code, title=title, hint=message or hint), code

    @app.errorhandler(CSRFError)
    def csrf_error(err):
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
        body, code = render(err.code)
        # What the error's own response would have said besides its body (Allow on a 405, Retry-After).
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        return body, code, headers

    @app.errorhandler(Exception)
    def unexpected(err: Exception):
        # The request id matches this traceback to its line in the request log.
        app.logger.exception("Unhandled error in %s %s (request_id %s)", request.method,
                             request.url_rule.rule if request.url_rule else "(no route)",
                             getattr(g, "request_id", "-"))
        return render(500)
