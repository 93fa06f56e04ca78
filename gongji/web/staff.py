"""The staff pages (/staff/...): 参保人员, 月度划账, 基金收支, 结算查询, 监控疑点, 政策与测算. Every role reads;
changes take the operator or admin role (auth.CHANGING_ROLES), as in the admin API."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
