"""Sparse 0-1 model of the allocation on a chosen set of (delegate, workshop) columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._index import Index


@dataclass
class Residual:
    """What is left once pins are placed: free rounds/topics per delegate and free seats."""

    seats: np.ndarray  # (nw,) seats left after pins
    org_seats: np.ndarray | None  # (norg, nw) org places left after pins, None = no limit
    allowed: np.ndarray  # (nd, nw) bool: the delegate may still be given the workshop
    pinned_placed: int
    pinned_kept: int
    pinned_cost: int


def residual(ix: Index) -> Residual:
    """Place the pins and work out which (delegate, workshop) pairs stay possible."""
    seats = ix.w_cap.copy()
    org_seats = None
    if ix.limit is not None:
        org_seats = np.full((max(ix.norg, 1), ix.nw), ix.limit, dtype=np.int64)
    allowed = np.ones((ix.nd, ix.nw), dtype=bool)
    placed = kept = cost = 0
    for i, pins in enumerate(ix.pinned):
        if not pins:
            continue
        cur = set(ix.current[i])
        for w in pins:
            seats[w] -= 1
            if org_seats is not None:
                org_seats[ix.d_org[i], w] -= 1
            placed += 1
            kept += w in cur
            cost += int(ix.cost[i, w])
        rounds = ix.w_round[pins]
        topics = ix.w_topic[pins]
        allowed[i] &= ~np.isin(ix.w_round, rounds) & ~np.isin(ix.w_topic, topics)
    allowed &= (seats > 0)[None, :]
    if org_seats is not None and ix.nd:
        allowed &= org_seats[ix.d_org] > 0
    return Residual(seats, org_seats, allowed, placed, kept, cost)


@dataclass
class Columns:
    """Columns (delegate, workshop) with their objective pieces."""

    d: np.ndarray
    w: np.ndarray
    cost: np.ndarray
    current: np.ndarray  # 1 if the workshop is in the delegate's published allocation

    def __len__(self) -> int:
        return int(self.d.size)


def columns_from_mask(ix: Index, mask: np.ndarray) -> Columns:
    """Columns for every True entry of an (nd, nw) mask, in (delegate, workshop) order."""
    d, w = np.nonzero(mask)
    cur = current_matrix(ix)[d, w] if d.size else np.zeros(0, dtype=np.int64)
    return Columns(d.astype(np.int64), w.astype(np.int64), ix.cost[d, w], cur.astype(np.int64))


def current_matrix(ix: Index) -> np.ndarray:
    """(nd, nw) 0/1 matrix of the published allocation."""
    cur = np.zeros((ix.nd, ix.nw), dtype=np.int64)
    for i, ws in enumerate(ix.current):
        cur[i, ws] = 1
    return cur


@dataclass
class Rows:
    """Constraint rows A x <= ub of the model in CSC form, one family after another."""

    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    upper: np.ndarray
    family: list[tuple[str, np.ndarray]]  # (name, group key per row) for pricing


def build_rows(ix: Index, res: Residual, cols: Columns, all_rows: bool = False) -> Rows:
    """Rows for rounds, topics, seats and organisation places that the columns could break."""
    n = len(cols)
    fams = [
        ("round", cols.d * ix.nr + ix.w_round[cols.w], None),
        ("topic", cols.d * ix.nt + ix.w_topic[cols.w], None),
        ("seats", cols.w, res.seats),
    ]
    if res.org_seats is not None:
        fams.append(("org", ix.d_org[cols.d] * ix.nw + cols.w, res.org_seats.reshape(-1)))
    rows_of_col = []
    uppers = []
    family = []
    base = 0
    for name, keys, rhs_table in fams:
        uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
        rhs = np.ones(uniq.size, dtype=np.int64) if rhs_table is None else rhs_table[uniq]
        # A row only matters if its columns could together exceed its right-hand side.
        keep = np.ones(uniq.size, dtype=bool) if all_rows else counts > rhs
        row_no = np.full(uniq.size, -1, dtype=np.int64)
        row_no[keep] = base + np.arange(int(keep.sum()))
        base += int(keep.sum())
        rows_of_col.append(row_no[inv.reshape(-1)] if n else np.zeros(0, dtype=np.int64))
        uppers.append(rhs[keep])
        family.append((name, uniq[keep]))
    r = np.stack(rows_of_col, axis=1) if n else np.zeros((0, len(fams)), dtype=np.int64)
    present = r >= 0
    counts = present.sum(axis=1)
    start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    index = r[present].astype(np.int32)
    value = np.ones(index.size, dtype=np.float64)
    upper = np.concatenate(uppers).astype(np.float64) if uppers else np.zeros(0)
    return Rows(start, index, value, upper, family)
