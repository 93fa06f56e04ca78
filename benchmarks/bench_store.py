"""Speed of the store: crediting a region's month, and settling visits through the settlement service.

* credit: --members members of Yangzhou (321000) bulk-loaded with COPY into a fresh PostgreSQL database
  (a quarter retired), then `credit_month` for 2024-01 timed, then a second run of the same month, which must
  return already=True. Target: 1,000,000 members in under 60 s. The load is timed too, but is not the figure.
* settle: `settle(engine, book, parse_settle(...))` in-process from worker threads sharing one Engine
  (pool_size=8), each worker settling for its own persons (imported with import_csv, each with a first visit
  above the annual deductible) on dates spread over 2024; a warm-up, then --seconds measured per worker count.
  Targets: >= 1,500 settlements/s on PostgreSQL with 4 workers, >= 500/s on SQLite (a file; SQLite serializes
  writers). Then --breakdown settlements in one thread with every statement timed, and the audit, which must
  be clean.

Each figure comes with the CPU the machine spent meanwhile: this process (all threads; one CPU at most while
Python code runs, as the GIL allows one thread at a time), PostgreSQL (all its processes) and anything else,
which on a shared machine says how far to trust the figure.

Every run creates its databases (PostgreSQL: gongji_bench_credit and gongji_bench_settle on the server of --url;
SQLite: the file --sqlite) and drops them at the end unless --keep.

    .venv/bin/python benchmarks/bench_store.py                      # both, full size (about 3 minutes)
    .venv/bin/python benchmarks/bench_store.py credit --members 1000000
    .venv/bin/python benchmarks/bench_store.py settle --backends postgresql,sqlite --workers 1,4 --seconds 10
    .venv/bin/python benchmarks/bench_store.py settle --backends sqlite --workers 1 --profile /tmp/settle.html
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import platform
import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gongji.policy.loader import PolicyBook, load_book
from gongji.services.audit import audit
from gongji.services.crediting import credit_month, deposit
from gongji.services.imports import import_csv
from gongji.services.records import make_certno
from gongji.services.settlement import parse_settle, settle
from gongji.store.db import open_engine
from gongji.store.ledger import ensure_pool
from gongji.store.migrate import upgrade
from gongji.store.tables import accounts, ledger

REGION = "321000"
MONTH = date(2024, 1, 1)
SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
SQLITE_PATH = Path("/tmp/bench_settle.sqlite")
CREDIT_DB, SETTLE_DB = "gongji_bench_credit", "gongji_bench_settle"
CREDIT_TARGET_S = 60.0
SETTLE_TARGETS = {("postgresql", 4): 1500.0, ("sqlite", 1): 500.0, ("sqlite", 4): 500.0}


# --- databases ---------------------------------------------------------------------------------------------

class PostgresServer:
    """CREATE and DROP of the benchmark's own databases on the server of `url`."""

    def __init__(self, url: str):
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def url_of(self, name: str) -> str:
        return self.url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)

    def version(self) -> str:
        with self.admin.connect() as conn:
            return conn.exec_driver_sql("SHOW server_version").scalar_one()

    def create(self, name: str) -> str:
        assert name.startswith("gongji_bench_"), name
        self.drop(name)
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def drop(self, name: str) -> None:
        assert name.startswith("gongji_bench_"), name
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.admin.dispose()


def remove_sqlite(path: Path) -> None:
    """The benchmark's SQLite file and its companions; refuses a file not named for a benchmark."""
    if "bench" not in path.name:
        raise SystemExit(f"--sqlite: {path} is not named *bench*; not removing it")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def migrated(url: str, pool_size: int = 5) -> Engine:
    engine = open_engine(url, pool_size=pool_size)
    upgrade(engine)
    return engine


# --- measuring --------------------------------------------------------------------------------------------

class StatementTimer:
    """The duration of every statement an Engine executes between `start` and `stop`, by kind of statement."""

    def __init__(self, engine: Engine):
        self.engine, self.timings = engine, []

    def _before(self, conn, _cursor, _statement, _parameters, _context, _many) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def _after(self, conn, _cursor, statement, _parameters, _context, _many) -> None:
        self.timings.append((time.perf_counter() - conn.info["bench_started"].pop(), " ".join(statement.split())))

    def start(self) -> StatementTimer:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def stop(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def print(self, per: int = 1, what: str = "", top: int = 12) -> None:
        """Counts and milliseconds divided by `per` (e.g. the number of settlements)."""
        kinds: dict[str, list[float]] = {}
        for seconds, statement in self.timings:
            kinds.setdefault(statement[:70], []).append(seconds)
        total = sum(t for t, _s in self.timings)
        print(f"  {len(self.timings) / per:,.1f} statements{what}, {total * 1000 / per:,.1f} ms in the driver and "
              "database, by kind:")
        for statement, times in sorted(kinds.items(), key=lambda k: -sum(k[1]))[:top]:
            print(f"    {sum(times) * 1000 / per:9.2f} ms {len(times) / per:7.1f}x  {statement}...")


def read_proc() -> tuple[float, dict[int, tuple[int, str, tuple[float, ...]]]]:
    """From /proc (Linux): the machine's busy CPU seconds (all CPUs, not idle), and every process's (ppid, name,
    (utime, stime, cutime, cstime) in seconds). OSError elsewhere."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, *rest = map(int, f.readline().split()[1:9])
    procs = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        procs[int(pid)] = (int(fields[1]), stat[stat.index("(") + 1:stat.rindex(")")],
                           tuple(int(t) / tick for t in fields[11:15]))
    return (user + nice + system + sum(rest)) / tick, procs


class CpuSnapshot(NamedTuple):
    """CPU seconds used so far: by the machine (all CPUs, not idle), this process, and PostgreSQL's processes.
    Linux only (from /proc); elsewhere the machine and PostgreSQL figures are 0."""

    machine: float
    process: float
    postgres: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        machine = postgres = 0.0
        try:
            machine, procs = read_proc()
            postgres = sum(utime + stime for _ppid, name, (utime, stime, _cu, _cs) in procs.values()
                           if name.startswith("postgres"))
        except OSError:
            pass
        return cls(machine, time.process_time(), postgres)

    def since(self, before: CpuSnapshot, elapsed: float) -> str:
        """How busy the machine was in between, in CPUs, and on what."""
        machine, process, postgres = ((a - b) / elapsed for a, b in zip(self, before, strict=True))
        if not machine:
            return f"this process {process:.2f} CPUs"
        return (f"machine {machine:.2f} of {os.cpu_count()} CPUs busy: this process {process:.2f}, postgres "
                f"{postgres:.2f}, anything else {max(machine - process - postgres, 0):.2f}")


# --- credit ------------------------------------------------------------------------------------------------

PERSON_COLUMNS = ("psn_no", "psn_name", "certno", "gend", "brdy", "insutype", "psn_type", "insuplc_admdvs",
                  "emp_name", "crt_cont_base", "pension", "psn_insu_stas", "psn_insu_date", "prev_year_credits")


def person_lines(start: int, stop: int, rng: random.Random) -> tuple[str, str]:
    """COPY text of persons start..stop-1 and of their accounts (balance 0). Every fourth is retired."""
    people, accts = io.StringIO(), io.StringIO()
    for i in range(start, stop):
        psn_no = f"BP{i:010d}"
        if i % 4 == 0:
            brdy = date(1930, 1, 1) + timedelta(days=rng.randrange(34 * 365))  # 1930 .. 1963
            psn_type, base, pension = "12", 0, rng.randrange(200_000, 600_000)
        else:
            brdy = date(1964, 1, 1) + timedelta(days=rng.randrange(36 * 365))  # 1964 .. 1999
            psn_type, base, pension = "11", rng.randrange(300_000, 1_500_001), 0
        people.write(f"{psn_no}\tbench\t{REGION}{i:012d}\t{1 + i % 2}\t{brdy.isoformat()}\t310\t{psn_type}\t"
                     f"{REGION}\tbench employer\t{base}\t{pension}\t1\t2000-01-01\t0\n")
        accts.write(f"{psn_no}\t0\n")
    return people.getvalue(), accts.getvalue()


def load_members(engine: Engine, members: int, batch: int = 100_000) -> None:
    """persons + accounts with COPY, the region's pool slots, then VACUUM ANALYZE (the statistics and
    visibility map a table of that age would have)."""
    rng = random.Random(2024)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            for start in range(0, members, batch):
                people, accts = person_lines(start, min(start + batch, members), rng)
                with cur.copy(f"COPY persons ({', '.join(PERSON_COLUMNS)}) FROM STDIN") as copy:
                    copy.write(people)
                with cur.copy("COPY accounts (psn_no, balance) FROM STDIN") as copy:
                    copy.write(accts)
        conn.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        ensure_pool(conn, REGION)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE persons")
        conn.exec_driver_sql("VACUUM ANALYZE accounts")


def bench_credit(server: PostgresServer, book: PolicyBook, members: int, keep: bool) -> bool:
    print(f"== credit: {members:,} members of {REGION}, {MONTH:%Y-%m}, PostgreSQL ({CREDIT_DB})")
    url = server.create(CREDIT_DB)
    engine = migrated(url)
    try:
        started = time.perf_counter()
        load_members(engine, members)
        print(f"load (COPY persons + accounts, VACUUM ANALYZE): {time.perf_counter() - started:.1f} s")

        timer, cpu = StatementTimer(engine).start(), CpuSnapshot.take()
        started = time.perf_counter()
        result = credit_month(engine, book, MONTH, REGION)
        seconds = time.perf_counter() - started
        timer.stop()
        machine = CpuSnapshot.take().since(cpu, seconds)
        per_million = seconds * 1_000_000 / members
        met = per_million < CREDIT_TARGET_S
        scaled = "" if members == 1_000_000 else f", {per_million:.1f} s at this rate"
        print(f"credit_month: {result.members:,} members in {seconds:.1f} s = {result.members / seconds:,.0f} "
              f"members/s (target < {CREDIT_TARGET_S:.0f} s for 1,000,000{scaled}: {'met' if met else 'MISSED'})")
        print(f"  credited {', '.join(f'{k} {v / 100:,.2f}' for k, v in result.credited.items())} yuan; "
              f"contributions to the pool {result.contributions_to_pool / 100:,.2f} yuan")
        print(f"  {machine}")
        timer.print(what=" in all")
        with engine.connect() as conn:
            balances = conn.execute(select(func.sum(accounts.c.balance))).scalar_one()
            rows = conn.execute(select(func.count()).select_from(ledger)).scalar_one()
        consistent = not result.already and result.members == members and balances == sum(result.credited.values())
        print(f"  check: {result.members:,} members credited, sum of balances {balances / 100:,.2f} yuan "
              f"{'=' if consistent else '!='} credited; {rows:,} ledger rows")

        started = time.perf_counter()
        again = credit_month(engine, book, MONTH, REGION)
        print(f"second run: already={again.already} in {(time.perf_counter() - started) * 1000:.1f} ms")
        return met and consistent and again.already
    finally:
        engine.dispose()
        if not keep:
            server.drop(CREDIT_DB)


# --- settle ------------------------------------------------------------------------------------------------

def persons_csv(count: int) -> bytes:
    """`count` members with valid ID numbers and an opening balance of 5,000 yuan; every fourth retired."""
    rows = ["psn_no,psn_name,certno,gend,brdy,psn_type,insuplc_admdvs,crt_cont_base,psn_insu_stas,"
            "psn_insu_date,balc"]
    for i in range(count):
        retired = i % 4 == 0
        born = (date(1950, 1, 1) if retired else date(1975, 1, 1)) + timedelta(days=i // 500)
        gend = "1" if i % 2 else "2"
        rows.append(f"SP{i:08d},bench {i},{make_certno(REGION, born, i, gend)},{gend},{born},"
                    f"{'12' if retired else '11'},{REGION},{0 if retired else 8000},1,2000-01-01,5000.00")
    return ("\n".join(rows) + "\n").encode()


def institutions_csv(count: int) -> bytes:
    rows = ["fixmedins_code,fixmedins_name,hosp_lv,admdvs,designated"]
    rows += [f"H{REGION}{i:05d},bench hospital {i},{1 + i % 3},{REGION},1" for i in range(count)]
    return ("\n".join(rows) + "\n").encode()


def prepare_settle(engine: Engine, book: PolicyBook, persons: int, institutions: int) -> tuple[list[str], list[str]]:
    """The persons and institutions, the pool funded, and every person's first visit of 2024: 1,000 yuan, above
    the annual deductible, so that the pooled fund pays a share of every measured visit (the heavier path: a
    pool slot and two ledger rows) from the first one on, and the rate does not climb as persons reach it."""
    import_csv(engine, "persons", persons_csv(persons), book)
    import_csv(engine, "institutions", institutions_csv(institutions), book)
    deposit(engine, REGION, 10**12, date(2024, 1, 1), memo="benchmark reserve")
    people, hospitals = [f"SP{i:08d}" for i in range(persons)], [f"H{REGION}{i:05d}" for i in range(institutions)]

    def first_visits(part: list[str]) -> None:
        for psn_no in part:
            settle(engine, book, parse_settle({"psn_no": psn_no, "fixmedins_code": hospitals[0], "date": "2024-01-01",
                                               "med_type": "11", "acct_used_flag": "1", "covered": "1000.00"}))

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(first_visits, [people[w::4] for w in range(4)]))
    return people, hospitals


class Worker(threading.Thread):
    """Settles visits of its own persons, on dates spread over 2024, until told to stop (or `limit`). With a
    `profiler`, profiles its own thread from when `measuring` is set."""

    def __init__(self, engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], seed: int,
                 stop: threading.Event, limit: int | None = None, profiler=None,
                 measuring: threading.Event | None = None):
        super().__init__(daemon=True)
        self.engine, self.book, self.people, self.hospitals = engine, book, people, hospitals
        self.rng, self.stop, self.limit, self.done, self.error = random.Random(seed), stop, limit, 0, None
        self.profiler, self.measuring = profiler, measuring

    def request(self, n: int) -> dict:
        return {"psn_no": self.people[n % len(self.people)], "fixmedins_code": self.rng.choice(self.hospitals),
                "date": (date(2024, 1, 1) + timedelta(days=self.rng.randrange(366))).isoformat(),
                "med_type": "11", "acct_used_flag": "1", "covered": "123.45"}

    def run(self) -> None:
        profiling = False
        try:
            while not self.stop.is_set() and self.done != self.limit:
                if self.profiler is not None and not profiling and self.measuring.is_set():
                    self.profiler.start()
                    profiling = True
                settle(self.engine, self.book, parse_settle(self.request(self.done)))
                self.done += 1
        except Exception as exc:  # reported by the main thread
            self.error = exc
            self.stop.set()
        finally:
            if profiling:
                self.profiler.stop()


class Measured(NamedTuple):
    rate: float
    """settlements per second over the measured seconds."""
    windows: list[float]
    """settlements per second in each whole second of them."""
    cpu_ms: float
    """this process's CPU (all threads) per settlement."""
    machine: str


def measure(engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], workers: int,
            warmup: float, seconds: float, seed: int, profile: Path | None = None) -> Measured:
    """`workers` threads settling for disjoint persons: `warmup` seconds, then `seconds` measured. With
    `profile`, the first worker's measured seconds are sampled by pyinstrument, written there as HTML and
    summed up on stdout."""
    stop, measuring = threading.Event(), threading.Event()
    profiler = None
    if profile is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
    threads = [Worker(engine, book, people[w::workers], hospitals, seed + w, stop,
                      profiler=profiler if w == 0 else None, measuring=measuring) for w in range(workers)]
    for t in threads:
        t.start()
    stop.wait(warmup)
    measuring.set()
    counts, cpu, started = [sum(t.done for t in threads)], CpuSnapshot.take(), time.perf_counter()
    for second in range(1, int(seconds) + 1):
        if stop.wait(started + second - time.perf_counter()):
            break
        counts.append(sum(t.done for t in threads))
    stop.wait(max(started + seconds - time.perf_counter(), 0))
    done, elapsed, machine = sum(t.done for t in threads) - counts[0], time.perf_counter() - started, \
        CpuSnapshot.take().since(cpu, time.perf_counter() - started)
    cpu_ms = (time.process_time() - cpu.process) * 1000 / max(done, 1)
    stop.set()
    for t in threads:
        t.join()
    errors = [t.error for t in threads if t.error is not None]
    if errors:
        raise RuntimeError(f"a worker failed: {errors[0]!r}") from errors[0]
    if profiler is not None:
        profile.write_text(profiler.output_html())
        print(profiler.output_text(color=False, short_mode=False)[:8000])
        print(f"  profile of one worker written to {profile}")
    windows = [b - a for a, b in zip(counts, counts[1:], strict=False)]
    return Measured(done / elapsed, windows, cpu_ms, machine)


def _process_worker(url: str, people: list[str], hospitals: list[str], seed: int, warmup: float, seconds: float,
                    counts: multiprocessing.Queue) -> None:
    """One worker process: its own Engine, settling for its own persons; puts how many it settled in `seconds`."""
    engine, book, stop = open_engine(url), load_book(), threading.Event()
    worker = Worker(engine, book, people, hospitals, seed, stop)
    worker.start()
    time.sleep(warmup)
    first = worker.done
    time.sleep(seconds)
    counts.put(worker.done - first)
    stop.set()
    worker.join()
    engine.dispose()


def measure_processes(url: str, people: list[str], hospitals: list[str], processes: int, warmup: float,
                      seconds: float) -> float:
    """Settlements/s of `processes` worker processes (no GIL between them), for disjoint persons."""
    counts = multiprocessing.get_context("spawn").Queue()
    started = [multiprocessing.get_context("spawn").Process(
        target=_process_worker, args=(url, people[w::processes], hospitals, 7000 + w, warmup, seconds, counts))
        for w in range(processes)]
    for p in started:
        p.start()
    total = sum(counts.get() for _ in started)
    for p in started:
        p.join()
    return total / seconds


def breakdown(engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], count: int) -> None:
    """`count` settlements in one thread with every statement timed: where a settlement's time goes."""
    worker = Worker(engine, book, people, hospitals, seed=99, stop=threading.Event(), limit=count)
    timer = StatementTimer(engine).start()
    started = time.perf_counter()
    worker.run()
    elapsed = time.perf_counter() - started
    timer.stop()
    if worker.error is not None:
        raise RuntimeError(f"the breakdown failed: {worker.error!r}") from worker.error
    print(f"  breakdown, one thread, {count} settlements: {elapsed * 1000 / count:.2f} ms each")
    timer.print(per=count, what=" per settlement")


def bench_settle_on(backend: str, url: str, book: PolicyBook, args: argparse.Namespace) -> bool:
    engine = migrated(url, pool_size=8)
    ok = True
    try:
        started = time.perf_counter()
        people, hospitals = prepare_settle(engine, book, args.persons, args.institutions)
        print(f"setup ({args.persons:,} persons via import_csv, {args.institutions} institutions, pool funded, "
              f"each person's first visit settled): {time.perf_counter() - started:.1f} s")
        for n, workers in enumerate(args.workers):
            profile = None if args.profile is None else args.profile.with_suffix(f".{backend}.{workers}.html")
            m = measure(engine, book, people, hospitals, workers, args.warmup, args.seconds, seed=1000 * n,
                        profile=profile)
            target = SETTLE_TARGETS.get((backend, workers))
            verdict = "" if target is None else f" (target >= {target:,.0f}: {'met' if m.rate >= target else 'MISSED'})"
            ok = ok and (target is None or m.rate >= target)
            spread = f", 1-s windows {min(m.windows):,.0f}..{max(m.windows):,.0f}" if m.windows else ""
            print(f"{backend}, {workers} worker{'s' if workers > 1 else ''}: {m.rate:,.0f} settlements/s{verdict}")
            print(f"  {m.cpu_ms:.2f} ms of this process's CPU per settlement{spread}; {m.machine}")
        for processes in args.processes:
            rate = measure_processes(url, people, hospitals, processes, args.warmup, args.seconds)
            print(f"{backend}, {processes} worker processes (one thread each): {rate:,.0f} settlements/s")
        if args.breakdown:
            breakdown(engine, book, people, hospitals, args.breakdown)
        report = audit(engine)
        print(f"  audit clean: {report.clean} ({report.checked_accounts:,} accounts, "
              f"{report.checked_settlements:,} settlements checked)")
        for line in report.differences[:10]:
            print(f"    {line}")
        return ok and report.clean
    finally:
        engine.dispose()


def bench_settle(server: PostgresServer, book: PolicyBook, args: argparse.Namespace) -> bool:
    ok = True
    for backend in args.backends:
        if backend == "postgresql":
            print(f"== settle: PostgreSQL ({SETTLE_DB}), workers {args.workers}, {args.seconds:.0f} s each")
            url = server.create(SETTLE_DB)
            try:
                ok = bench_settle_on(backend, url, book, args) and ok
            finally:
                if not args.keep:
                    server.drop(SETTLE_DB)
        elif backend == "sqlite":
            print(f"== settle: SQLite ({args.sqlite}), workers {args.workers}, {args.seconds:.0f} s each")
            remove_sqlite(args.sqlite)
            try:
                ok = bench_settle_on(backend, f"sqlite:///{args.sqlite}", book, args) and ok
            finally:
                if not args.keep:
                    remove_sqlite(args.sqlite)
        else:
            raise SystemExit(f"--backends: unknown backend {backend!r} (postgresql, sqlite)")
    return ok


# --- main --------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="?", choices=("all", "credit", "settle"), default="all")
    parser.add_argument("--url", default=SERVER_URL,
                        help="a PostgreSQL server to create the gongji_bench_* databases on (default %(default)s)")
    parser.add_argument("--members", type=int, default=1_000_000, help="members to credit (default %(default)s)")
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["postgresql", "sqlite"])
    parser.add_argument("--workers", type=lambda s: [int(w) for w in s.split(",")], default=[1, 4],
                        help="worker thread counts, comma-separated (default 1,4)")
    parser.add_argument("--processes", type=lambda s: [int(w) for w in s.split(",") if w], default=[],
                        help="also measure this many worker processes, comma-separated (e.g. 2,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per configuration")
    parser.add_argument("--persons", type=int, default=4000, help="persons to settle for (default %(default)s)")
    parser.add_argument("--institutions", type=int, default=30)
    parser.add_argument("--sqlite", type=Path, default=SQLITE_PATH, help="SQLite file (default %(default)s)")
    parser.add_argument("--breakdown", type=int, default=300, metavar="N",
                        help="time every statement of N single-thread settlements afterwards (0: skip)")
    parser.add_argument("--profile", type=Path, metavar="HTML",
                        help="profile the measured settle runs with pyinstrument, into HTML.<backend>.<workers>.html")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()

    book = load_book()
    server = PostgresServer(args.url)
    try:
        with server.admin.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
    except OperationalError as exc:
        if args.what != "settle" or "postgresql" in args.backends:
            raise SystemExit(f"--url: cannot reach PostgreSQL at {args.url}: {exc.orig}") from None
        version = "not reachable"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"machine: {os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}, "
          f"PostgreSQL {version}, SQLite {sqlite3.sqlite_version}")
    ok = True
    try:
        if args.what in ("all", "credit"):
            ok = bench_credit(server, book, args.members, args.keep) and ok
        if args.what in ("all", "settle"):
            ok = bench_settle(server, book, args) and ok
    finally:
        server.close()
    print("all targets met" if ok else "some target MISSED (see above)")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
