"""Structured logs: one JSON object per line on stderr, ID numbers masked, secrets never written."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from gongji.masking import mask_certno

LOGGER = logging.getLogger("gongji.api")
_CERTNO = re.compile(r"\b\d{17}[\dXx]\b")


def _masked(text: str) -> str:
    return _CERTNO.sub(lambda m: mask_certno(m.group(0)), text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "event": record.getMessage()}
        entry |= getattr(record, "fields", {})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _masked(json.dumps(entry, ensure_ascii=False, default=str))


def configure(level: int = logging.INFO) -> None:
    """Send gongji's logs to stderr as JSON lines (uvicorn's access log is turned off: ours says more)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    LOGGER.handlers[:] = [handler]
    LOGGER.setLevel(level)
    LOGGER.propagate = False


def log(event: str, level: int = logging.INFO, exc_info: bool = False, **fields: object) -> None:
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, event, extra={"fields": fields}, exc_info=exc_info)


class AccessLog:
    """ASGI middleware: one JSON line per request of the admin API and /healthz (the national endpoint logs its
    own line, with msgid and infcode)."""

    def __init__(self, app, skip: str):
        self.app, self.skip = app, skip

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] == self.skip:
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log("request", logging.WARNING if status[0] >= 500 else logging.INFO, method=scope["method"],
                path=scope["path"], status=status[0], ms=round((time.perf_counter() - started) * 1000, 1))
