"""Settlements (结算) and reversals (撤销), under the national platform's setlinfo names, amounts in yuan."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from gongji.api.admin.auth import Reader
from gongji.api.admin.common import (
    Db,
    Limit,
    Offset,
    Out,
    Page,
    Timestamp,
    Yuan,
    not_found,
    problems,
    scaled,
    yuan,
)
from gongji.money import format_ratio
from gongji.services import lookup
from gongji.services.settlement import MONEY_FIELDS, Settlement, setlinfo

router = APIRouter(tags=["settlements"])


class SettlementSummary(Out):
    setl_id: str
    mdtrt_id: str
    psn_no: str
    fixmedins_code: str
    setl_date: date
    med_type: str
    medfee_sumamt: Yuan
    fund_pay_sumamt: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    reverses: str | None
    """set on a reversal: the settlement it undoes (its amounts are negated)."""
    reversed_by: str | None
    mdtrtarea_admvs: str | None
    """the treating region (就医地); another pooling region than the member's is cross-region care."""


class SettlementLine(Out):
    feedetl_sn: int
    med_list_codg: str
    pric: str
    """unit price, yuan with four decimals."""
    cnt: str
    det_item_fee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_amt: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    memo: str | None
    rxno: str | None
    """the prescription (外配处方) the line was bought on."""
    dise_codg: str | None
    """the chronic or special disease the line treats (med_type 14)."""


class SetlInfo(Out):
    """setlinfo as `gongji settle --json` prints it; inpatient_pay, over_cap_amt and chronic_pay are gongji's
    own."""

    setl_id: str
    mdtrt_id: str
    psn_no: str
    insutype: str
    psn_type: str
    age: int
    setl_time: Timestamp
    setl_date: date
    med_type: str
    fixmedins_code: str
    hosp_lv: int | None
    medfee_sumamt: Yuan
    fulamt_ownpay_amt: Yuan
    overlmt_selfpay: Yuan
    preselfpay_amt: Yuan
    inscp_scp_amt: Yuan
    act_pay_dedc: Yuan
    hifp_pay: Yuan
    pool_prop_selfpay: str
    """the pool's ratio, 0.7000."""
    cvlserv_pay: Yuan
    hifes_pay: Yuan
    hifmi_pay: Yuan
    hifob_pay: Yuan
    maf_pay: Yuan
    oth_pay: Yuan
    fund_pay_sumamt: Yuan
    psn_part_amt: Yuan
    acct_pay: Yuan
    acct_mulaid_pay: Yuan
    psn_cash_pay: Yuan
    hosp_part_amt: Yuan
    balc: Yuan
    inpatient_pay: Yuan
    over_cap_amt: Yuan
    chronic_pay: Yuan
    """the chronic or special disease's benefit (med_type 14), included in hifp_pay."""
    dise_codg: str | None
    rxno: str | None
    mdtrtarea_admvs: str | None
    """the treating region (就医地)."""
    clr_optins: str
    clr_way: str
    clr_type: str
    setl_proc_info: str | None
    """why the pool paid nothing, when it did not."""
    reverses: str | None
    reversed_by: str | None
    lines: list[SettlementLine]


def _in_yuan(s: Settlement) -> dict:
    """setlinfo with its amounts as yuan and the ratio as 0.7000, as the CLI prints it."""
    return {k: yuan(v) if k in MONEY_FIELDS and v is not None else format_ratio(v) if k == "pool_prop_selfpay" else v
            for k, v in setlinfo(s).items()}


def _line(line) -> SettlementLine:
    amounts = ("det_item_fee_sumamt", "fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt")
    return SettlementLine(**dict(line) | {k: yuan(line[k]) for k in amounts}
                          | {"pric": scaled(line["pric"]), "cnt": scaled(line["cnt"])})


@router.get("/settlements", response_model=Page[SettlementSummary])
def list_settlements(_user: Reader, engine: Db, limit: Limit = 100, offset: Offset = 0, psn_no: str | None = None,
                     fixmedins_code: str | None = None,
                     first: Annotated[date | None, Query(alias="from", description="setl_date from")] = None,
                     last: Annotated[date | None, Query(alias="to", description="setl_date up to")] = None,
                     ) -> Page[SettlementSummary]:
    """Settlements and reversals, newest first."""
    total, rows = lookup.settlements_page(engine, limit, offset, psn_no, fixmedins_code, first, last)
    return Page(total=total, limit=limit, offset=offset,
                items=[SettlementSummary(**_in_yuan(Settlement(r, []))) for r in rows])


@router.get("/settlements/{setl_id}", response_model=SetlInfo, responses=problems(404))
def read_settlement(setl_id: str, _user: Reader, engine: Db) -> SetlInfo:
    found = lookup.settlement(engine, setl_id)
    if found is None:
        raise not_found(f"setl_id: {setl_id!r} is not a settlement")
    return SetlInfo(**_in_yuan(found), lines=[_line(line) for line in found.lines])
