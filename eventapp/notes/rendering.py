"""Markdown for notes and actions, rendered and then sanitised with nh3."""
from __future__ import annotations

import difflib

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML stays text (html=False) and nh3 cleans the result anyway: two layers,
# because notes are typed under pressure and pasted from anywhere.
_md = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable("image")

# No h1/h2: notes sit inside pages that already have them (heading order stays sane).
ALLOWED_TAGS = {"p", "br", "strong", "em", "ul", "ol", "li", "blockquote", "code", "pre",
                "h3", "h4", "h5", "h6", "a", "hr"}


def sanitise(html: str) -> str:
    """Keep only harmless tags, no attributes but link targets, only http(s)/mailto links."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes={"a": {"href"}}, clean_content_tags={"script", "style"},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def render_markdown(text: str | None) -> Markup:
    """Markdown to safe HTML: no scripts, no event attributes, only http(s)/mailto links."""
    return Markup(sanitise(_md.render(text or "")))


def diff_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Line diff as (kind, text) pairs, kind in '+', '-', ' ' (unchanged context is trimmed)."""
    out = []
    for line in difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(), lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(("@", "…"))
        else:
            out.append((line[:1] or " ", line[1:]))
    return out

