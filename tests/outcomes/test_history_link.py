from tests.factories import make_assembly, make_round, make_workshop


def test_workshop_pages_link_to_earlier_outcomes_of_the_topic(as_facilitator, facilitator):
    workshop = make_workshop(make_round(make_assembly()), facilitators=[facilitator])
    for page in ("attendance", "notes", "actions"):
        html = as_facilitator.get(f"/facilitator/workshops/{workshop.id}/{page}").get_data(as_text=True)
        assert f'href="/facilitator/workshops/{workshop.id}/history"' in html, page
    assert as_facilitator.get(f"/facilitator/workshops/{workshop.id}/history").status_code == 200
