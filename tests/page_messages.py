"""Where a page shows its messages ("Action added."): at the top of <main>, or beside the element they are about."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class MessageBox:
    role: str
    anchor: str | None  # data-flash-for
    within: list[str]  # ids of the elements around the box, innermost first
    after: str | None  # id of the element just before it, in the same parent
    at_top: bool  # the first thing in <main>: the site-wide message area
    texts: list[str] = field(default_factory=list)

    def beside(self, element_id: str) -> bool:
        """Inside the element with that id, or straight after it."""
        return element_id in self.within or self.after == element_id


class _Boxes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # Each open element: [tag, id, id of its last finished child element, whether it had any child].
        self.stack: list[list] = []
        self.boxes: list[MessageBox] = []
        self.box_depth: int | None = None
        self.in_flash = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        parent = self.stack[-1] if self.stack else None
        if "flashes" in (attrs.get("class") or "").split() and self.box_depth is None:
            self.boxes.append(MessageBox(
                role=attrs.get("role", ""), anchor=attrs.get("data-flash-for"),
                within=[e[1] for e in reversed(self.stack) if e[1]],
                after=parent[2] if parent else None,
                at_top=bool(parent and parent[1] == "main" and not parent[3])))
            self.box_depth = len(self.stack)
        if self.box_depth is not None and "flash" in (attrs.get("class") or "").split():
            self.boxes[-1].texts.append("")
            self.in_flash = True
        if parent:
            parent[3] = True
        if tag not in _VOID:
            self.stack.append([tag, attrs.get("id"), None, False])
        elif parent:
            parent[2] = attrs.get("id")

    def handle_endtag(self, tag):
        while self.stack:
            done = self.stack.pop()
            if self.stack:
                self.stack[-1][2] = done[1]
            if self.box_depth is not None and len(self.stack) == self.box_depth:
                self.box_depth = None
            if done[0] == "p":
                self.in_flash = False
            if done[0] == tag:
                break

    def handle_data(self, data):
        if self.in_flash and self.boxes:
            self.boxes[-1].texts[-1] += data


def message_boxes(html: str) -> list[MessageBox]:
    """Every message box on the page, in page order."""
    parser = _Boxes()
    parser.feed(html)
    return parser.boxes


def where_shown(html: str, text: str) -> list[MessageBox]:
    """The boxes holding a message with this text (a message shown once: a list of one)."""
    return [box for box in message_boxes(html) for t in box.texts if text in t]


# Flashed sentences wrap user text in FSI ... PDI (eventapp.text.isolate); tests comparing their English wording
# read a page through this (tests/test_flash_isolation.py checks the isolates themselves).
WITHOUT_ISOLATES = {0x2068: None, 0x2069: None}
