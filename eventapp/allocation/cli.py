"""Command line: ``python -m eventapp.allocation solve PROBLEM.json`` (``-`` reads stdin)."""

from __future__ import annotations

import json
import sys
from typing import Sequence

from .model import ProblemError, parse_problem
from .solver import SolverError, solve

USAGE = "usage: python -m eventapp.allocation solve PROBLEM.json|-"


def _fail(message: str, code: int) -> int:
    print(" ".join(str(message).split()), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit status (0 ok, 2 bad input, 1 solver failure)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "solve":
        return _fail(USAGE, 2)
    path = args[1]
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {path}: {exc}", 2)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return _fail(f"invalid JSON: {exc}", 2)
    except RecursionError:
        return _fail("invalid JSON: nested too deeply", 2)
    try:
        problem = parse_problem(data)
    except ProblemError as exc:
        return _fail(f"invalid problem: {exc}", 2)
    try:
        result = solve(problem)
    except SolverError as exc:
        return _fail(f"solver failed: {exc}", 1)
    json.dump(result.as_dict(), sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
