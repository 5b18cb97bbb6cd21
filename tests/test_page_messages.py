"""Messages flashed with flash_at(anchor, ...) show beside the element with that id; the rest, and those whose
element is not on the page, at the top of the page as before: each message once."""
from __future__ import annotations

from flask import flash, render_template_string

from eventapp.templating import flash_at
from tests.page_messages import message_boxes, where_shown

PAGE = """{% extends "base.html" %}{% from "macros.html" import flashes_at %}{% block title %}Test{% endblock %}
{% block content %}<h1>Page</h1><h2 id="here">Here</h2>{{ flashes_at("here") }}<p>Text</p>{% endblock %}"""


def _render(app, *flashes) -> str:
    with app.test_request_context("/"):
        for anchor, message, category in flashes:
            if anchor:
                flash_at(anchor, message, category)
            else:
                flash(message, category)
        return render_template_string(PAGE)


def test_a_message_with_an_anchor_on_the_page_is_beside_it_and_the_others_at_the_top(app):
    html = _render(app, (None, "Signed in as <Olu>.", "success"), ("here", "Saved <b>here</b>.", "success"),
                   ("not-on-this-page", "Saved elsewhere.", "error"))
    top, here = message_boxes(html)
    assert top.at_top and top.anchor is None and top.texts == ["Signed in as <Olu>.", "Saved elsewhere."]
    assert top.role == "alert"  # one of its messages says something failed
    assert here.after == "here" and here.anchor == "here" and here.texts == ["Saved <b>here</b>."]
    assert here.role == "status" and not here.at_top
    for text in ("Signed in as <Olu>.", "Saved <b>here</b>.", "Saved elsewhere."):
        assert len(where_shown(html, text)) == 1
    assert "Saved &lt;b&gt;here&lt;/b&gt;." in html and "<b>here</b>" not in html
    assert html.count("flashes.js") == 1


def test_only_messages_for_elements_not_on_the_page_still_show_at_the_top(app):
    html = _render(app, ("gone", "Status updated.", "success"))
    [box] = message_boxes(html)
    assert box.at_top and box.texts == ["Status updated."] and box.role == "status"
    assert "flashes.js" in html


def test_only_a_message_beside_its_element_leaves_no_empty_area_at_the_top(app):
    html = _render(app, ("here", "Action added.", "success"))
    [box] = message_boxes(html)
    assert box.after == "here" and "flashes.js" in html
    assert "flashes.js" not in _render(app)  # no message, no script
