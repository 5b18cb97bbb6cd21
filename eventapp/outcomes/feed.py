"""The Atom feed (RFC 4287) of an assembly's public updates."""
from __future__ import annotations

import re
from datetime import datetime, time
from xml.etree import ElementTree as ET

from markupsafe import escape

from ..notes.rendering import render_markdown
from .models import AssemblyUpdate

ATOM = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry even escaped (most C0 controls, lone surrogates, U+FFFE/F).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text safe to put in an XML document (ElementTree escapes the rest)."""
    return _INVALID_XML.sub("\ufffd", value or "")


def _stamp(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def _carried_to_html(assembly, carried_url) -> str:
    # As the updates page says it: a draft assembly is not named, since its page is not public yet.
    if assembly is None:
        return ""
    if not assembly.is_public or carried_url is None:
        return " · Carried forward to the next assembly"
    return f' · Carried forward to <a href="{escape(carried_url(assembly))}">{escape(assembly.title)}</a>'


def _outcome_html(outcome, carried_url=None) -> str:
    """A workshop's published outcome as the updates page shows it (sanitised Markdown, escaped text)."""
    parts = []
    for s in outcome.sections:
        parts.append(f"<h3>{escape(s.label)}</h3>{render_markdown(s.body)}")
    if outcome.actions:
        items = "".join(f"<li>{render_markdown(a.description)}<p>Owner: {escape(a.owner_organisation)}"
                        + (f" · Due {a.due_date.isoformat()}" if a.due_date else "")
                        + f" · Status: {escape(a.status_label)}"
                        + (f", as of {a.status_on.isoformat()}" if a.status_on else "")
                        + _carried_to_html(a.carried_to, carried_url) + "</p></li>"
                        for a in outcome.actions)
        parts.append(f"<h3>Agreed actions</h3><ul>{items}</ul>")
    return "".join(parts)


def _carried_html(carried) -> str:
    """The actions carried into an assembly, as its updates page lists them."""
    items = "".join(f"<li>{render_markdown(c.description)}<p>Agreed at {escape(c.agreed_at)}"
                    + (f" ({escape(c.workshop)})" if c.workshop else "")
                    + f" · Owner: {escape(c.owner_organisation)}"
                    + (f" · Due {c.due_date.isoformat()}" if c.due_date else "")
                    + f" · Status: {escape(c.status_label)}</p></li>"
                    for c in carried)
    return ("<p>Actions agreed at earlier assemblies that were still open when this one was prepared, "
            f"and where they stand now.</p><ul>{items}</ul>")


def atom_feed(*, title: str, page_url: str, feed_url: str, feed_id: str, author: str,
              updates: list[AssemblyUpdate], entry_url, outcomes=(), outcome_url=None,
              carried=(), carried_url=None) -> bytes:
    """Serialise the updates, the workshops' published outcomes, then the actions carried in, as an Atom feed;
    ``entry_url(update)`` and ``outcome_url(outcome)`` give each entry's link, ``carried_url(assembly)``
    the address of the list of actions carried into an assembly."""
    ET.register_namespace("", ATOM)

    def sub(parent, tag, text=None, **attrs):
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_text(text)
        return el

    root = ET.Element(f"{{{ATOM}}}feed")
    sub(root, "title", title)
    sub(root, "id", feed_id)
    sub(root, "link", rel="alternate", type="text/html", href=page_url)
    sub(root, "link", rel="self", type="application/atom+xml", href=feed_url)
    def changed(u) -> datetime:
        # An update written ahead appears on its day: a reader that goes by <updated> must see it as new then.
        return max(u.updated_at, datetime.combine(u.published_on, time(9, 0)))

    dated = [o for o in outcomes if o.approved_at is not None]
    carried_on = max((c.carried_at for c in carried if c.carried_at is not None), default=None)
    newest = max([changed(u) for u in updates] + [o.approved_at for o in dated]
                 + ([carried_on] if carried_on else []), default=None)
    sub(root, "updated", _stamp(newest or datetime(2000, 1, 1)))
    sub(sub(root, "author"), "name", author)
    for u in updates:
        entry = sub(root, "entry")
        sub(entry, "title", u.title, type="text")
        sub(entry, "id", f"{feed_id}:update:{u.id}")
        sub(entry, "link", rel="alternate", type="text/html", href=entry_url(u))
        sub(entry, "published", _stamp(datetime.combine(u.published_on, time(9, 0))))
        sub(entry, "updated", _stamp(changed(u)))
        # HTML as escaped text (type="html"): already sanitised, then escaped once more by the serialiser.
        sub(entry, "content", str(render_markdown(u.body)), type="html")
    # A workshop's outcomes are news too: each is an entry, updated when the organisers approve it again.
    for o in outcomes:
        if o.approved_at is None:
            continue
        entry = sub(root, "entry")
        sub(entry, "title", f"Outcomes: {o.workshop_title}", type="text")
        sub(entry, "id", f"{feed_id}:outcome:{o.workshop_id}")
        sub(entry, "link", rel="alternate", type="text/html", href=outcome_url(o))
        sub(entry, "updated", _stamp(o.approved_at))
        sub(entry, "content", _outcome_html(o, carried_url), type="html")
    # What this assembly took on from earlier ones: one entry, as the page has one list, dated by the last carried.
    if carried:
        entry = sub(root, "entry")
        sub(entry, "title", "Carried forward from earlier assemblies", type="text")
        sub(entry, "id", f"{feed_id}:carried")
        sub(entry, "link", rel="alternate", type="text/html", href=f"{page_url}#carried")
        sub(entry, "updated", _stamp(carried_on or datetime(2000, 1, 1)))
        sub(entry, "content", _carried_html(carried), type="html")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)
