"""The control-character checks match Unicode's own category Cc, character for character."""
from __future__ import annotations

import sys
import unicodedata

from eventapp.text import has_control, visible, without_control


def test_the_ranges_are_exactly_unicodes_control_characters():
    cc = {c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"}
    assert cc == set(range(0x00, 0x20)) | set(range(0x7F, 0xA0))
    for c in cc:
        assert has_control(f"a{chr(c)}b")
        assert visible(chr(c)) == "\ufffd" and without_control(f"a{chr(c)}b") == "ab"


def test_allowed_characters_pass_and_everything_else_is_kept_as_typed():
    text = "Siobhán O’Brien-李 ‮RTL‮ 🎉 <b>&amp;</b>\u200b\u00a0"
    assert not has_control(text) and visible(text) == text and without_control(text) == text
    assert not has_control("line one\nline two\tend", "\n\t")
    assert has_control("line one\r\nline two", "\n\t")
    assert visible("a\nb\x00c", "\n") == "a\nb\ufffdc"
