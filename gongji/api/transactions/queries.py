"""2601 冲正 (correcting a settlement message), 3201 reconciliation (对总账), 5203 a settlement, 5206 the
year's accumulators (ordinary pooling's and each chronic or special disease's)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field
from sqlalchemy import func, select

from gongji.api.envelope import (
    Amount,
    Code,
    Node,
    yuan,
)
from gongji.api.transactions.call import Call, insured_here, parse, person_row, stored_answer
from gongji.api.transactions.outputs import settled
from gongji.api.transactions.settle import SettlementRef, own_settlement, reverse_standing
from gongji.errors import InputError
from gongji.services.settlement import CLR_TYPE, Settlement
from gongji.store.tables import accumulators, disease_accumulators, settlements


class Correction(Node):
    psn_no: Code
    omsgid: Annotated[str, Field(min_length=1, max_length=40)]
    oinfno: Code


REVERSIBLE = {"2207", "2102"}


def correct(call: Call, body: dict) -> None:
    req = parse(Correction, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        original = stored_answer(conn, call.fixmedins_code, req.omsgid)
    if original is None:
        raise InputError(f"omsgid: {req.omsgid!r} is no message of {call.fixmedins_code} that changed anything",
                         f"omsgid {req.omsgid!r} 原交易不存在（本机构没有成功办理的该报文），无需冲正")
    infno, answer = original
    if infno != req.oinfno:
        raise InputError(f"oinfno: {req.oinfno} is not the original's infno ({infno})",
                         f"oinfno {req.oinfno} 与原交易 {req.omsgid} 的交易编号 {infno} 不符")
    if infno not in REVERSIBLE:
        raise InputError(f"oinfno: {infno} cannot be corrected here (2207 or 2102)",
                         f"oinfno {infno} 不支持冲正：本系统可冲正 2207 门诊结算、2102 药店结算")
    setl = answer["output"]["setlinfo"]
    if setl["psn_no"] != req.psn_no:
        raise InputError(f"psn_no: {req.psn_no!r} is not the patient of the original",
                         f"psn_no {req.psn_no!r} 与原交易的参保人不符")
    reverse_standing(call, setl["setl_id"], req.psn_no)


class Reconciliation(Node):
    insutype: Code
    clr_type: Code
    setl_optins: Code
    stmt_begndate: date
    stmt_enddate: date
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount
    fixmedins_setl_cnt: Annotated[int, Field(ge=0)]
    refd_setl_flag: Literal["0", "1"] = "0"


def reconcile(call: Call, body: dict) -> dict:
    req = parse(Reconciliation, body.get("data"), "input.data")
    if req.stmt_enddate < req.stmt_begndate:
        raise InputError("stmt_enddate: before stmt_begndate", f"stmt_enddate {req.stmt_enddate} 早于 "
                         f"stmt_begndate {req.stmt_begndate}")
    settings_by_clr = {code: setting for setting, code in CLR_TYPE.items()}
    if req.clr_type not in settings_by_clr:
        raise InputError(f"clr_type: {req.clr_type!r} is not 11 or 41",
                         f"clr_type {req.clr_type!r} 不受理：应为 11 门诊或 41 药店购药")
    s = settlements.c
    where = [s.fixmedins_code == call.fixmedins_code, s.insuplc_admdvs == req.setl_optins,
             s.setting == settings_by_clr[req.clr_type], s.setl_date >= req.stmt_begndate,
             s.setl_date <= req.stmt_enddate]
    if req.refd_setl_flag == "0":
        where += [s.reverses.is_(None), s.reversed_by.is_(None)]
    with call.engine.connect() as conn:
        ours = conn.execute(select(func.coalesce(func.sum(s.medfee_sumamt), 0),
                                   func.coalesce(func.sum(s.hifp_pay + s.inpatient_pay + s.chronic_pay), 0),
                                   func.coalesce(func.sum(s.acct_pay), 0), func.count()).where(*where)).one()
    sent = (req.medfee_sumamt, req.fund_pay_sumamt, req.acct_pay, req.fixmedins_setl_cnt)
    names = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "fixmedins_setl_cnt")
    differ = [f"{n} 机构 {_show(n, a)}，中心 {_show(n, b)}" for n, a, b in zip(names, sent, ours, strict=True)
              if int(a) != int(b)]
    return {"stmtinfo": {"setl_optins": req.setl_optins, "stmt_rslt": "1" if differ else "0",
                         "stmt_rslt_dscr": "；".join(differ) if differ else "对账一致"}}


def _show(name: str, value: int) -> str:
    return str(value) if name == "fixmedins_setl_cnt" else f"{int(value) / 100:.2f}"


def settlement_info(call: Call, body: dict) -> dict:
    req = parse(SettlementRef, body.get("data"), "input.data")
    with call.engine.connect() as conn:
        row = own_settlement(call, conn, req)
        person = person_row(conn, req.psn_no)
    out = settled(Settlement(row, []), person)
    out["setlinfo"] |= {"dedc_hosp_lv": row["level"], "lmtpric_hosp_lv": row["level"]}
    return out


class CumulativeQuery(Node):
    psn_no: Code
    cum_ym: Annotated[str | None, Field(default=None, pattern=r"^\d{6}$")] = None


CUM_TYPES = (("deductible", "C001", "普通门诊起付标准累计"), ("pool", "C002", "普通门诊统筹基金支付累计"),
             ("covered", "C003", "普通门诊政策范围内费用累计"), ("inpatient", "C004", "门诊超限额转住院统筹支付累计"))
"""The year's accumulators (累计信息) per benefit, under gongji's own cum_type_code values (not national codes)."""
DISEASE_CUM_TYPES = (("deductible", "C005", "门诊慢特病起付标准累计"), ("pool", "C006", "门诊慢特病统筹基金支付累计"))
"""Each chronic or special disease's accumulators of the year (门诊慢特病, table disease_accumulators), under
gongji's own cum_type_code values, one row per disease and code with the disease in `dise_codg`."""


def cumulative(call: Call, body: dict) -> dict:
    req = parse(CumulativeQuery, body.get("data"), "input.data")
    year = int(req.cum_ym[:4]) if req.cum_ym else date.today().year
    with call.engine.connect() as conn:
        person = person_row(conn, req.psn_no)
        insured_here(call, person)
        found = conn.execute(select(accumulators).where(accumulators.c.psn_no == req.psn_no,
                                                        accumulators.c.year == year)).mappings().first()
        diseases = conn.execute(select(disease_accumulators).where(
            disease_accumulators.c.psn_no == req.psn_no, disease_accumulators.c.year == year)
            .order_by(disease_accumulators.c.dise_codg)).mappings().all()
    row = {"insutype": person["insutype"], "year": year}
    return {"cuminfo": [row | {"cum_type_code": code, "cum_type_name": name, "cum": yuan(found[column] if found else 0),
                               "dise_codg": None} for column, code, name in CUM_TYPES]
            + [row | {"cum_type_code": code, "cum_type_name": name, "cum": yuan(d[column]), "dise_codg": d["dise_codg"]}
               for d in diseases for column, code, name in DISEASE_CUM_TYPES]}
