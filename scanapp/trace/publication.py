"""Publication filter: which master data is withheld from the public views.

Another package (the authorities' review, ``scanapp/authority``) may hold a party, a
product's consumer-facing data or a certificate back until it is approved. It does so by
writing a row here; the public views (stamp page, scan summary, portal document) read it
and show less. Trace knows nothing about why a row is here: no row means published, so
chains without a reviewing authority are unaffected. The table is created by the
``authority`` migration branch, which owns the review workflow that fills it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..db import Base, UTCDateTime, utcnow

SUBJECTS = ("party", "product", "certificate")


class Withheld(Base):
    __tablename__ = "trace_withheld"

    subject_type: Mapped[str] = mapped_column(String(12), primary_key=True)
    subject_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def withheld_ids(session: Session, subject_type: str, ids: Iterable[int | None]) -> set[int]:
    """The ids among ``ids`` that must not be shown to the public."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    return set(session.scalars(select(Withheld.subject_id).where(
        Withheld.subject_type == subject_type, Withheld.subject_id.in_(wanted))))


def is_withheld(session: Session, subject_type: str, subject_id: int | None) -> bool:
    return bool(withheld_ids(session, subject_type, [subject_id]))


def withhold(session: Session, subject_type: str, subject_id: int) -> None:
    if subject_type not in SUBJECTS:
        raise ValueError(subject_type)
    if session.get(Withheld, (subject_type, subject_id)) is None:
        session.add(Withheld(subject_type=subject_type, subject_id=subject_id, since=utcnow()))


def release(session: Session, subject_type: str, subject_id: int) -> None:
    session.execute(delete(Withheld).where(Withheld.subject_type == subject_type,
                                           Withheld.subject_id == subject_id))
