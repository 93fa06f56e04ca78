"""Commands on the database: init, import, credit, interest, settle, reverse, account, audit, family,
premium, person status, stays, pool deposits."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail, progress_bar
from gongji.errors import InputError
from gongji.money import MoneyError, format_ratio, format_yuan, yuan_to_fen
from gongji.services import account_use, crediting, family, imports, settlement, stays
from gongji.services.audit import audit
from gongji.services.views import account_view
from gongji.simulate import population
from gongji.store.db import DatabaseError, database_url, open_engine
from gongji.store.migrate import current_revision, head_revision, upgrade

Db = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: $GONGJI_DB_URL, else "
                                        "sqlite:///var/gongji.sqlite).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
family_app = typer.Typer(help="Family mutual aid (家庭共济) authorizations.", no_args_is_help=True)
person_app = typer.Typer(help="Insured persons.", no_args_is_help=True)
stay_app = typer.Typer(help="Inpatient stays (outpatient costs are not pooled during one).", no_args_is_help=True)
pool_app = typer.Typer(help="Pooled funds.", no_args_is_help=True)
for sub, name in ((family_app, "family"), (person_app, "person"), (stay_app, "stay"), (pool_app, "pool")):
    app.add_typer(sub, name=name)


def engine_or_fail(db: str | None, migrate: bool = False) -> Engine:
    try:
        engine = open_engine(db)
        if migrate:
            return engine
        if current_revision(engine) != head_revision():
            fail(f"the database {database_url(db)} is not initialised or is behind; run `gongji init` first")
        return engine
    except DatabaseError as exc:
        fail(str(exc))
    except OperationalError as exc:
        fail(f"cannot open the database {database_url(db)}: {str(exc.orig).strip().splitlines()[0]}")


def _date(text: str | None, what: str) -> date:
    if text is None:
        return date.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{what}: {text!r} is not a date like 2024-03-01")


def _yuan(text: str, what: str) -> int:
    try:
        return yuan_to_fen(text)
    except MoneyError as exc:
        fail(f"{what}: {exc}")


def _read(file: str) -> str:
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}")


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command("init")
def init_command(db: Db = None) -> None:
    """Create or migrate the schema (Alembic) of the database."""
    engine = engine_or_fail(db, migrate=True)
    try:
        before, after = upgrade(engine)
    except OperationalError as exc:
        fail(f"cannot migrate {database_url(db)}: {str(exc.orig).strip().splitlines()[0]}")
    state = "already at" if before == after else f"migrated from {before or 'empty'} to"
    print(f"{database_url(db)}: {state} revision {after}")


@app.command("import")
def import_command(
    kind: Annotated[str, typer.Argument(help="persons, relations, institutions, catalogue, or population")],
    file: Annotated[Path, typer.Argument(help="A CSV file, UTF-8 with or without BOM; for population the members "
                                        "extract (Parquet or CSV).")],
    visits: Annotated[Path | None, typer.Option("--visits", help="population: the visits extract.",
                                                show_default=False)] = None,
    region: Annotated[str | None, typer.Option("--region", help="population: admdvs.", show_default=False)] = None,
    year: Annotated[int | None, typer.Option("--year", help="population: the year of the visits.",
                                             show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", help="population: a new folder to write it to.",
                                             show_default=False)] = None,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Import a CSV file whole: any bad row refuses the file, naming line, field and reason. `import population
    MEMBERS --visits VISITS --region R --year Y --out DIR` checks a bureau's extracts in the columns `gongji synth`
    writes and writes them as a population folder for `gongji simulate`."""
    if kind == "population":
        missing = [o for o, v in (("--visits", visits), ("--region", region), ("--year", year), ("--out", out))
                   if v is None]
        if missing:
            fail(f"import population needs {', '.join(missing)}")
        with bad_input():
            pop = population.import_extract(file, visits, region, year, out)
        print(f"{out}: {pop.members.height:,} members, {pop.visits.height:,} visits in {year} ({region})")
        return
    engine = engine_or_fail(db)
    with bad_input():
        result = imports.import_file(engine, kind, file, book_or_fail(policy_dir))
    print(f"{file.name}: {result.rows} {kind} rows: {result.inserted} added, {result.updated} updated, "
          f"{result.unchanged} unchanged")
    for note in result.notes:
        print(f"note: {note}")


@app.command("credit")
def credit_command(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    region: Annotated[str | None, typer.Option("--region", help="admdvs; default: every region")] = None,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Credit a month's contributions and account credits (个人账户划入), once per region and month."""
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    with bad_input():
        first = crediting.parse_month(month)
    regions = [region] if region else crediting.regions_with_members(engine)
    table = Table(title=f"account credits {month}")
    for header in ("region", "members", "individual", "employer", "from pool", "contributions to pool", "policy"):
        table.add_column(header, justify="right" if header not in ("region", "policy") else "left")
    with progress_bar() as progress:
        for admdvs in regions:
            task = progress.add_task(f"{admdvs} {month}", total=crediting.count_members(engine, admdvs, first))
            try:
                result = crediting.credit_month(engine, book, first, admdvs,
                                                advance=lambda n, t=task: progress.advance(t, n))
            except InputError as exc:
                if region:
                    fail(str(exc))
                # Crediting every region: one without a policy that month is reported, the others go on.
                table.add_row(admdvs, "not credited", "", "", "", "", str(exc))
                continue
            if result.already:
                progress.update(task, completed=progress.tasks[task].total)
                table.add_row(admdvs, "already credited: nothing done", "", "", "", "", result.policy)
                continue
            c = result.credited
            table.add_row(admdvs, str(result.members), *(format_yuan(c.get(k, 0)) for k in
                          (crediting.INDIVIDUAL, crediting.EMPLOYER, crediting.POOL)),
                          format_yuan(result.contributions_to_pool), result.policy)
    console().print(table)


@app.command("interest")
def interest_command(
    year: Annotated[int, typer.Option("--year")],
    region: Annotated[str | None, typer.Option("--region")] = None,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Credit the year's account interest, on the day and at the rate the policy sets; once per year."""
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    for admdvs in [region] if region else crediting.regions_with_members(engine):
        with bad_input():
            run = account_use.credit_interest(engine, book, year, admdvs, today=date.today())
        if run.already:
            print(f"{admdvs}: interest for {year} was already credited on {run.on}: nothing done")
        else:
            print(f"{admdvs}: {run.accounts} accounts credited {format_yuan(run.amount)} yuan of interest "
                  f"at {format_ratio(run.rate)} on their balances of {run.on}")


def _shown(info: dict) -> dict:
    return {k: (format_yuan(v) if k in settlement.MONEY_FIELDS and v is not None else
                format_ratio(v) if k == "pool_prop_selfpay" else v) for k, v in info.items()}


def _print_settlement(s: settlement.Settlement, as_json: bool, title: str) -> None:
    info = _shown(settlement.setlinfo(s))
    if as_json:
        _print_json({"setlinfo": info, "replayed": s.replayed,
                     "lines": [{k: v for k, v in line.items() if k not in ("id", "setl_id")} for line in s.lines]})
        return
    table = Table(title=title + (" (this key was settled before: nothing moved)" if s.replayed else ""))
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in info.items():
        if value is not None:
            table.add_row(key, str(value))
    console().print(table)


@app.command("settle")
def settle_command(
    file: Annotated[str, typer.Argument(help="A JSON visit: psn_no, fixmedins_code, date, med_type (11, 14, 41), "
                                        "acct_used_flag, covered or lines (med_list_codg, pric, cnt, optional rxno "
                                        "and dise_codg), optional key, rxno (41: the prescription) and dise_codg "
                                        "(14: the disease).")],
    pre: Annotated[bool, typer.Option("--pre", help="Pre-settle: compute, store nothing.")] = False,
    as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Settle one outpatient visit (or pre-settle it with --pre)."""
    text = _read(file)
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{file}: malformed JSON: {exc}")
    with bad_input():
        request = settlement.parse_settle(data)
        done = (settlement.pre_settle if pre else settlement.settle)(engine, book, request)
    _print_settlement(done, as_json, "pre-settlement (nothing stored)" if pre else "settlement")


@app.command("reverse")
def reverse_command(
    setl_id: str,
    institution: Annotated[str, typer.Option("--institution", help="The fixmedins_code that settled it.")],
    key: Annotated[str | None, typer.Option("--key", help="Idempotency key: the same key again returns the "
                                            "stored reversal.")] = None,
    as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Reverse one settlement (撤销), once, for the institution that made it."""
    engine = engine_or_fail(db)
    with bad_input():
        done = settlement.reverse(engine, book_or_fail(policy_dir), setl_id, institution, key)
    _print_settlement(done, as_json, f"reversal of {setl_id}")


@app.command("account")
def account_command(psn_no: str, as_json: AsJson = False, db: Db = None,
                    limit: Annotated[int, typer.Option(help="movements shown")] = 20) -> None:
    """A personal account: balance (balc), recent movements, who may use it."""
    engine = engine_or_fail(db)
    with bad_input():
        view = account_view(engine, psn_no, limit)
    if as_json:
        _print_json(view)
        return
    out = console()
    out.print(f"{view['psn_no']} {view['psn_name']} · balc {view['balc']} yuan"
              + (f" · closed on {view['closed_on']}" if view["closed_on"] else ""))
    table = Table(title="recent movements")
    for header in ("date", "kind", "amount", "for", "setl_id", "memo"):
        table.add_column(header, justify="right" if header == "amount" else "left")
    for m in view["movements"]:
        table.add_row(m["occurred_on"], m["kind"], m["amount"], m["psn_no"] or "", m["setl_id"] or "", m["memo"] or "")
    out.print(table)
    out.print("may use this account: " + (", ".join(f"{a['psn_no']} ({a['relation']}, since {a['granted_at']})"
                                                      for a in view["authorized"]) or "the owner only"))
    out.print("may also use: " + (", ".join(f"{a['psn_no']}'s account ({a['relation']})"
                                            for a in view["may_use"]) or "no other account"))


@app.command("audit")
def audit_command(as_json: AsJson = False, db: Db = None) -> None:
    """Recompute every balance from the ledger; exit status 1 when anything is out of balance."""
    report = audit(engine_or_fail(db))
    if as_json:
        _print_json({"clean": report.clean, "differences": report.differences,
                     "totals": {r: {k: format_yuan(v) for k, v in t.items()} for r, t in report.totals.items()}})
    else:
        names = sorted({k for t in report.totals.values() for k in t})
        table = Table(title=f"audit: {report.checked_accounts} accounts, {report.checked_settlements} settlements")
        table.add_column("yuan")
        for region in sorted(report.totals):
            table.add_column(region, justify="right")
        for name in names:
            table.add_row(name, *(format_yuan(report.totals[r].get(name, 0)) for r in sorted(report.totals)))
        out = console()
        out.print(table)
        for line in report.differences:
            out.print(f"[red]DIFFERENCE[/red] {line}")
        out.print("clean: every balance equals its ledger" if report.clean else
                  f"{len(report.differences)} differences")
    if not report.clean:
        raise typer.Exit(1)


@family_app.command("authorize")
def family_authorize(owner: str, relative: str, db: Db = None) -> None:
    """Let a spouse, parent or child (RELATIVE) use OWNER's account."""
    with bad_input():
        row = family.authorize(engine_or_fail(db), owner, relative)
    print(f"{relative} ({row['relation']} of {owner}) may now use {owner}'s account")


@family_app.command("revoke")
def family_revoke(owner: str, relative: str, db: Db = None) -> None:
    """Withdraw RELATIVE's use of OWNER's account."""
    with bad_input():
        family.revoke(engine_or_fail(db), owner, relative)
    print(f"{relative} may no longer use {owner}'s account")


@app.command("premium")
def premium_command(
    psn_no: str,
    kind: Annotated[str, typer.Option("--kind", help="resident (a relative's 城乡居民医保), supplementary (own), "
                                      "commercial (own or a relative's 惠民保)")],
    amount: Annotated[str, typer.Option("--amount", help="yuan")],
    relative: Annotated[str | None, typer.Option("--relative", help="the relative's ID number")] = None,
    payee: Annotated[str, typer.Option("--payee", help="who receives the premium")] = "",
    on: Annotated[str | None, typer.Option("--date")] = None,
    db: Db = None,
) -> None:
    """Pay an insurance premium from the personal account."""
    engine = engine_or_fail(db)
    with bad_input():
        after = account_use.pay_premium(engine, psn_no, kind, _yuan(amount, "--amount"), _date(on, "--date"),
                                        relative, payee)
    print(f"paid {amount} yuan ({kind}) from {psn_no}'s account; balc {format_yuan(after)}")


@person_app.command("status")
def person_status(
    psn_no: str,
    status: Annotated[str, typer.Option("--status", help="1 normal, 2 paused, 4 terminated")],
    reason: Annotated[str, typer.Option("--reason", help="e.g. death")] = "",
    heir: Annotated[str, typer.Option("--heir", help="on death: who receives the balance")] = "",
    on: Annotated[str | None, typer.Option("--date")] = None,
    db: Db = None,
) -> None:
    """Change a person's insured status; on death the balance goes to the heir and the account closes."""
    with bad_input():
        paid = account_use.change_status(engine_or_fail(db), psn_no, status, _date(on, "--date"), reason, heir)
    print(f"{psn_no}: psn_insu_stas {status}" + (f"; {format_yuan(paid)} yuan paid to {heir}, account closed"
                                                if reason == account_use.DEATH else ""))


@stay_app.command("admit")
def stay_admit(psn_no: str, institution: Annotated[str, typer.Option("--institution")],
               on: Annotated[str | None, typer.Option("--date")] = None, db: Db = None) -> None:
    with bad_input():
        stays.admit(engine_or_fail(db), psn_no, institution, _date(on, "--date"))
    print(f"{psn_no} admitted to {institution}")


@stay_app.command("discharge")
def stay_discharge(psn_no: str, on: Annotated[str | None, typer.Option("--date")] = None, db: Db = None) -> None:
    with bad_input():
        stays.discharge(engine_or_fail(db), psn_no, _date(on, "--date"))
    print(f"{psn_no} discharged")


@pool_app.command("deposit")
def pool_deposit(admdvs: str, amount: str, on: Annotated[str | None, typer.Option("--date")] = None,
                 memo: Annotated[str, typer.Option("--memo")] = "", db: Db = None) -> None:
    """Put money into a region's pool from outside gongji (reserve carried over, subsidy)."""
    with bad_input():
        crediting.deposit(engine_or_fail(db), admdvs, _yuan(amount, "amount"), _date(on, "--date"), memo)
    print(f"{amount} yuan deposited into the pool of {admdvs}")


