"""Institutions' gateway credentials (x-tif-paasid and secret) and the check of a signed request.

The national gateway signs a request as x-tif-signature = SHA-256 hex of timestamp + secret + nonce + timestamp.
A request is accepted only with a known access key, that signature, a timestamp within five minutes of ours and
a nonce not seen before within that window.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, delete, select

from gongji.errors import InputError
from gongji.store.db import transaction
from gongji.store.ledger import insert_if_new, now
from gongji.store.tables import credentials, institutions, nonces

WINDOW = timedelta(minutes=5)
"""How far a request's timestamp may be from the server's clock."""


class Credential(NamedTuple):
    fixmedins_code: str
    paasid: str
    secret: str
    issued_at: datetime


class Unauthorized(Exception):
    """A request the gateway refuses (HTTP 401); the message (in Chinese, for err_msg) says why without repeating
    any secret."""


def credentials_for(engine: Engine, fixmedins_code: str, rotate: bool = False) -> Credential:
    """The institution's credential, issued on first use; `rotate` replaces it (the old one stops working)."""
    with transaction(engine) as conn:
        if conn.execute(select(institutions.c.fixmedins_code)
                        .where(institutions.c.fixmedins_code == fixmedins_code)).first() is None:
            raise InputError(f"fixmedins_code: {fixmedins_code!r} is not a registered institution")
        found = conn.execute(select(credentials).where(credentials.c.fixmedins_code == fixmedins_code)).first()
        if found is not None and not rotate:
            return Credential(*found)
        issued = Credential(fixmedins_code, "gj" + secrets.token_hex(16), secrets.token_hex(32), now())
        conn.execute(delete(credentials).where(credentials.c.fixmedins_code == fixmedins_code))
        conn.execute(credentials.insert().values(**issued._asdict()))
    return issued


def signature(timestamp: str, secret: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{secret}{nonce}{timestamp}".encode()).hexdigest()


HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
_BY_PAASID = select(credentials.c.fixmedins_code, credentials.c.secret).where(
    credentials.c.paasid == bindparam("paasid"))


def authenticate(conn: Connection, headers: Mapping[str, str], at: datetime | None = None) -> str:
    """The institution a signed request comes from, or Unauthorized. The nonce is remembered when the caller
    commits `conn` (a request that goes on shares the connection for its first reads)."""
    missing = [h for h in HEADERS if not headers.get(h)]
    if missing:
        raise Unauthorized(f"缺少请求头 {'、'.join(missing)}")
    paasid, stamp, nonce, signed = (headers[h] for h in HEADERS)
    if len(nonce) > 64:
        raise Unauthorized("x-tif-nonce 超过 64 个字符")
    at = at or now()
    try:
        sent = datetime.fromtimestamp(int(stamp))
    except (ValueError, OverflowError, OSError):
        raise Unauthorized(f"x-tif-timestamp {stamp[:20]!r} 不是 Unix 时间戳（秒）") from None
    if abs(sent - at) > WINDOW:
        raise Unauthorized(f"x-tif-timestamp {stamp} 与服务器时间相差超过 5 分钟")
    found = conn.execute(_BY_PAASID, {"paasid": paasid}).first()
    if found is None or not hmac.compare_digest(signature(stamp, found.secret, nonce), signed.lower()):
        raise Unauthorized("x-tif-paasid 未知或 x-tif-signature 签名不符")
    if conn.dialect.name == "postgresql":
        # A nonce lost in a crash could only be replayed within its 5 minutes: not worth a WAL flush each.
        conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
    if insert_if_new(conn, nonces, {"paasid": paasid, "nonce": nonce, "seen_at": at}, ["paasid", "nonce"],
                     nonces.c.nonce) is None:
        raise Unauthorized("x-tif-nonce 已使用过（重放请求）")
    return found.fixmedins_code


def forget_old_nonces(engine: Engine, at: datetime | None = None) -> int:
    """Nonces older than the window can no longer come back with an acceptable timestamp."""
    with transaction(engine) as conn:
        return conn.execute(delete(nonces).where(nonces.c.seen_at < (at or now()) - 2 * WINDOW)).rowcount
