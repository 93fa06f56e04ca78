"""GET /healthz: the process is up and its database answers at the schema revision the code expects."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from gongji.store.migrate import current_revision, head_revision

router = APIRouter()


class Health(BaseModel):
    status: str
    database: str
    revision: str | None


def _check(engine) -> Health:
    try:
        revision = current_revision(engine)
    except Exception as exc:  # any failure to reach the database is "unhealthy", not a server error
        return Health(status="unhealthy", database=type(exc).__name__, revision=None)
    if revision != head_revision():
        return Health(status="unhealthy", database="schema not at head", revision=revision)
    return Health(status="ok", database="ok", revision=revision)


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(request: Request):
    health = await run_in_threadpool(_check, request.app.state.engine)
    return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)
