"""Speed of the national-platform interface over HTTP: `gongji serve` on PostgreSQL under a load generator.

* setup: a fresh PostgreSQL database (--db-name, dropped and recreated), `gongji init`, then through import_csv 20
  hospitals (levels 1-3) and 10 pharmacies admitted to outpatient pooling in Yangzhou (321000), a catalogue of a
  few items (甲/乙 drugs, a 甲 service with a payment standard), --members members from gongji.demo.generate
  (opening balances of 2,000-5,000 yuan, so that the accounts pay), a large pool deposit, and every
  institution's gateway credentials (credentials_for).
* the server: `gongji serve --workers W --db URL` as a subprocess (its JSON log lines go to a file).
* the load: a second process (one asyncio event loop, uvloop) signing every request itself (fresh nonce and
  msgid), over HTTP/1.1 keep-alive connections: raw asyncio streams by default, or httpx.AsyncClient
  (--http httpx). Hospital settlements are 3 requests (2201 register, 2204 upload 2-3 fee lines, 2207 settle),
  pharmacy settlements 1 (2102); --mix is their share (default 50/50). Each settlement takes a random member
  who has no settlement in flight, a random institution and a random day of 2024.
  a) maximum throughput: closed loop, --clients connections each settling one visit after another, 3 s of
     warm-up, then --seconds measured. A settlement counts when its 2207 or 2102 answers infcode 0.
  b) latency at 70 % of that: open loop, settlements started at a fixed rate (0.7 x the maximum) whatever the
     answers, 3 s of warm-up, then --seconds measured; a settlement's latency runs from its scheduled start, so
     a late generator or a full connection pool counts against the server (no coordinated omission).
     Target: p99 of the settlement calls (2207 and 2102) <= 50 ms.
* the yardstick: with the server stopped, pgbench's TPC-B-like run on the same database (scale 10): a few
  seconds at each of --pgbench-clients, then --seconds at the best.

Each figure comes with the CPU the machine spent meanwhile (from /proc): the server's processes, PostgreSQL's,
the generator's, pgbench's, py-spy's and anything else. --profile samples the server's processes with py-spy
during the maximum-throughput phase and prints the functions with the most own time.

    .venv/bin/python benchmarks/bench_interface.py                          # defaults, under 3 minutes
    .venv/bin/python benchmarks/bench_interface.py --workers 1,2,3 --clients 16,32,64 --skip-pgbench
    .venv/bin/python benchmarks/bench_interface.py --profile --members 5000 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import math
import multiprocessing
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
import orjson
from bench_store import PostgresServer, read_proc
from sqlalchemy.engine import make_url

from gongji.api.interface import PATH
from gongji.demo import generate
from gongji.policy.loader import load_book
from gongji.services.credentials import credentials_for, signature
from gongji.services.crediting import deposit
from gongji.services.imports import columns_of, import_csv
from gongji.store.db import open_engine

REGION = "321000"
YEAR = 2024
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "gongji_bench_interface"
BIN = Path(sys.executable).parent
SETTLEMENTS_TARGET = 1000.0
P99_TARGET_MS = 50.0
LOAD_SHARE = 0.7
WARMUP = 3.0

# --- the database ------------------------------------------------------------------------------------------


class Site(NamedTuple):
    """An institution as the generator knows it: its code and gateway credentials."""

    code: str
    paasid: str
    secret: str


CATALOGUE = [
    {"med_list_codg": "A01", "med_list_name": "阿莫西林胶囊", "list_type": "drug", "chrgitm_lv": "甲"},
    {"med_list_codg": "A02", "med_list_name": "复方甘草片", "list_type": "drug", "chrgitm_lv": "甲"},
    {"med_list_codg": "B01", "med_list_name": "头孢克洛缓释片", "list_type": "drug", "chrgitm_lv": "乙",
     "selfpay_prop": "10%"},
    {"med_list_codg": "S01", "med_list_name": "普通门诊诊查费", "list_type": "service", "chrgitm_lv": "甲",
     "pay_std": "80.00"},
]
HOSPITAL_ITEMS = (("A01", 1250, 1, 6), ("A02", 320, 10, 30), ("B01", 4500, 1, 2), ("S01", 10000, 1, 1))
"""(code, unit price in fen, fewest, most) of the fee lines a hospital visit draws 2 or 3 from."""
PHARMACY_ITEMS = HOSPITAL_ITEMS[:3]


def csv_of(kind: str, rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, list(columns_of(kind)), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


@dataclass
class Workload:
    members: list[tuple[str, str]]
    """(psn_no, certno) of every member."""
    hospitals: list[Site]
    pharmacies: list[Site]


def setup(url: str, members: int, hospitals: int = 20, pharmacies: int = 10) -> Workload:
    """`gongji init`, then institutions, catalogue, members and the pool, and every institution's credentials."""
    subprocess.run([str(BIN / "gongji"), "init", "--db", url], check=True, stdout=subprocess.DEVNULL)
    book, engine = load_book(), open_engine(url)
    try:
        places = [{"fixmedins_code": f"H{REGION}{i + 1:05d}", "fixmedins_name": f"扬州第{i + 1}医院",
                   "hosp_lv": str(1 + i % 3), "admdvs": REGION, "designated": "1"} for i in range(hospitals)]
        places += [{"fixmedins_code": f"P{REGION}{i + 1:05d}", "fixmedins_name": f"扬州大药房{i + 1}",
                    "admdvs": REGION, "designated": "1", "otp_pool_flag": "1"} for i in range(pharmacies)]
        import_csv(engine, "institutions", csv_of("institutions", places), book)
        import_csv(engine, "catalogue", csv_of("catalogue", CATALOGUE), book)
        rng = random.Random(2024)
        people = generate(members, seed=2024).persons
        for p in people:
            p["balc"] = f"{rng.randrange(2000, 5000)}.{rng.randrange(100):02d}"
        import_csv(engine, "persons", csv_of("persons", people), book)
        deposit(engine, REGION, 10**13, date(YEAR, 1, 1), memo="benchmark reserve")
        sites = [Site(p["fixmedins_code"], *credentials_for(engine, p["fixmedins_code"])[1:3]) for p in places]
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        engine.dispose()
    return Workload([(p["psn_no"], p["certno"]) for p in people], sites[:hospitals], sites[hospitals:])


# --- processes and their CPU -------------------------------------------------------------------------------


class Snapshot(NamedTuple):
    """The machine's busy CPU seconds and every process's (ppid, name, CPU seconds), from /proc."""

    at: float
    machine: float
    procs: dict[int, tuple[int, str, float]]

    @classmethod
    def take(cls) -> Snapshot:
        machine, procs = read_proc()
        # utime + stime, and cutime + cstime: the CPU of its children that ended (PostgreSQL's backends of
        # connections closed in between count in the postmaster's)
        return cls(time.perf_counter(), machine,
                   {pid: (ppid, name, sum(times)) for pid, (ppid, name, times) in procs.items()})

    def tree(self, root: int | None) -> set[int]:
        """`root` and all its descendants."""
        found = {root} if root in self.procs else set()
        grew = True
        while grew:
            more = {pid for pid, (ppid, _n, _c) in self.procs.items() if ppid in found} - found
            found |= more
            grew = bool(more)
        return found

    def named(self, name: str) -> set[int]:
        return {pid for pid, (_p, n, _c) in self.procs.items() if n == name}


class Usage(NamedTuple):
    """CPUs used between two snapshots (CPU seconds / elapsed seconds), by group of processes."""

    elapsed: float
    machine: float
    groups: dict[str, float]
    workers: list[float]
    """each server worker process's own share (uvicorn's workers; one figure with --workers 1)."""

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot, groups: dict[str, set[int]], server: int | None = None,
                extra: dict[str, float] | None = None) -> Usage:
        """`extra`: CPU seconds of further processes, measured otherwise."""
        elapsed = b.at - a.at

        def used(pids: set[int]) -> float:
            return sum(b.procs[p][2] - (a.procs[p][2] if p in a.procs else 0.0) for p in pids if p in b.procs)

        workers = []
        if server is not None:
            children = [p for p, (ppid, _n, _c) in b.procs.items() if ppid == server]
            workers = [used(b.tree(p)) / elapsed for p in children if used(b.tree(p)) > 0.01 * elapsed] or \
                [used({server}) / elapsed]
        used_by = {k: used(v) / elapsed for k, v in groups.items()} | {k: v / elapsed for k, v in (extra or {}).items()}
        return cls(elapsed, (b.machine - a.machine) / elapsed, used_by, workers)

    def line(self) -> str:
        known = sum(self.groups.values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in self.groups.items())
        return (f"machine {self.machine:.2f} of {os.cpu_count()} CPUs busy: {parts}, anything else "
                f"{max(self.machine - known, 0):.2f}")


def groups_of(snap: Snapshot, server: int | None = None, generator: int | None = None,
              pyspy: int | None = None) -> dict[str, set[int]]:
    out = {}
    if server is not None:
        out["server"] = snap.tree(server)
    out["postgres"] = snap.named("postgres")
    if generator is not None:
        out["generator"] = snap.tree(generator)
    if pyspy is not None:
        out["py-spy"] = snap.tree(pyspy)
    return out


# --- the server --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`gongji serve` in its own session (Ctrl-C does not reach it; `stop` does), logging to `log`."""

    def __init__(self, url: str, workers: int, port: int, log: Path):
        self.url, self.workers, self.port, self.log = url, workers, port or free_port(), log
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        command = [str(BIN / "gongji"), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", str(self.workers), "--db", self.url]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gongji serve exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gongji serve did not answer /healthz within 60 s:\n{self.tail()}")
            time.sleep(0.2)
        if self.workers > 1:  # /healthz answered by one worker; give the others their start too
            deadline = time.monotonic() + 30
            while len(Snapshot.take().tree(self.process.pid)) < self.workers + 1 and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.0)
        return self

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)  # uvicorn stops its workers
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


# --- the load generator (runs in its own process) ----------------------------------------------------------


@dataclass
class Plan:
    host: str
    port: int
    hospitals: list[Site]
    pharmacies: list[Site]
    members: list[tuple[str, str]]
    hospital_share: float
    clients: int
    warmup: float
    seconds: float
    rate: float | None
    """settlements started per second (open loop); None: closed loop, `clients` at a time."""
    http: str
    phase: int
    seed: int


@dataclass
class LoadResult:
    window: float = 0.0
    settled: Counter = field(default_factory=Counter)
    """settlements answered infcode 0 in the window, by infno (2207, 2102)."""
    requests: Counter = field(default_factory=Counter)
    """requests answered in the window, by infno."""
    failed: int = 0
    """requests answered infcode -1, a status other than 200, or not at all (whenever)."""
    failures: list[str] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=lambda: {"2207": [], "2102": [], "visit": []})
    """seconds, of settlements started in the window."""
    cpu: float = 0.0
    """the generator's CPU seconds in the window."""
    started: int = 0
    """settlements started in the window (open loop)."""
    lag: float = 0.0
    """the latest the open loop started a settlement after its scheduled time, in seconds."""
    connections: int = 0


class Closed(Exception):
    """The server closed a keep-alive connection."""


class RawConnection:
    """One HTTP/1.1 keep-alive connection on asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer, self.used, self.closed = reader, writer, time.monotonic(), False

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        self.writer.write(data)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise Closed() from exc
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection" and b"close" in value.lower():
                self.closed = True
        if chunked:
            body = bytearray()
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
            return status, bytes(body)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.closed = True
        self.writer.close()


class RawPool:
    """At most `size` connections, handed to waiters in turn; one idle longer than the server keeps it alive
    (uvicorn: 5 s) is replaced."""

    IDLE = 4.0

    def __init__(self, host: str, port: int, size: int):
        self.host, self.port, self.size = host, port, size
        self.idle: list[RawConnection] = []
        self.open_count, self.opened = 0, 0
        self.waiters: deque[asyncio.Future] = deque()

    async def _open(self) -> RawConnection:
        try:
            conn = await RawConnection.open(self.host, self.port)
        except BaseException:
            self.open_count -= 1
            raise
        self.opened += 1
        return conn

    async def acquire(self) -> RawConnection:
        while self.idle:
            conn = self.idle.pop()
            if time.monotonic() - conn.used < self.IDLE:
                return conn
            conn.close()
            self.open_count -= 1
        if self.open_count < self.size:
            self.open_count += 1
            return await self._open()
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        conn = await waiter
        return conn if conn is not None else await self._open()

    def release(self, conn: RawConnection, broken: bool = False) -> None:
        handed: RawConnection | None = conn
        if broken or conn.closed:
            conn.close()
            handed = None
        else:
            conn.used = time.monotonic()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)  # None: the waiter opens a connection in the slot freed
                return
        if handed is None:
            self.open_count -= 1
        else:
            self.idle.append(handed)

    async def post(self, build) -> tuple[int, bytes]:
        """`build()` gives the request's bytes (a fresh nonce each time); retried once on a connection the
        server had closed (the msgid makes a repeated write answer the first time's answer)."""
        for attempt in range(2):
            conn = await self.acquire()
            try:
                answer = await conn.request(build())
            except (Closed, ConnectionError):
                self.release(conn, broken=True)
                if attempt:
                    raise
                continue
            except BaseException:
                self.release(conn, broken=True)
                raise
            self.release(conn)
            return answer
        raise AssertionError("unreachable")

    async def close(self) -> None:
        for conn in self.idle:
            conn.close()


class HttpxPool:
    def __init__(self, host: str, port: int, size: int):
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.AsyncClient(base_url=f"http://{host}:{port}", limits=limits, timeout=30)
        self.opened = 0

    async def post(self, build) -> tuple[int, bytes]:
        headers, body = build()
        reply = await self.client.post(PATH, content=body, headers=headers)
        return reply.status_code, reply.content

    async def close(self) -> None:
        await self.client.aclose()


def _amount(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class Load:
    """The workload of one phase; see the module's docstring."""

    def __init__(self, plan: Plan):
        self.plan, self.rng = plan, random.Random(plan.seed)
        self.result = LoadResult()
        self.serial = itertools.count(1)
        self.busy: set[int] = set()
        self.days = [(date(YEAR, 1, 1) + timedelta(days=d)).isoformat() for d in range(366)]
        self.hostport = f"{plan.host}:{plan.port}"
        self.window = (math.inf, math.inf)
        pool = RawPool if plan.http == "raw" else HttpxPool
        self.pool = pool(plan.host, plan.port, plan.clients)

    # requests

    def _envelope(self, site: Site, infno: str, data: dict) -> bytes:
        now = datetime.now()
        msgid = f"{site.code}{now:%Y%m%d%H%M%S}{self.plan.phase}{next(self.serial) % 10**7:07d}"
        return orjson.dumps({
            "infno": infno, "msgid": msgid, "mdtrtarea_admvs": REGION, "insuplc_admdvs": REGION,
            "recer_sys_code": "MBS_LOCAL", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "",
            "infver": "V1.0", "opter_type": "1", "opter": "0001", "opter_name": "收费员",
            "inf_time": now.strftime("%Y-%m-%d %H:%M:%S"), "fixmedins_code": site.code,
            "fixmedins_name": f"机构{site.code}", "sign_no": "", "input": data})

    def _signed(self, site: Site, body: bytes):
        """A function giving the request with fresh gateway headers: bytes (raw), or (headers, body) (httpx)."""
        def build():
            stamp, nonce = str(int(time.time())), os.urandom(16).hex()
            signed = signature(stamp, site.secret, nonce)
            if self.plan.http != "raw":
                return {"content-type": "application/json;charset=utf-8", "x-tif-paasid": site.paasid,
                        "x-tif-timestamp": stamp, "x-tif-nonce": nonce, "x-tif-signature": signed}, body
            return (f"POST {PATH} HTTP/1.1\r\nhost: {self.hostport}\r\n"
                    f"content-type: application/json;charset=utf-8\r\ncontent-length: {len(body)}\r\n"
                    f"x-tif-paasid: {site.paasid}\r\nx-tif-timestamp: {stamp}\r\nx-tif-nonce: {nonce}\r\n"
                    f"x-tif-signature: {signed}\r\n\r\n").encode() + body
        return build

    def in_window(self, t: float) -> bool:
        return self.window[0] <= t < self.window[1]

    def _failed(self, infno: str, what: str) -> None:
        self.result.failed += 1
        if len(self.result.failures) < 5:
            self.result.failures.append(f"{infno}: {what}")

    async def call(self, site: Site, infno: str, data: dict) -> dict | None:
        """The output of a call answered infcode 0, else None (the failure counted)."""
        body = self._envelope(site, infno, data)
        try:
            async with asyncio.timeout(30):
                status, answer = await self.pool.post(self._signed(site, body))
        except Exception as exc:
            self._failed(infno, f"{type(exc).__name__}: {exc}")
            return None
        if self.in_window(time.perf_counter()):
            self.result.requests[infno] += 1
        if status != 200:
            self._failed(infno, f"HTTP {status}: {answer[:200].decode(errors='replace')}")
            return None
        reply = orjson.loads(answer)
        if reply.get("infcode") != 0:
            self._failed(infno, str(reply.get("err_msg")))
            return None
        return reply["output"]

    # settlements

    def _member(self) -> int:
        while True:
            n = self.rng.randrange(len(self.plan.members))
            if n not in self.busy:
                self.busy.add(n)
                return n

    def _settled(self, infno: str, began: float, call_began: float) -> None:
        done = time.perf_counter()
        if self.in_window(done):
            self.result.settled[infno] += 1
        if self.in_window(began):
            self.result.latency[infno].append(done - call_began)
            if infno == "2207":
                self.result.latency["visit"].append(done - began)

    async def hospital(self, began: float) -> None:
        rng, n = self.rng, self._member()
        psn_no, certno = self.plan.members[n]
        try:
            site = rng.choice(self.plan.hospitals)
            begntime = f"{rng.choice(self.days)} {rng.randrange(8, 17):02d}:{rng.randrange(60):02d}:00"
            cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}
            out = await self.call(site, "2201", {"data": {
                "psn_no": psn_no, "insutype": "310", "begntime": begntime,
                "ipt_otp_no": f"MZ{self.plan.phase}{os.getpid()}{next(self.serial)}", "atddr_no": "D01",
                "dr_name": "王医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03"} | cert})
            if out is None:
                return
            mdtrt_id, lines, total = out["data"]["mdtrt_id"], [], 0
            for sn, (code, price, low, high) in enumerate(rng.sample(HOSPITAL_ITEMS, rng.choice((2, 3))), 1):
                cnt = rng.randint(low, high)
                total += price * cnt
                lines.append({"feedetl_sn": str(sn), "mdtrt_id": mdtrt_id, "psn_no": psn_no, "chrg_bchno": "B1",
                              "med_list_codg": code, "medins_list_codg": f"HIS-{code}", "pric": _amount(price),
                              "cnt": str(cnt), "det_item_fee_sumamt": _amount(price * cnt),
                              "fee_ocur_time": begntime, "rxno": "", "rx_circ_flag": "0"})
            if await self.call(site, "2204", {"feedetail": lines}) is None:
                return
            call_began = time.perf_counter()
            out = await self.call(site, "2207", {"data": {
                "psn_no": psn_no, "med_type": "11", "medfee_sumamt": _amount(total), "psn_setlway": "01",
                "mdtrt_id": mdtrt_id, "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1",
                "invono": f"INV{next(self.serial)}"} | cert})
            if out is not None:
                self._settled("2207", began, call_began)
        finally:
            self.busy.discard(n)

    async def pharmacy(self, began: float) -> None:
        rng, n = self.rng, self._member()
        psn_no, certno = self.plan.members[n]
        try:
            site = rng.choice(self.plan.pharmacies)
            begntime = f"{rng.choice(self.days)} {rng.randrange(8, 21):02d}:{rng.randrange(60):02d}:00"
            lines, total = [], 0
            for sn, (code, price, low, high) in enumerate(rng.sample(PHARMACY_ITEMS, rng.choice((1, 2))), 1):
                cnt = rng.randint(low, high)
                total += price * cnt
                lines.append({"feedetl_sn": str(sn), "rxno": f"RX{sn}", "rx_circ_flag": "1",
                              "fee_ocur_time": begntime, "med_list_codg": code, "medins_list_codg": f"P-{code}",
                              "det_item_fee_sumamt": _amount(price * cnt), "cnt": str(cnt), "pric": _amount(price)})
            info = {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "begntime": begntime,
                    "medfee_sumamt": _amount(total), "insutype": "310", "acct_used_flag": "1", "med_type": "41",
                    "invono": f"PINV{next(self.serial)}"}
            if rng.random() < 0.7:  # on a hospital's prescription: the pooled fund pays its share
                info["rx_fixmedins_code"] = rng.choice(self.plan.hospitals).code
            if await self.call(site, "2102", {"druginfo": info, "drugdetail": lines}) is not None:
                self._settled("2102", began, began)
        finally:
            self.busy.discard(n)

    async def settlement(self, began: float) -> None:
        try:
            if self.rng.random() < self.plan.hospital_share:
                await self.hospital(began)
            else:
                await self.pharmacy(began)
        except Exception as exc:  # counted, and the loop goes on
            self._failed("settlement", f"{type(exc).__name__}: {exc}")

    # the two loops

    async def closed_loop(self, stop: asyncio.Event) -> None:
        async def client() -> None:
            while not stop.is_set():
                await self.settlement(time.perf_counter())
        await asyncio.gather(*(client() for _ in range(self.plan.clients)))

    async def open_loop(self, rate: float, until: float) -> None:
        tasks: set[asyncio.Task] = set()
        start, k = time.perf_counter(), 0
        while (due := start + k / rate) < until:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif self.in_window(due):
                self.result.lag = max(self.result.lag, -delay)
            if self.in_window(due):
                self.result.started += 1
            task = asyncio.create_task(self.settlement(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
        await asyncio.gather(*tasks)

    async def run(self, report) -> LoadResult:
        plan = self.plan
        begin = time.perf_counter()
        self.window = (begin + plan.warmup, begin + plan.warmup + plan.seconds)
        stop = asyncio.Event()

        async def measure() -> None:
            await asyncio.sleep(self.window[0] - time.perf_counter())
            report(("measuring", None))
            cpu = time.process_time()
            await asyncio.sleep(self.window[1] - time.perf_counter())
            self.result.cpu = time.process_time() - cpu
            report(("measured", None))
            stop.set()

        meter = asyncio.create_task(measure())
        if plan.rate is None:
            await self.closed_loop(stop)
        else:
            await self.open_loop(plan.rate, self.window[1])
        await meter
        self.result.window = plan.seconds
        self.result.connections = self.pool.opened
        await self.pool.close()
        return self.result


def generate_load(plan: Plan, pipe) -> None:
    """The generator process: runs `plan`, then sends ("result", LoadResult) (or ("error", text))."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends this process (terminate) on Ctrl-C
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        result = runner(Load(plan).run(pipe.send))
        pipe.send(("result", result))
    except BaseException as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


# --- profiling ---------------------------------------------------------------------------------------------


class Profiler:
    """py-spy sampling the server's processes for `seconds` into a raw (collapsed stacks) file. Only the thread
    holding each process's GIL is sampled (--gil): py-spy otherwise counts threads that merely wait for a CPU or
    for PostgreSQL as running, which on a saturated machine hides where the CPU goes."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 200):
        self.out = out
        command = [str(BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil",
                   "--rate", str(rate), "--format", "raw", "--duration", str(max(1, round(seconds))),
                   "-o", str(out)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)

    def finish(self) -> None:
        try:
            _out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _out, err = self.process.communicate()
        if self.process.returncode != 0 or not self.out.exists():
            raise RuntimeError(f"py-spy failed ({self.process.returncode}): {err.decode(errors='replace')[-800:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


_LINE = re.compile(r":\d+\)$")


def _package(frame: str) -> str:
    """The library a frame's file belongs to, e.g. 'sqlalchemy' for 'execute (sqlalchemy/engine/base.py:1418)'."""
    where = frame[frame.rfind("(") + 1:]
    return where.split("/", 1)[0] if "/" in where else "python (stdlib)"


def print_profile(path: Path, top: int = 15) -> None:
    """Own time (the innermost frame of each sample) by function and by library, and the time spent under the
    heaviest of gongji's own functions (inclusive)."""
    functions: Counter = Counter()
    packages: Counter = Counter()
    inclusive: Counter = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_LINE.sub(")", f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        functions[frames[-1]] += int(count)
        packages[_package(frames[-1])] += int(count)
        for frame in set(frames):
            if "(gongji/" in frame:
                inclusive[frame] += int(count)
    total = sum(functions.values())
    if not total:
        print(f"  the profile {path} holds no samples")
        return
    print(f"  py-spy --gil, {total:,} samples of the server's GIL-holding threads ({path}); own time, top {top}:")
    for name, count in functions.most_common(top):
        print(f"    {100 * count / total:5.1f} %  {name}")
    print("  own time by library: " + ", ".join(f"{name} {100 * c / total:.0f} %"
                                                for name, c in packages.most_common(10)))
    print("  inclusive time of gongji's functions: " + ", ".join(
        f"{_short(name)} {100 * c / total:.0f} %" for name, c in inclusive.most_common(14)))


def _short(frame: str) -> str:
    """'settle (gongji/services/settlement.py)' -> 'settlement.settle'."""
    name, _, where = frame.partition(" (")
    return f"{Path(where.rstrip(')')).stem}.{name}"


_HTTP = {"raw": "raw asyncio", "httpx": "httpx.AsyncClient"}


# --- phases ------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    result: LoadResult
    usage: Usage
    workers: int
    clients: int
    rate: float | None
    http: str

    @property
    def settlements(self) -> float:
        return sum(self.result.settled.values()) / self.result.window

    @property
    def requests(self) -> float:
        return sum(self.result.requests.values()) / self.result.window


def run_phase(server: Server, work: Workload, args: argparse.Namespace, clients: int, rate: float | None,
              phase: int, profile: Path | None = None) -> Phase:
    plan = Plan("127.0.0.1", server.port, work.hospitals, work.pharmacies, work.members, args.mix, clients,
                WARMUP, args.seconds, rate, args.http, phase, seed=1000 + phase)
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    generator = ctx.Process(target=generate_load, args=(plan, theirs), daemon=True)
    generator.start()
    profiler = None
    try:
        before = after = None
        while True:
            if not ours.poll(args.seconds + 120):
                raise RuntimeError("the load generator stopped answering")
            kind, value = ours.recv()
            if kind == "measuring":
                before = Snapshot.take()
                if profile is not None:
                    profiler = Profiler(server.pid, args.seconds, profile)
            elif kind == "measured":
                after = Snapshot.take()
            elif kind == "error":
                raise RuntimeError(f"the load generator failed: {value}")
            else:
                result = value
                break
        generator.join(30)
        if profiler is not None:
            profiler.finish()
        assert before is not None and after is not None
        groups = groups_of(after, server.pid, generator.pid, profiler.process.pid if profiler else None)
        return Phase(result, Usage.between(before, after, groups, server.pid), server.workers, clients, rate,
                     args.http)
    finally:
        if profiler is not None:
            profiler.stop()
        if generator.is_alive():
            generator.terminate()
            generator.join(10)


def quiet(patience: float, threshold: float = 0.25) -> None:
    """Wait (up to `patience` seconds) until the machine has been nearly idle (under `threshold` CPUs busy) for
    two seconds in a row: on a shared machine other work skews every figure."""
    deadline, calm = time.monotonic() + patience, 0
    while time.monotonic() < deadline and calm < 2:
        before = Snapshot.take()
        time.sleep(1.0)
        after = Snapshot.take()
        calm = calm + 1 if (after.machine - before.machine) / (after.at - before.at) < threshold else 0
    if patience > 0 and calm < 2:
        print(f"  (the machine did not become quiet within {patience:.0f} s; measuring anyway)")


def percentile(values: list[float], p: float) -> float:
    """Nearest rank, in milliseconds."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return 1000 * ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def quantiles(values: list[float]) -> str:
    return "/".join(f"{percentile(values, p):.1f}" for p in (50, 95, 99)) + f" ms (n={len(values):,})"


def describe_phase(p: Phase) -> None:
    r, u = p.result, p.usage
    settled = sum(r.settled.values())
    what = f"closed loop, {p.clients} clients" if p.rate is None else f"open loop at {p.rate:,.0f} settlements/s"
    print(f"{what}, {p.workers} server worker{'s' if p.workers > 1 else ''}: {p.settlements:,.0f} settlements/s "
          f"(2207 {r.settled['2207'] / r.window:,.0f}/s, 2102 {r.settled['2102'] / r.window:,.0f}/s), "
          f"{p.requests:,.0f} requests/s; failed {r.failed}")
    for message in r.failures:
        print(f"    failure: {message}")
    if p.rate is not None:
        print(f"  started {r.started / r.window:,.0f} settlements/s, latest start {1000 * r.lag:.1f} ms after "
              f"schedule")
    print(f"  settlement calls (2207 and 2102) p50/p95/p99 {quantiles(r.latency['2207'] + r.latency['2102'])}")
    print(f"  2207 {quantiles(r.latency['2207'])}; 2102 {quantiles(r.latency['2102'])}; whole hospital visits "
          f"(2201+2204+2207) {quantiles(r.latency['visit'])}")
    requests = max(sum(r.requests.values()), 1)
    print(f"  generator: {r.cpu / r.window:.2f} CPUs, {1e6 * r.cpu / requests:.0f} us per request "
          f"({_HTTP[p.http]}" + (f", {r.connections} connections opened)" if p.http == "raw" else ")"))
    per = max(settled, 1) / r.window
    print(f"  {u.line()}")
    print(f"  per settlement: server {1000 * u.groups['server'] / per:.2f} ms, postgres "
          f"{1000 * u.groups['postgres'] / per:.2f} ms of CPU; server workers "
          + " + ".join(f"{w:.2f}" for w in u.workers) + " CPUs")


# --- pgbench -----------------------------------------------------------------------------------------------


class Pgbench(NamedTuple):
    tps: float
    clients: int
    trials: dict[int, float]
    usage: Usage | None


def pgbench(url: str, clients: list[int], trial: float, seconds: float) -> Pgbench:
    u = make_url(url)
    conn = ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres"]
    exe = shutil.which("pgbench") or "/usr/bin/pgbench"
    subprocess.run([exe, "-i", "-s", "10", "-q", *conn, u.database], check=True, capture_output=True)

    def run(c: int, t: float) -> tuple[float, Usage]:
        before, ours = Snapshot.take(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([exe, "-c", str(c), "-j", "2", "-T", str(max(1, round(t))), "-n", *conn, u.database],
                              check=True, capture_output=True, text=True)
        after, theirs = Snapshot.take(), resource.getrusage(resource.RUSAGE_CHILDREN)
        client = theirs.ru_utime + theirs.ru_stime - ours.ru_utime - ours.ru_stime
        found = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
        if found is None:
            raise RuntimeError(f"pgbench printed no tps:\n{done.stdout}\n{done.stderr}")
        return float(found.group(1)), Usage.between(before, after, {"postgres": after.named("postgres")},
                                                    extra={"pgbench": client})

    trials = {c: run(c, trial)[0] for c in clients}
    best = max(trials, key=trials.get)
    tps, usage = run(best, seconds)
    return Pgbench(tps, best, trials, usage)


# --- main --------------------------------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _mix(text: str) -> float:
    hospital, _, pharmacy = text.partition("/")
    h, p = float(hospital), float(pharmacy or 100 - float(hospital))
    if h < 0 or p < 0 or h + p <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: hospital/pharmacy shares, e.g. 50/50")
    return h / (h + p)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-admin", default=ADMIN_URL, help="a database of the PostgreSQL server to create the "
                        "bench database from (default %(default)s)")
    parser.add_argument("--db-name", default=DB_NAME, help="the bench database, dropped and recreated "
                        "(default %(default)s; must start with gongji_bench_)")
    parser.add_argument("--members", type=int, default=20_000, help="members (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds of each phase and of "
                        "pgbench's run (default %(default)s)")
    parser.add_argument("--workers", type=_ints, default=[2], help="server worker processes; a comma-separated "
                        "list measures each (default 2)")
    parser.add_argument("--clients", type=_ints, default=[64], help="the generator's connections; a "
                        "comma-separated list measures each (default 64)")
    parser.add_argument("--mix", type=_mix, default=0.5, help="hospital/pharmacy shares of the settlements "
                        "(default 50/50)")
    parser.add_argument("--http", choices=("raw", "httpx"), default="raw",
                        help="the generator's HTTP client: raw asyncio streams or httpx.AsyncClient (default raw)")
    parser.add_argument("--port", type=int, default=0, help="the server's port (default: a free one)")
    parser.add_argument("--pgbench-clients", type=_ints, default=[8, 16, 32],
                        help="pgbench -c values tried for --pgbench-trial seconds each; the best is run for --seconds "
                        "(default 8,16,32)")
    parser.add_argument("--pgbench-trial", type=float, default=5.0, help="seconds of each pgbench trial")
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--skip-latency", action="store_true", help="measure the maximum throughput only")
    parser.add_argument("--profile", action="store_true", help="py-spy the server during the maximum-throughput "
                        "phase (raw stacks into --out) and print its top functions")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_interface",
                        help="the server's log and the profiles (default %(default)s)")
    parser.add_argument("--quiet-wait", type=float, default=0.0, metavar="SECONDS",
                        help="before each phase, wait up to this long for the machine to be idle (default 0)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if not args.db_name.startswith("gongji_bench_"):
        parser.error("--db-name must start with gongji_bench_")
    signal.signal(signal.SIGTERM, _interrupt)
    args.out.mkdir(parents=True, exist_ok=True)

    pg = PostgresServer(args.pg_admin)
    version = pg.version()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), load average {load}; "
          f"Python {platform.python_version()}, PostgreSQL {version}")
    server: Server | None = None
    try:
        started = time.perf_counter()
        url = pg.create(args.db_name)
        work = setup(url, args.members)
        print(f"setup ({args.db_name}: gongji init; {len(work.hospitals)} hospitals, {len(work.pharmacies)} "
              f"pharmacies, {len(CATALOGUE)} catalogue items, {args.members:,} members via import_csv; pool "
              f"funded; credentials issued): {time.perf_counter() - started:.1f} s")
        print(f"workload: {100 * args.mix:.0f} % hospital settlements (2201+2204+2207), "
              f"{100 * (1 - args.mix):.0f} % pharmacy (2102); generator {_HTTP[args.http]}, one process; "
              f"{WARMUP:.0f} s warm-up + {args.seconds:.0f} s per phase")

        phases: list[Phase] = []
        latency: Phase | None = None
        log = args.out / "server.log"
        log.unlink(missing_ok=True)
        serial = itertools.count(1)
        for workers in args.workers:
            if server is not None:
                server.stop()
            server = Server(url, workers, args.port, log).start()
            print(f"== gongji serve --workers {workers} (pid {server.pid}, {server.base})")
            for clients in args.clients:
                quiet(args.quiet_wait)
                profile = args.out / f"profile.w{workers}c{clients}.txt" if args.profile else None
                phase = run_phase(server, work, args, clients, None, next(serial), profile)
                describe_phase(phase)
                if profile is not None:
                    print_profile(profile)
                phases.append(phase)
        best = max(phases, key=lambda p: p.settlements)
        if not args.skip_latency:
            rate = LOAD_SHARE * best.settlements
            if server is None or server.workers != best.workers:
                if server is not None:
                    server.stop()
                server = Server(url, best.workers, args.port, log).start()
            print(f"== latency at {100 * LOAD_SHARE:.0f} % of the best maximum: gongji serve --workers "
                  f"{best.workers}, at most {best.clients} connections")
            quiet(args.quiet_wait)
            latency = run_phase(server, work, args, best.clients, rate, next(serial))
            describe_phase(latency)
        if server is not None:
            server.stop()
            server = None

        bench = None
        if not args.skip_pgbench:
            print("== pgbench (TPC-B-like, scale 10), gongji serve stopped")
            bench = pgbench(url, args.pgbench_clients, args.pgbench_trial, args.seconds)
            print("  trials: " + ", ".join(f"-c {c}: {t:,.0f} tps" for c, t in bench.trials.items()))
            print(f"  -c {bench.clients} -j 2 -T {args.seconds:.0f}: {bench.tps:,.0f} tps; {bench.usage.line()}; "
                  f"postgres {1000 * bench.usage.groups['postgres'] / bench.tps:.2f} ms of CPU per transaction")

        summary(args, version, phases, best, latency, bench)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            pg.drop(args.db_name)
        pg.close()


def summary(args: argparse.Namespace, version: str, phases: list[Phase], best: Phase, latency: Phase | None,
            bench: Pgbench | None) -> None:
    r, u = best.result, best.usage
    settled = max(sum(r.settled.values()), 1) / r.window
    print("\n== summary")
    print(f"machine          {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), PostgreSQL {version}, "
          f"Python {platform.python_version()}")
    if len(phases) > 1:
        print("configurations   " + "; ".join(f"w{p.workers} c{p.clients}: {p.settlements:,.0f}/s" for p in phases))
    print(f"best             gongji serve --workers {best.workers}, {best.clients} clients ({_HTTP[args.http]}, "
          f"keep-alive), {args.members:,} members, mix {100 * args.mix:.0f}/{100 * (1 - args.mix):.0f}")
    print(f"max throughput   {best.settlements:,.0f} settlements/s, {best.requests:,.0f} requests/s, "
          f"failed {r.failed}" + (f" (first: {r.failures[0]})" if r.failures else ""))
    print(f"generator CPU    {r.cpu / r.window:.2f} CPUs ({1e6 * r.cpu / max(sum(r.requests.values()), 1):.0f} us "
          "per request)")
    print(f"CPU split        {u.line()}")
    print(f"                 per settlement: server {1000 * u.groups['server'] / settled:.2f} ms, postgres "
          f"{1000 * u.groups['postgres'] / settled:.2f} ms of CPU")
    if latency is not None:
        lr = latency.result
        print(f"at 70 % load     {latency.rate:,.0f} settlements/s offered, {latency.settlements:,.0f}/s done, "
              f"failed {lr.failed}")
        print(f"  settlement calls p50/p95/p99 {quantiles(lr.latency['2207'] + lr.latency['2102'])}")
        print(f"  hospital visits  p50/p95/p99 {quantiles(lr.latency['visit'])}")
    if bench is not None:
        print(f"pgbench          {bench.tps:,.0f} tps (TPC-B-like, scale 10, -c {bench.clients} -j 2)")
        print(f"ratio            settlements/s / pgbench tps = {best.settlements / bench.tps:.3f}")
    met = best.settlements >= SETTLEMENTS_TARGET
    print(f"target >= {SETTLEMENTS_TARGET:,.0f} settlements/s: {'met' if met else 'missed'}")
    if latency is not None:
        p99 = percentile(latency.result.latency["2207"] + latency.result.latency["2102"], 99)
        print(f"target p99 <= {P99_TARGET_MS:.0f} ms: {'met' if p99 <= P99_TARGET_MS else 'missed'} "
              f"({p99:.1f} ms)")


if __name__ == "__main__":
    main()
