"""Fast exact stages by Dantzig-Wolfe column generation over per-delegate bundles.

A bundle is what one delegate gets: at most one workshop per round, no topic twice. Seats,
organisation places and the lexicographic stage rows couple the delegates. For prices pi >= 0
on those coupling rows, L(pi) = sum_d min_B a_d(B) - pi.b is a valid lower bound on the stage
objective (weak Lagrangian duality), where a_d(B) is the bundle's price-adjusted cost and the
inner minimum is computed exactly by a dynamic programme over (topics x used-round subsets).
Column generation drives pi to the LP optimum; then an integer solution whose value is below
floor(L) + 1 is optimal. Otherwise every improving solution only uses bundles with
a_d(B) - min_d <= z - 1 - L, which we enumerate and hand to an exact MILP. The bound is
computed by us from pi, so a sloppy LP solve can only weaken it, never make it wrong.

Speed: the master LP stays warm across iterations (columns appended), leaves out coupling rows
its columns cannot overfill, and the integer step only models delegates the LP left fractional
(the others' whole bundles are moved into the right-hand sides).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass

import highspy
import numpy as np

from ._agg import View
from ._index import Index
from ._milp import Residual

INF = highspy.kHighsInf
MAX_ROUNDS = 6
# A pricing round adds at most nd / ADD_SHARE columns (the most improving ones): smaller
# steps keep the dual simplex re-solves short. Re-solves after at most nd / PRIMAL_SHARE new
# columns use primal simplex instead (it degrades quickly with more).
ADD_SHARE = 5
PRIMAL_SHARE = 10
# Stages with 0/-1 costs (most places, most kept) on the real view, which is solved when the
# aggregated relaxation gave up, add at most nd / FLAT_ADD_SHARE: their re-solves then stay
# primal (2,000 x 60 x 4, seeds 4/7/17/23/30, same-process A/B: 15/11/11/19/20 s -> 11/8/8/15/12 s).
# On the aggregated view the same made a seed 3x slower, so it keeps ADD_SHARE.
FLAT_ADD_SHARE = 20
MIN_NEW = 50
# When the integer step over the fractional delegates misses the bound, up to nd / WIDEN_SHARE
# whole delegates are freed too before the model over every tight bundle is tried.
WIDEN_SHARE = 10
# Stages with at least SAMPLE_FROM delegates warm-start from a sample of about SAMPLE_SIZE
# (1,500 rather than 2,000: 10k x 200 x 4, seeds 1-5, mean 9.6 s rather than 10.9 s).
SAMPLE_FROM = 4000
SAMPLE_SIZE = 1500
# Re-solves of a stage with 0/-1 costs after at least IPM_FROM new columns use the interior
# point method (re-run 10,000 x 200 x 4: 181 s -> 97 s; 2,000, seeds 1 and 4: 4.4 -> 3.7 s and
# 9.9 -> 7.7 s of CPU).
IPM_FROM = 1000
# Instances of at least PARALLEL_FROM delegates are solved with two HiGHS threads where there
# are two cores (see solver._use_threads), and their stages (and samples) re-solve masters with
# HiGHS's parallel dual simplex (10,000 x 200 x 4, alternating runs, seeds 1/2/8: 8.97/9.31/
# 11.19 s -> 6.95/6.87/9.43 s wall, same optima, the same allocation on every run). Smaller
# ones keep one thread and the serial dual simplex: at 2,000 two threads were slower.
THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
PARALLEL_FROM = 5000


def threads_for(nd: int) -> int:
    """HiGHS threads for an instance of nd delegates (see PARALLEL_FROM)."""
    return THREADS if nd >= PARALLEL_FROM else 1
# Tests set these to exercise the gap-closing enumeration and the widened integer model even
# when the bound already closes.
FORCE_GAP_CLOSING = False
FORCE_WIDENING = False


class NotClosed(RuntimeError):
    """The stage could not be closed (engine status); the caller falls back to the plain MILP."""


@dataclass
class Coupling:
    """Rows coupling delegates: seat rows, organisation rows and stage rows."""

    seat_row: np.ndarray  # (nw,) row number or -1
    round_row: np.ndarray  # (nr,) row number or -1: all places of a round (aggregated fillers)
    org_row: np.ndarray  # (norg, nw) row number or -1
    upper: np.ndarray  # (m,) right-hand sides of the coupling rows (A x <= upper)
    placed_row: int  # -1 if absent; row is  -sum x <= -P
    kept_row: int  # -1 if absent; row is  -sum cur x <= -K


class Stage:
    """One lexicographic stage: objective table c[d, w] (inf = forbidden) and its rows."""

    def __init__(self, ix: Index, res: Residual, c: np.ndarray, cur: np.ndarray,
                 placed_min: int | None, kept_min: int | None, new_highs) -> None:
        self.ix, self.res, self.c, self.cur = ix, res, c, cur
        self.new_highs = new_highs
        finite = c[np.isfinite(c)]
        self.flat = bool(finite.size) and bool(np.isin(finite, (0.0, -1.0)).all())  # see IPM_FROM
        self.add_share = ADD_SHARE
        self.parallel = threads_for(ix.nd) > 1  # see PARALLEL_FROM
        # The last solve's master, its column pool and columns: a solve after new cuts resumes it.
        self._warm: tuple[_Master, list[set[tuple[int, ...]]], list[tuple[int, tuple[int, ...]]]] | None = None
        self._entries: dict[tuple[int, tuple[int, ...]], tuple[float, list[int], list[float]]] = {}
        allowed = res.allowed
        m = 0
        seat_row = np.full(ix.nw, -1, dtype=np.int64)
        demand = allowed.sum(axis=0)
        upper: list[float] = []
        for w in np.flatnonzero(demand > res.seats):
            seat_row[w] = m
            upper.append(float(res.seats[w]))
            m += 1
        # Rows over a whole round exist only for the aggregated view (see _agg), whose
        # residual carries the round's seats.
        round_row = np.full(ix.nr, -1, dtype=np.int64)
        round_seats = getattr(res, "round_seats", None)
        if round_seats is not None:
            for r in range(ix.nr):
                demand_r = int(allowed[:, ix.w_round == r].any(axis=1).sum())
                if demand_r > round_seats[r]:
                    round_row[r] = m
                    upper.append(float(round_seats[r]))
                    m += 1
        # Cuts found when the aggregated fillers could not be seated (see _agg.Cut).
        self.cuts: list[tuple[int, object]] = []
        for cut in getattr(res, "cuts", []):
            self.cuts.append((m, cut))
            upper.append(float(cut.seats))
            m += 1
        org_row = np.full((max(ix.norg, 1), ix.nw), -1, dtype=np.int64)
        if res.org_seats is not None and ix.nd:
            org_demand = np.zeros((max(ix.norg, 1), ix.nw), dtype=np.int64)
            np.add.at(org_demand, ix.d_org, allowed.astype(np.int64))
            for o, w in zip(*np.nonzero(org_demand > res.org_seats)):
                org_row[o, w] = m
                upper.append(float(res.org_seats[o, w]))
                m += 1
        placed_row = kept_row = -1
        if placed_min is not None:
            placed_row = m
            upper.append(-float(placed_min))
            m += 1
        if kept_min is not None:
            kept_row = m
            upper.append(-float(kept_min))
            m += 1
        self.rows = Coupling(seat_row, round_row, org_row, np.array(upper, dtype=np.float64), placed_row, kept_row)
        # Workshops grouped by (topic, round) for the pricing programme.
        self.by_topic: list[list[tuple[int, np.ndarray]]] = []
        for t in range(ix.nt):
            groups = []
            for r in range(ix.nr):
                ws = np.flatnonzero((ix.w_topic == t) & (ix.w_round == r))
                if ws.size:
                    groups.append((r, ws))
            self.by_topic.append(groups)

    def add_cuts(self, cuts: list) -> None:
        """Append rows for cuts found since this stage was built (after its own rows, so no row moves).

        The next solve then resumes the last master with these rows added rather than
        starting over: the LP optimum rarely moves, and a cold master of every column so far
        cost 5-7 s at 10,000 delegates (10,000 x 200 x 4, seed 9).
        """
        if not cuts:
            return
        upper = self.rows.upper.tolist()
        new_rows = []
        for cut in cuts:
            self.cuts.append((len(upper), cut))
            new_rows.append(len(upper))
            upper.append(float(cut.seats))
        self.rows.upper = np.array(upper, dtype=np.float64)
        self._entries.clear()
        if self._warm is not None:
            master, _, cols = self._warm
            master.add_cut_rows(cols, new_rows)

    # ---- prices and pricing -------------------------------------------------------------
    def adjusted(self, pi: np.ndarray) -> np.ndarray:
        """a[d, w]: objective plus the prices of the coupling rows a seat there would use."""
        ix, rows = self.ix, self.rows
        a = self.c.copy()
        pi = np.append(pi, 0.0)  # index -1 (no row) reads this zero
        seat_pi = pi[rows.seat_row]
        a += seat_pi[None, :]
        if (rows.round_row >= 0).any():
            a += pi[rows.round_row][ix.w_round][None, :]
        for row, cut in self.cuts:
            a[:, cut.workshops] += pi[row]
            a[cut.delegates, cut.filler] += pi[row]
        if self.res.org_seats is not None and ix.nd:
            org_pi = pi[rows.org_row]
            a += org_pi[ix.d_org]
        if rows.placed_row >= 0:
            a -= pi[rows.placed_row]
        if rows.kept_row >= 0:
            a -= pi[rows.kept_row] * self.cur
        return a

    def best_bundles(self, a: np.ndarray) -> tuple[np.ndarray, list[tuple[int, ...]]]:
        """Exact cheapest bundle per delegate under adjusted costs a (empty bundle = 0)."""
        ix = self.ix
        nd, nr = ix.nd, ix.nr
        ns = 1 << nr
        f = np.full((ns, nd), np.inf)
        f[0] = 0.0
        steps = []
        for t, groups in enumerate(self.by_topic):
            if not groups:
                continue
            vals = []
            for r, ws in groups:
                sub = a[:, ws]
                j = np.argmin(sub, axis=1)
                v = sub[np.arange(nd), j]
                if np.all(v >= 0):
                    continue  # never worth a place: the empty slot costs 0
                vals.append((r, v, ws[j]))
            if not vals:
                continue
            new = f.copy()
            choice = np.full((ns, nd), -1, dtype=np.int8)
            for r, v, _ in vals:
                # Views split the states by bit r: [:, 1] holds r, [:, 0] the same without it.
                shape = (ns >> (r + 1), 2, 1 << r, nd)
                cand = f.reshape(shape)[:, 0] + v
                target = new.reshape(shape)[:, 1]
                better = cand < target
                np.copyto(target, cand, where=better)
                np.copyto(choice.reshape(shape)[:, 1], np.int8(r), where=better)
            steps.append((vals, choice))
            f = new
        best_state = np.argmin(f, axis=0)
        best = f[best_state, np.arange(nd)]
        bundles: list[list[int]] = [[] for _ in range(nd)]
        state = best_state.copy()
        idx = np.arange(nd)
        for vals, choice in reversed(steps):
            r_taken = choice[state, idx]
            for r, _, argw in vals:
                hit = np.flatnonzero(r_taken == r)
                for d in hit.tolist():
                    bundles[d].append(int(argw[d]))
                state[hit] ^= 1 << r
        return best, [tuple(sorted(b)) for b in bundles]

    def bound(self, pi: np.ndarray, best: np.ndarray) -> float:
        """Lagrangian lower bound L(pi) = sum_d min_B a_d(B) - pi . b (pi >= 0)."""
        return float(np.sum(np.minimum(best, 0.0)) - float(pi @ self.rows.upper))

    # ---- master problem ---------------------------------------------------------------
    def entries(self, d: int, bundle: tuple[int, ...]) -> tuple[float, list[int], list[float]]:
        """Cost and coupling-row entries (row numbers 0..m-1) of one bundle column."""
        key = (d, bundle)
        hit = self._entries.get(key)
        if hit is not None:
            return hit
        rows = self.rows
        idx: list[int] = []
        val: list[float] = []
        org = self.ix.d_org[d]
        for w in bundle:
            if rows.seat_row[w] >= 0:
                idx.append(int(rows.seat_row[w]))
                val.append(1.0)
            rr = rows.round_row[self.ix.w_round[w]]
            if rr >= 0:
                idx.append(int(rr))
                val.append(1.0)
            if self.res.org_seats is not None and rows.org_row[org, w] >= 0:
                idx.append(int(rows.org_row[org, w]))
                val.append(1.0)
        for row, cut in self.cuts:
            n = cut.uses(d, bundle)
            if n:
                idx.append(row)
                val.append(float(n))
        if rows.placed_row >= 0 and bundle:
            idx.append(rows.placed_row)
            val.append(-float(len(bundle)))
        if rows.kept_row >= 0:
            kept = float(sum(self.cur[d, w] for w in bundle))
            if kept:
                idx.append(rows.kept_row)
                val.append(-kept)
        cost = float(sum(self.c[d, w] for w in bundle))
        out = (cost, idx, val)
        self._entries[key] = out
        return out

    def integer_model(self, free: list[tuple[int, tuple[int, ...]]],
                      fixed: list[tuple[int, tuple[int, ...]]]) -> highspy.Highs:
        """0-1 model over the ``free`` bundle columns with the ``fixed`` bundles forced in.

        Fixed bundles only lower the right-hand sides (their delegates are left out). Rows:
        one convexity row per delegate with a free column, then the coupling rows the free
        columns could still overfill; the others are redundant for any 0-1 choice and dropped.
        """
        rows = self.rows
        m = rows.upper.size
        use = np.zeros(m)
        for d, b in fixed:
            _, idx, val = self.entries(d, b)
            if idx:
                np.add.at(use, idx, val)
        delegates = sorted({d for d, _ in free})
        conv = {d: i for i, d in enumerate(delegates)}
        touch = np.zeros(m)
        per_d: dict[int, set[int]] = {}
        for d, b in free:
            _, idx, val = self.entries(d, b)
            per_d.setdefault(d, set()).update(i for i, v in zip(idx, val) if v > 0)
        for rs in per_d.values():
            if rs:
                touch[list(rs)] += 1.0
        rhs = rows.upper - use
        keep = use + touch > rows.upper + 1e-9
        for r in (rows.placed_row, rows.kept_row):
            if r >= 0:
                keep[r] = True
        kept_rows = np.flatnonzero(keep)
        new_no = np.full(m, -1, dtype=np.int64)
        na = len(delegates)
        new_no[kept_rows] = na + np.arange(kept_rows.size)
        costs, starts, index, value = [], [0], [], []
        for d, b in free:
            cost, idx, val = self.entries(d, b)
            costs.append(cost)
            index.append(conv[d])
            value.append(1.0)
            for i, v in zip(idx, val):
                j = new_no[i]
                if j >= 0:
                    index.append(int(j))
                    value.append(v)
            starts.append(len(index))
        n = len(free)
        h = self.new_highs()
        # HiGHS restarts a MILP whose root fixes a few columns, and repeats its root cuts and
        # heuristics each time: on these models (a few hundred columns) that was most of the
        # time (10,000 x 200 x 4, the fractional delegates' model: 1.42 -> 0.72 s, 0.84 -> 0.55 s).
        h.setOptionValue("mip_allow_restart", False)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = na + kept_rows.size
        lp.col_cost_ = np.array(costs, dtype=np.float64)
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.ones(n)
        lp.row_lower_ = np.full(na + kept_rows.size, -INF)
        lp.row_upper_ = np.concatenate([np.ones(na), rhs[kept_rows]])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
        h.passModel(lp)
        return h

    def bundle_costs(self, a: np.ndarray, bundles: list[tuple[int, ...]],
                     owners: list[int] | None = None) -> np.ndarray:
        """a_d(B) for each bundle (owner d = its position unless ``owners`` is given)."""
        if owners is None:
            owners = list(range(len(bundles)))
        flat_i = [i for i, b in enumerate(bundles) for _ in b]
        flat_w = [w for b in bundles for w in b]
        out = np.zeros(len(bundles))
        if flat_i:
            d = np.asarray(owners)[flat_i]
            np.add.at(out, np.asarray(flat_i), a[d, np.asarray(flat_w)])
        return out

    # ---- the whole stage ------------------------------------------------------------------
    def solve(self, start: list[tuple[int, ...]], stats: dict,
              extra: list[tuple[int, ...]] | None = None,
              carried: list[tuple[int, tuple[int, ...]]] | None = None) -> tuple[int, list[tuple[int, ...]]]:
        """Return (optimal stage value, bundle per delegate), proven by L(pi) or the exact MILP.

        ``carried`` columns (delegate, bundle) start the master too; afterwards ``self.columns``
        holds the columns the LP optimum priced at zero, for a later solve of a similar stage.
        """
        ix = self.ix
        nd = ix.nd
        self.columns = []
        if self._warm is not None:
            # Resumed after new cuts (add_cuts): the same master, plus any new start bundles.
            stats["resumed"] = stats.get("resumed", 0) + 1
            h, pool, cols = self._warm
            new = []
            for d, b in itertools.chain(enumerate(start), enumerate(extra or []), carried or []):
                if b and b not in pool[d]:
                    pool[d].add(b)
                    new.append((d, b))
            cols += new
            h.add(new)
            return self._finish(h, pool, cols, stats)
        pool: list[set[tuple[int, ...]]] = [set() for _ in range(nd)]
        cols: list[tuple[int, tuple[int, ...]]] = []
        for d, b in itertools.chain(enumerate(start), enumerate(extra or []), carried or []):
            if b and b not in pool[d]:
                pool[d].add(b)
                cols.append((d, b))
        pi0 = np.zeros(self.rows.upper.size)
        if self.rows.placed_row >= 0:
            finite = self.c[np.isfinite(self.c)]
            pi0[self.rows.placed_row] = float(finite.max()) + 1.0 if finite.size else 0.0
        # Prices from a sample start big masters near their optimum (fewer, smaller rounds);
        # otherwise the prices pi0 that only ask for places.
        pi_s = self._sample_prices(start) if self.ix.nd >= SAMPLE_FROM else None
        _, first = self.best_bundles(self.adjusted(pi0 if pi_s is None else pi_s))
        for d, b in enumerate(first):
            if b and b not in pool[d]:
                pool[d].add(b)
                cols.append((d, b))
        if not cols:
            # Nobody gains from any workshop even without prices: the empty allocation is optimal.
            return 0, [() for _ in range(nd)]
        h = _Master(self, cols)
        return self._finish(h, pool, cols, stats)

    def _finish(self, h: "_Master", pool: list[set[tuple[int, ...]]], cols: list[tuple[int, tuple[int, ...]]],
                stats: dict) -> tuple[int, list[tuple[int, ...]]]:
        """Column generation on the master ``h``, then the integer step and its proof (see solve)."""
        self._warm = (h, pool, cols)
        nd = self.ix.nd
        iterations, lp_value, conv, pi, a_lp, lower, a_lb, best_lb = self._generate(h, pool, cols)
        stats["iterations"] = stats.get("iterations", 0) + iterations
        stats["bundles"] = stats.get("bundles", 0) + len(cols)
        # Integer solution over the bundles priced (near) zero: the LP optimum's support.
        rc = self.bundle_costs(a_lp, [b for _, b in cols], [d for d, _ in cols]) - conv[[d for d, _ in cols]]
        tight = [col for col, r in zip(cols, rc) if r <= 1e-6]
        self.columns = tight
        # Delegates whose LP bundle is whole keep it; only the fractional ones are searched.
        x = np.asarray(h.h.getSolution().col_value)
        whole = [col for col, v in zip(cols, x) if v > 1 - 1e-9]
        done = {d for d, _ in whole}
        chosen_whole = dict(whole)
        loose = [col for col in tight if col[0] not in done]
        stats["milp_columns"] = stats.get("milp_columns", 0) + len(loose)
        target = int(np.ceil(lower - 1e-6))
        value = None
        try:
            value, chosen = self._milp(loose, whole)
        except NotClosed:
            # The small model over fractional delegates could not close the gap:
            # the wider model below decides instead.
            pass
        if value is None or value > target or FORCE_WIDENING:
            # Wider, still small: also free the whole delegates with another tight bundle on
            # the rows the fractional ones use (they can trade places with them), those with
            # the most such entries first. The full model over every tight bundle is slow.
            rows_loose = {i for d, b in loose for i, v in zip(*self.entries(d, b)[1:]) if v > 0}
            touching: dict[int, int] = {}
            for d, b in tight:
                if d in done and b != chosen_whole[d]:
                    n = sum(1 for i, v in zip(*self.entries(d, b)[1:]) if v > 0 and i in rows_loose)
                    if n:
                        touching[d] = touching.get(d, 0) + n
            near = set(sorted(touching, key=lambda d: (-touching[d], d))[: max(MIN_NEW, nd // WIDEN_SHARE)])
            if near and len(near) + len(loose) < len(tight) // 2:
                stats["milp_widened"] = stats.get("milp_widened", 0) + 1
                free = [col for col in tight if col[0] not in done or col[0] in near]
                fixed = [col for col in whole if col[0] not in near]
                try:
                    value2, chosen2 = self._milp(free, fixed)
                except NotClosed:
                    # The widened model is only a shortcut: the model over every tight bundle below decides.
                    pass
                else:
                    if value is None or value2 < value:
                        value, chosen = value2, chosen2
        if value is None or value > target:
            try:
                value, chosen = self._milp(tight, [])
            except NotClosed:
                value, chosen = self._milp(cols, [])
        if value <= target and not FORCE_GAP_CLOSING:
            return value, chosen
        # Not closed by the bound: every better solution uses bundles within the gap.
        gap = max(value - 1 - lower, 2.0 if FORCE_GAP_CLOSING else 0.0) + 1e-6
        stats["gap_closing"] = stats.get("gap_closing", 0) + 1
        cand = self._bundles_within(a_lb, best_lb, gap)
        cand_cols = sorted({(d, b) for d, bs in enumerate(cand) for b in bs} | {(d, b) for d, b in enumerate(chosen) if b})
        value2, chosen2 = self._milp(cand_cols, [])
        if value2 < value:
            return value2, chosen2
        return value, chosen

    def _most_new(self) -> int:
        """Cap on the columns one pricing round adds."""
        return max(MIN_NEW, self.ix.nd // self.add_share)

    def _generate(self, h: "_Master", pool: list[set[tuple[int, ...]]], cols: list[tuple[int, tuple[int, ...]]]):
        """Column generation to the LP optimum; ``pool`` and ``cols`` grow in place."""
        iterations = 0
        lower = -np.inf
        while True:
            iterations += 1
            lp_value, conv, pi = h.run()
            a_lp = self.adjusted(pi)
            best, bundles = self.best_bundles(a_lp)
            bound = self.bound(pi, best)
            if bound > lower:
                # Gap closing needs the prices of the bound it uses.
                lower, a_lb, best_lb = bound, a_lp, best
            gain = best - conv
            ds = np.array([d for d in np.flatnonzero(gain < -1e-9).tolist() if bundles[d] not in pool[d]],
                          dtype=np.int64)
            if ds.size > self._most_new():
                # The most improving ones only: few enough for quick re-solves.
                ds = ds[np.argsort(gain[ds], kind="stable")[: self._most_new()]]
            new = [(d, bundles[d]) for d in ds.tolist()]
            # Values are integers: once the bound rounds up to the LP value, more rounds could
            # not raise the integer step's target.
            if not new or np.ceil(lower - 1e-6) >= np.ceil(lp_value - 1e-6) or iterations > 200:
                return iterations, lp_value, conv, pi, a_lp, lower, a_lb, best_lb
            for d, b in new:
                pool[d].add(b)
            cols += new
            h.add(new)

    def _sample_prices(self, start: list[tuple[int, ...]]) -> np.ndarray | None:
        """LP prices of a scaled-down stage over every k-th delegate (None if it fails).

        Only a warm start: columns priced with them seed the full master, which then needs
        fewer and smaller column-generation rounds. Seats scale with the sample (rounded up).
        """
        ix, rows = self.ix, self.rows
        step = max(2, ix.nd // SAMPLE_SIZE)
        sub = np.arange(0, ix.nd, step)
        frac = sub.size / ix.nd
        allowed = self.res.allowed[sub]
        c = self.c[sub]
        view = View(sub.size, ix.nw, ix.nr, ix.nt, ix.norg, ix.w_topic, ix.w_round, ix.d_org[sub])
        res = _SubRes(self.res.seats, self.res.org_seats, allowed)
        stage = Stage.__new__(Stage)
        stage.ix, stage.res, stage.c, stage.cur = view, res, c, self.cur[sub]
        stage.flat = self.flat
        stage.add_share = self.add_share
        stage.parallel = self.parallel
        stage.new_highs = self.new_highs
        stage._entries = {}
        stage.by_topic = self.by_topic
        upper = np.ceil(rows.upper * frac - 1e-9)
        # A sample of a feasible allocation may break the rounded seats: instead of rows that
        # could make the sample's master infeasible, places earn a fixed price (as in pi0)
        # and kept places are not asked for.
        big = 0.0
        if rows.placed_row >= 0:
            finite = c[np.isfinite(c)]
            big = float(finite.max()) + 1.0 if finite.size else 0.0
            c = c - big
            upper[rows.placed_row] = 0.0
        if rows.kept_row >= 0:
            upper[rows.kept_row] = 0.0
        stage.c = c
        stage.rows = Coupling(rows.seat_row, rows.round_row, rows.org_row, upper, rows.placed_row, rows.kept_row)
        stage.cuts = [(row, type(cut)(cut.filler, cut.workshops, cut.delegates[sub], 0)) for row, cut in self.cuts]
        pool: list[set[tuple[int, ...]]] = [set() for _ in range(sub.size)]
        cols: list[tuple[int, tuple[int, ...]]] = []
        _, first = stage.best_bundles(stage.adjusted(np.zeros(upper.size)))
        for i, d in enumerate(sub.tolist()):
            for b in (start[d], first[i]):
                if b and b not in pool[i]:
                    pool[i].add(b)
                    cols.append((i, b))
        if not cols:
            return None
        try:
            h = _Master(stage, cols)
            pi = stage._generate(h, pool, cols)[3]
        except NotClosed:
            return None
        if rows.placed_row >= 0:
            pi[rows.placed_row] = big
        return pi

    def _milp(self, free: list[tuple[int, tuple[int, ...]]],
              fixed: list[tuple[int, tuple[int, ...]]]) -> tuple[int, list[tuple[int, ...]]]:
        chosen: list[tuple[int, ...]] = [() for _ in range(self.ix.nd)]
        value = 0.0
        for d, b in fixed:
            chosen[d] = b
            value += sum(float(self.c[d, w]) for w in b)
        if free:
            h = self.integer_model(free, fixed)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise NotClosed(f"bundle MILP status {h.modelStatusToString(h.getModelStatus())}")
            x = np.asarray(h.getSolution().col_value)
            for j in np.flatnonzero(x > 0.5).tolist():
                d, b = free[j]
                chosen[d] = b
                value += sum(float(self.c[d, w]) for w in b)
        return int(round(value)), chosen

    def _bundles_within(self, a: np.ndarray, best: np.ndarray, gap: float) -> list[list[tuple[int, ...]]]:
        """Every bundle per delegate whose adjusted cost is within ``gap`` of the cheapest."""
        ix = self.ix
        out: list[list[tuple[int, ...]]] = []
        round_ws = [np.flatnonzero(ix.w_round == r) for r in range(ix.nr)]
        for d in range(ix.nd):
            limit = float(min(best[d], 0.0)) + gap
            row = a[d]
            per_round_min = [min(0.0, float(row[ws].min())) if ws.size else 0.0 for ws in round_ws]
            total_min = sum(per_round_min)
            options = []
            for r, ws in enumerate(round_ws):
                slack = limit - (total_min - per_round_min[r])
                opts = [None] if slack >= 0 else []
                opts += [int(w) for w in ws if row[w] <= slack]
                options.append(opts)
            found = []
            for combo in itertools.product(*options):
                ws = [w for w in combo if w is not None]
                if len({ix.w_topic[w] for w in ws}) != len(ws):
                    continue
                if sum(float(row[w]) for w in ws) <= limit:
                    found.append(tuple(sorted(ws)))
            out.append(found)
        return out


# Keys of Master.seen: delegate * _ROW_KEY + coupling row (rows never reach 2**32).
_ROW_KEY = 1 << 32


def _places(cols: list[tuple[int, tuple[int, ...]]]) -> tuple[np.ndarray, ...]:
    """Per column its delegate D and size; per place (column, workshop) its column J, workshop W and delegate DJ."""
    n = len(cols)
    D = np.fromiter((d for d, _ in cols), dtype=np.int64, count=n)
    sizes = np.fromiter((len(b) for _, b in cols), dtype=np.int64, count=n)
    J = np.repeat(np.arange(n), sizes)
    W = np.fromiter(itertools.chain.from_iterable(b for _, b in cols), dtype=np.int64, count=int(sizes.sum()))
    return D, sizes, J, W, D[J]


def _cut_values(cut, J: np.ndarray, W: np.ndarray, DJ: np.ndarray, n: int) -> np.ndarray:
    """Each of n columns' entry on a cut's row (Cut.uses for all of them at once)."""
    uses = cut.workshops[W].astype(np.float64) + ((W == cut.filler) & cut.delegates[DJ])
    return np.bincount(J, weights=uses, minlength=n)


@dataclass
class _SubRes:
    """Seats and allowed pairs of a sampled stage (its rows come from the full stage)."""

    seats: np.ndarray
    org_seats: np.ndarray | None
    allowed: np.ndarray


class _Master:
    """The master LP, kept warm across iterations: columns are appended with ``addCols``.

    Coupling rows that the columns so far cannot overfill (fewer delegates touch them than
    their right-hand side allows) are redundant and left out; each is added, with its entries
    on the existing columns, once new columns could overfill it. Left-out rows get price 0,
    which leaves the LP optimum unchanged and the Lagrangian bound valid.
    """

    def __init__(self, stage: Stage, cols: list[tuple[int, tuple[int, ...]]]) -> None:
        self.stage = stage
        nd = stage.ix.nd
        rows = stage.rows
        m = rows.upper.size
        self.lp_row = np.full(m, -1, dtype=np.int64)  # LP row of each coupling row, -1 = left out
        self.touch = np.zeros(m, dtype=np.int64)  # delegates with a column on the row
        self.seen: set[int] = set()  # d * _ROW_KEY + row for each delegate with a column on the row
        # Left-out row -> its entries on the columns so far, as (columns, values) array pairs.
        self.row_cols: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        self.n = 0
        self.added = 0  # columns appended since the last solve
        self.rows_added = False  # rows appended since the last solve (new cuts)
        self.h = stage.new_highs()
        lp = highspy.HighsLp()
        lp.num_col_ = 0
        lp.num_row_ = nd
        lp.row_lower_ = np.full(nd, -INF)
        lp.row_upper_ = np.ones(nd)
        self.h.passModel(lp)
        self.num_rows = nd
        always = [r for r in (rows.placed_row, rows.kept_row) if r >= 0]
        self._add_rows(always)
        self.add(cols)

    def _add_rows(self, new_rows: list[int]) -> None:
        if not new_rows:
            return
        rows = self.stage.rows
        starts, index, value = [], [], []
        for r in new_rows:
            starts.append(len(index))
            for js, vs in self.row_cols.pop(r, []):
                index.extend(js.tolist())
                value.extend(vs.tolist())
            self.lp_row[r] = self.num_rows
            self.num_rows += 1
        k = len(new_rows)
        self.h.addRows(k, np.full(k, -INF), rows.upper[new_rows].astype(np.float64), len(index),
                       np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32),
                       np.array(value, dtype=np.float64))

    def add(self, cols: list[tuple[int, tuple[int, ...]]]) -> None:
        """Append bundle columns, then any left-out rows they could now overfill.

        The entries are those of Stage.entries, worked out for all the columns at once: one
        (column, workshop) pair per place, then each kind of coupling row in one step.
        """
        stage = self.stage
        ix, rows = stage.ix, stage.rows
        n = len(cols)
        if not n:
            return
        D, sizes, J, W, DJ = _places(cols)
        costs = np.bincount(J, weights=stage.c[DJ, W], minlength=n)
        parts_j, parts_r, parts_v = [], [], []

        def per_place(row_of_place: np.ndarray) -> None:
            on = row_of_place >= 0
            parts_j.append(J[on])
            parts_r.append(row_of_place[on])
            parts_v.append(np.ones(int(on.sum())))

        def per_column(row: int, v: np.ndarray) -> None:
            on = np.flatnonzero(v)
            parts_j.append(on)
            parts_r.append(np.full(on.size, row, dtype=np.int64))
            parts_v.append(v[on].astype(np.float64))

        per_place(rows.seat_row[W])
        per_place(rows.round_row[ix.w_round[W]])
        if stage.res.org_seats is not None:
            per_place(rows.org_row[ix.d_org[DJ], W])
        for row, cut in stage.cuts:
            per_column(row, _cut_values(cut, J, W, DJ, n))
        if rows.placed_row >= 0:
            per_column(rows.placed_row, -sizes.astype(np.float64))
        if rows.kept_row >= 0:
            per_column(rows.kept_row, -np.bincount(J, weights=stage.cur[DJ, W], minlength=n))
        TJ, TR, TV = np.concatenate(parts_j), np.concatenate(parts_r), np.concatenate(parts_v)
        # Delegates newly on a row: the rows that may now be overfilled.
        pos = TV > 0
        grown = set()
        for key in np.unique(D[TJ[pos]] * _ROW_KEY + TR[pos]).tolist():
            if key not in self.seen:
                self.seen.add(key)
                r = key % _ROW_KEY
                self.touch[r] += 1
                grown.add(r)
        L = self.lp_row[TR]
        out = L < 0
        if out.any():
            oj, orow, ov = TJ[out] + self.n, TR[out], TV[out]
            order = np.argsort(orow, kind="stable")
            oj, orow, ov = oj[order], orow[order], ov[order]
            bounds = np.flatnonzero(np.diff(orow)) + 1
            for js, rs, vs in zip(np.split(oj, bounds), np.split(orow, bounds), np.split(ov, bounds)):
                self.row_cols.setdefault(int(rs[0]), []).append((js, vs))
        # Each column: its convexity row (the delegate's), then its coupling rows in the LP.
        cj = np.concatenate([np.arange(n), TJ[~out]])
        cr = np.concatenate([D, L[~out]])
        cv = np.concatenate([np.ones(n), TV[~out]])
        order = np.lexsort((cr, cj))
        starts = np.concatenate([[0], np.cumsum(np.bincount(cj, minlength=n))[:-1]])
        self.added += n
        self.h.addCols(n, costs, np.zeros(n), np.ones(n), cj.size, starts.astype(np.int32),
                       cr[order].astype(np.int32), cv[order].astype(np.float64))
        self.n += n
        upper = stage.rows.upper
        self._add_rows(sorted(r for r in grown if self.lp_row[r] < 0 and self.touch[r] > upper[r] + 1e-9))

    def add_cut_rows(self, cols: list[tuple[int, tuple[int, ...]]], new_rows: list[int]) -> None:
        """Rows just appended to the stage (Stage.add_cuts), with their entries on ``cols``, the columns so far.

        As with any coupling row, one enters the LP only once its columns could overfill it.
        """
        grow = len(new_rows)
        self.lp_row = np.concatenate([self.lp_row, np.full(grow, -1, dtype=np.int64)])
        self.touch = np.concatenate([self.touch, np.zeros(grow, dtype=np.int64)])
        if not cols:
            return
        D, _, J, W, DJ = _places(cols)
        cuts = dict(self.stage.cuts)
        for r in new_rows:
            v = _cut_values(cuts[r], J, W, DJ, len(cols))
            on = np.flatnonzero(v)
            if on.size:
                self.row_cols[r] = [(on, v[on])]
            ds = np.unique(D[on])
            self.seen.update((ds * _ROW_KEY + r).tolist())
            self.touch[r] = ds.size
        upper = self.stage.rows.upper
        enter = [r for r in new_rows if self.touch[r] > upper[r] + 1e-9]
        self._add_rows(enter)
        self.rows_added = self.rows_added or bool(enter)

    def run(self) -> tuple[float, np.ndarray, np.ndarray]:
        """Solve; return (LP value, convexity duals <= 0, coupling-row prices >= 0)."""
        h = self.h
        # New columns keep the last optimum primal feasible: after a few, primal simplex
        # repairs the basis in a handful of pivots, while dual simplex starts over from
        # bound flips. After many (and for the first solve) dual simplex is faster.
        # New rows (cuts) leave it dual feasible instead: dual simplex then.
        few = (self.n > self.added and self.added <= max(MIN_NEW, self.stage.ix.nd // PRIMAL_SHARE)
               and not self.rows_added)
        h.setOptionValue("simplex_strategy", 4 if few else 3 if self.stage.parallel else 1)
        # Stages whose costs are only 0 and -1 (most places, most kept) are so degenerate
        # that simplex crawls after many new columns; the interior point method (with
        # crossover, so later re-solves start warm) takes a third to a half of the time.
        ipm = not few and self.stage.flat and self.added >= IPM_FROM
        h.setOptionValue("solver", "ipm" if ipm else "simplex")
        self.added = 0
        self.rows_added = False
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise NotClosed(f"master LP status {h.modelStatusToString(h.getModelStatus())}")
        y = np.asarray(h.getSolution().row_dual)
        nd = self.stage.ix.nd
        conv = np.minimum(y[:nd], 0.0)
        pi = np.zeros(self.lp_row.size)
        on = self.lp_row >= 0
        pi[on] = np.maximum(-y[self.lp_row[on]], 0.0)
        return h.getInfo().objective_function_value, conv, pi
