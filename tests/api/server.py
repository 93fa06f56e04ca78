"""A real gongji server on a free loopback port, and an institution's client that signs as the gateway does."""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from datetime import datetime

import httpx
import uvicorn

from gongji.api.app import create_app
from gongji.api.interface import PATH
from gongji.services.credentials import credentials_for, signature


class LiveServer:
    """uvicorn serving create_app(engine, book) in a thread; `url` is its base address."""

    def __init__(self, engine, book):
        config = uvicorn.Config(create_app(engine, book), host="127.0.0.1", port=0, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


_serial = itertools.count(1)


class Institution:
    """A hospital's or pharmacy's information system talking to gongji like to the national platform."""

    def __init__(self, url: str, engine, code: str, region: str = "321000"):
        cred = credentials_for(engine, code)
        self.paasid, self.secret, self.code, self.region = cred.paasid, cred.secret, code, region
        self.http = httpx.Client(base_url=url, timeout=30)
        self.last_msgid: str | None = None

    def headers(self, timestamp: int | None = None, nonce: str | None = None, secret: str | None = None) -> dict:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or secrets.token_hex(16)
        return {"x-tif-paasid": self.paasid, "x-tif-timestamp": stamp, "x-tif-nonce": nonce,
                "x-tif-signature": signature(stamp, secret or self.secret, nonce),
                "content-type": "application/json;charset=utf-8"}

    def envelope(self, infno: str, input: dict, msgid: str | None = None, **overrides) -> dict:
        now = datetime.now()
        msgid = msgid or f"{self.code}{now:%Y%m%d%H%M%S}{next(_serial) % 10000:04d}"
        self.last_msgid = msgid
        return {"infno": infno, "msgid": msgid, "mdtrtarea_admvs": self.region, "insuplc_admdvs": self.region,
                "recer_sys_code": "MBS_LOCAL", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "",
                "infver": "V1.0", "opter_type": "1", "opter": "0001", "opter_name": "收费员",
                "inf_time": now.strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": self.code,
                "fixmedins_name": f"机构{self.code}", "sign_no": "", "input": input, **overrides}

    def post(self, body: bytes | dict, headers: dict | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
        return self.http.post(PATH, content=content, headers=headers or self.headers())

    def call(self, infno: str, input: dict, **envelope) -> dict:
        """The response body of a signed call; the HTTP status must be 200."""
        reply = self.post(self.envelope(infno, input, **envelope))
        assert reply.status_code == 200, reply.text
        return reply.json()

    def ok(self, infno: str, input: dict, **envelope) -> dict:
        """The output of a call that must succeed."""
        body = self.call(infno, input, **envelope)
        assert body["infcode"] == 0, body["err_msg"]
        return body["output"]

    def refused(self, infno: str, input: dict, **envelope) -> str:
        """The err_msg of a call that must be refused with infcode -1."""
        body = self.call(infno, input, **envelope)
        assert body["infcode"] == -1 and body["output"] is None, body
        return body["err_msg"]
