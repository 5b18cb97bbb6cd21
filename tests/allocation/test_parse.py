"""Input checking: every malformed problem raises ProblemError with a one-line message."""

import pytest

from eventapp.allocation import ProblemError, parse_problem


def base():
    return {
        "workshops": [
            {"id": 1, "round": 1, "topic": "asb", "capacity": 2},
            {"id": "w2", "round": "1", "topic": "vawg", "capacity": 1},
            {"id": 3, "round": 2, "topic": "asb", "capacity": 1},
        ],
        "delegates": [
            {"id": 7, "organisation": "police", "sector": "police", "choices": ["asb"], "pinned": [], "current": [3]},
            {"id": "d2", "organisation": "nhs", "choices": []},
        ],
        "max_per_organisation": None,
    }


def test_parse_ok_and_ids_become_strings():
    p = parse_problem(base())
    assert p.workshops[0].id == "1" and p.workshops[0].round == "1"
    assert p.delegates[0].id == "7" and p.delegates[0].current == ("3",)
    assert p.rounds == ("1", "2")
    assert p.max_choices == 1


def mutate(fn):
    data = base()
    fn(data)
    return data


BAD = {
    "not an object": lambda d: d.clear() or d.update({"workshops": 3, "delegates": []}),
    "missing workshops": lambda d: d.pop("workshops"),
    "missing delegate id": lambda d: d["delegates"][0].pop("id"),
    "missing choices": lambda d: d["delegates"][0].pop("choices"),
    "missing capacity": lambda d: d["workshops"][0].pop("capacity"),
    "duplicate workshop": lambda d: d["workshops"][1].update(id="1"),
    "duplicate delegate": lambda d: d["delegates"][1].update(id="7"),
    "negative capacity": lambda d: d["workshops"][0].update(capacity=-1),
    "float capacity": lambda d: d["workshops"][0].update(capacity=1.5),
    "bool id": lambda d: d["workshops"][0].update(id=True),
    "unknown pin": lambda d: d["delegates"][0].update(pinned=["nope"]),
    "unknown current": lambda d: d["delegates"][0].update(current=["nope"]),
    "two pins one round": lambda d: d["delegates"][0].update(pinned=[1, "w2"]),
    "two pins one topic": lambda d: d["delegates"][0].update(pinned=[1, 3]),
    "pins over capacity": lambda d: [x.update(pinned=[3]) for x in d["delegates"]],
    "pins over org limit": lambda d: d.update(max_per_organisation=0) or d["delegates"][0].update(pinned=[1]),
    "negative limit": lambda d: d.update(max_per_organisation=-2),
    "topic ranked twice": lambda d: d["delegates"][0].update(choices=["asb", "asb"]),
    "choices not list": lambda d: d["delegates"][0].update(choices="asb"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input(name):
    with pytest.raises(ProblemError) as info:
        parse_problem(mutate(BAD[name]))
    message = str(info.value)
    assert message and "\n" not in message


def test_none_problem():
    with pytest.raises(ProblemError):
        parse_problem(None)
