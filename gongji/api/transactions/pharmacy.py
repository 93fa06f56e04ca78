"""A pharmacy's sale (定点零售药店购药, med_type 41): 2101 pre-settle, 2102 settle (2103 reverses, as 2208).

A drugdetail line with rx_circ_flag "1" is bought on an electronic prescription (外配处方) and names it in rxno
(the hi_rxno 7101 returned); other lines are bought without one and the account or cash pays them. One sale uses
at most one prescription. A prescription the pooled fund may not pay on (expired, used, revoked, too many days
of supply) is no refusal: the sale settles without the pooled fund and setl_proc_info says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field
from sqlalchemy import Connection

from gongji.api.envelope import Amount, Code, Node, OptionalText, Time
from gongji.api.transactions.call import Call, Credential, parse, patient
from gongji.api.transactions.outputs import line_split, settled
from gongji.api.transactions.settle import Flag01, sum_check
from gongji.api.transactions.visit import FeeDetail
from gongji.errors import InputError
from gongji.services import settlement as settling
from gongji.services import visits
from gongji.services.settlement import Settlement, SettleRequest

PHARMACY_MED_TYPE = "41"


class DrugInfo(Credential):
    psn_no: Code
    begntime: Time
    medfee_sumamt: Amount
    insutype: Code
    acct_used_flag: Flag01
    med_type: Code
    dise_codg: OptionalText = None
    dise_name: OptionalText = None
    invono: OptionalText = None


class PharmacySale(Node):
    druginfo: DrugInfo
    drugdetail: Annotated[list[FeeDetail], Field(min_length=1, max_length=2000)]


def prescription_of(drugs: list[Mapping]) -> str | None:
    """The one prescription (rxno) the sale's lines with rx_circ_flag 1 are bought on, if any."""
    named: dict[str, int] = {}
    for i, line in enumerate(drugs):
        if line["rx_circ_flag"] != "1":
            continue
        if not line["rxno"]:
            raise InputError(f"drugdetail[{i}].rxno: missing on a line bought on a prescription (rx_circ_flag 1)",
                             f"input.drugdetail[{i}].rxno: 外购处方（rx_circ_flag 1）的药品须填写处方编号 rxno"
                             "（7101 返回的 hi_rxno）")
        named.setdefault(line["rxno"], i)
    if len(named) > 1:
        first, second = list(named)[:2]
        raise InputError(f"drugdetail[{named[second]}].rxno: one prescription per sale, got {first!r} and {second!r}",
                         f"input.drugdetail[{named[second]}].rxno {second!r}：一次购药只能使用一张外配处方"
                         f"（本次还有 {first!r}），请分开结算")
    return next(iter(named), None)


def _pharmacy(call: Call, conn: Connection, body: dict) -> tuple[SettleRequest, Mapping, list[dict]]:
    sale = parse(PharmacySale, body, "input")
    info = sale.druginfo
    if info.med_type != PHARMACY_MED_TYPE:
        raise InputError(f"med_type: {info.med_type!r} is not 41 at a pharmacy",
                         f"med_type {info.med_type!r} 不受理：定点药店购药应为 41")
    person = patient(call, conn, info.psn_no, info)
    drugs = [line.model_dump() for line in sale.drugdetail]
    visits.check_lines("drugdetail", drugs)
    prescription_of(drugs)
    sum_check(sum(line.det_item_fee_sumamt for line in sale.drugdetail), info.medfee_sumamt)
    settle = SettleRequest.model_construct(
        psn_no=info.psn_no, fixmedins_code=call.fixmedins_code, date=info.begntime.date(), med_type="41",
        acct_used_flag=info.acct_used_flag == "1", covered=None, lines=[visits.fee_line(line) for line in drugs],
        rxno=None, dise_codg=None, key=call.key, mdtrt_id=None, mdtrt_cert_type=info.mdtrt_cert_type,
        medins_setl_id=call.envelope.msgid)
    return settle, person, drugs


def _with_cuts(s: Settlement, person: Mapping, committed: bool, sns: list[str]) -> dict:
    out = settled(s, person, committed)
    out["detlcutinfo"] = [line_split(line | {"feedetl_sn": sn}) for line, sn in zip(s.lines, sns, strict=True)]
    return out


def pre_settle_pharmacy(call: Call, body: dict) -> dict:
    with call.engine.connect() as conn:
        settle, person, lines = _pharmacy(call, conn, body)
    out = _with_cuts(settling.pre_settle(call.engine, call.book, settle), person, False,
                     [line["feedetl_sn"] for line in lines])
    out["setlinfo"].pop("setl_id")
    return out


def settle_pharmacy(call: Call, body: dict) -> None:
    with call.engine.connect() as conn:
        settle, person, lines = _pharmacy(call, conn, body)

    def also(conn: Connection, row: dict, split: list[dict]) -> None:
        call.commit(conn, _with_cuts(Settlement(row, split), person, True, [line["feedetl_sn"] for line in lines]))

    settling.settle(call.engine, call.book, settle, also)
