"""Forgotten password: a signed, expiring, single-use link emailed through the outbox; no account enumeration."""
from __future__ import annotations

import email
import email.policy
import re

from sqlalchemy import select

from eventapp.accounts import services
from eventapp.extensions import db as _db
from eventapp.mail.models import OutboxMessage
from tests.conftest import PASSWORD, post_form, rate_limited_client

NEW_PASSWORD = "a brand new passphrase"


def _reset_mails():
    return list(_db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "password_reset")))


def _link(message: OutboxMessage) -> str:
    return re.search(r"http://localhost(/reset-password/\S+)", message.body_text).group(1)


def test_login_page_links_to_reset(client):
    assert 'href="/forgot-password"' in client.get("/login").get_data(as_text=True)


def test_same_answer_whether_or_not_the_account_exists(client, organiser):
    known = post_form(client, "/forgot-password", {"email": organiser.email})
    unknown = post_form(client, "/forgot-password", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert (known.get_data(as_text=True).replace(organiser.email, "X")
            == unknown.get_data(as_text=True).replace("nobody@example.org", "X"))
    mails = _reset_mails()
    assert [m.to_email for m in mails] == [organiser.email]


def test_link_sets_a_new_password_once_and_ends_other_sessions(app, client, auth, organiser):
    other = app.test_client()
    post_form(other, "/login", {"email": organiser.email, "password": PASSWORD})
    assert other.get("/organiser/").status_code == 200
    post_form(client, "/forgot-password", {"email": organiser.email.upper()})
    link = _link(_reset_mails()[0])
    short = post_form(client, link, {"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Use 10 to 200 characters." in short.get_data(as_text=True)
    done = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    # Used once: the same link no longer works, the old password neither, the new one does.
    assert client.get(link).status_code == 404
    assert auth.login(organiser.email).status_code == 400
    assert auth.login(organiser.email, NEW_PASSWORD).status_code == 302
    assert other.get("/organiser/").status_code == 302  # the other session was signed out


def test_forged_and_expired_links_are_refused(app, client, organiser, monkeypatch):
    token = services.make_reset_token(organiser)
    assert client.get(f"/reset-password/{token[:-2]}xx").status_code == 404
    monkeypatch.setattr(services, "RESET_MAX_AGE", -1)
    assert client.get(f"/reset-password/{token}").status_code == 404


def test_hostile_name_is_escaped_in_the_email(client, db):
    from tests.factories import make_user

    make_user("facilitator", email="hostile@example.org", name="<script>alert(1)</script>\r\nBcc: x@evil.test")
    post_form(client, "/forgot-password", {"email": "hostile@example.org"})
    (mail,) = _reset_mails()
    assert "<script>" not in mail.body_html and "\n" not in mail.to_name


def test_another_organiser_cannot_read_a_reset_link_in_the_outbox(client, auth, organiser, facilitator):
    # Anyone may ask for a reset link for any address; an organiser reading the Outbox must
    # not be able to open it (it would sign them in as that colleague).
    post_form(client, "/forgot-password", {"email": facilitator.email})
    (message,) = _reset_mails()
    link = _link(message)
    token = link.rsplit("/", 1)[1]
    auth.login(organiser.email)
    pages = [client.get(f"/organiser/outbox/{message.id}{suffix}") for suffix in ("", "/body.html", "/message.eml")]
    eml = email.message_from_bytes(pages[2].get_data(), policy=email.policy.default)
    texts = [p.get_content() for p in eml.walk() if p.get_content_maintype() == "text"]
    assert len(texts) == 2  # text and HTML, decoded
    assert [page.status_code for page in pages] == [200, 200, 200]
    for body in [pages[0].get_data(as_text=True), pages[1].get_data(as_text=True)] + texts:
        assert token not in body and "/reset-password/" not in body.replace("/reset-password/…", "")
    assert "only the account holder" in pages[0].get_data(as_text=True)
    # The email itself still carries the link, and it works for the person it was sent to.
    assert token in _db.session.get(OutboxMessage, message.id).body_text
    auth.logout()
    assert client.get(link).status_code == 200


def test_asking_again_and_again_sends_one_email_a_quarter_of_an_hour(client, organiser, monkeypatch):
    from datetime import timedelta

    for _ in range(4):
        resp = post_form(client, "/forgot-password", {"email": organiser.email})
        assert resp.status_code == 200
    assert len(_reset_mails()) == 1
    later = services.utcnow() + timedelta(minutes=16)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    post_form(client, "/forgot-password", {"email": organiser.email})
    assert len(_reset_mails()) == 2
    # Once the link is used, asking again sends a new one at once.
    link = _link(_reset_mails()[-1])
    assert post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    post_form(client, "/forgot-password", {"email": organiser.email})
    assert len(_reset_mails()) == 3


def _forged_host_reset(client, organiser):
    page = client.get("/forgot-password", headers={"Host": "evil.example"})
    if page.status_code != 200:
        return page
    from tests.conftest import csrf_from

    return client.post("/forgot-password", headers={"Host": "evil.example"},
                       data={"csrf_token": csrf_from(page.get_data(as_text=True)), "email": organiser.email})


def test_a_forged_host_header_never_puts_its_host_in_a_reset_link(app, client, organiser, monkeypatch):
    # With the public address set (as the README's production recipe does), links use it whatever Host says.
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://assembly.example.org")
    _forged_host_reset(client, organiser)
    (mail,) = _reset_mails()
    assert "evil.example" not in mail.body_text + mail.body_html
    assert "https://assembly.example.org/reset-password/" in mail.body_text


def test_trusted_hosts_refuse_a_forged_host_header(app, client, organiser, monkeypatch):
    # Without a public address, FLASK_TRUSTED_HOSTS makes any other Host a plain refusal.
    monkeypatch.setitem(app.config, "TRUSTED_HOSTS", ["assembly.example.org", "localhost"])
    resp = _forged_host_reset(client, organiser)
    assert resp.status_code == 400 and "Traceback" not in resp.get_data(as_text=True)
    assert _reset_mails() == []
    assert client.get("/forgot-password").status_code == 200  # the right host still works


def test_a_request_for_a_link_refused_by_the_limit_keeps_the_address_and_sends_nothing(app, db, organiser):
    address = organiser.email  # read before the other app's session works on the same connection
    with rate_limited_client(app) as client:
        for i in range(5):
            assert post_form(client, "/forgot-password", {"email": f"nobody{i}@example.org"}).status_code == 200
        refused = post_form(client, "/forgot-password", {"email": address})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert ("No link has been sent yet: a lot of requests have come from your network in a short time. Your email "
            "address is kept here. Please wait a minute, then ask again.") in page
    assert f'value="{address}"' in page
    assert _reset_mails() == []


def test_a_new_password_refused_by_the_limit_says_to_type_it_again_and_changes_nothing(app, db, organiser):
    link = f"/reset-password/{services.make_reset_token(organiser)}"
    with rate_limited_client(app) as client:
        for _ in range(10):
            assert post_form(client, link, {"password": "short", "confirm": "short"}).status_code == 400
        refused = post_form(client, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    assert ("Your password has not been changed yet: there have been many attempts from your network in a short "
            "time. The new password is not kept here: type it again.") in page
    assert NEW_PASSWORD not in page
    assert services.authenticate(organiser.email, PASSWORD) is not None


def _request_rows():
    from eventapp.accounts.models import ResetRequest

    return {r.address_key: r.requests for r in _db.session.scalars(select(ResetRequest))}


def test_a_request_writes_the_same_record_whether_or_not_the_account_exists(client, organiser):
    # The same write either way: a request for an account must not take a database write longer than one without.
    post_form(client, "/forgot-password", {"email": organiser.email})
    assert list(_request_rows().values()) == [1]
    post_form(client, "/forgot-password", {"email": "Nobody@Example.org "})
    post_form(client, "/forgot-password", {"email": "nobody@example.org"})
    rows = _request_rows()
    assert sorted(rows.values()) == [1, 2]  # one row per address, however it is typed
    # Kept as a keyed hash: nothing readable of an address without an account.
    assert not any("nobody" in key or "example" in key or "organiser" in key for key in rows)
    assert [m.to_email for m in _reset_mails()] == [organiser.email]


def test_an_address_asked_for_over_and_over_gets_one_email_a_quarter_hour_and_is_never_shut_out(
        client, organiser, monkeypatch):
    from datetime import timedelta

    from eventapp.timeutil import utcnow

    start = utcnow().replace(minute=0, second=0, microsecond=0)
    answers = set()
    # Someone asks six times in one quarter of an hour: one email.
    for i in range(6):
        monkeypatch.setattr(services, "utcnow", lambda i=i: start + timedelta(minutes=i))
        answers.add(post_form(client, "/forgot-password", {"email": organiser.email}).get_data(as_text=True))
    assert len(_reset_mails()) == 1
    # Asked for all day long (a day's cap would let anyone shut a colleague out): still one each quarter hour.
    for i in range(1, 15):
        monkeypatch.setattr(services, "utcnow", lambda i=i: start + timedelta(minutes=16 * i))
        answers.add(post_form(client, "/forgot-password", {"email": organiser.email}).get_data(as_text=True))
    assert len(_reset_mails()) == 15
    assert len(answers) == 1  # the page says the same, sent or not
    assert list(_request_rows().values()) == [20]


def test_the_privacy_purge_deletes_request_counts_older_than_their_day(app, client, organiser):
    # A new request deletes old counts too, but with no one asking again they would otherwise stay for ever.
    from datetime import timedelta

    from eventapp.timeutil import utcnow

    from eventapp.accounts.models import ResetRequest

    post_form(client, "/forgot-password", {"email": organiser.email})
    # Asked for three days ago, and no request since (which would have deleted it).
    _db.session.add(ResetRequest(address_key=services._address_key("someone.gone@example.org"),
                                 window_start=utcnow() - timedelta(days=3), requests=4))
    _db.session.commit()
    assert len(_request_rows()) == 2
    runner = app.test_cli_runner()
    result = runner.invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "Would delete 1 password-reset request count older than a day." in result.output
    assert len(_request_rows()) == 2  # a dry run
    result = runner.invoke(args=["privacy", "purge", "--apply"])
    assert "Deleted 1 password-reset request count older than a day." in result.output
    _db.session.expire_all()
    assert list(_request_rows().values()) == [1]  # today's count stays: it is still counting
    assert services._address_key(organiser.email) in _request_rows()
    assert "Nothing to purge." in runner.invoke(args=["privacy", "purge"]).output
