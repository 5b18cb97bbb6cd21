"""Names whose case-folded form is longer than the name itself ("ß" folds to "ss") still fit their key column."""
from __future__ import annotations

from eventapp.assemblies import services as assemblies
from eventapp.organisations import services
from eventapp.organisations.models import name_key


def test_an_organisation_named_up_to_its_limit_in_letters_that_fold_longer_is_saved_and_found(db):
    # PostgreSQL refused the 400-character key of a 200-character name (a 500 on the form); SQLite kept it.
    name = "Straße " + "ß" * 193
    assert len(name) == 200 and len(" ".join(name.casefold().split())) > 200
    org = services.save_organisation({"name": name, "sector": "police"})
    assert len(org.name_key) <= 200 and org.name == name
    assert services.find_by_name(name.upper()).id == org.id  # "STRASSE SSSS…" is the same organisation
    other = services.save_organisation({"name": "Straße " + "ß" * 192 + "t", "sector": "police"})
    assert other.id != org.id and other.name_key != org.name_key


def test_a_topic_named_up_to_its_limit_in_letters_that_fold_longer_is_saved(db):
    name = "ß" * 120
    topic = assemblies.save_topic({"name": name, "description": ""})
    assert len(topic.name_key) <= 120 and topic.name == name
    assert assemblies.get_or_create_topic("SS" * 120).id == topic.id


def test_short_names_keep_their_plain_key():
    assert name_key("  Shireford   Borough Council ") == "shireford borough council"
