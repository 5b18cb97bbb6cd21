"""Workshop allocation: exact lexicographic optimiser, FCFS baseline, validator, explain.

Pure Python + numpy + highspy; imports neither Flask nor SQLAlchemy.
"""

from .explain import Explanation, RoundSummary, explain
from .fcfs import fcfs
from .fill import Fill, fill_missing
from .model import Delegate, Objective, Problem, ProblemError, Result, Workshop, parse_problem
from .solver import SolverError, solve
from .validate import AllocationError, allocation_errors, objective_of, validate

__all__ = [
    "AllocationError",
    "Delegate",
    "Explanation",
    "Fill",
    "Objective",
    "Problem",
    "ProblemError",
    "Result",
    "RoundSummary",
    "SolverError",
    "Workshop",
    "allocation_errors",
    "explain",
    "fcfs",
    "fill_missing",
    "objective_of",
    "parse_problem",
    "solve",
    "validate",
]
