"""Hospital outpatient visits (门诊就诊) as the national interface builds them before settlement: registration
(2201, 挂号) and its cancellation (2202), visit and diagnosis information (2203), fee details uploaded (2204) and
withdrawn while unsettled (2205).

These steps run inside the transaction the caller opens, so that the interface can store its answer to the
message in the same commit.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from gongji.engine.bill import line_amount
from gongji.engine.dates import age_on
from gongji.errors import InputError
from gongji.services.records import HOSPITAL, INSUTYPE_EMPLOYEE
from gongji.services.settlement import FeeLine, split_fee_lines, standing_settlement
from gongji.store.ledger import now
from gongji.store.tables import fee_details, institutions, visits

ALL_BATCHES = "0000"
"""chrg_bchno that 2205 uses for every unsettled line of the visit."""
def register(conn: Connection, fixmedins_code: str, person: Mapping, ipt_otp_no: str, insutype: str,
             begntime: datetime, mdtrt_cert_type: str, doctor: dict) -> str:
    kind = conn.execute(select(institutions.c.fixmedins_type)
                        .where(institutions.c.fixmedins_code == fixmedins_code)).scalar()
    if kind != HOSPITAL:
        raise InputError(f"fixmedins_code: {fixmedins_code} is a pharmacy; pharmacies settle with 2101/2102",
                         f"fixmedins_code {fixmedins_code} 是定点药店，不办理门诊挂号；药店请用 2101/2102 结算")
    if insutype != INSUTYPE_EMPLOYEE:
        raise InputError(f"insutype: {insutype!r} is not 310 (employee basic medical insurance)",
                         f"insutype {insutype!r} 不受理：本系统办理职工基本医疗保险（310）")
    if begntime.date() < person["psn_insu_date"]:
        raise InputError(f"begntime: {begntime} is before the person was insured ({person['psn_insu_date']})",
                         f"begntime {begntime} 早于参保日期 {person['psn_insu_date']}")
    taken = conn.execute(select(visits.c.mdtrt_id).where(
        visits.c.fixmedins_code == fixmedins_code, visits.c.ipt_otp_no == ipt_otp_no,
        visits.c.cancelled_at.is_(None))).scalar()
    if taken is not None:
        raise InputError(f"ipt_otp_no: {ipt_otp_no!r} is already registered (mdtrt_id {taken})",
                         f"ipt_otp_no {ipt_otp_no!r} 已挂号（mdtrt_id {taken}），不能重复挂号")
    mdtrt_id = "M" + uuid.uuid4().hex[:24].upper()
    conn.execute(insert(visits).values(
        mdtrt_id=mdtrt_id, psn_no=person["psn_no"], fixmedins_code=fixmedins_code, ipt_otp_no=ipt_otp_no,
        insutype=insutype, mdtrt_cert_type=mdtrt_cert_type, begntime=begntime,
        doctor=json.dumps(doctor, ensure_ascii=False), registered_at=now()))
    return mdtrt_id


_VISIT = select(visits).where(visits.c.mdtrt_id == bindparam("mdtrt_id"))
_VISIT_LOCKED = _VISIT.with_for_update()
_UNSETTLED = (fee_details.c.mdtrt_id == bindparam("mdtrt_id")) & fee_details.c.setl_id.is_(None)
_BATCH = select(fee_details).where(_UNSETTLED, fee_details.c.chrg_bchno == bindparam("chrg_bchno")) \
    .order_by(fee_details.c.id)
_ALL_BATCHES = select(fee_details).where(_UNSETTLED).order_by(fee_details.c.id)
_SETTLE_LINES = update(fee_details).where(fee_details.c.id.in_(bindparam("ids", expanding=True))) \
    .values(setl_id=bindparam("setl_id"))
_UNSETTLE_LINES = update(fee_details).where(fee_details.c.setl_id == bindparam("b_setl_id")).values(setl_id=None)


def open_visit(conn: Connection, fixmedins_code: str, mdtrt_id: str, psn_no: str, lock: bool = False) -> Mapping:
    """The registered, not cancelled visit of this institution and person."""
    found = conn.execute(_VISIT_LOCKED if lock else _VISIT, {"mdtrt_id": mdtrt_id}).mappings().first()
    if found is None or found["fixmedins_code"] != fixmedins_code:
        raise InputError(f"mdtrt_id: {mdtrt_id!r} is not a visit of {fixmedins_code}",
                         f"mdtrt_id {mdtrt_id!r} 不存在：本机构没有这次就诊")
    if found["psn_no"] != psn_no:
        raise InputError(f"psn_no: {psn_no!r} is not the patient of visit {mdtrt_id}",
                         f"psn_no {psn_no!r} 与就诊 mdtrt_id {mdtrt_id} 的参保人不符")
    if found["cancelled_at"] is not None:
        raise InputError(f"mdtrt_id: {mdtrt_id} was cancelled at {found['cancelled_at']}",
                         f"就诊 mdtrt_id {mdtrt_id} 已于 {found['cancelled_at']} 撤销挂号")
    return found


def cancel(conn: Connection, visit: Mapping) -> None:
    settled = standing_settlement(conn, visit["mdtrt_id"])
    if settled is not None:
        raise InputError(f"mdtrt_id: {visit['mdtrt_id']} is settled ({settled}); reverse the settlement first",
                         f"就诊 mdtrt_id {visit['mdtrt_id']} 已结算（setl_id {settled}），请先撤销结算再撤销挂号")
    conn.execute(update(visits).where(visits.c.mdtrt_id == visit["mdtrt_id"]).values(cancelled_at=now()))


def record_info(conn: Connection, visit: Mapping, med_type: str, dise_codg: str | None, dise_name: str | None,
                diagnoses: list[dict]) -> None:
    conn.execute(update(visits).where(visits.c.mdtrt_id == visit["mdtrt_id"]).values(
        med_type=med_type, dise_codg=dise_codg, dise_name=dise_name,
        diagnoses=json.dumps(diagnoses, ensure_ascii=False, default=str)))


def check_lines(node: str, lines: list[Mapping], uploaded: set[str] = frozenset()) -> None:
    """Fee lines as a message sends them (2204 feedetail, 2101/2102 drugdetail): each feedetl_sn once, neither
    sent before (`uploaded`) nor twice in the message, and each amount its price x quantity."""
    sent: set[str] = set()
    for i, line in enumerate(lines):
        path, sn = f"input.{node}[{i}]", line["feedetl_sn"]
        if sn in uploaded:
            raise InputError(f"{path}.feedetl_sn: {sn!r} was already uploaded for this visit",
                             f"{path}.feedetl_sn {sn!r} 在本次就诊中已上传过，不能重复上传")
        if sn in sent:
            raise InputError(f"{path}.feedetl_sn: {sn!r} appears twice in the message",
                             f"{path}.feedetl_sn {sn!r} 在本次报文中重复")
        sent.add(sn)
        expected = line_amount(line["pric"], line["cnt"])
        if line["det_item_fee_sumamt"] != expected:
            raise InputError(
                f"{path}.det_item_fee_sumamt: {line['det_item_fee_sumamt']} fen is not pric x cnt ({expected} fen)",
                f"{path}.det_item_fee_sumamt {line['det_item_fee_sumamt'] / 100:.2f} 与 pric × cnt "
                f"= {expected / 100:.2f} 不符")


def upload_fees(conn: Connection, visit: Mapping, person: Mapping, lines: list[dict]) -> list[dict]:
    """Store the visit's fee lines and return each line's split (the 2204 result). `lines` carry feedetl_sn,
    chrg_bchno, med_list_codg, pric and cnt (1/10000), det_item_fee_sumamt (fen) and optional fields."""
    check_lines("feedetail", lines, set(conn.execute(
        select(fee_details.c.feedetl_sn).where(fee_details.c.mdtrt_id == visit["mdtrt_id"])).scalars()))
    treating = conn.execute(select(institutions.c.admdvs)
                            .where(institutions.c.fixmedins_code == visit["fixmedins_code"])).scalar_one()
    _bill, split = split_fee_lines(conn, [fee_line(line) for line in lines], person,
                                   age_on(person["brdy"], visit["begntime"].date()), treating)
    conn.execute(insert(fee_details), [{k: line.get(k) for k in _FEE_COLUMNS} | {"mdtrt_id": visit["mdtrt_id"]}
                                      for line in lines])
    return [part | {"feedetl_sn": line["feedetl_sn"]} for line, part in zip(lines, split, strict=True)]


_FEE_COLUMNS = ("feedetl_sn", "chrg_bchno", "med_list_codg", "medins_list_codg", "pric", "cnt",
                "det_item_fee_sumamt", "fee_ocur_time", "rxno", "rx_circ_flag", "dise_codg")


def fee_line(line: Mapping) -> FeeLine:
    """A stored or parsed line as the settlement service's fee line (price and quantity already scaled); its
    rxno counts only on a line bought on an external prescription (rx_circ_flag 1, 外购处方)."""
    rxno = line.get("rxno") if str(line.get("rx_circ_flag") or "") == "1" else None
    return FeeLine.model_construct(med_list_codg=line["med_list_codg"], pric=line["pric"], cnt=line["cnt"],
                                   rxno=rxno or None, dise_codg=line.get("dise_codg") or None)


def visit_lines(lines: list[Mapping], dise_codg: str | None) -> list[FeeLine]:
    """A hospital visit's stored lines as the settlement's fee lines. A line bought on an external prescription
    (rx_circ_flag 1) is no pharmacy sale here: no rxno. A line's disease (dise_codg) counts at a med_type 14
    visit of that disease (`dise_codg`); at a med_type 11 visit (`dise_codg` None) every line is ordinary."""
    out = []
    for line in lines:
        code = line.get("dise_codg") or None
        if dise_codg is None:
            code = None
        elif code is not None and code != dise_codg:
            raise InputError(f"feedetail {line['feedetl_sn']}: dise_codg {code!r} is not the visit's disease "
                             f"{dise_codg!r}; one disease per settlement",
                             f"费用明细 feedetl_sn {line['feedetl_sn']!r} 的 dise_codg {code!r} 与本次就诊的慢特病病种 "
                             f"{dise_codg!r}（2203）不符：一次结算只能是一个病种")
        out.append(FeeLine.model_construct(med_list_codg=line["med_list_codg"], pric=line["pric"], cnt=line["cnt"],
                                           rxno=None, dise_codg=code))
    return out


def delete_fees(conn: Connection, visit: Mapping, chrg_bchno: str) -> int:
    """Withdraw the unsettled lines of a batch (or of every batch with "0000"); returns how many."""
    where = [fee_details.c.mdtrt_id == visit["mdtrt_id"], fee_details.c.setl_id.is_(None)]
    if chrg_bchno != ALL_BATCHES:
        where.append(fee_details.c.chrg_bchno == chrg_bchno)
    removed = conn.execute(delete(fee_details).where(*where)).rowcount
    if removed == 0:
        raise InputError(f"chrg_bchno: no unsettled fee lines of batch {chrg_bchno!r} in visit {visit['mdtrt_id']}",
                         f"chrg_bchno {chrg_bchno!r}：就诊 {visit['mdtrt_id']} 没有可撤销的未结算费用明细")
    return removed


def batch_lines(conn: Connection, visit: Mapping, chrg_bchno: str) -> list[Mapping]:
    """The unsettled lines of a batch ("0000": of the whole visit), in upload order."""
    found = conn.execute(_ALL_BATCHES if chrg_bchno == ALL_BATCHES else _BATCH,
                         {"mdtrt_id": visit["mdtrt_id"], "chrg_bchno": chrg_bchno}).mappings().all()
    if not found:
        raise InputError(f"chrg_bchno: no unsettled fee lines of batch {chrg_bchno!r} in visit {visit['mdtrt_id']}",
                         f"chrg_bchno {chrg_bchno!r}：就诊 {visit['mdtrt_id']} 没有待结算的费用明细（请先 2204 上传）")
    return list(found)


def mark_settled(conn: Connection, line_ids: list[int], setl_id: str) -> None:
    conn.execute(_SETTLE_LINES, {"ids": line_ids, "setl_id": setl_id})


def unmark_settled(conn: Connection, setl_id: str) -> None:
    """After a reversal the lines are unsettled again: the hospital may settle them anew or withdraw them."""
    conn.execute(_UNSETTLE_LINES, {"b_setl_id": setl_id})

