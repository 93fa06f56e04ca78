"""The transactions (infno) of the national interface: each parses its input nodes, calls the services and
returns its output nodes (NHSA.md §4). Write transactions store their answer with `Call.commit` inside their own
transaction, so a repeated msgid gets the same answer and moves no money."""

from __future__ import annotations

from collections.abc import Callable

from gongji.api.transactions.call import Call, stored_answer
from gongji.api.transactions.chronic import cancel_qualification, list_qualifications, record_qualification
from gongji.api.transactions.pharmacy import pre_settle_pharmacy, settle_pharmacy
from gongji.api.transactions.precheck import feedback, precheck
from gongji.api.transactions.prescription import upload_prescription
from gongji.api.transactions.queries import correct, cumulative, reconcile, settlement_info
from gongji.api.transactions.settle import pre_settle_outpatient, reverse_settlement, settle_outpatient
from gongji.api.transactions.visit import (
    cancel_registration,
    person_info,
    register,
    sign_in,
    upload_fees,
    visit_info,
    withdraw_fees,
)

Handler = Callable[[Call, dict], dict | None]
HANDLERS: dict[str, Handler] = {
    "9001": sign_in, "1101": person_info, "2201": register, "2202": cancel_registration, "2203": visit_info,
    "2204": upload_fees, "2205": withdraw_fees, "2206": pre_settle_outpatient, "2207": settle_outpatient,
    "2208": reverse_settlement, "2101": pre_settle_pharmacy, "2102": settle_pharmacy, "2103": reverse_settlement,
    "2503": record_qualification, "2504": cancel_qualification, "5301": list_qualifications,
    "7101": upload_prescription, "3101": precheck, "3102": precheck, "3103": feedback,
    "2601": correct, "3201": reconcile, "5203": settlement_info, "5206": cumulative,
}
"""Handlers returning None wrote something and answered through Call.commit."""

__all__ = ["HANDLERS", "Call", "stored_answer"]
