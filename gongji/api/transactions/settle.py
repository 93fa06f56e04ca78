"""Settling and reversing at a hospital: 2206/2207 (med_type 11 普通门诊 or 14 门诊慢特病) and 2208; 2103 reverses
a pharmacy settlement the same way as 2208 (pharmacy.py settles 2101/2102)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator
from sqlalchemy import Connection, select

from gongji.api.envelope import (
    Amount,
    Code,
    Node,
    OptionalText,
)
from gongji.api.transactions.call import Call, Credential, insured_here, parse, patient, person_row
from gongji.api.transactions.outputs import settled
from gongji.api.transactions.visit import VisitRef, checked_med_type
from gongji.errors import InputError
from gongji.services import settlement as settling
from gongji.services import visits
from gongji.services.settlement import CHRONIC, Settlement, SettleRequest
from gongji.store.tables import settlements

# --- 2206/2207/2208 outpatient settlement ------------------------------------------------------------------

def _acct_flag(value: object) -> object:
    if value in (1, 0):
        return str(value)
    return value


Flag01 = Annotated[Literal["0", "1"], BeforeValidator(_acct_flag)]


class OutpatientSettle(Credential, VisitRef):
    med_type: Code
    medfee_sumamt: Amount
    psn_setlway: Code
    chrg_bchno: Code
    insutype: Code
    acct_used_flag: Flag01
    invono: OptionalText = None
    fulamt_ownpay_amt: Amount | None = None
    overlmt_selfpay: Amount | None = None
    preselfpay_amt: Amount | None = None
    inscp_scp_amt: Amount | None = None


def sum_check(lines_total: int, medfee_sumamt: int) -> None:
    if lines_total != medfee_sumamt:
        raise InputError(f"medfee_sumamt: {medfee_sumamt} fen is not the fee lines' total {lines_total} fen",
                         f"medfee_sumamt {medfee_sumamt / 100:.2f} 与费用明细合计 {lines_total / 100:.2f} 不符")


def _outpatient(call: Call, conn: Connection, req: OutpatientSettle) -> tuple[SettleRequest, Mapping, list]:
    checked_med_type(req.med_type)
    person = patient(call, conn, req.psn_no, req)
    visit = visits.open_visit(conn, call.fixmedins_code, req.mdtrt_id, req.psn_no)
    settling.not_settled(conn, req.mdtrt_id)
    if req.insutype != person["insutype"]:
        raise InputError(f"insutype: {req.insutype!r} is not the person's ({person['insutype']})",
                         f"insutype {req.insutype!r} 与参保人险种 {person['insutype']} 不符")
    dise_codg = _disease_of(req, visit)
    lines = visits.batch_lines(conn, visit, req.chrg_bchno)
    sum_check(sum(line["det_item_fee_sumamt"] for line in lines), req.medfee_sumamt)
    settle = SettleRequest.model_construct(
        psn_no=req.psn_no, fixmedins_code=call.fixmedins_code, date=visit["begntime"].date(), med_type=req.med_type,
        acct_used_flag=req.acct_used_flag == "1", covered=None, lines=visits.visit_lines(lines, dise_codg),
        rxno=None, dise_codg=dise_codg, key=call.key, mdtrt_id=req.mdtrt_id, mdtrt_cert_type=req.mdtrt_cert_type,
        medins_setl_id=call.envelope.msgid)
    return settle, person, lines


def _disease_of(req: OutpatientSettle, visit: Mapping) -> str | None:
    """The chronic or special disease a med_type 14 settlement is of: the one the visit's 2203 named. The
    settlement's med_type must be the one 2203 recorded, when it recorded one."""
    recorded = visit["med_type"]
    if recorded is not None and recorded != req.med_type:
        raise InputError(f"med_type: {req.med_type} is not the visit's ({recorded}, sent with 2203)",
                         f"med_type {req.med_type} 与就诊 {req.mdtrt_id} 在 2203 上传的医疗类别 {recorded} 不符")
    if req.med_type != CHRONIC:
        return None
    if not visit["dise_codg"]:
        raise InputError("med_type: 14 needs the visit's disease (2203 mdtrtinfo med_type 14 with dise_codg)",
                         f"med_type 14（门诊慢特病）须先以 2203 上传就诊 {req.mdtrt_id} 的医疗类别 14 "
                         "及慢特病病种 dise_codg")
    return visit["dise_codg"]


def pre_settle_outpatient(call: Call, body: dict) -> dict:
    req = parse(OutpatientSettle, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        settle, person, _lines = _outpatient(call, conn, req)
    return settled(settling.pre_settle(call.engine, call.book, settle), person, committed=False)


_ECHOED = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")


def _echo_check(req: BaseModel, row: Mapping) -> None:
    """2207 echoes the split 2206 returned; a different split means the bill changed in between."""
    for name in _ECHOED:
        sent = getattr(req, name)
        if sent is not None and sent != row[name]:
            raise InputError(f"{name}: {sent} fen is not this settlement's {row[name]} fen",
                             f"{name} {sent / 100:.2f} 与本次结算计算的 {row[name] / 100:.2f} 不符（请重新预结算）")


def settle_outpatient(call: Call, body: dict) -> None:
    req = parse(OutpatientSettle, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        settle, person, lines = _outpatient(call, conn, req)

    def also(conn: Connection, row: dict, _lines: list[dict]) -> None:
        _echo_check(req, row)
        visits.mark_settled(conn, [line["id"] for line in lines], row["setl_id"])
        call.commit(conn, settled(Settlement(row, []), person))

    settling.settle(call.engine, call.book, settle, also)


class SettlementRef(Node):
    psn_no: Code
    setl_id: Code
    mdtrt_id: Code


def own_settlement(call: Call, conn: Connection, req: SettlementRef) -> Mapping:
    row = conn.execute(select(settlements).where(settlements.c.setl_id == req.setl_id)).mappings().first()
    if row is None or row["fixmedins_code"] != call.fixmedins_code:
        raise InputError(f"setl_id: {req.setl_id!r} is not a settlement of {call.fixmedins_code}",
                         f"setl_id {req.setl_id!r} 不存在：本机构没有这笔结算")
    if row["mdtrt_id"] != req.mdtrt_id:
        raise InputError(f"mdtrt_id: {req.mdtrt_id!r} is not the visit of {req.setl_id}",
                         f"mdtrt_id {req.mdtrt_id!r} 与结算 {req.setl_id} 的就诊ID {row['mdtrt_id']} 不符")
    if row["psn_no"] != req.psn_no:
        raise InputError(f"psn_no: {req.psn_no!r} is not the patient of {req.setl_id}",
                         f"psn_no {req.psn_no!r} 与结算 {req.setl_id} 的参保人不符")
    insured_here(call, person_row(conn, req.psn_no))
    return row


def reverse_standing(call: Call, setl_id: str, psn_no: str) -> None:
    with call.engine.connect() as conn:
        person = person_row(conn, psn_no)

    def also(conn: Connection, row: dict, _lines: list[dict]) -> None:
        visits.unmark_settled(conn, setl_id)
        call.commit(conn, settled(Settlement(row, []), person))

    settling.reverse(call.engine, call.book, setl_id, call.fixmedins_code, call.key, also)


def reverse_settlement(call: Call, body: dict) -> None:
    req = parse(SettlementRef, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        own_settlement(call, conn, req)
    reverse_standing(call, req.setl_id, req.psn_no)
