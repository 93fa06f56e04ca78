"""Monthly crediting runs (个人账户划入): the batch runs made, and a month credited on request."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import Connection

from gongji.api.admin.auth import Operator, Reader, User
from gongji.api.admin.common import Body, Book, Db, Limit, Offset, Out, Page, Timestamp, Yuan, problems, refused, yuan
from gongji.errors import InputError
from gongji.services import audit_log, crediting, lookup
from gongji.services.records import Admdvs

router = APIRouter(tags=["crediting runs"])


class BatchRun(Out):
    """A batch made once per kind (credit, interest), region and period."""

    id: int
    kind: str
    admdvs: str
    period: date
    run_at: Timestamp
    members: int
    amount: Yuan
    """what the run credited to accounts."""


@router.get("/crediting-runs", response_model=Page[BatchRun])
def list_runs(_user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0) -> Page[BatchRun]:
    """Crediting and interest runs, newest first."""
    total, rows = lookup.batch_runs_page(engine, limit, offset)
    return Page(total=total, limit=limit, offset=offset, items=[BatchRun(**r | {"amount": yuan(r["amount"])})
                                                                for r in rows])


class CreditRequest(Body):
    month: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2024-01"])
    insuplc_admdvs: Admdvs | None = None
    """one region; without it every region with members."""


class RegionCredited(Out):
    admdvs: str
    month: str
    already: bool
    """the month was credited before: nothing was done."""
    refused: str | None
    """why the region was not credited (crediting every region, one without a policy that month)."""
    policy: str
    members: int
    credited: dict[str, Yuan]
    """account credits by source: individual_contribution, employer_contribution, pool."""
    contributions_to_pool: Yuan


def _credited(result: crediting.RegionCredit) -> RegionCredited:
    return RegionCredited(admdvs=result.admdvs, month=f"{result.month:%Y-%m}", already=result.already, refused=None,
                          policy=result.policy, members=result.members,
                          credited={k: yuan(v) for k, v in result.credited.items()},
                          contributions_to_pool=yuan(result.contributions_to_pool))


def _logged(user: User, admdvs: str, month: str):
    def log(conn: Connection, run: dict) -> None:
        audit_log.record(conn, user.name, "crediting.run", f"{admdvs} {month}", None, run)
    return log


@router.post("/crediting-runs", response_model=list[RegionCredited], responses=problems(400))
def credit(body: CreditRequest, user: Operator, engine: Db, book: Book) -> list[RegionCredited]:
    """Credit a month, each region in one transaction, as `gongji credit` does; a month credited before is
    credited nothing (`already`)."""
    with refused():
        month = crediting.parse_month(body.month)
        if body.insuplc_admdvs:
            admdvs = body.insuplc_admdvs
            return [_credited(crediting.credit_month(engine, book, month, admdvs,
                                                     also=_logged(user, admdvs, body.month)))]
    results = []
    for admdvs in crediting.regions_with_members(engine):
        try:
            results.append(_credited(crediting.credit_month(engine, book, month, admdvs,
                                                            also=_logged(user, admdvs, body.month))))
        except InputError as exc:
            # Crediting every region: one without a policy that month is reported, the others go on.
            results.append(RegionCredited(admdvs=admdvs, month=body.month, already=False, refused=str(exc),
                                          policy="", members=0, credited={}, contributions_to_pool=yuan(0)))
    return results
