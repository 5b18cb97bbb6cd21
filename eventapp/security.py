"""Security headers on every response, and a guard against input no page can use."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, g, render_template, request
from sqlalchemy.exc import DataError

from .text import is_number

# Far beyond any real list; larger numbers overflow the database's OFFSET.
MAX_PAGE = 100_000

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)

# Staff pages where people type at length in a hall with unreliable Wi-Fi: the browser may keep
# these for Back, so a Save that never arrived can be retried with the text still in the page.
# Every other page a signed-in person sees is never stored: after signing out on a shared
# computer, Back must not show the registrations, access needs or notes of whoever was before.
KEPT_FOR_BACK = frozenset({"notes.edit", "notes.save", "notes.resume", "notes.actions", "notes.edit_action"})


def init_app(app: Flask) -> None:
    @app.before_request
    def refuse_unusable_input():
        # PostgreSQL cannot store or compare NUL characters, and no person types one:
        # refuse them up front (a friendly 400) rather than fail inside a query.
        sources = [request.args] + ([request.form] if request.method == "POST" else [])
        if "\x00" in request.path or any(
            "\x00" in key or "\x00" in value for source in sources for key, value in source.items(multi=True)
        ):
            abort(400)
        page = request.args.get("page", "")
        if is_number(page) and int(page) > MAX_PAGE:
            abort(404)

    if not (app.config.get("PUBLIC_BASE_URL") or app.config.get("TRUSTED_HOSTS") or app.testing):
        warned, local = [], set()

        @app.before_request
        def answer_only_this_computer():
            # Without a public address, links in emails (a password reset, a delegate's personal link) would be
            # built from the Host header, which a client chooses: a reset requested with "Host: evil.example"
            # would mail the organiser a link to that site carrying a working token. So, until the operator says
            # which address people use, only this computer's own names are answered (as Django's ALLOWED_HOSTS).
            if request.host in local:
                return None
            host = urlsplit("//" + request.host).hostname or ""
            if host in ("localhost", "127.0.0.1", "::1"):
                local.add(request.host)  # loopback names only: a handful at most
                return None
            if request.endpoint in ("ops.healthz", "ops.readyz"):
                return None  # a load balancer's probe by address: no link is built
            if not warned:
                warned.append(host)
                app.logger.warning(
                    "Refused a request for host %r: FLASK_PUBLIC_BASE_URL is not set, so links in emails (personal "
                    "links, password resets) would take their host from the Host header, which any client can set. "
                    "Set FLASK_PUBLIC_BASE_URL to the address people use (or FLASK_TRUSTED_HOSTS to the names this "
                    "app answers to) to serve other computers.", host)
            return ("This site answers only on this computer until its public address is set (FLASK_PUBLIC_BASE_URL "
                    "or FLASK_TRUSTED_HOSTS: see the README, Production).\n", 400,
                    {"Content-Type": "text/plain; charset=utf-8"})

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def out_of_range(err):
        # A number no column can hold (an id of 20 digits, say) reaches the database driver
        # from any form or URL: it is the request that is wrong, so answer 400, not 500.
        from .extensions import db

        db.session.rollback()
        return render_template("error.html", code=400, title="Something in that request was not right",
                               hint="A value was far outside what this form accepts. Please go back and check it."), 400

    @app.after_request
    def headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        user = g.get("_login_user")  # loaded by any page that asked who is signed in (every page's header)
        if user is not None and user.is_authenticated and request.endpoint not in KEPT_FOR_BACK:
            h.setdefault("Cache-Control", "private, no-store")
        elif "token" in (request.view_args or {}):
            # A personal link (a delegate's page, a partner's actions, a reset) is the person's key, with no
            # one signed in: Back on a shared computer, or a cache between, must not keep their details.
            h.setdefault("Cache-Control", "private, no-store")
        if request.is_secure:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
