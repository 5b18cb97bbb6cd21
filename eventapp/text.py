"""Control characters in typed text: Unicode's category Cc, which is exactly U+0000-U+001F and U+007F-U+009F.

Looked for with a regular expression rather than unicodedata character by character: every public
form checks every answer, and the character loop cost more than the rest of the check.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

CONTROL_RANGES = ((0x00, 0x1F), (0x7F, 0x9F))


@lru_cache(maxsize=8)
def _pattern(allowed: str) -> re.Pattern:
    chars = "".join(re.escape(chr(c)) for lo, hi in CONTROL_RANGES for c in range(lo, hi + 1) if chr(c) not in allowed)
    return re.compile(f"[{chars}]")


def has_control(text: str, allowed: str = "") -> bool:
    """Whether text holds a control character other than those in ``allowed``."""
    return _pattern(allowed).search(text) is not None


def visible(text: str, allowed: str = "") -> str:
    """text with each control character (other than those in ``allowed``) shown as U+FFFD."""
    return _pattern(allowed).sub("\ufffd", text)


def without_control(text: str) -> str:
    """text with every control character left out."""
    return _pattern("").sub("", text)


FSI, PDI = "\u2068", "\u2069"
_ISOLATE_OPENERS = frozenset("\u2066\u2067\u2068")  # LRI, RLI, FSI
# Bidi classes that can reorder the sentence around a value: right-to-left letters, Arabic digits and the
# explicit embeddings, overrides and isolates (and their terminators).
_REORDERING = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def isolate(value: object) -> str:
    """value wrapped in a first-strong isolate (FSI ... PDI) when it holds right-to-left or bidi control
    characters, for user text inside a plain-text sentence.

    The plain-text counterpart of <bdi>: it survives the session cookie and any escaping, and keeps an RLO,
    an embedding or strong right-to-left text from reordering the words around it. The value itself is
    unchanged; only an unmatched PDI in it (which would end this isolate early and let the rest of the
    value loose on the sentence) gets an extra FSI to close, and unclosed isolates in it get their PDIs.
    """
    text = str(value)
    if not any(unicodedata.bidirectional(char) in _REORDERING for char in text):
        # Left-to-right text cannot reorder an English sentence: left as it is, so what a screen reader
        # reads and what is copied from the page carries no invisible characters it does not need.
        return text
    open_count = unmatched = 0
    for char in text:
        if char in _ISOLATE_OPENERS:
            open_count += 1
        elif char == PDI:
            if open_count:
                open_count -= 1
            else:
                unmatched += 1
    return FSI * (1 + unmatched) + text + PDI * (1 + open_count)


def is_number(text: str, max_digits: int | None = None) -> bool:
    """Whether text is a whole number int() reads, in ASCII digits only (at most max_digits of them): "²" and
    "٣" are digits to str.isdigit(), but int("²") raises."""
    return text.isascii() and text.isdigit() and (max_digits is None or len(text) <= max_digits)


def sort_key(text: str) -> str:
    """A name as people look it up in an alphabetical list: case and accents ignored, so "Émile" comes among
    the Es, not after "Zoë" (reception desks are split by these ranges)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))
