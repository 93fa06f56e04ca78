"""`gongji serve`, `gongji institution credentials` and `gongji voucher` from the outside: a real server process
that answers signed requests, logs JSON lines with the msgid (ID numbers masked, no secret), and on SIGTERM
finishes the request in flight before it exits."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest

from gongji.services import vouchers
from gongji.services.credentials import credentials_for
from tests.api.server import Institution
from tests.cli.test_ops import refused, run
from tests.factories import institution, institutions_csv, person, persons_csv

H1 = "H32100000001"
MEMBER = person("P1", date(1950, 6, 1), psn_type="12", balc="1000.00", serial=1)


@pytest.fixture
def registry(db_url, tmp_path):
    (tmp_path / "persons.csv").write_bytes(persons_csv([MEMBER]))
    (tmp_path / "institutions.csv").write_bytes(institutions_csv([institution(H1, 1)]))
    for kind in ("persons", "institutions"):
        assert run(db_url, "import", kind, str(tmp_path / f"{kind}.csv")).exit_code == 0


def _fields(output: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in output.strip().splitlines() if line.startswith(("x-tif", "secret")))


def test_credentials_are_issued_once_and_rotated(registry, db_url):
    first = run(db_url, "institution", "credentials", H1)
    assert first.exit_code == 0, first.output
    again = run(db_url, "institution", "credentials", H1)
    assert _fields(again.stdout) == _fields(first.stdout)
    rotated = _fields(run(db_url, "institution", "credentials", H1, "--rotate").stdout)
    assert rotated["x-tif-paasid"] != _fields(first.stdout)["x-tif-paasid"]
    assert rotated["secret"] != _fields(first.stdout)["secret"] and len(rotated["secret"]) == 64
    refused(run(db_url, "institution", "credentials", "H99999999999"), "fixmedins_code", "H99999999999")


def test_voucher_names_its_member(registry, db_url, engine):
    result = run(db_url, "voucher", "P1", "--minutes", "5")
    assert result.exit_code == 0, result.output
    assert vouchers.holder(engine, result.stdout.strip()) == "P1"
    refused(run(db_url, "voucher", "NOBODY"), "psn_no", "NOBODY")
    refused(run(db_url, "voucher", "P1", "--minutes", "0"), "minutes", "0")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_logs_json_and_finishes_in_flight_requests_on_sigterm(registry, db_url, engine):
    port = _free_port()
    gongji = Path(sys.executable).with_name("gongji")
    server = subprocess.Popen([str(gongji), "serve", "--port", str(port), "--db", db_url],
                              stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        client = Institution(base, engine, H1)
        secret = credentials_for(engine, H1).secret
        out = client.ok("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": MEMBER["certno"]}})
        assert out["baseinfo"]["psn_no"] == "P1"
        msgid = client.last_msgid
        client.refused("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "320000195001019999"}})

        # A request in flight: headers and half the body sent when SIGTERM arrives.
        body = json.dumps(client.envelope("1101", {"data": {"mdtrt_cert_type": "02",
                                                            "mdtrt_cert_no": MEMBER["certno"]}})).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in client.headers().items())
        raw = socket.create_connection(("127.0.0.1", port))
        raw.sendall(f"POST /fsi/api/rsfComIfsService/callService HTTP/1.1\r\nHost: x\r\n{head}"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[:40])
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert server.poll() is None  # still serving the request in flight
        raw.sendall(body[40:])
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
        raw.close()
        assert answer.startswith(b"HTTP/1.1 200") and b'"infcode":0' in answer
        # uvicorn re-raises the signal once it has shut down cleanly, as a process ended by SIGTERM should
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if server.poll() is None:
            server.kill()
        logs = server.communicate()[1]
    entries = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    calls = [e for e in entries if e["event"] == "callService"]
    assert len(calls) == 3
    first = next(e for e in calls if e.get("msgid") == msgid)
    assert (first["infno"], first["fixmedins_code"], first["infcode"]) == ("1101", H1, 0)
    refusal = next(e for e in calls if e["infcode"] == -1)
    assert "320000********9999" in refusal["err_msg"]
    assert any(e["event"] == "request" and e["path"] == "/healthz" and e["status"] == 200 for e in entries)
    assert secret not in logs and MEMBER["certno"] not in logs and "320000195001019999" not in logs
