"""Lineage of lots: which lots went into a lot (backward) and which lots it went into
(forward), through any number of transformations, with recursive CTEs that run unchanged
on SQLite and PostgreSQL.

The CTE carries the depth and stops at ``MAX_DEPTH``; the capture hook refuses any edge
that would close a cycle, so the depth bound is a guard, not the terminating rule.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from .models import LineageEdge

MAX_DEPTH = 64


def _walk(session: Session, lot_ids: Iterable[int], forward: bool,
          max_depth: int = MAX_DEPTH) -> dict[int, int]:
    """{lot id: shortest distance} of every lot reachable from ``lot_ids``."""
    start = list(lot_ids)
    if not start:
        return {}
    edge = LineageEdge
    near, far = ((edge.input_lot_id, edge.output_lot_id) if forward
                 else (edge.output_lot_id, edge.input_lot_id))
    seed = (select(far.label("lot_id"), literal(1).label("depth"))
            .where(near.in_(start)).cte("walk", recursive=True))
    step = (select(far, seed.c.depth + 1)
            .join(seed, near == seed.c.lot_id).where(seed.c.depth < max_depth))
    walk = seed.union(step)
    rows = session.execute(select(walk.c.lot_id, func.min(walk.c.depth))
                           .group_by(walk.c.lot_id)).all()
    return {lot_id: depth for lot_id, depth in rows}


def ancestors(session: Session, lot_ids: Iterable[int], max_depth: int = MAX_DEPTH
              ) -> dict[int, int]:
    """Every lot upstream of ``lot_ids`` (what they were made from), with its distance."""
    return _walk(session, lot_ids, forward=False, max_depth=max_depth)


def descendants(session: Session, lot_ids: Iterable[int], max_depth: int = MAX_DEPTH
                ) -> dict[int, int]:
    """Every lot downstream of ``lot_ids`` (what was made from them), with its distance."""
    return _walk(session, lot_ids, forward=True, max_depth=max_depth)


def edges_among(session: Session, lot_ids: Iterable[int]) -> list[LineageEdge]:
    ids = list(lot_ids)
    if not ids:
        return []
    found: list[LineageEdge] = []
    for chunk in range(0, len(ids), 500):
        part = ids[chunk:chunk + 500]
        found.extend(session.scalars(select(LineageEdge).where(
            LineageEdge.input_lot_id.in_(part)).order_by(LineageEdge.id)))
    keep = set(ids)
    return [edge for edge in found if edge.output_lot_id in keep]


def would_cycle(session: Session, inputs: Iterable[int], outputs: Iterable[int]) -> bool:
    """True when linking ``inputs`` -> ``outputs`` closes a loop: an output is already
    upstream of (or is) an input."""
    inputs, outputs = set(inputs), set(outputs)
    if inputs & outputs:
        return True
    return bool(set(ancestors(session, inputs)) & outputs)
