from tests.factories import make_assembly


def test_public_page_shows_assembly(client):
    assembly = make_assembly(title="Shireford <Assembly>")
    resp = client.get(f"/a/{assembly.slug}")
    assert resp.status_code == 200
    assert "Shireford &lt;Assembly&gt;" in resp.get_data(as_text=True)


def test_organiser_can_log_in(as_organiser):
    resp = as_organiser.get("/organiser/")
    assert resp.status_code == 200
    assert "Assemblies" in resp.get_data(as_text=True)


def test_rollback_isolates_tests(client):
    from eventapp.assemblies.models import Assembly
    from eventapp.extensions import db

    assert db.session.query(Assembly).count() == 0
