"""The member's pages (/m/{psn_no}/...): 我的账户, 家庭共济, 就医记录, 改革前后. Each shows only the signed-in
member's own data (auth.member)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
