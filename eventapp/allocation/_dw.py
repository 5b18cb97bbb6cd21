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
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import highspy
import numpy as np

from ._index import Index
from ._milp import Residual

INF = highspy.kHighsInf
MAX_ROUNDS = 6
# Tests set this to exercise the gap-closing enumeration even when the bound already closes.
FORCE_GAP_CLOSING = False


class NotClosed(RuntimeError):
    """The stage could not be closed (engine status); the caller falls back to the plain MILP."""


@dataclass
class Coupling:
    """Rows coupling delegates: seat rows, organisation rows and stage rows."""

    seat_row: np.ndarray  # (nw,) row number or -1
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
        allowed = res.allowed
        m = 0
        seat_row = np.full(ix.nw, -1, dtype=np.int64)
        demand = allowed.sum(axis=0)
        upper: list[float] = []
        for w in np.flatnonzero(demand > res.seats):
            seat_row[w] = m
            upper.append(float(res.seats[w]))
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
        self.rows = Coupling(seat_row, org_row, np.array(upper, dtype=np.float64), placed_row, kept_row)
        # Workshops grouped by (topic, round) for the pricing programme.
        self.by_topic: list[list[tuple[int, np.ndarray]]] = []
        for t in range(ix.nt):
            groups = []
            for r in range(ix.nr):
                ws = np.flatnonzero((ix.w_topic == t) & (ix.w_round == r))
                if ws.size:
                    groups.append((r, ws))
            self.by_topic.append(groups)

    # ---- prices and pricing -------------------------------------------------------------
    def adjusted(self, pi: np.ndarray) -> np.ndarray:
        """a[d, w]: objective plus the prices of the coupling rows a seat there would use."""
        ix, rows = self.ix, self.rows
        a = self.c.copy()
        pi = np.append(pi, 0.0)  # index -1 (no row) reads this zero
        seat_pi = pi[rows.seat_row]
        a += seat_pi[None, :]
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
        with_r = [np.array([s for s in range(ns) if s >> r & 1], dtype=np.int64) for r in range(nr)]
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
                states = with_r[r]
                cand = f[states ^ (1 << r)] + v[None, :]
                better = cand < new[states]
                if better.any():
                    new[states] = np.where(better, cand, new[states])
                    cs = choice[states]
                    cs[better] = r
                    choice[states] = cs
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
            if self.res.org_seats is not None and rows.org_row[org, w] >= 0:
                idx.append(int(rows.org_row[org, w]))
                val.append(1.0)
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

    def master(self, free: list[tuple[int, tuple[int, ...]]], fixed: list[tuple[int, tuple[int, ...]]],
               integer: bool) -> tuple[highspy.Highs, list[int], np.ndarray, float]:
        """HiGHS model over the ``free`` bundle columns with the ``fixed`` bundles forced in.

        Fixed bundles only lower the right-hand sides. Rows: one convexity row per delegate
        with a free column, then the coupling rows the free columns could still overfill (the
        others are redundant and dropped). Returns (model, delegates of the convexity rows,
        coupling row numbers kept, cost of the fixed bundles).
        """
        rows = self.rows
        m = rows.upper.size
        use = np.zeros(m)
        fixed_cost = 0.0
        for d, b in fixed:
            cost, idx, val = self.entries(d, b)
            fixed_cost += cost
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
        if integer:
            lp.integrality_ = [highspy.HighsVarType.kInteger] * n
        h.passModel(lp)
        return h, delegates, kept_rows, fixed_cost

    def _adjusted_cost(self, a: np.ndarray, bundles: list[tuple[int, ...]]) -> np.ndarray:
        """a_d(B_d) for one bundle per delegate."""
        nd = self.ix.nd
        flat_d = [d for d in range(nd) for _ in bundles[d]]
        flat_w = [w for d in range(nd) for w in bundles[d]]
        out = np.zeros(nd)
        if flat_d:
            np.add.at(out, np.array(flat_d), a[np.array(flat_d), np.array(flat_w)])
        return out

    # ---- the whole stage ------------------------------------------------------------------
    def solve(self, start: list[tuple[int, ...]], stats: dict,
              extra: list[tuple[int, ...]] | None = None) -> tuple[int, list[tuple[int, ...]]]:
        """Return (optimal stage value, bundle per delegate), proven by L(pi) or the exact MILP.

        ``start`` must be feasible for the stage. Delegates whose start bundle is also their
        cheapest under the current prices stay fixed to it (out of the master LP); a delegate
        joins the master, with its columns, once the prices make another bundle cheaper. When
        no delegate prices out, the restricted LP is optimal for the full master.
        """
        ix = self.ix
        nd = ix.nd
        self._entries: dict = {}
        inc = [tuple(sorted(b)) for b in start]
        pool: list[list[tuple[int, ...]]] = [[] for _ in range(nd)]
        seen: list[set[tuple[int, ...]]] = [set() for _ in range(nd)]

        def add(d: int, b: tuple[int, ...]) -> bool:
            if b in seen[d]:
                return False
            seen[d].add(b)
            pool[d].append(b)
            return True

        for d, b in itertools.chain(enumerate(inc), enumerate(extra or [])):
            add(d, tuple(b))
        m = self.rows.upper.size
        pi = np.zeros(m)
        a = self.adjusted(pi)
        best, first = self.best_bundles(a)
        for d, b in enumerate(first):
            add(d, b)
        if not any(first) and not any(inc):
            # Nobody gains from any workshop even without prices: the empty allocation is optimal.
            return 0, [() for _ in range(nd)]
        active = self._adjusted_cost(a, inc) > best + 1e-9
        iterations = 0
        lower = -np.inf
        while True:
            iterations += 1
            free = [(d, b) for d in np.flatnonzero(active).tolist() for b in pool[d]]
            fixed = [(d, inc[d]) for d in np.flatnonzero(~active).tolist()]
            h, delegates, kept_rows, fixed_cost = self.master(free, fixed, integer=False)
            h.run()
            if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
                raise NotClosed(f"master LP status {h.modelStatusToString(h.getModelStatus())}")
            lp_value = h.getInfo().objective_function_value + fixed_cost
            y = np.asarray(h.getSolution().row_dual)
            na = len(delegates)
            conv = np.zeros(nd)
            conv[delegates] = np.minimum(y[:na], 0.0)
            pi = np.zeros(m)
            pi[kept_rows] = np.maximum(-y[na:], 0.0)
            a = self.adjusted(pi)
            best, bundles = self.best_bundles(a)
            lower = max(lower, self.bound(pi, best))
            grow = 0
            for d in np.flatnonzero(active & (best - conv < -1e-9)).tolist():
                grow += add(d, bundles[d])
            wake = ~active & (self._adjusted_cost(a, inc) > best + 1e-9)
            for d in np.flatnonzero(wake).tolist():
                grow += add(d, bundles[d])
            active |= wake
            if not grow or lp_value - lower < 1e-7 or iterations > 200:
                break
        stats["iterations"] = stats.get("iterations", 0) + iterations
        stats["bundles"] = stats.get("bundles", 0) + sum(len(p) for p in pool)
        stats["master_delegates"] = max(stats.get("master_delegates", 0), int(active.sum()))
        # Integer solution over the bundles priced (near) zero: the LP optimum's support.
        x = np.asarray(h.getSolution().col_value)
        whole = list(fixed) + [col for col, v in zip(free, x) if v > 1 - 1e-9]
        done = {d for d, _ in whole}
        rc = np.array([sum(float(a[d, w]) for w in b) - conv[d] for d, b in free])
        tight_free = [col for col, r in zip(free, rc) if r <= 1e-6]
        loose = [col for col in tight_free if col[0] not in done]
        stats["milp_columns"] = stats.get("milp_columns", 0) + len(loose)
        target = int(np.ceil(lower - 1e-6))
        value = None
        try:
            value, chosen = self._milp(loose, whole)
        except NotClosed:
            pass
        if value is None or value > target:
            try:
                value, chosen = self._milp(list(fixed) + tight_free, [])
            except NotClosed:
                value, chosen = self._milp([(d, b) for d in range(nd) for b in pool[d]], [])
        if value <= target and not FORCE_GAP_CLOSING:
            return value, chosen
        # Not closed by the bound: every better solution uses bundles within the gap.
        gap = max(value - 1 - lower, 2.0 if FORCE_GAP_CLOSING else 0.0) + 1e-6
        stats["gap_closing"] = stats.get("gap_closing", 0) + 1
        cand = self._bundles_within(a, best, gap)
        cand_cols = sorted({(d, b) for d, bs in enumerate(cand) for b in bs} | {(d, b) for d, b in enumerate(chosen) if b})
        value2, chosen2 = self._milp(cand_cols, [])
        if value2 < value:
            return value2, chosen2
        return value, chosen

    def _milp(self, free: list[tuple[int, tuple[int, ...]]],
              fixed: list[tuple[int, tuple[int, ...]]]) -> tuple[int, list[tuple[int, ...]]]:
        chosen: list[tuple[int, ...]] = [() for _ in range(self.ix.nd)]
        value = 0.0
        for d, b in fixed:
            chosen[d] = b
            value += sum(float(self.c[d, w]) for w in b)
        if free:
            h, _, _, _ = self.master(free, fixed, integer=True)
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
