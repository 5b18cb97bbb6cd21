"""Proven-optimal lexicographic allocation: max places, then min moves, then min cost."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import time
from typing import Any

import highspy
import numpy as np

from ._agg import aggregate, complete, to_aggregated
from ._index import Index
from ._dw import FLAT_ADD_SHARE, MAX_ROUNDS, NotClosed, Stage, threads_for
from ._milp import Columns, Residual, build_rows, columns_from_mask, current_matrix, residual
from .model import Problem, Result
from .validate import AllocationError, validate

__all__ = ["solve", "SolverError"]

INF = highspy.kHighsInf


class SolverError(RuntimeError):
    """The MILP engine failed to prove an optimum (time limit or internal fault)."""


_banner_shown = False
_threads = 1  # what the Highs objects of this process ask for (see _use_threads)
_solving = threading.Lock()


def _use_threads(n: int) -> None:
    """Make the following Highs objects use n threads.

    HiGHS has one thread scheduler per process, and an object asking for another number than
    it was started with fails: the scheduler is restarted between solves instead. Big instances
    get two threads (see _dw.PARALLEL_FROM); smaller ones keep one, which was faster for them
    (2,000 x 60 x 4 seeds 4/12: 5.6/11.5 s with one, 6.6/13.8 s with two).
    """
    global _threads
    if n != _threads:
        highspy.Highs.resetGlobalScheduler(True)
        _threads = n


def _new_highs() -> highspy.Highs:
    """Create a Highs object; the first one prints a banner to C stdout, which we swallow."""
    global _banner_shown
    if _banner_shown:
        return highspy.Highs()
    # The banner would corrupt the CLI's JSON on stdout: send fd 1 to /dev/null meanwhile.
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            try:
                h = highspy.Highs()
            finally:
                ctypes.CDLL(None).fflush(None)
                os.dup2(saved, 1)
    finally:
        os.close(saved)
    _banner_shown = True
    return h


def _highs(time_limit: float | None) -> highspy.Highs:
    h = _new_highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.0)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("threads", _threads)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    return h


def _pass_model(h: highspy.Highs, cols: Columns, rows, integer: bool) -> None:
    lp = highspy.HighsLp()
    n = len(cols)
    lp.num_col_ = n
    lp.num_row_ = int(rows.upper.size)
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.full(rows.upper.size, -INF)
    lp.row_upper_ = rows.upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = rows.start.astype(np.int32)
    lp.a_matrix_.index_ = rows.index
    lp.a_matrix_.value_ = rows.value
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)


def _run_milp(h: highspy.Highs, cost: np.ndarray) -> tuple[int, np.ndarray]:
    n = cost.size
    if n == 0:
        return 0, np.zeros(0, dtype=bool)
    h.changeColsCost(n, np.arange(n, dtype=np.int32), cost.astype(np.float64))
    h.run()
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(f"MILP stage ended with status {h.modelStatusToString(status)}")
    x = np.asarray(h.getSolution().col_value)
    chosen = x > 0.5
    value = int(round(float(cost[chosen].sum())))
    bound = h.getInfo().mip_dual_bound
    if bound > value + 1e-6 or value - bound > 1e-6 + 1e-9 * abs(value):
        raise SolverError(f"MILP stage not closed: value {value}, bound {bound}")
    return value, chosen


def _stages_milp(ix: Index, res: Residual, cols: Columns, time_limit: float | None, stats) -> np.ndarray:
    """Solve the three lexicographic stages as MILPs on the given columns."""
    h = _highs(time_limit)
    rows = build_rows(ix, res, cols)
    _pass_model(h, cols, rows, integer=True)
    n = len(cols)
    allidx = np.arange(n, dtype=np.int32)
    ones = np.ones(n)
    # Stage 1: most places.
    neg_placed, chosen = _run_milp(h, -ones)
    placed = -neg_placed
    h.addRow(float(placed), INF, n, allidx, ones)
    cur_idx = np.flatnonzero(cols.current).astype(np.int32)
    if cur_idx.size:
        # Stage 2: keep as much of the published allocation as possible.
        neg_kept, chosen = _run_milp(h, -cols.current.astype(np.float64))
        h.addRow(float(-neg_kept), INF, cur_idx.size, cur_idx, np.ones(cur_idx.size))
    # Stage 3: cheapest ranks.
    _, chosen = _run_milp(h, cols.cost.astype(np.float64))
    stats["columns"] = n
    stats["rows"] = int(rows.upper.size)
    return chosen


def _greedy_bundles(ix: Index, res: Residual) -> list[tuple[int, ...]]:
    """First-come-first-served on the free places (pins already placed): a feasible start."""
    seats = res.seats.tolist()
    org_seats = None if res.org_seats is None else res.org_seats.tolist()
    w_round = ix.w_round.tolist()
    w_topic = ix.w_topic.tolist()
    round_ws = [[w for w in range(ix.nw) if w_round[w] == r] for r in range(ix.nr)]
    topic_ws = [[] for _ in range(ix.nt)]
    for w in range(ix.nw):
        topic_ws[w_topic[w]].append(w)
    unranked = ix.k + 1
    out = []
    for d in range(ix.nd):
        allowed = res.allowed[d].tolist()
        rank = ix.topic_rank[d].tolist()
        held = set(ix.current[d])
        orgs = None if org_seats is None else org_seats[ix.d_org[d]]
        # Each delegate takes, per round, the first free workshop in the order
        # (not held, rank, number): the ones it holds first (moves weigh more than ranks),
        # then its ranked ones, then the rest by number.
        special = {w for t, rk in enumerate(rank) if rk < unranked for w in topic_ws[t]} | held
        by_round: list[list[int]] = [[] for _ in range(ix.nr)]
        for w in sorted(special, key=lambda w: (w not in held, rank[w_topic[w]], w)):
            by_round[w_round[w]].append(w)
        mine: list[int] = []
        topics: set[int] = set()
        for r in range(ix.nr):
            for group in (by_round[r], round_ws[r]):
                for w in group:
                    if (allowed[w] and seats[w] > 0 and w_topic[w] not in topics
                            and (orgs is None or orgs[w] > 0)):
                        break
                else:
                    continue
                break
            else:
                continue
            mine.append(w)
            topics.add(w_topic[w])
            seats[w] -= 1
            if orgs is not None:
                orgs[w] -= 1
        out.append(tuple(sorted(mine)))
    return out


def _stages(ix, res, cur: np.ndarray, cost: np.ndarray, seed: list[tuple[int, ...]], stats,
            carried: dict[int, list] | None = None) -> list[tuple[int, ...]]:
    """The three stages by column generation over bundles (see _dw) on ``ix``'s numbering.

    ``carried`` maps a stage (1, 2, 3) to columns of an earlier solve of a similar problem
    (the aggregated view before a cut): they start that stage's master, and the columns each
    stage ends with are stored back. It also keeps each stage itself: when the next solve has
    the same stage rows but for new cuts, that stage resumes its master (Stage.add_cuts).
    """
    allowed = res.allowed
    # Without a caller's dict no later solve resumes these stages: each master is freed after use.
    keep = carried is not None
    if carried is None:
        carried = {}

    def usable(n: int) -> list:
        return [(d, b) for d, b in carried.get(n, []) if all(allowed[d, w] for w in b)]

    def stage_for(n: int, c: np.ndarray, placed_min: int | None, kept_min: int | None) -> Stage:
        kept_stage = carried.get(("stage", n))
        if kept_stage is not None and kept_stage[0] == (placed_min, kept_min):
            stage = kept_stage[1]
            stage.add_cuts(getattr(res, "cuts", [])[len(stage.cuts):])
        else:
            stage = Stage(ix, res, c, cur, placed_min, kept_min, lambda: _highs(None))
        if keep:
            carried[("stage", n)] = ((placed_min, kept_min), stage)
        return stage

    cur = cur.astype(np.float64)
    inf = np.inf
    # Free (delegate, round) slots with any allowed workshop bound the places from above.
    slots = int(sum(np.unique(ix.w_round[allowed[d]]).size for d in range(ix.nd)))
    topped = _top_up(ix, res, seed)
    if sum(len(b) for b in seed) == slots:
        placed, bundles = slots, seed
    elif topped is not None and sum(len(b) for b in topped[0]) == topped[1]:
        # The aggregated view's fillers reached the seats-per-round bound: no LP needed.
        placed, bundles = topped[1], topped[0]
        stats["places_by_fillers"] = True
    else:
        stage = stage_for(1, np.where(allowed, -1.0, inf), None, None)
        if topped is None:  # the real view
            stage.add_share = FLAT_ADD_SHARE
        value, bundles = stage.solve(seed, stats, carried=usable(1))
        carried[1] = stage.columns
        placed = -value
    kept = None
    if (cur * allowed).any():
        stage = stage_for(2, np.where(allowed, -cur, inf), placed, None)
        if topped is None and stage.flat:
            stage.add_share = FLAT_ADD_SHARE
        value, bundles = stage.solve(bundles, stats, extra=seed, carried=usable(2))
        carried[2] = stage.columns
        kept = -value
    stage = stage_for(3, np.where(allowed, cost.astype(np.float64), inf), placed, kept)
    _, bundles = stage.solve(bundles, stats, extra=seed, carried=usable(3))
    carried[3] = stage.columns
    return bundles


def _top_up(ix, res, seed: list[tuple[int, ...]]) -> tuple[list[tuple[int, ...]], int] | None:
    """On the aggregated view: fillers for the seed's empty slots while their rounds have seats.

    Returns (bundles, bound), bound being the most places the rounds' seats allow; or None on
    the real view, which has no fillers.
    """
    round_seats = getattr(res, "round_seats", None)
    if round_seats is None:
        return None
    allowed, nr = res.allowed, ix.nr
    first_filler = ix.nw - nr
    w_round = ix.w_round.tolist()
    slots = [int(allowed[:, ix.w_round == r].any(axis=1).sum()) for r in range(nr)]
    bound = sum(min(slots[r], int(round_seats[r])) for r in range(nr))
    used = [0] * nr
    for b in seed:
        for w in b:
            used[w_round[w]] += 1
    cuts = res.cuts
    cut_used = [sum(cut.uses(d, b) for d, b in enumerate(seed)) for cut in cuts]
    out = []
    for d, b in enumerate(seed):
        have = {w_round[w] for w in b}
        add = []
        for r in range(nr):
            f = first_filler + r
            if r in have or not allowed[d, f] or used[r] >= round_seats[r]:
                continue
            # A cut on this filler caps it too (the seed, a real allocation, keeps every cut).
            mine = [i for i, cut in enumerate(cuts) if cut.filler == f and cut.delegates[d]]
            if any(cut_used[i] >= cuts[i].seats for i in mine):
                continue
            add.append(f)
            used[r] += 1
            for i in mine:
                cut_used[i] += 1
        out.append(tuple(sorted(b + tuple(add))) if add else b)
    return out, bound


# Each failed completion adds one cut and solves the aggregated relaxation again.
MAX_CUT_ROUNDS = 12


def _stages_dw(ix: Index, res: Residual, stats) -> list[list[int]]:
    """Optimal free picks: first on the aggregated relaxation (see _agg), else on the real view."""
    cur = current_matrix(ix)
    # A greedy allocation seeds every stage: column generation starts near the optimum.
    seed = _greedy_bundles(ix, res)
    agg = aggregate(ix, res, cur)
    if agg is not None:
        agg_stats: dict[str, Any] = {}
        cuts = agg.res.cuts
        carried: dict[int, list] = {}
        for _ in range(MAX_CUT_ROUNDS):
            start = to_aggregated(agg, ix, seed)
            bundles = _stages(agg.view, agg.res, agg.cur, agg.cost, start, agg_stats, carried)
            got = complete(agg, ix, res, bundles, lambda: _highs(None), agg_stats)
            if isinstance(got, list):
                stats.update(agg_stats, aggregated=True, cuts=len(cuts))
                return got
            if not got:
                # The fillers only fail together, through the topic rule across rounds: no cut
                # explains that. Modelling the contested topics' workshops exactly instead was
                # tried and dropped: each such view cost 2-5 s at 2,000 delegates and needed 4-8
                # more rounds (2,000 x 60 x 4, 12 seeds: 15-42 s, against 9-24 s for the real view).
                break
            cuts.extend(got)
        carried.clear()  # the aggregated stages' masters: not needed for the real view
        if agg_stats.get("joint_assignments"):
            stats["joint_assignments"] = agg_stats["joint_assignments"]
        stats["aggregated"] = f"fillers could not be seated ({len(cuts)} cuts)"
    bundles = _stages(ix, res, cur, ix.cost, seed, stats)
    return [list(b) for b in bundles]


def solve(problem: Problem, *, time_limit: float | None = None, method: str = "auto") -> Result:
    """Return a proven-optimal allocation (lexicographic: places, moves, cost), validated.

    ``method`` is "auto" (column generation with a Lagrangian proof, falling back to the
    plain MILP if it cannot close a stage) or "milp" (HiGHS on every allowed pair).
    """
    if method not in ("auto", "milp"):
        raise ValueError(f"unknown method {method!r}")
    # One solve at a time in a process: restarting HiGHS's process-wide scheduler (see
    # _use_threads) under another thread's solve would break it.
    with _solving:
        return _solve(problem, time_limit, method)


def _solve(problem: Problem, time_limit: float | None, method: str) -> Result:
    """solve() itself, under its lock."""
    start = time.perf_counter()
    ix = Index(problem)
    res = residual(ix)
    _use_threads(threads_for(ix.nd))
    stats: dict[str, Any] = {}
    result = None
    if method == "auto" and ix.nd and ix.nw and ix.nr <= MAX_ROUNDS:
        try:
            free = _stages_dw(ix, res, stats)
        except NotClosed as exc:
            stats["fallback"] = str(exc)
        else:
            picks = [list(p) + f for p, f in zip(ix.pinned, free)]
            result = ix.result(picks, "optimal", dict(stats, method="bundles"))
            try:
                validate(problem, result)
            except AllocationError as exc:  # pragma: no cover - guards against engine faults
                stats["fallback"] = f"invalid: {exc}"
                result = None
    if result is None:
        cols = columns_from_mask(ix, res.allowed)
        chosen_cols = _stages_milp(ix, res, cols, time_limit, stats)
        picks: list[list[int]] = [list(p) for p in ix.pinned]
        for d, w in zip(cols.d[chosen_cols].tolist(), cols.w[chosen_cols].tolist()):
            picks[d].append(w)
        result = ix.result(picks, "optimal", dict(stats, method="milp"))
        try:
            validate(problem, result)
        except AllocationError as exc:  # pragma: no cover - guards against solver faults
            raise SolverError(f"solver produced an invalid allocation: {exc}") from exc
    result.stats["seconds"] = round(time.perf_counter() - start, 4)
    return result
