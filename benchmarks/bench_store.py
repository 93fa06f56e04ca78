"""Speed of the store: crediting a region's month, and settling visits through the settlement service.

* credit: --members members of Yangzhou (321000) bulk-loaded with COPY into a fresh PostgreSQL database
  (a quarter retired), then `credit_month` for 2024-01 timed, then a second run of the same month, which must
  return already=True. Target: 1,000,000 members in under 60 s. The load is timed too, but is not the figure.
* settle: `settle(engine, book, parse_settle(...))` in-process from worker threads sharing one Engine
  (pool_size=8), each worker settling for its own persons on dates spread over 2024; a warm-up, then
  --seconds of measurement per worker count. Targets: >= 1,500 settlements/s on PostgreSQL with 4 workers,
  >= 500/s on SQLite (a file; SQLite serializes writers). The audit must be clean afterwards.

Every run creates its databases (PostgreSQL: gongji_bench_credit, gongji_bench_settle on the server of --url;
SQLite: --sqlite) and drops them at the end unless --keep.

    .venv/bin/python benchmarks/bench_store.py                      # both, full size
    .venv/bin/python benchmarks/bench_store.py credit --members 1000000
    .venv/bin/python benchmarks/bench_store.py settle --backends postgresql,sqlite --workers 1,4 --seconds 10
    .venv/bin/python benchmarks/bench_store.py settle --backends postgresql --workers 4 --profile /tmp/settle.html
"""

from __future__ import annotations

import argparse
import io
import random
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url

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
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=None)

    def url_of(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

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
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def migrated(url: str, pool_size: int = 5) -> Engine:
    engine = open_engine(url, pool_size=pool_size)
    upgrade(engine)
    return engine


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

        started = time.perf_counter()
        result = credit_month(engine, book, MONTH, REGION)
        seconds = time.perf_counter() - started
        ok = not result.already and result.members == members and seconds < CREDIT_TARGET_S
        print(f"credit_month: {result.members:,} members in {seconds:.1f} s = {result.members / seconds:,.0f} "
              f"members/s (target < {CREDIT_TARGET_S:.0f} s for 1,000,000: "
              f"{'met' if seconds * 1_000_000 / members < CREDIT_TARGET_S else 'MISSED'})")
        print(f"  credited {', '.join(f'{k} {v / 100:,.2f}' for k, v in result.credited.items())} yuan; "
              f"contributions to the pool {result.contributions_to_pool / 100:,.2f} yuan")
        with engine.connect() as conn:
            balances = conn.execute(select(func.sum(accounts.c.balance))).scalar_one()
            rows = conn.execute(select(func.count()).select_from(ledger)).scalar_one()
        consistent = balances == sum(result.credited.values())
        ok = ok and consistent
        print(f"  check: sum of balances {balances / 100:,.2f} yuan "
              f"{'=' if consistent else '!='} credited; {rows:,} ledger rows")

        started = time.perf_counter()
        again = credit_month(engine, book, MONTH, REGION)
        print(f"second run: already={again.already} in {(time.perf_counter() - started) * 1000:.1f} ms")
        return ok and again.already
    finally:
        engine.dispose()
        if not keep:
            server.drop(CREDIT_DB)


# --- settle ------------------------------------------------------------------------------------------------

def persons_csv(count: int) -> bytes:
    """`count` members with valid ID numbers and an opening balance; every fourth retired."""
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
    import_csv(engine, "persons", persons_csv(persons), book)
    import_csv(engine, "institutions", institutions_csv(institutions), book)
    deposit(engine, REGION, 10**12, date(2024, 1, 1), memo="benchmark reserve")
    return [f"SP{i:08d}" for i in range(persons)], [f"H{REGION}{i:05d}" for i in range(institutions)]


class Worker(threading.Thread):
    """Settles visits of its own persons until told to stop; `done` counts the settlements."""

    def __init__(self, engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], seed: int,
                 stop: threading.Event):
        super().__init__(daemon=True)
        self.engine, self.book, self.people, self.hospitals = engine, book, people, hospitals
        self.rng, self.stop, self.done, self.error = random.Random(seed), stop, 0, None

    def request(self, n: int) -> dict:
        return {"psn_no": self.people[n % len(self.people)], "fixmedins_code": self.rng.choice(self.hospitals),
                "date": (date(2024, 1, 1) + timedelta(days=self.rng.randrange(366))).isoformat(),
                "med_type": "11", "acct_used_flag": "1", "covered": "123.45"}

    def run(self) -> None:
        try:
            n = 0
            while not self.stop.is_set():
                settle(self.engine, self.book, parse_settle(self.request(n)))
                n += 1
                self.done = n
        except Exception as exc:  # reported by the main thread
            self.error = exc
            self.stop.set()


def measure(engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], workers: int,
            warmup: float, seconds: float, seed: int) -> float:
    """Settlements per second over `seconds`, after `warmup`, from `workers` threads on disjoint persons."""
    stop = threading.Event()
    threads = [Worker(engine, book, people[w::workers], hospitals, seed + w, stop) for w in range(workers)]
    for t in threads:
        t.start()
    stop.wait(warmup)
    before, started = sum(t.done for t in threads), time.perf_counter()
    stop.wait(seconds)
    after, elapsed = sum(t.done for t in threads), time.perf_counter() - started
    stop.set()
    for t in threads:
        t.join()
    errors = [t.error for t in threads if t.error is not None]
    if errors:
        raise RuntimeError(f"a worker failed: {errors[0]!r}") from errors[0]
    return (after - before) / elapsed


def count_statements(engine: Engine) -> Callable[[], int]:
    """A counter of the statements the engine executes from now on."""
    counted = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args):
        counted[0] += 1

    return lambda: counted[0]


def bench_settle_on(backend: str, url: str, book: PolicyBook, args: argparse.Namespace) -> bool:
    engine = migrated(url, pool_size=8)
    ok = True
    try:
        started = time.perf_counter()
        people, hospitals = prepare_settle(engine, book, args.persons, args.institutions)
        print(f"setup ({args.persons:,} persons via import_csv, {args.institutions} institutions, pool funded): "
              f"{time.perf_counter() - started:.1f} s")
        statements = count_statements(engine)
        for n, workers in enumerate(args.workers):
            if args.profile:
                rate = profiled(engine, book, people, hospitals, workers, args, seed=1000 * n)
            else:
                rate = measure(engine, book, people, hospitals, workers, args.warmup, args.seconds, seed=1000 * n)
            target = SETTLE_TARGETS.get((backend, workers))
            verdict = "" if target is None else f" (target >= {target:,.0f}: {'met' if rate >= target else 'MISSED'})"
            ok = ok and (target is None or rate >= target)
            print(f"{backend}, {workers} worker{'s' if workers > 1 else ''}: {rate:,.0f} settlements/s{verdict}")
        with engine.connect() as conn:
            settled = conn.execute(text("SELECT count(*) FROM settlements")).scalar_one()
        print(f"  {settled:,} settlements stored, {statements() / max(settled, 1):.1f} statements per settlement "
              "(including the warm-ups)")
        report = audit(engine)
        print(f"  audit clean: {report.clean} ({report.checked_accounts:,} accounts, "
              f"{report.checked_settlements:,} settlements checked)")
        for line in report.differences[:10]:
            print(f"    {line}")
        return ok and report.clean
    finally:
        engine.dispose()


def profiled(engine: Engine, book: PolicyBook, people: list[str], hospitals: list[str], workers: int,
             args: argparse.Namespace, seed: int) -> float:
    """`measure` under pyinstrument (all threads' time shows under the main thread's wait, so profile one
    worker in the main thread while the others run)."""
    from pyinstrument import Profiler

    stop = threading.Event()
    others = [Worker(engine, book, people[w::workers], hospitals, seed + w, stop) for w in range(1, workers)]
    mine = Worker(engine, book, people[0::workers], hospitals, seed, stop)
    for t in others:
        t.start()
    timer = threading.Timer(args.warmup + args.seconds, stop.set)
    timer.start()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    started = time.perf_counter()
    mine.run()
    elapsed = time.perf_counter() - started
    profiler.stop()
    for t in others:
        t.join()
    total = mine.done + sum(t.done for t in others)
    Path(args.profile).write_text(profiler.output_html())
    print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)[:6000])
    print(f"profile written to {args.profile} (rate over the whole run, warm-up included)")
    return total / elapsed


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
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per configuration")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per configuration")
    parser.add_argument("--persons", type=int, default=4000, help="persons to settle for (default %(default)s)")
    parser.add_argument("--institutions", type=int, default=30)
    parser.add_argument("--sqlite", type=Path, default=SQLITE_PATH, help="SQLite file (default %(default)s)")
    parser.add_argument("--profile", metavar="HTML", help="profile the settle runs with pyinstrument")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args()

    book = load_book()
    server = PostgresServer(args.url)
    ok = True
    try:
        if args.what in ("all", "credit"):
            ok = bench_credit(server, book, args.members, args.keep) and ok
        if args.what in ("all", "settle"):
            ok = bench_settle(server, book, args) and ok
    finally:
        server.close()
    print("all targets met" if ok else "some target MISSED (see above)")


if __name__ == "__main__":
    main()
