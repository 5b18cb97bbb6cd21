"""Day sheets at a large event: the reception list and badges shared between desks, and the contents page
that stands in for "All" above a thousand delegates."""
from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape
from eventapp.extensions import db
from eventapp.registration import views
from eventapp.registration.services import split_into_desks
from eventapp.text import sort_key
from tests.factories import make_assembly, make_org, make_round, make_topic, make_workshop
from tests.notes.helpers import make_registration, place
from tests.test_query_counts import batches, counting

ROW_NAME = re.compile(r'<th scope="row"><bdi>(.*?)</bdi></th>')
# Hostile and mixed-direction names among plain ones: escaped, isolated, and sorted like any other.
NAMES = ["Aisha Khan", "Ben Jones", "Carys Fisher", "Dev Patel", "Émile Roux", "Fatima Begum", "Gareth Evans",
         "Hannah Lee", "Ian <b>Bold</b> Smith", "Jo \"Quote\" & Co", "Kwame Mensah", "محمد الهاشمي", "Zoë Adams"]
ORDER = sorted(NAMES, key=sort_key)  # the reception list's order (its ties by id do not arise here)


@pytest.mark.parametrize("count", [0, 1, 2, 7, 10, 20, 21, 100, 1001])
@pytest.mark.parametrize("desks", [1, 2, 3, 7, 20])
def test_desks_share_the_rows_out_in_order_in_sizes_that_differ_by_one_at_most(count, desks):
    rows = [(f"row {i}", []) for i in range(count)]
    out = split_into_desks(rows, desks)
    assert [row for d in out for row in d.rows] == rows  # every row once, in order
    assert [d.number for d in out] == list(range(1, len(out) + 1))
    assert len(out) == min(desks, count)  # never a desk of nobody
    sizes = [len(d.rows) for d in out]
    assert not sizes or (max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True))
    for d in out:
        assert d.first == d.rows[0][0] and d.last == d.rows[-1][0]


@pytest.fixture
def event(db):
    """13 confirmed delegates (hostile names among them), one waiting, each confirmed one placed in a workshop."""
    assembly = make_assembly(title="Desks Assembly")
    org = make_org("Desks <i>Fire</i> Service")
    workshop = make_workshop(make_round(assembly, "Morning"), make_topic("Desk topic"))
    for name in NAMES:
        place(make_registration(assembly, org, name), workshop)
    make_registration(assembly, org, "Aaron Waiting", status="waiting")
    return assembly


def _url(assembly, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return f"/organiser/assemblies/{assembly.slug}/day-sheets" + (f"?{query}" if query else "")


def _get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _reception(page: str) -> str:
    rest = page.split('<section aria-labelledby="reception" class="day-sheet">')[1]
    return re.split(r'<section aria-labelledby="(?:register-\d+|catering)"', rest)[0]


def _desks(page: str) -> dict[int, tuple[str, list[str]]]:
    """Each desk's heading and the names in its rows, from the reception list."""
    out = {}
    for chunk in _reception(page).split('<section aria-labelledby="desk-')[1:]:
        number = int(chunk.split('"')[0])
        heading = re.search(r"<h3 [^>]*>(.*?)</h3>", chunk).group(1)
        out[number] = (heading, [html.unescape(n) for n in ROW_NAME.findall(chunk.split("</section>")[0])])
    return out


def _range(first: str, last: str) -> str:
    return f"<bdi>{escape(first)}</bdi> &ndash; <bdi>{escape(last)}</bdi>"


def test_the_reception_list_is_shared_between_desks_each_headed_with_its_alphabetical_range(as_organiser, event):
    page = _get(as_organiser, _url(event, desks=3))
    desks = _desks(page)
    # 13 names at 3 desks: 5, 4 and 4, in the list's order, each confirmed delegate exactly once.
    assert [len(names) for _, names in desks.values()] == [5, 4, 4]
    assert [n for _, names in desks.values() for n in names] == ORDER
    assert "Aaron Waiting" not in page
    for number, (heading, names) in desks.items():
        assert heading == f"Desk {number}: " + _range(names[0], names[-1])
    assert desks[2][0] == "Desk 2: <bdi>Fatima Begum</bdi> &ndash; <bdi>Ian &lt;b&gt;Bold&lt;/b&gt; Smith</bdi>"
    assert desks[3][0] == "Desk 3: <bdi>Jo &#34;Quote&#34; &amp; Co</bdi> &ndash; <bdi>محمد الهاشمي</bdi>"
    assert "<b>Bold</b>" not in page and "<bdi>Ian &lt;b&gt;Bold&lt;/b&gt; Smith</bdi>" in page
    assert page.count('class="desk"') == 3  # each its own section: static/app.css starts each on a new page
    assert "4 delegates, desk 2 of 3." in page
    # The rest of "All" as before: the registers and catering after the desks.
    assert 'id="catering"' in page and "13 delegates placed" in page
    # Where to print one desk from.
    nav = page.split('<nav aria-labelledby="desk-list"')[1].split("</nav>")[0]
    assert f'href="{_url(event, part="reception", desks=3, desk=2).replace("&", "&amp;")}">Desk 2</a>: ' \
           + _range("Fatima Begum", "Ian <b>Bold</b> Smith") + " (4 names)" in nav


def test_one_desk_prints_only_its_own_pages(as_organiser, event):
    page = _get(as_organiser, _url(event, part="reception", desks=3, desk=3))
    assert list(_desks(page)) == [3] and _desks(page)[3][1] == ORDER[9:]
    assert "<title>Day sheets: Reception list, desk 3 of 3 &ndash; Desks Assembly" in page
    assert '<h1>Day sheets: Reception list, desk 3 of 3</h1>' in page
    assert 'aria-current="page">Desk 3</a>' in page and "Aisha Khan" not in _reception(page)
    # A desk alone from "All" is that desk's reception pages, not every register after it.
    alone = _get(as_organiser, _url(event, desks=3, desk=1))
    assert list(_desks(alone)) == [1] and 'id="register-' not in alone and 'id="catering"' not in alone
    # Badges too: each desk's on their own sheets, one desk alone when asked.
    badges = _get(as_organiser, _url(event, part="badges", desks=2))
    runs = badges.split('class="badge-desk"')[1:]
    assert [len(ROW_NAME.findall(r)) for r in runs] == [0, 0]  # badges, not table rows
    names = [[html.unescape(n) for n in re.findall(r'<p class="badge-name[^"]*"><bdi>(.*?)</bdi>', r)] for r in runs]
    assert names == [ORDER[:7], ORDER[7:]]
    assert 'aria-label="Desk 2, badges 1 to 6"' in badges
    one = _get(as_organiser, _url(event, part="badges", desks=2, desk=2))
    assert one.count('<li class="name-badge">') == 6 and "Aisha Khan" not in one.split('class="badges-sheet"')[1]


def test_one_desk_is_the_list_as_it_was(as_organiser, event):
    for args in ({}, {"desks": 1}, {"desks": ""}, {"desks": "%20", "desk": "%20"}, {"desks": 1, "desk": 1}):
        page = _get(as_organiser, _url(event, **args))
        assert 'class="desk"' not in page and 'id="desk-list"' not in page
        assert [html.unescape(n) for n in ROW_NAME.findall(_reception(page))] == ORDER
        assert '<label class="label" for="desks">Reception desks</label>' in page


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1000000000", "21", "2.5", "1e3", "٣", "+3", "9" * 400,
                                   "<script>alert(1)</script>"])
def test_a_number_of_desks_that_is_not_1_to_20_is_refused_with_a_message(as_organiser, event, value):
    response = as_organiser.get(_url(event), query_string={"desks": value, "desk": "2"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<title>Error: Day sheets" in page and "There is a problem" in page
    assert '<a href="#desks">Reception desks: Enter a number of desks from 1 to 20.</a>' in page
    assert 'id="desks-error"><span class="visually-hidden">Error:</span> Enter a number of desks from 1 to 20.' in page
    assert 'aria-invalid="true"' in page and "<script>alert(1)" not in page
    # The list as one desk meanwhile (the desk number means nothing without a number of desks).
    assert 'class="desk"' not in page and "There is no desk" not in page
    assert [html.unescape(n) for n in ROW_NAME.findall(_reception(page))] == ORDER


@pytest.mark.parametrize("value, message", [
    ("0", "Enter a desk number from 1 to 20, or leave it empty to print every desk."),
    ("x", "Enter a desk number from 1 to 20, or leave it empty to print every desk."),
    ("21", "Enter a desk number from 1 to 20, or leave it empty to print every desk."),
    ("4", "There is no desk 4: choose a desk from 1 to 3, or leave it empty to print every desk.")])
def test_a_desk_that_does_not_exist_is_refused_with_a_message_and_every_desk_shown(as_organiser, event, value, message):
    page = _get(as_organiser, _url(event, part="reception", desks=3, desk=value))
    assert "<title>Error: Day sheets: Reception list &ndash;" in page
    assert f'id="desk-error"><span class="visually-hidden">Error:</span> {message}' in page
    assert list(_desks(page)) == [1, 2, 3]
    # From "All" too, where one desk means the reception list.
    page = _get(as_organiser, _url(event, desks=3, desk=value))
    assert "<title>Error: Day sheets" in page and f'<li><a href="#desk">Print one desk only: {message}</a></li>' in page


def test_more_desks_than_delegates_are_one_desk_each(as_organiser, event):
    page = _get(as_organiser, _url(event, part="reception", desks=20))
    assert "There are only 13 confirmed delegates: the names are shared between 13 desks, one each." in page
    desks = _desks(page)
    assert list(desks) == list(range(1, 14)) and desks[1] == ("Desk 1: <bdi>Aisha Khan</bdi>", ["Aisha Khan"])
    assert "<title>Error" not in page
    page = _get(as_organiser, _url(event, part="reception", desks=20, desk=14))
    assert "There is no desk 14: choose a desk from 1 to 13" in page


def test_above_the_threshold_all_is_a_contents_page_with_each_parts_size(as_organiser, event, monkeypatch):
    page = _get(as_organiser, _url(event))
    assert 'id="reception"' in page and 'id="contents"' not in page and 'aria-current="page">All</a>' in page
    monkeypatch.setattr(views, "ALL_PARTS_MAX", len(NAMES))  # "more than": 13 of 13 is still every part at once
    assert 'id="reception"' in _get(as_organiser, _url(event))
    monkeypatch.setattr(views, "ALL_PARTS_MAX", len(NAMES) - 1)
    page = _get(as_organiser, _url(event))
    assert 'id="contents"' in page and 'aria-current="page">Contents</a>' in page
    assert 'id="reception"' not in page and 'id="register-' not in page and 'id="catering"' not in page
    assert "Aisha Khan" not in page and "13 confirmed delegates" in page
    contents = page.split('id="contents"')[1].split("</section>")[0]
    for text in ("Reception list</a>: 13 names</li>", "Workshop registers</a>: 1 workshop, 13 places in all</li>",
                 "Catering and access</a>: 0 dietary needs, 0 access needs</li>", "Name badges</a>: 13 badges on 2 A4 pages"):
        assert text in contents, text
    # Its desk form opens the reception list; a number of desks chosen there carries to the lists.
    form = page.split('aria-label="Share the names between desks"')[1].split("</form>")[0]
    assert '<input type="hidden" name="part" value="reception">' in form and "Open the reception list" in form
    shared = _get(as_organiser, _url(event, desks=4))
    assert (f'href="{_url(event, part="reception", desks=4).replace("&", "&amp;")}">Reception list</a>: '
            "13 names, shared between 4 desks") in shared
    # Each part still opens in full, and one desk from the contents is its reception pages.
    assert [n for _, names in _desks(_get(as_organiser, _url(event, part="reception", desks=2))).values()
            for n in names] == ORDER
    assert list(_desks(_get(as_organiser, _url(event, desks=2, desk=2)))) == [2]


def test_the_day_sheets_send_as_many_statements_for_many_delegates_as_for_few(app, as_organiser, monkeypatch):
    assembly = make_assembly(title="Counted Assembly")
    org = make_org("Counted Org")
    workshop = make_workshop(make_round(assembly, "Morning"), make_topic("Counted topic"))
    urls = [_url(assembly), _url(assembly, desks=3), _url(assembly, part="reception", desks=3, desk=2),
            _url(assembly, part="badges", desks=3, desk=1), _url(assembly, part="reception", desks=99),
            _url(assembly, part="reception", desks=3, desk=9)]

    def count(n_people: int) -> dict[str, int]:
        for i in range(n_people):
            place(make_registration(assembly, org, f"Counted {n_people} {i:03d}"), workshop)
        out = {}
        for contents in (False, True):
            monkeypatch.setattr(views, "ALL_PARTS_MAX", 0 if contents else 10_000)
            for url in urls:
                with counting() as statements:
                    assert as_organiser.get(url).status_code == 200
                out[f"{url} contents={contents}"] = batches(statements)
        return out

    few = count(4)
    assert len(set(few.values())) > 1, few  # the contents page counts, the lists load: not one number for all
    many = count(60)
    assert few == many


def test_an_accented_name_is_listed_among_its_letter_not_after_z(as_organiser, event):
    # A delegate called Emile looks for the desk of the Es, whatever accent his name carries.
    names = [html.unescape(n) for n in ROW_NAME.findall(_reception(_get(as_organiser, _url(event, part="reception"))))]
    assert names.index("Dev Patel") < names.index("Émile Roux") < names.index("Fatima Begum")
    assert names.index("Zoë Adams") > names.index("Kwame Mensah")
