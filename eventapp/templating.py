"""Jinja filters and globals shared by every template."""
from __future__ import annotations

import numbers
import re
from datetime import date, datetime, time, timezone
from html import escape as html_escape
from typing import Callable

from flask import Flask, current_app, flash, g, get_flashed_messages, has_request_context, request, session, url_for
from flask_wtf.csrf import generate_csrf
from jinja2 import pass_context
from markupsafe import Markup, escape
from werkzeug.urls import iri_to_uri
from wtforms.form import BaseForm

_URL_RE = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_CLOSERS = {")": "(", "]": "["}


_BULLET_RE = re.compile(r"^\s*[-*\u2022]\s+(.*)$")
_NUMBERED_RE = re.compile(r"^\s*(\d{1,3})[.)]\s+(.*)$")


def escape_text(value) -> str:
    """escape() as a plain str, for HTML built in Python and wrapped in one Markup: html.escape makes no
    Markup object per value, half the cost on a list page escaping a few hundred values. Markup (already
    safe) and non-strings still go through markupsafe."""
    return html_escape(value) if value.__class__ is str else str(escape(value))


def text_blocks(text: str | None) -> list[tuple[str, list[str], int]]:
    """Plain text as the blocks an email's HTML part shows: ("p", lines, 0), ("ul", items, 0) or
    ("ol", items, first number). Paragraphs are separated by a blank line; lines starting "- ", "* " or
    "\u2022 " are a bulleted list and lines starting "1. " or "1) " a numbered one, as people type them in
    a plain-text email (a screen reader then announces a list of so many items)."""
    blocks: list[tuple[str, list[str], int]] = []
    for para in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n\n"):
        for line in para.strip("\n").split("\n"):
            bullet, numbered = _BULLET_RE.match(line), _NUMBERED_RE.match(line)
            kind, item, start = (("ul", bullet.group(1), 0) if bullet else
                                 ("ol", numbered.group(2), int(numbered.group(1))) if numbered else ("p", line, 0))
            if blocks and blocks[-1][0] == kind and not blocks[-1][3]:
                blocks[-1][1].append(item)
            else:
                blocks.append([kind, [item], start, False])
        if blocks:
            blocks[-1][3] = True  # a blank line ends the block
    return [(kind, lines, start) for kind, lines, start, _ in blocks if any(line.strip() for line in lines)]


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with its web addresses made links (an organiser's email pasted from anywhere)."""
    text = text or ""
    out, pos = [], 0
    for match in _URL_RE.finditer(text):
        url = match.group(0)
        while url:
            # A full stop or comma after an address ends the sentence, and a bracket closed
            # but never opened in the address closes the text around it.
            if url[-1] in ".,;:!?'\"":
                url = url[:-1]
            elif url[-1] in _CLOSERS and url.count(_CLOSERS[url[-1]]) < url.count(url[-1]):
                url = url[:-1]
            else:
                break
        if len(url) <= len("https://"):
            continue
        out.append(escape(text[pos:match.start()]))
        out.append(Markup('<a href="{0}">{0}</a>').format(url))
        pos = match.start() + len(url)
    out.append(escape(text[pos:]))
    return Markup("").join(out)


# A page number no list reaches (security.MAX_PAGE refuses larger ones): marks where the number goes.
_PAGE_MARKER = 4_611_686_018_427_387_903


# English names, as the C locale's strftime gives, without strftime: it costs several
# microseconds a call here, and an invitation email formats about fifteen dates.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


# Links a template builds are kept per (application root, blueprint of a relative endpoint,
# endpoint, values); past this many, further links are built each time (still right).
URL_CACHE_SIZE = 4096


def cached_url_for(endpoint: str, **values) -> str:
    """url_for through the application's link cache: every page builds the same navigation and action
    links, and werkzeug's route building costs 15-20 µs a link against about 1 µs for a look-up."""
    app = current_app._get_current_object()
    links = app.extensions.get("eventapp.links")
    # _external, _scheme, _anchor, _method depend on more than the route; no request: no root.
    if links is None or not has_request_context() or any(k[:1] == "_" for k in values):
        return app.url_for(endpoint, **values)
    # The request itself, not its proxy: on Python 3.11 each attribute read through a proxy
    # first raises (and discards) an AttributeError, and a page builds twenty-odd links.
    req = request._get_current_object()
    try:
        key = (req.script_root, req.blueprint if endpoint[:1] == "." else None, endpoint,
               tuple(sorted(values.items())))
        hit = links.get(key)
    except TypeError:  # a value that cannot be a key (a list of query values)
        return app.url_for(endpoint, **values)
    if hit is None:
        hit = app.url_for(endpoint, **values)
        if len(links) < URL_CACHE_SIZE:
            links[key] = hit
    return hit


def options(choices, selected=None) -> Markup:
    """<option>s of a <select> from (value, label) pairs, the selected one marked. One call for a list
    of forty organisations, where a template loop costs three expressions an option."""
    chosen = "" if selected is None else str(selected)
    return Markup("".join(
        f'<option value="{escape_text(value)}"{" selected" if str(value) == chosen else ""}>{escape_text(label)}</option>'
        for value, label in choices))


# The header's menu, per role (None: signed out): (endpoint, label) in the order shown.
_NAV_ORGANISER = (("assemblies.organiser_index", "Assemblies"), ("organisations.index", "Organisations"),
                  ("assemblies.topics", "Topics"), ("accounts.users", "Users"), ("notes.all_actions", "Actions"),
                  ("outcomes.tracker", "Tracker"), ("mail.index", "Outbox"))
NAV_CACHE_SIZE = 64


def _nav_html(role: str | None) -> tuple[str, str]:
    """The menu's <li>s for a role, as the HTML before and after the sign-out form's CSRF token."""
    if role is None:
        return f'<li><a href="{escape_text(cached_url_for("accounts.login"))}">Staff sign in</a></li>', ""
    items = list(_NAV_ORGANISER) if role == "organiser" else []
    items.append(("checkin.home", "Check-in") if role == "reception" else ("facilitators.home", "My workshops"))
    items.append(("accounts.change_password", "Password"))
    before = "".join(f'<li><a href="{escape_text(cached_url_for(endpoint))}">{label}</a></li>' for endpoint, label in items)
    before += (f'<li><form method="post" action="{escape_text(cached_url_for("accounts.logout"))}" class="inline" '
               'data-sign-out><input type="hidden" name="csrf_token" value="')
    return before, '"><button type="submit" class="link-button">Sign out</button></form></li>'


def site_nav(user) -> Markup:
    """The header's menu for this person. Built once per role and kept: it is the same on every page, and
    its nine links and three role tests cost a template about as much as a short page's content."""
    role = user.role if user.is_authenticated else None
    cache = current_app.extensions["eventapp.nav"]
    key = (request.script_root, role)
    parts = cache.get(key)
    if parts is None:
        parts = _nav_html(role)
        if len(cache) < NAV_CACHE_SIZE:
            cache[key] = parts
    if role is None:
        return Markup(parts[0])
    return Markup(f"{parts[0]}{escape_text(generate_csrf())}{parts[1]}")


def flash_at(anchor: str, message: str, category: str = "message") -> None:
    """Flash a message shown next to the element with id `anchor` on the next page (at the top if it has none)."""
    flash(message, category)
    # Flask keeps (category, message) pairs; the anchor rides along as a third item, which
    # get_flashed_messages passes through untouched.
    flashes = session["_flashes"]
    flashes[-1] = (category, message, anchor)
    session["_flashes"] = flashes


class PageFlashes:
    """This request's flashed messages, each shown once: next to its anchor where the page has one (the
    flashes_at macro, rendered with the content), the rest at the top of the page (base.html, after)."""

    def __init__(self, flashed) -> None:
        self.pending = [(f[0], f[1], f[2] if len(f) > 2 else None) for f in flashed]
        self.any = bool(self.pending)

    def take(self, anchor: str | None = None) -> list[tuple[str, str]]:
        """The (category, message) pairs for `anchor` not shown yet; with no anchor, every one not shown yet."""
        if not self.pending:
            return []
        taken = [(c, m) for c, m, a in self.pending if anchor is None or a == anchor]
        if taken:
            self.pending = [f for f in self.pending if anchor is not None and f[2] != anchor]
        return taken


def flash_box(messages: list[tuple[str, str]], anchor: str | None = None) -> Markup:
    """The box of flashed messages (base.html at the top, the flashes_at macro beside an element).

    On the page from the start, so a live region alone is not announced: flashes.js moves the focus to it
    (tabindex), or reads it out another way where the page puts the focus elsewhere. A message saying
    something failed makes it an alert. Built here rather than in a macro: base.html would otherwise import
    macros.html on every page.
    """
    if not messages:
        return Markup("")
    role = "alert" if any(category in ("error", "danger") for category, _ in messages) else "status"
    target = f' data-flash-for="{escape(anchor)}"' if anchor else ""
    body = "".join(f'<p class="flash flash-{escape(category)}">{escape(message)}</p>' for category, message in messages)
    return Markup(f'<div class="flashes" role="{role}" tabindex="-1"{target}>\n    {body}\n  </div>')


def page_flashes() -> PageFlashes:
    """The messages flashed for this request (read from the session once)."""
    found = g.get("_page_flashes")
    if found is None:
        found = g._page_flashes = PageFlashes(get_flashed_messages(with_categories=True))
    return found


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """A count with its noun as people write it: "1 row", "2 rows", "1,234 people"."""
    return f"{int(n):,} {singular if n == 1 else (plural or singular + 's')}"


def line(text: str | None) -> str:
    """A one-line value (a title, a venue, a room) as a plain-text email's sentence shows it: stored as typed,
    a line break or run of spaces in it shown as one space, so it cannot split the sentence around it."""
    return " ".join(str(text or "").split())


def oneline(text: str | None) -> str:
    """Lines typed in a box (an address) on one line, comma-separated: "1 Market Place, Shireford"."""
    # splitlines: a browser sends a textarea's lines with CRLF, and a CR left alone breaks a text email's line.
    return ", ".join(line.strip() for line in (text or "").splitlines() if line.strip())


# Zones as the people there name them; any other zone keeps its IANA name, which is unambiguous.
_ZONE_NAMES = {"Europe/London": "UK"}


def zone_time(tz: str | None) -> str:
    """The time zone after a time, as a reader says it: "UK time" for Europe/London, else "Europe/Paris time"."""
    tz = tz or "Europe/London"
    return f"{_ZONE_NAMES.get(tz, tz)} time"


def longdate(value: date | datetime | None) -> str:
    """A day as people write it: "Thursday 18 March 2027"."""
    if not value:
        return ""
    return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["counted"] = counted
    app.jinja_env.filters["longdate"] = longdate
    app.jinja_env.filters["oneline"] = oneline
    app.jinja_env.filters["line"] = line
    app.jinja_env.filters["zone_time"] = zone_time
    app.extensions["eventapp.links"] = {}
    app.extensions["eventapp.nav"] = {}
    app.jinja_env.globals["site_nav"] = site_nav
    app.jinja_env.globals["url_for"] = cached_url_for
    app.jinja_env.globals["options"] = options

    @app.template_filter("clock")
    def clock(value: datetime | None, tz: str | None = None, fmt: str = "%d %b %Y %H:%M") -> str:
        """A stored (naive UTC) time as the clock reads where the assembly is held, with the zone's
        name: "18 Oct 2026 09:30 BST". Staff read times in the hall's time, not in UTC."""
        if not value:
            return ""
        from zoneinfo import ZoneInfo

        aware = value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz or "Europe/London"))
        return f"{aware.strftime(fmt)} {aware.tzname()}"

    app.add_template_filter(linkify, "linkify")
    app.jinja_env.globals["page_flashes"] = page_flashes
    app.jinja_env.globals["flash_box"] = flash_box
    app.add_template_filter(text_blocks, "text_blocks")

    @app.template_filter("local")
    def local(value: datetime | None, tz: str | None = None) -> datetime | None:
        """A stored (naive UTC) time as the clock read where the assembly is held."""
        from .timeutil import utc_to_local

        return utc_to_local(value, tz or "Europe/London") if value else value

    @app.template_filter("num")
    def num(value: int | None) -> str:
        """A count as people read it: 10,000 rather than 10000."""
        # int first: isinstance(int, numbers.Integral) never caches (int is registered, not a subclass), so
        # each call runs the ABC's subclass check, several times on every list page.
        if type(value) is int or isinstance(value, numbers.Integral):  # numpy's integers too (the allocation's)
            return f"{int(value):,}"
        return "" if value is None else str(value)

    @app.template_filter("hm")
    def hm(value: time | datetime | None) -> str:
        return f"{value.hour:02d}:{value.minute:02d}" if value else ""

    @app.template_global()
    def taken_place(assembly) -> bool:
        """Whether the assembly's day is over (then a registration can no longer be cancelled)."""
        from .registration.services import has_taken_place

        return has_taken_place(assembly)

    @app.template_global()
    def feedback_open(registration) -> bool:
        """Whether this delegate can give (or change) their feedback now: emails then link to the form."""
        from .feedback.services import can_give

        return can_give(registration)[0]

    @app.template_global()
    def this_page() -> str:
        """The page's own address, for a form's action. With no action a form posts to the address in
        the bar, #fragment included: after a user followed an error-summary link (#email), the next
        page kept that fragment, and a fragment in the address stops the browser from honouring
        autofocus, so a second failed submit left the error summary unfocused and off screen."""
        query = request.query_string.decode("latin-1")
        return iri_to_uri(request.script_root + request.path) + (f"?{query}" if query else "")

    @app.template_global()
    def present(attrs: dict) -> dict:
        """Drop attributes whose value is None so WTForms does not render them."""
        return {k: v for k, v in attrs.items() if v is not None}

    @app.template_global()
    @pass_context
    def form_has_errors(context) -> bool:
        """Whether a form on the page came back with errors (the title then starts "Error: ", WCAG 3.3.1).

        Looks at every form the view passed, and at the forms in a dict of them (the partner
        page's and the history page's one form per action).
        """
        # type(), not isinstance(): the context holds proxies (request, session, current_user), which
        # isinstance() would resolve one by one on every page. Plain dicts only: the app's config,
        # the session and the query's MultiDict are dicts too, and every page would look through them.
        for value in context.get_all().values():
            kind = type(value)
            if issubclass(kind, BaseForm):
                if value.errors:
                    return True
            elif kind is dict and any(issubclass(type(v), BaseForm) and v.errors for v in value.values()):
                return True
        return False

    @app.template_global()
    def page_url(page: int) -> str:
        args = request.args.to_dict()
        args["page"] = page
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @app.template_global()
    def pagination_nav(page, label: str = "Pages", anchor: str = "") -> Markup:
        """The pagination bar (macros.html pagination): built here, byte for byte as the macro's template
        wrote it, where its loop of template expressions cost a list page about as much as its SQL."""
        if not page.pages > 1:
            return Markup("\n  \n")
        page_url = page_urls()
        anchor = escape_text(anchor)
        out = [f'\n  \n  <nav class="pagination" aria-label="{escape_text(label)}">\n'
               f"    <p>Page {num(page.page)} of {num(page.pages)} ({num(page.total)} in all)</p>\n    <ul>\n      "]
        if page.has_prev:
            out.append(f'<li><a href="{escape_text(page_url(page.prev_num))}{anchor}" rel="prev">Previous page</a></li>')
        out.append("\n      ")
        current = page.page
        for p in page.iter_pages(left_edge=1, right_edge=1, left_current=2, right_current=2):
            if p:
                current_attr = ' aria-current="page"' if p == current else ""
                out.append(f'\n        \n          <li><a{current_attr} href="{escape_text(page_url(p))}{anchor}">'
                           f"{escape_text(str(p))}</a></li>\n        \n      ")
            else:
                out.append('\n        <li aria-hidden="true">&hellip;</li>\n      ')
        out.append("\n      ")
        if page.has_next:
            out.append(f'<li><a href="{escape_text(page_url(page.next_num))}{anchor}" rel="next">Next page</a></li>')
        out.append("\n    </ul>\n  </nav>\n  \n")
        return Markup("".join(out))

    @app.template_global()
    def page_urls() -> Callable[[int], str]:
        """page_url for a pagination bar's several links: the address is built once, then only the number changes."""
        req = request._get_current_object()
        args = req.args.to_dict()
        args["page"] = _PAGE_MARKER
        # Searches and filters in the address would fill the shared link cache with keys used once: built here.
        build = cached_url_for if len(args) == 1 else url_for
        parts = build(req.endpoint, **(req.view_args or {}), **args).split(str(_PAGE_MARKER))
        if len(parts) != 2:  # the marker's digits elsewhere in the address too
            return page_url
        head, tail = parts
        return lambda page: f"{head}{int(page)}{tail}"
