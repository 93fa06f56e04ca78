"""POST /fsi/api/rsfComIfsService/callService: the national platform's one endpoint, dispatching on infno.

Order of checks: the gateway signature (HTTP 401, nothing done), the JSON and the envelope, the institution of
the envelope against the credential's (HTTP 403), a msgid answered before (its answer again), then the
transaction. Every refusal is infcode -1 with a Chinese err_msg that names the field and the value.
"""

from __future__ import annotations

import itertools
import logging
import time

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from gongji.api import logs
from gongji.api.envelope import FAILURE, SUCCESS, Envelope, response, zh_errors
from gongji.api.transactions import HANDLERS, Call, stored_answer
from gongji.errors import InputError
from gongji.services.credentials import Unauthorized, authenticate, forget_old_nonces

PATH = "/fsi/api/rsfComIfsService/callService"
NO_REGION = "000000"
_requests = itertools.count()
FORGET_EVERY = 5000
"""Old nonces are swept every this many requests of a process."""

router = APIRouter()


def _json(status: int, body: dict) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json;charset=utf-8")


def _refused(message: str, admdvs: str = NO_REGION, status: int = 200) -> Response:
    return _json(status, response(FAILURE, None, message, admdvs))


def _refusal(fields: dict, message: str, admdvs: str = NO_REGION, status: int = 200) -> Response:
    """A refusal, noted in the request's log line."""
    fields |= {"infcode": FAILURE, "err_msg": message}
    return _refused(message, admdvs, status)


@router.post(PATH, include_in_schema=False)
async def call_service(request: Request) -> Response:
    body = await request.body()
    return await run_in_threadpool(handle, request.app.state, request.headers, body)


def handle(state, headers, body: bytes) -> Response:
    started = time.perf_counter()
    fields: dict[str, object] = {"paasid": headers.get("x-tif-paasid")}
    try:
        result = _handle(state, headers, body, fields)
    except Exception:  # whatever went wrong, the client gets the envelope, not a bare 500
        logs.log("callService failed", logging.ERROR, exc_info=True, **fields)
        result = _refusal(fields, "系统内部错误，交易未办理", status=500)
    fields["status"] = result.status_code
    fields["ms"] = round((time.perf_counter() - started) * 1000, 1)
    logs.log("callService", logging.WARNING if fields.get("infcode") != SUCCESS else logging.INFO, **fields)
    if next(_requests) % FORGET_EVERY == FORGET_EVERY - 1:
        forget_old_nonces(state.engine)
    return result


def _handle(state, headers, body: bytes, fields: dict) -> Response:
    engine = state.engine
    envelope, problem = _envelope(body)
    with engine.connect() as conn:  # one connection for the signature, the nonce and a msgid answered before
        try:
            institution = authenticate(conn, headers)
        except Unauthorized as exc:
            conn.rollback()
            return _refusal(fields, f"身份认证失败（{exc}）", status=401)
        seen = None
        if problem is None and envelope.fixmedins_code == institution and envelope.infno in HANDLERS:
            seen = stored_answer(conn, institution, envelope.msgid)
        conn.commit()
    fields["fixmedins_code"] = institution
    if problem is not None:
        return _refusal(fields, problem)
    fields |= {"msgid": envelope.msgid, "infno": envelope.infno}
    region = envelope.mdtrtarea_admvs
    if envelope.fixmedins_code != institution:
        message = f"fixmedins_code {envelope.fixmedins_code} 与访问凭证所属机构 {institution} 不符"
        return _refusal(fields, message, region, status=403)
    handler = HANDLERS.get(envelope.infno)
    if handler is None:
        message = f"infno {envelope.infno!r} 不支持：本系统办理的交易为 {'、'.join(sorted(HANDLERS))}"
        return _refusal(fields, message, region)
    if seen is not None:
        return _replay(seen, envelope, fields, region)
    call = Call(engine, state.book, envelope, region)
    try:
        output = handler(call, envelope.input)
    except InputError as exc:
        message = exc.zh or f"业务校验未通过：{exc}"
        return _refusal(fields, message, region)
    except IntegrityError:
        # A concurrent message with the same msgid (or for the same visit) committed first.
        with engine.connect() as conn:
            seen = stored_answer(conn, institution, envelope.msgid)
        if seen is not None:
            return _replay(seen, envelope, fields, region)
        message = "与同时办理的另一笔交易冲突，未办理，请重试"
        return _refusal(fields, message, region)
    if output is None:  # a write: answered in its own transaction, or by the settlement's idempotency key
        if call.answer is None:
            with engine.connect() as conn:
                return _replay(stored_answer(conn, institution, envelope.msgid), envelope, fields, region)
        fields["infcode"] = SUCCESS
        return _json(200, call.answer)
    fields["infcode"] = SUCCESS
    return _json(200, response(SUCCESS, output, None, region))


def _envelope(body: bytes) -> tuple[Envelope | None, str | None]:
    """The parsed envelope, or why there is none (said only to a caller who passed the signature check)."""
    if b"\\u0000" in body:  # no field may hold NUL, and PostgreSQL text cannot
        return None, "请求报文不能含 NUL 字符（\\u0000）"
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return None, f"请求报文不是合法的 JSON（{exc.msg}，第 {exc.pos} 个字符）"
    try:
        return Envelope.model_validate(data), None
    except ValidationError as exc:
        return None, zh_errors(exc, "")


def _replay(seen: tuple[str, dict] | None, envelope: Envelope, fields: dict, region: str) -> Response:
    if seen is None:
        raise AssertionError("a write answered nothing")
    infno, answer = seen
    if infno != envelope.infno:
        message = f"msgid {envelope.msgid} 已用于交易 {infno}，不能再用于 {envelope.infno}"
        return _refusal(fields, message, region)
    fields |= {"infcode": answer["infcode"], "replayed": True}
    return _json(200, answer)
