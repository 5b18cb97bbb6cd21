"""The command line, run as a subprocess exactly as the organiser tooling will."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eventapp.allocation import parse_problem, validate
from eventapp.allocation.model import Objective, Result

from .helpers import reference_objective

ROOT = Path(__file__).resolve().parents[2]

PROBLEM = {
    "workshops": [
        {"id": 1, "round": 1, "topic": "asb", "capacity": 1},
        {"id": 2, "round": 1, "topic": "vawg", "capacity": 1},
        {"id": "w3", "round": 2, "topic": "asb", "capacity": 2},
    ],
    "delegates": [
        {"id": "a", "organisation": "police", "sector": "police", "choices": ["asb", "vawg"]},
        {"id": 5, "organisation": "nhs", "choices": ["asb"], "current": ["w3"], "pinned": []},
        {"id": "c", "organisation": "nhs", "choices": []},
    ],
    "max_per_organisation": None,
}


def run(args, stdin=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "eventapp.allocation", *args],
        input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )


def check_output(out):
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"status", "assignments", "unplaced", "objective", "stats"}
    assert data["status"] == "optimal"
    problem = parse_problem(PROBLEM)
    assert set(data["assignments"]) == {d.id for d in problem.delegates}
    result = Result(
        data["status"],
        {k: tuple(v) for k, v in data["assignments"].items()},
        [tuple(x) for x in data["unplaced"]],
        Objective(**data["objective"]),
    )
    validate(problem, result)
    assert all(isinstance(w, str) for ws in data["assignments"].values() for w in ws)
    return data


def test_solve_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(PROBLEM))
    data = check_output(run(["solve", str(path)]))
    assert data["objective"] == reference_objective(parse_problem(PROBLEM)).as_dict()
    assert data["objective"]["placed"] == 4 and len(data["unplaced"]) == 2


def test_solve_stdin_is_deterministic():
    a = check_output(run(["solve", "-"], json.dumps(PROBLEM)))
    b = check_output(run(["solve", "-"], json.dumps(PROBLEM)))
    assert a["assignments"] == b["assignments"] and a["unplaced"] == b["unplaced"]


@pytest.mark.parametrize(
    "stdin, needle",
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"delegates": []}), "workshops"),
        (json.dumps({**PROBLEM, "workshops": PROBLEM["workshops"] + [PROBLEM["workshops"][0]]}), "duplicate"),
        (json.dumps({**PROBLEM, "delegates": [{"id": 1, "organisation": "x", "choices": [], "pinned": [1, 2]}]}),
         "two pinned workshops in round"),
        (json.dumps({**PROBLEM, "delegates": [{"id": 1, "organisation": "x", "choices": [], "current": [9]}]}),
         "unknown workshop"),
        (json.dumps({**PROBLEM, "workshops": [{"id": 1, "round": 1, "topic": "a", "capacity": -3}]}), "negative"),
    ],
)
def test_bad_input_exits_2_with_one_line(stdin, needle):
    out = run(["solve", "-"], stdin)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_missing_file_and_usage(tmp_path):
    out = run(["solve", str(tmp_path / "nope.json")])
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    out = run(["frobnicate"])
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
