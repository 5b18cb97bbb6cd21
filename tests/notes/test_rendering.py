"""Markdown in notes renders to safe HTML only."""
from __future__ import annotations

import re

from eventapp.notes.rendering import diff_lines, render_markdown, sanitise

TAG_WITH_EVENT = re.compile(r"<[a-z][^>]*\son\w+\s*=", re.I)


def test_markdown_formatting_survives():
    html = render_markdown("**Joint** visits\n\n- one\n- two\n\n[Plan](https://example.org/plan)")
    assert "<strong>Joint</strong>" in html and "<li>one</li>" in html
    assert '<a href="https://example.org/plan" rel="noopener noreferrer nofollow">Plan</a>' in html


def test_script_tags_never_come_out():
    html = render_markdown("Before <script>alert(1)</script> after\n\n<script>\nalert(2)\n</script>")
    assert "<script" not in html.lower()
    assert sanitise("<p>ok</p><script>alert(1)</script>") == "<p>ok</p>"


def test_javascript_links_are_removed():
    for text in ("[click](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "<javascript:alert(1)>",
                 "[x](  javascript:alert(1))", "[x](data:text/html;base64,PHNjcmlwdD4=)"):
        html = render_markdown(text)
        assert 'href="javascript' not in html.lower() and 'href="data' not in html.lower(), (text, html)
    assert "javascript" not in sanitise('<a href="javascript:alert(1)">x</a>')


def test_event_attributes_are_removed():
    text = '<img src=x onerror="alert(1)"> <a href="https://e.org" onclick="steal()">x</a> <p onmouseover=go()>p</p>'
    assert not TAG_WITH_EVENT.search(render_markdown(text))
    cleaned = sanitise(text)
    assert not TAG_WITH_EVENT.search(cleaned) and "onerror" not in cleaned and "onclick" not in cleaned


def test_style_and_iframes_go_too():
    cleaned = sanitise('<iframe src="https://evil"></iframe><style>body{}</style><p style="x">t</p>')
    assert "<iframe" not in cleaned and "<style" not in cleaned and "style=" not in cleaned and "<p>t</p>" in cleaned


def test_diff_marks_added_and_removed_lines():
    assert diff_lines("a\nb\nc", "a\nB\nc") == [("@", "…"), (" ", "a"), ("-", "b"), ("+", "B"), (" ", "c")]
