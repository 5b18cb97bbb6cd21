"""Organisers' paged lists: which page of a filtered list shows a row, to come back to it after acting on it."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from .extensions import db


def page_holding(stmt: Select, order: tuple, id_column, row_id: int, per_page: int) -> int | None:
    """The page of ``stmt`` listed in ``order``, ``per_page`` rows a page, that shows row ``row_id``; None when
    the list (its filters) no longer holds the row."""
    numbered = stmt.with_only_columns(id_column.label("row_id"),
                                      func.row_number().over(order_by=order).label("n")).subquery()
    n = db.session.scalar(select(numbered.c.n).where(numbered.c.row_id == row_id))
    return None if n is None else (n - 1) // per_page + 1
