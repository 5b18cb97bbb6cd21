"""Control characters in typed text: Unicode's category Cc, which is exactly U+0000-U+001F and U+007F-U+009F.

Looked for with a regular expression rather than unicodedata character by character: every public
form checks every answer, and the character loop cost more than the rest of the check.
"""
from __future__ import annotations

import re
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
