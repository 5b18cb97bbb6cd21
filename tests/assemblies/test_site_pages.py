"""The accessibility statement and the cookies page, linked from every page's footer."""
from __future__ import annotations

from tests.conftest import PASSWORD, csrf_from
from tests.factories import make_assembly


def test_every_page_links_the_accessibility_statement_cookies_and_a_contact(client, db):
    assembly = make_assembly()
    for url in ("/", f"/a/{assembly.slug}", f"/a/{assembly.slug}/register", "/login", "/no-such-page"):
        html = client.get(url).get_data(as_text=True)
        footer = html.split('<footer class="site-footer">')[1]
        assert 'href="/accessibility">Accessibility</a>' in footer, url
        assert 'href="/cookies">Cookies</a>' in footer, url
        assert 'href="mailto:assembly@localhost">Contact the organisers</a>' in footer, url


def test_the_accessibility_statement_says_how_to_ask_for_another_format_and_whom_to_complain_to(app, client, db,
                                                                                             monkeypatch):
    monkeypatch.setitem(app.config, "ORGANISER_EMAIL", "partnerships@pcc.example.gov.uk")
    html = client.get("/accessibility").get_data(as_text=True)
    assert "<h1>Accessibility statement</h1>" in html
    assert 'href="mailto:partnerships@pcc.example.gov.uk"' in html and "another format" in html
    assert "Equality and Human Rights Commission" in html and "WCAG) 2.2</a> at level AA" in html


def test_the_cookies_page_lists_every_cookie_the_site_sets(app, client, db, organiser):
    page = client.get("/cookies").get_data(as_text=True)
    assert "<code>session</code>" in page and "no analytics" in page.lower()
    assert "after 8 hours when signed in" in page
    # What a delegate and an organiser actually get: only the cookie the page names.
    assembly = make_assembly()
    client.get(f"/a/{assembly.slug}/register")
    client.post("/login", data={"csrf_token": csrf_from(client.get("/login").get_data(as_text=True)),
                                "email": organiser.email, "password": PASSWORD})
    assert client.get("/organiser/").status_code == 200  # signed in
    names = {cookie.key for cookie in client._cookies.values()}
    assert names == {"session"}
