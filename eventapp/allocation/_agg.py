"""An aggregated relaxation: a delegate's unranked workshops of a round become one "filler".

To a delegate, every workshop of a topic they did not rank costs the same (rank K+1), so the
exact stages would spend most of their effort choosing among equal fillers. In the aggregated
view each round r gets one pseudo-workshop F_r standing for "some workshop of r whose topic
I did not rank (nor hold in the published allocation)", limited only by the round's seats.
Every real allocation maps onto an aggregated one with the same places, moves and cost, so the
aggregated optimum bounds the real one from below in each stage. When the fillers of that
optimum can then be given real seats (a max-flow per round, respecting seats, organisation
limits and the topic rule), the completed allocation reaches the bound and is optimal.
When they cannot, the caller adds the cuts a round's failed flow yields and solves again;
when no cut explains the failure (only the topic rule between one delegate's fillers blocks
them), it solves the real problem instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from ._index import Index
from ._milp import Residual


@dataclass
class View:
    """The numbering a stage needs: here real workshops 0..nw-1, then F_0..F_{nr-1}; a sampled stage (_dw) uses it as is."""

    nd: int
    nw: int
    nr: int
    nt: int
    norg: int
    w_topic: np.ndarray
    w_round: np.ndarray
    d_org: np.ndarray


@dataclass
class Cut:
    """Seats of workshops T in round r also hold the fillers of delegates D who can sit only in T.

    Valid for every real allocation: a delegate of D with a filler in round r sits in T.
    Row: places in T + fillers of D in round r <= seats left in T.
    """

    filler: int  # the aggregated column F_r
    workshops: np.ndarray  # (nw + nr,) bool, over the aggregated numbering (no filler set)
    delegates: np.ndarray  # (nd,) bool
    seats: int

    def uses(self, d: int, bundle: tuple[int, ...]) -> int:
        """The bundle's entry on the cut's row when delegate d takes it."""
        return sum(1 for w in bundle if self.workshops[w]) + (self.filler in bundle and bool(self.delegates[d]))


@dataclass
class AggResidual:
    """Residual seats and allowed pairs of the aggregated view, plus seats per round and cuts."""

    seats: np.ndarray
    org_seats: np.ndarray | None
    allowed: np.ndarray
    round_seats: np.ndarray
    cuts: list[Cut]


@dataclass
class Aggregated:
    view: View
    res: AggResidual
    specific: np.ndarray  # (nd, nw) bool: the delegate ranked its topic or holds a workshop of that topic now
    cost: np.ndarray  # (nd, nw + nr) rank squared, fillers at (K+1)^2
    cur: np.ndarray  # (nd, nw + nr) published allocation, fillers never "kept"


def aggregate(ix: Index, res: Residual, cur: np.ndarray) -> Aggregated | None:
    """Build the aggregated view, or None when there is nothing to aggregate."""
    nd, nw, nr = ix.nd, ix.nw, ix.nr
    # Every workshop of a topic the delegate ranked or holds stays real: a filler's topic is
    # then never one of the delegate's real picks, so the topic rule only links fillers.
    held_topic = np.zeros((nd, ix.nt), dtype=bool)
    held_d, held_w = np.nonzero(cur > 0)
    held_topic[held_d, ix.w_topic[held_w]] = True
    specific = (ix.rank <= ix.k) | held_topic[:, ix.w_topic]
    filler_ok = res.allowed & ~specific
    if not filler_ok.any():
        return None
    fill_allowed = np.zeros((nd, nr), dtype=bool)
    for r in range(nr):
        fill_allowed[:, r] = filler_ok[:, ix.w_round == r].any(axis=1)
    allowed = np.concatenate([res.allowed & specific, fill_allowed], axis=1)
    round_seats = np.array([int(res.seats[ix.w_round == r].sum()) for r in range(nr)], dtype=np.int64)
    seats = np.concatenate([res.seats, round_seats])
    org_seats = None
    if res.org_seats is not None:
        # Organisation limits bind real workshops; fillers are checked when they get seats.
        org_seats = np.concatenate([res.org_seats, np.full((res.org_seats.shape[0], nr), nd + 1)], axis=1)
    view = View(nd, nw + nr, nr, ix.nt + nr,
                ix.norg, np.concatenate([ix.w_topic, ix.nt + np.arange(nr)]),
                np.concatenate([ix.w_round, np.arange(nr)]), ix.d_org)
    unranked = (ix.k + 1) ** 2
    cost = np.concatenate([ix.cost, np.full((nd, nr), unranked, dtype=ix.cost.dtype)], axis=1)
    cur_agg = np.concatenate([cur, np.zeros((nd, nr), dtype=cur.dtype)], axis=1)
    return Aggregated(view, AggResidual(seats, org_seats, allowed, round_seats, []), specific, cost, cur_agg)


def to_aggregated(agg: Aggregated, ix: Index, bundles: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Map real bundles onto the aggregated view (unranked, not held workshops become F_r)."""
    out = []
    for d, b in enumerate(bundles):
        out.append(tuple(sorted(w if agg.specific[d, w] else ix.nw + int(ix.w_round[w]) for w in b)))
    return out


def complete(agg: Aggregated, ix: Index, res: Residual, bundles: list[tuple[int, ...]],
             new_highs, stats: dict | None = None) -> list[list[int]] | tuple[Cut, ...] | None:
    """Give every filler a real seat, round by round.

    When rounds cannot be filled, return the Cuts that the aggregated solution breaks (from
    the max flows' minimum cuts); None when no such cut explains the failure, including when
    every round can be filled but not all at once under the topic rule.
    """
    nw = ix.nw
    seats = res.seats.copy()
    org_seats = None if res.org_seats is None else res.org_seats.copy()
    picks: list[list[int]] = []
    used_topics: list[set[int]] = []
    wanted: dict[int, list[int]] = {}
    for d, b in enumerate(bundles):
        real = [w for w in b if w < nw]
        picks.append(real)
        used_topics.append({int(ix.w_topic[w]) for w in real})
        for w in real:
            seats[w] -= 1
            if org_seats is not None:
                org_seats[ix.d_org[d], w] -= 1
        for w in b:
            if w >= nw:
                wanted.setdefault(w - nw, []).append(d)
    if (seats < 0).any() or (org_seats is not None and (org_seats < 0).any()):
        return None
    filler_ok = res.allowed & ~agg.specific
    base_seats = seats.copy()
    base_org = None if org_seats is None else org_seats.copy()

    def options(r: int, exclude: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ds = np.array(wanted[r], dtype=np.int64)
        ws = np.flatnonzero((ix.w_round == r) & (seats > 0))
        ok = filler_ok[np.ix_(ds, ws)]
        if org_seats is not None:
            ok &= org_seats[np.ix_(ix.d_org[ds], ws)] > 0
        if exclude:
            for i, d in enumerate(ds.tolist()):
                if used_topics[d]:
                    ok[i] &= ~np.isin(ix.w_topic[ws], list(used_topics[d]))
        return ds, ws, ok

    # Each round on its own first: a round that cannot seat its fillers even ignoring the
    # topic rule across rounds yields a cut for the relaxation; every such round's at once,
    # as each costs the caller a new solve.
    cuts = []
    for r in sorted(wanted):
        ds, ws, ok = options(r, exclude=False)
        got = _assign(ds, ws, ok, seats, org_seats, ix.d_org)
        if isinstance(got, tuple):
            cut = _cut(agg, ix, res, r, ws[got[1]], seats, bundles)
            if cut is None:
                return None
            cuts.append(cut)
    if cuts:
        return tuple(cuts)

    # Then round by round with the topic rule, the tightest round first: its fillers' topics
    # then constrain the rounds with room to spare.
    def room(r: int) -> float:
        return float(seats[(ix.w_round == r) & (seats > 0)].sum()) / len(wanted[r])

    greedy = [list(p) for p in picks]
    for r in sorted(wanted, key=lambda r: (room(r), r)):
        ds, ws, ok = options(r, exclude=True)
        got = _assign(ds, ws, ok, seats, org_seats, ix.d_org)
        if isinstance(got, tuple):
            break
        for d, w in got:
            greedy[d].append(w)
            used_topics[d].add(int(ix.w_topic[w]))
            seats[w] -= 1
            if org_seats is not None:
                org_seats[ix.d_org[d], w] -= 1
    else:
        return greedy
    # The rounds interfere through delegates with several fillers: decide them all at once.
    if stats is not None:
        stats["joint_assignments"] = stats.get("joint_assignments", 0) + 1
    return _assign_jointly(ix, wanted, filler_ok, base_seats, base_org, picks, new_highs)


def _assign_jointly(ix: Index, wanted: dict[int, list[int]], filler_ok: np.ndarray,
                    seats: np.ndarray, org_seats: np.ndarray | None,
                    picks: list[list[int]], new_highs) -> list[list[int]] | None:
    """Feasibility MILP over every filler's seat: seats, organisation places, topic rule."""
    col_d, col_w = [], []
    for r, ds in wanted.items():
        ws = np.flatnonzero((ix.w_round == r) & (seats > 0))
        for d in ds:
            ok = filler_ok[d, ws]
            if org_seats is not None:
                ok &= org_seats[ix.d_org[d], ws] > 0
            taken = [int(ix.w_topic[w]) for w in picks[d]]
            if taken:
                ok &= ~np.isin(ix.w_topic[ws], taken)
            col_w.extend(ws[ok].tolist())
            col_d.extend([d] * int(ok.sum()))
    d_arr = np.array(col_d, dtype=np.int64)
    w_arr = np.array(col_w, dtype=np.int64)
    n = d_arr.size
    families = [
        (d_arr * ix.nr + ix.w_round[w_arr], None, True),  # each filler gets exactly one seat
        (w_arr, seats, False),
        (d_arr * ix.nt + ix.w_topic[w_arr], None, False),
    ]
    if org_seats is not None:
        families.append((ix.d_org[d_arr] * ix.nw + w_arr, org_seats.reshape(-1), False))
    rows_of_col, lower, upper = [], [], []
    base = 0
    for keys, rhs_table, exact in families:
        uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        rhs = np.ones(uniq.size) if rhs_table is None else rhs_table[uniq].astype(np.float64)
        keep = np.ones(uniq.size, dtype=bool) if exact else counts > rhs
        row_no = np.full(uniq.size, -1, dtype=np.int64)
        row_no[keep] = base + np.arange(int(keep.sum()))
        base += int(keep.sum())
        rows_of_col.append(row_no[inv.reshape(-1)])
        upper.append(rhs[keep])
        lower.append(rhs[keep] if exact else np.full(int(keep.sum()), -highspy.kHighsInf))
    wanted_count = sum(len(v) for v in wanted.values())
    if n == 0 or len(np.unique(d_arr * ix.nr + ix.w_round[w_arr])) < wanted_count:
        return None
    r = np.stack(rows_of_col, axis=1)
    present = r >= 0
    start = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = base
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.concatenate(lower)
    lp.row_upper_ = np.concatenate(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start
    lp.a_matrix_.index_ = r[present].astype(np.int32)
    lp.a_matrix_.value_ = np.ones(int(present.sum()))
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h = new_highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value) > 0.5
    out = [list(p) for p in picks]
    for d, w in zip(d_arr[x].tolist(), w_arr[x].tolist()):
        out[d].append(w)
    return out


def _cut(agg: Aggregated, ix: Index, res: Residual, r: int, reach_ws: np.ndarray,
         seats: np.ndarray, bundles: list[tuple[int, ...]]) -> Cut | None:
    """The cut over the workshops the failed flow could reach plus the round's full ones."""
    in_round = ix.w_round == r
    t = np.zeros(ix.nw, dtype=bool)
    t[reach_ws] = True
    t |= in_round & (seats <= 0)
    cut = Cut(ix.nw + r, np.concatenate([t, np.zeros(ix.nr, dtype=bool)]), _only(agg, ix, res, r, t),
              int(res.seats[t].sum()))
    # The aggregated solution must break it, or adding it would change nothing.
    used = sum(cut.uses(d, b) for d, b in enumerate(bundles))
    return cut if used > cut.seats else None


def _only(agg: Aggregated, ix: Index, res: Residual, r: int, t: np.ndarray) -> np.ndarray:
    """Delegates whose filler in round r can only sit in workshops t."""
    filler_ok = res.allowed & ~agg.specific & (ix.w_round == r)[None, :]
    return ~(filler_ok & ~t[None, :]).any(axis=1) & filler_ok.any(axis=1)


def _assign(ds: np.ndarray, ws: np.ndarray, ok: np.ndarray, seats: np.ndarray,
            org_seats: np.ndarray | None, d_org: np.ndarray) -> list[tuple[int, int]] | tuple[None, np.ndarray]:
    """Max flow source -> delegate -> (organisation, workshop) -> workshop -> sink.

    On failure returns (None, positions in ws of the workshops the residual graph reaches).
    """
    n = ds.size
    di, wj = np.nonzero(ok)
    if n == 0:
        return []
    # Nodes: 0 source, 1 sink, delegates, (organisation, workshop) pairs, workshops.
    d_node = 2 + np.arange(n)
    if org_seats is not None:
        pair_key = d_org[ds][di] * ws.size + wj
        pairs, pair_of_arc = np.unique(pair_key, return_inverse=True)
        pair_node = 2 + n + np.arange(pairs.size)
        pair_cap = org_seats[pairs // ws.size, ws[pairs % ws.size]]
        w_base = 2 + n + pairs.size
        mid_src, mid_dst, mid_cap = pair_node, w_base + pairs % ws.size, pair_cap
        d_dst = pair_node[pair_of_arc.reshape(-1)]
    else:
        w_base = 2 + n
        mid_src = mid_dst = mid_cap = np.zeros(0, dtype=np.int64)
        d_dst = w_base + wj
    w_node = w_base + np.arange(ws.size)
    src = np.concatenate([np.zeros(n, dtype=np.int64), d_node[di], mid_src, w_node])
    dst = np.concatenate([d_node, d_dst, mid_dst, np.ones(ws.size, dtype=np.int64)])
    cap = np.concatenate([np.ones(n), np.ones(di.size), mid_cap, seats[ws]]).astype(np.int32)
    size = int(w_base + ws.size)
    graph = csr_matrix((cap, (src, dst)), shape=(size, size))
    flow = maximum_flow(graph, 0, 1)
    if flow.flow_value < n:
        residual = (graph - flow.flow).tocsr()
        residual.data[residual.data < 0] = 0
        residual.eliminate_zeros()
        reach = breadth_first_order(residual, 0, directed=True, return_predecessors=False)
        node = np.asarray(reach)
        return None, node[(node >= w_base) & (node < w_base + ws.size)] - w_base
    f = flow.flow.tocoo()
    out: list[tuple[int, int]] = []
    if org_seats is None:
        hit = (f.data > 0) & (f.row >= 2) & (f.row < 2 + n) & (f.col >= w_base)
        for i, w in zip((f.row[hit] - 2).tolist(), (f.col[hit] - w_base).tolist()):
            out.append((int(ds[i]), int(ws[w])))
        return out
    # Each delegate sends its unit to one (organisation, workshop) pair, whose workshop it is.
    hit = (f.data > 0) & (f.row >= 2) & (f.row < 2 + n) & (f.col >= 2 + n) & (f.col < w_base)
    for i, pnode in zip((f.row[hit] - 2).tolist(), (f.col[hit] - 2 - n).tolist()):
        out.append((int(ds[i]), int(ws[pairs[pnode] % ws.size])))
    return out
