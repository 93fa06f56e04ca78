"""One authenticated message (Call), its remembered answer, and who the patient is: the medical credential
(就诊凭证) resolved to a person, who must be the holder and insured where the envelope says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

import orjson
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import Connection, Engine, bindparam, insert, select

from gongji.api.envelope import (
    SUCCESS,
    Code,
    Envelope,
    Node,
    OptionalText,
    response,
    zh_errors,
)
from gongji.errors import InputError, describe
from gongji.masking import mask_certno
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.services import vouchers
from gongji.store.ledger import now
from gongji.store.tables import messages, persons


@dataclass
class Call:
    """One authenticated message: the institution it comes from and its envelope."""

    engine: Engine
    book: PolicyBook
    envelope: Envelope
    admdvs: str
    answer: dict | None = field(default=None)

    @property
    def fixmedins_code(self) -> str:
        return self.envelope.fixmedins_code

    @property
    def key(self) -> str:
        """The settlement service's idempotency key of this message."""
        return f"{self.fixmedins_code}:{self.envelope.msgid}"

    def commit(self, conn: Connection, output: object) -> None:
        """Answer the message inside the transaction that did its work, and remember the answer."""
        self.answer = response(SUCCESS, output, None, self.admdvs)
        conn.execute(_REMEMBER, {"fixmedins_code": self.fixmedins_code, "msgid": self.envelope.msgid,
                                 "infno": self.envelope.infno, "response": orjson.dumps(self.answer).decode(),
                                 "recorded_at": now()})


# Statements of every request, built once (building SQLAlchemy expressions costs more than running them).
_REMEMBER = insert(messages)
_ANSWERED = select(messages.c.infno, messages.c.response).where(
    messages.c.fixmedins_code == bindparam("code"), messages.c.msgid == bindparam("msgid"))
_PERSON = select(persons).where(persons.c.psn_no == bindparam("psn_no"))
_PERSON_BY_CERTNO = select(persons).where(persons.c.certno == bindparam("certno"))


def stored_answer(conn: Connection, fixmedins_code: str, msgid: str) -> tuple[str, dict] | None:
    found = conn.execute(_ANSWERED, {"code": fixmedins_code, "msgid": msgid}).first()
    return None if found is None else (found.infno, orjson.loads(found.response))


def parse(model: type[BaseModel], data: object, root: str) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(describe(exc)[0], zh_errors(exc, root)) from None


# --- who the patient is -------------------------------------------------------------------------------------

CERT_TYPES = {"01": "医保电子凭证", "02": "居民身份证", "03": "社会保障卡"}


class Credential(Node):
    mdtrt_cert_type: Code
    mdtrt_cert_no: Annotated[str, Field(min_length=1, max_length=500)]
    card_sn: OptionalText = None


def person_row(conn: Connection, psn_no: str) -> Mapping:
    found = conn.execute(_PERSON, {"psn_no": psn_no}).mappings().first()
    if found is None:
        raise InputError(f"psn_no: {psn_no!r} is not a registered person", f"psn_no {psn_no!r} 查无此参保人")
    return found


def holder(call: Call, conn: Connection, cred: Credential) -> Mapping:
    """The person a medical credential (就诊凭证) identifies."""
    kind, number = cred.mdtrt_cert_type, cred.mdtrt_cert_no
    if kind == "01":
        return person_row(conn, vouchers.holder(call.engine, number))
    if kind not in CERT_TYPES:
        raise InputError(f"mdtrt_cert_type: {kind!r} is not 01, 02 or 03",
                         f"mdtrt_cert_type {kind!r} 不受理：应为 01 医保电子凭证、02 居民身份证或 03 社会保障卡")
    if kind == "03" and not cred.card_sn:
        raise InputError("card_sn: missing (required with a social security card, 03)",
                         "card_sn: 使用社会保障卡（03）就诊时必须提供卡识别码 card_sn")
    # The social security number (社会保障号码) on the card is the holder's ID number.
    found = conn.execute(_PERSON_BY_CERTNO, {"certno": number.strip().upper()}).mappings().first()
    if found is None:
        raise InputError(f"mdtrt_cert_no: {mask_certno(number)} is no insured person",
                         f"mdtrt_cert_no {mask_certno(number)} 查无此参保人")
    return found


def patient(call: Call, conn: Connection, psn_no: str, cred: Credential) -> Mapping:
    """The person psn_no, who must be the holder of the credential and insured where the envelope says."""
    found = holder(call, conn, cred)
    if found["psn_no"] != psn_no:
        raise InputError(f"psn_no: {psn_no!r} is not the holder of the credential",
                         f"psn_no {psn_no!r} 与就诊凭证（{CERT_TYPES[cred.mdtrt_cert_type]}）的持有人不符")
    insured_here(call, found)
    return found


def insured_here(call: Call, person: Mapping) -> None:
    given = call.envelope.insuplc_admdvs
    if not given:
        raise InputError("insuplc_admdvs: missing (required when the input names psn_no)",
                         "insuplc_admdvs: 缺少必填字段（入参含 psn_no 时必须填写参保地医保区划）")
    if given != person["insuplc_admdvs"]:
        raise InputError(f"insuplc_admdvs: {given} is not where {person['psn_no']} is insured",
                         f"insuplc_admdvs {given} 与参保人 {person['psn_no']} 的参保地 {person['insuplc_admdvs']} 不符")


def policy_on(call: Call, person: Mapping, day: date, field: str) -> None:
    """The person's insured region has a policy in force on `day` (the date `field` gives)."""
    try:
        call.book.policy_for(person["insuplc_admdvs"], day)
    except PolicyNotFound as exc:
        zh = f"{field} {day}：参保地 {person['insuplc_admdvs']} 当日没有有效政策"
        raise InputError(f"{field}: {exc}", zh) from None
