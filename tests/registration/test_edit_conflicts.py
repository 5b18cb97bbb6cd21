"""A registration edited from two places at once (the delegate's manage page, an organiser's edit form, two tabs):
a form opened before the other save is refused rather than putting the old details and choices back."""
from __future__ import annotations

import re

from eventapp.extensions import db
from eventapp.registration import services
from tests.conftest import csrf_from
from tests.registration.conftest import form_fields, person

SEEN_RE = re.compile(r'name="seen" type="hidden" value="([^"]*)"')
ORGANISER_CONFLICT = "Someone saved this registration after you opened this form"
DELEGATE_CONFLICT = "Your registration was changed after you opened this page"


def _register(app, setup, n=1, **kw):
    with app.test_request_context("/"):
        reg = services.register(setup.assembly, person(setup, n, **kw)).registration
        return reg, f"/manage/{services.make_manage_token(reg)}/edit"


def _organiser_url(setup, reg):
    return f"/organiser/assemblies/{setup.assembly.slug}/registrations/{reg.id}/edit"


def _opened(client, url):
    """The form as a browser opened it: (page, what it sends with Save besides the fields)."""
    page = client.get(url).get_data(as_text=True)
    seen = SEEN_RE.search(page)
    assert seen, "the form carries no version of what it shows"
    return page, {"csrf_token": csrf_from(page), "seen": seen.group(1)}


def _choices(setup, *indexes):
    ids = [str(setup.topics[i].id) for i in indexes] + ["0"] * (4 - len(indexes))
    return {f"choice_{i}": topic for i, topic in enumerate(ids, start=1)}


def _ids(setup, *indexes):
    return [setup.topics[i].id for i in indexes]


def test_an_organiser_form_opened_before_the_delegate_changed_their_choices_does_not_put_them_back(app, as_organiser, setup):
    reg, delegate_url = _register(app, setup)
    url = _organiser_url(setup, reg)
    _, organiser_sends = _opened(as_organiser, url)

    delegate = app.test_client()
    _, delegate_sends = _opened(delegate, delegate_url)
    resp = delegate.post(delegate_url, data={**form_fields(setup, **_choices(setup, 3, 2, 1)), **delegate_sends})
    assert resp.status_code == 302
    db.session.expire_all()
    assert reg.choice_topic_ids == _ids(setup, 3, 2, 1)

    # The organiser's form still shows the first three topics; they correct the job title.
    typed = form_fields(setup, job_title="Chief Inspector", **_choices(setup, 0, 1, 2))
    resp = as_organiser.post(url, data={**typed, **organiser_sends})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert ORGANISER_CONFLICT in page
    # What it now says where it differs from the form: the delegate's choices, by name.
    assert "Poor mental health" in page.split(ORGANISER_CONFLICT)[1].split("</")[0]
    assert 'value="Chief Inspector"' in page
    db.session.expire_all()
    assert reg.choice_topic_ids == _ids(setup, 3, 2, 1) and reg.job_title == "Community safety officer"

    # Saving again, having seen it, is the organiser's deliberate choice.
    again = {"csrf_token": csrf_from(page), "seen": SEEN_RE.search(page).group(1)}
    resp = as_organiser.post(url, data={**typed, **again})
    assert resp.status_code == 302
    db.session.expire_all()
    assert reg.choice_topic_ids == _ids(setup, 0, 1, 2) and reg.job_title == "Chief Inspector"


def test_the_delegates_form_opened_before_an_organiser_edit_does_not_undo_it(app, as_organiser, setup, organiser):
    reg, delegate_url = _register(app, setup)
    delegate = app.test_client()
    _, delegate_sends = _opened(delegate, delegate_url)

    url = _organiser_url(setup, reg)
    _, organiser_sends = _opened(as_organiser, url)
    resp = as_organiser.post(url, data={**form_fields(setup, dietary_needs="Halal", **_choices(setup, 1, 0, 2)),
                                        **organiser_sends})
    assert resp.status_code == 302

    typed = form_fields(setup, access_needs="Step-free access, please", **_choices(setup, 0, 1, 2))
    resp = delegate.post(delegate_url, data={**typed, **delegate_sends})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert DELEGATE_CONFLICT in page
    message = page.split(DELEGATE_CONFLICT)[1].split("</")[0]
    assert "Halal" in message and "Criminal exploitation" in message
    # Nothing of the organiser's side: not who they are, nor the organisers' words for it.
    assert organiser.email not in page and ORGANISER_CONFLICT not in page
    assert "Step-free access, please" in page
    db.session.expire_all()
    assert reg.dietary_needs == "Halal" and reg.choice_topic_ids == _ids(setup, 1, 0, 2) and reg.access_needs == ""

    again = {"csrf_token": csrf_from(page), "seen": SEEN_RE.search(page).group(1)}
    resp = delegate.post(delegate_url, data={**typed, **again})
    assert resp.status_code == 302
    db.session.expire_all()
    assert reg.access_needs == "Step-free access, please" and reg.dietary_needs == ""
    assert reg.choice_topic_ids == _ids(setup, 0, 1, 2)


def test_two_organiser_tabs_the_second_is_refused_and_quotes_a_changed_name_isolated(app, as_organiser, setup):
    reg, _ = _register(app, setup)
    url = _organiser_url(setup, reg)
    _, first = _opened(as_organiser, url)
    _, second = _opened(as_organiser, url)
    name = "\u202eDelegate One"
    assert as_organiser.post(url, data={**form_fields(setup, full_name=name), **first}).status_code == 302
    resp = as_organiser.post(url, data={**form_fields(setup, dietary_needs="Vegan"), **second})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and ORGANISER_CONFLICT in page
    assert f"\u2068{name}\u2069" in page.split(ORGANISER_CONFLICT)[1]
    db.session.expire_all()
    assert reg.full_name == name and reg.dietary_needs == ""


def test_a_save_with_nothing_saved_in_between_goes_through(app, as_organiser, setup):
    reg, delegate_url = _register(app, setup)
    delegate = app.test_client()
    _, sends = _opened(delegate, delegate_url)
    resp = delegate.post(delegate_url, data={**form_fields(setup, dietary_needs="Vegan", **_choices(setup, 2, 3, 0)), **sends})
    assert resp.status_code == 302
    url = _organiser_url(setup, reg)
    _, sends = _opened(as_organiser, url)
    resp = as_organiser.post(url, data={**form_fields(setup, dietary_needs="Vegan", job_title="PCSO",
                                                      **_choices(setup, 2, 3, 0)), **sends})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (reg.dietary_needs, reg.job_title, reg.choice_topic_ids) == ("Vegan", "PCSO", _ids(setup, 2, 3, 0))


def test_a_form_opened_before_the_check_existed_saves_as_before(app, as_organiser, setup):
    # A page opened before this release posts no "seen": it is saved, as it always was.
    reg, delegate_url = _register(app, setup)
    delegate = app.test_client()
    _, delegate_sends = _opened(delegate, delegate_url)
    url = _organiser_url(setup, reg)
    _, organiser_sends = _opened(as_organiser, url)
    assert as_organiser.post(url, data={**form_fields(setup, dietary_needs="Halal"), **organiser_sends}).status_code == 302
    resp = delegate.post(delegate_url, data={**form_fields(setup, job_title="PCSO", **_choices(setup, 3, 2, 1)),
                                             "csrf_token": delegate_sends["csrf_token"]})
    assert resp.status_code == 302
    db.session.expire_all()
    assert (reg.dietary_needs, reg.job_title, reg.choice_topic_ids) == ("", "PCSO", _ids(setup, 3, 2, 1))
    _, organiser_sends = _opened(as_organiser, url)
    resp = as_organiser.post(url, data={**form_fields(setup, job_title="Sergeant"),
                                        "csrf_token": organiser_sends["csrf_token"]})
    assert resp.status_code == 302
    db.session.expire_all()
    assert reg.job_title == "Sergeant"


def test_a_stale_form_that_already_says_what_was_saved_goes_through(app, as_organiser, setup):
    # Two tabs making the same correction: the second loses nothing of the first, so is not refused.
    reg, _ = _register(app, setup)
    url = _organiser_url(setup, reg)
    _, first = _opened(as_organiser, url)
    _, second = _opened(as_organiser, url)
    same = form_fields(setup, dietary_needs="Vegan", **_choices(setup, 2, 1, 0))
    assert as_organiser.post(url, data={**same, **first}).status_code == 302
    assert as_organiser.post(url, data={**same, **second}).status_code == 302
    db.session.expire_all()
    assert reg.dietary_needs == "Vegan" and reg.choice_topic_ids == _ids(setup, 2, 1, 0)
