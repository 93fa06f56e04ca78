"""The staff pages (/staff/...): 参保人员, 月度划账, 基金收支, 结算查询, 监控疑点, 政策与测算. Every role reads;
changes take the operator or admin role (auth.CHANGING_ROLES), as in the admin API, and each change writes an
audit_log row in the transaction of the change.

Each page lives in its own module (staff_persons, staff_crediting, staff_funds, staff_settlements, staff_monitor,
staff_policies); this router takes in theirs."""

from __future__ import annotations

from fastapi import APIRouter

from gongji.web import staff_crediting, staff_funds, staff_monitor, staff_persons, staff_policies, staff_settlements

router = APIRouter(include_in_schema=False)
for _module in (staff_persons, staff_crediting, staff_funds, staff_settlements, staff_monitor, staff_policies):
    router.include_router(_module.router)
