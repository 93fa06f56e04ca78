"""Medical insurance e-vouchers (医保电子凭证): short-lived signed tokens bound to one member.

`gongji voucher PSN_NO` issues one (later the member's page shows it as a QR code); an institution sends it as
mdtrt_cert_no with mdtrt_cert_type 01. The token is signed with a key made once per database, so every server
process of that database accepts it; an altered or expired token is refused.
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Engine, select

from gongji.errors import InputError
from gongji.store.keys import database_key
from gongji.store.tables import persons

KEY_NAME = "voucher_key"
DEFAULT_MINUTES = 30
"""Long enough for one visit: registration, fees and settlement are all sent with the same voucher."""
_SALT = "gongji-voucher"
_serializers: dict[str, URLSafeSerializer] = {}


def _serializer(engine: Engine) -> URLSafeSerializer:
    url = str(engine.url)
    if url not in _serializers:
        _serializers[url] = URLSafeSerializer(database_key(engine, KEY_NAME), salt=_SALT)
    return _serializers[url]


def issue(engine: Engine, psn_no: str, minutes: int = DEFAULT_MINUTES, at: float | None = None) -> str:
    if minutes < 1 or minutes > 24 * 60:
        raise InputError(f"minutes: {minutes} must be between 1 and 1440")
    with engine.connect() as conn:
        if conn.execute(select(persons.c.psn_no).where(persons.c.psn_no == psn_no)).first() is None:
            raise InputError(f"psn_no: {psn_no!r} is not a registered person")
    expires = int((at if at is not None else time.time()) + minutes * 60)
    return _serializer(engine).dumps({"psn_no": psn_no, "exp": expires})


def holder(engine: Engine, token: str, at: float | None = None) -> str:
    """The psn_no a valid token was issued to; InputError (in Chinese too) when altered or expired."""
    try:
        claims = _serializer(engine).loads(token)
    except BadSignature:
        raise InputError("mdtrt_cert_no: the e-voucher is not one gongji issued or was altered",
                         "mdtrt_cert_no 医保电子凭证无效（签名不符或被篡改）") from None
    if claims["exp"] < (at if at is not None else time.time()):
        raise InputError("mdtrt_cert_no: the e-voucher has expired", "mdtrt_cert_no 医保电子凭证已过期，请重新出示")
    return claims["psn_no"]
