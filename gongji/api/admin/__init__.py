"""The admin API for bureau staff under /api/v1/: persons, relations, authorizations, accounts, settlements,
crediting runs, policies, prescriptions, qualifications, registrations, stays, clearing, the audit and the audit
log. Every route needs a bearer token; every change writes an audit log row in its own transaction."""

from fastapi import APIRouter, Depends

from gongji.api.admin import (
    accounts,
    benefits,
    clearing,
    crediting,
    monitoring,
    oversight,
    persons,
    policies,
    prescriptions,
    settlements,
)
from gongji.api.admin.common import no_nul, problems

router = APIRouter(prefix="/api/v1", responses=problems(401, 403, 422), dependencies=[Depends(no_nul)])
for part in (persons, benefits, accounts, settlements, prescriptions, crediting, clearing, policies, oversight,
             monitoring):
    router.include_router(part.router)

__all__ = ["router"]
