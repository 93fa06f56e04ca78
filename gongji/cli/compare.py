"""`gongji compare-me`: one member's year before and after the reform, in yuan and in plain words."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import BaseModel, ValidationError
from rich.table import Table

from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail
from gongji.engine.dates import age_on
from gongji.errors import describe
from gongji.money import MoneyError, format_grouped, yuan_to_fen
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.values import IN_SERVICE, LEVELS, RETIRED
from gongji.services.quote import QuoteVisit
from gongji.simulate import versions
from gongji.simulate.member import (
    CompareError,
    MemberComparison,
    as_dict,
    compare_member,
    plain_words,
    spread_covered,
)

MEMBER_TYPES = {"retired": RETIRED, "12": RETIRED, "in_service": IN_SERVICE, "11": IN_SERVICE}
"""--type: the names or the national platform's psn_type codes."""
MIN_AGE, MAX_AGE = 16, 120
FIRST_YEAR, LAST_YEAR = 1900, 2200
OPTIONS = {"region": "--region", "pension": "--pension", "contribution_base": "--base", "level": "--level",
           "previous_year_credits": "--previous-year-credit", "annual_covered": "--annual-covered"}
"""compare_member's argument -> the option that gives it, for error messages."""


class _Visits(BaseModel):
    visits: list[QuoteVisit]


@app.command("compare-me")
def compare_me(
    region: Annotated[str, typer.Option("--region", help="The member's region code (admdvs), e.g. 321000.",
                                        show_default=False)],
    member_type: Annotated[str, typer.Option("--type", help="retired (12) or in_service (11).", show_default=False)],
    age: Annotated[int | None, typer.Option("--age", help="Full years on 1 January of the year compared; the member "
                                            "is taken as born on 1 January, so the age holds all year.",
                                            show_default=False)] = None,
    birth_date: Annotated[str | None, typer.Option("--birth-date", help="YYYY-MM-DD, instead of --age.",
                                                   show_default=False)] = None,
    pension: Annotated[str | None, typer.Option("--pension", metavar="YUAN", help="A retiree's monthly basic "
                                                "pension (needed when a policy credits a percent of it).",
                                                show_default=False)] = None,
    base: Annotated[str | None, typer.Option("--base", metavar="YUAN", help="An in-service member's monthly "
                                             "contribution base (缴费基数).", show_default=False)] = None,
    expected_visits: Annotated[str | None, typer.Option(
        "--expected-visits", metavar="FILE", help="JSON: a list of visits as `gongji quote` takes them, or a whole "
        "quote request (only its visits are used); - reads stdin.", show_default=False)] = None,
    annual_covered: Annotated[str | None, typer.Option(
        "--annual-covered", metavar="YUAN", help="The year's covered outpatient cost, as 12 visits on the 15th of "
        "each month.", show_default=False)] = None,
    level: Annotated[int | None, typer.Option("--level", help="Institution level 1-3 of the --annual-covered "
                                              "visits (default: 1).", show_default=False)] = None,
    before: Annotated[str | None, typer.Option("--before", metavar="REGION@DATE", help="The policy before: the "
                                               "version in force there on that day (default: the region's newest "
                                               "pre-reform version).", show_default=False)] = None,
    after: Annotated[str | None, typer.Option("--after", metavar="REGION@DATE", help="The policy after (default: "
                                              "the region's version in force on --on).", show_default=False)] = None,
    on: Annotated[str | None, typer.Option("--on", metavar="DATE", help="The day whose version is the default "
                                           "--after (default: today).", show_default=False)] = None,
    year: Annotated[int | None, typer.Option("--year", help="The year compared (default: the year of the "
                                             "--expected-visits when they are all in one year, else of the --after "
                                             "date).", show_default=False)] = None,
    previous_year_credit: Annotated[str | None, typer.Option(
        "--previous-year-credit", metavar="YUAN", help="The member's account credits of the year before, for a "
        "transition rule that credits them / 12 (default: worked out from the region's policies).",
        show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    policy_dir: PolicyDir = None,
) -> None:
    """Your account credit and your outpatient reimbursement before and after the reform, for the same visits:
    do you come out ahead?

    Each side's policy applies to the whole year compared. --pension with --type in_service, or --base with
    --type retired, is refused: it usually means the wrong --type."""
    book = book_or_fail(policy_dir)
    try:
        book.region(region)
    except PolicyNotFound as exc:
        fail(f"--region {region!r}: {exc}")
    kind = MEMBER_TYPES.get(member_type.strip().lower())
    if kind is None:
        fail(f"--type {member_type!r}: give retired (12) or in_service (11)")
    if (expected_visits is None) == (annual_covered is None):
        fail("give one of --expected-visits FILE and --annual-covered YUAN" if expected_visits is None
             else "--expected-visits and --annual-covered: give only one of them")
    if level is not None and expected_visits is not None:
        fail(f"--level {level}: it goes with --annual-covered; the --expected-visits carry their own levels")
    if level is not None and level not in LEVELS:
        fail(f"--level {level}: give 1, 2 or 3")
    pension_fen = _yuan("--pension", pension)
    base_fen = _yuan("--base", base)
    covered_fen = _yuan("--annual-covered", annual_covered)
    previous_fen = _yuan("--previous-year-credit", previous_year_credit)
    if kind == IN_SERVICE and pension is not None:
        fail(f"--pension {pension}: a pension is for --type retired; an in-service member's credit comes from --base")
    if kind == RETIRED and base is not None:
        fail(f"--base {base}: a contribution base is for --type in_service; a retiree's credit comes from --pension")
    if kind == IN_SERVICE and base is None:
        fail("--base: an in-service member's credit is a percent of the monthly contribution base; give it")
    if (age is None) == (birth_date is None):
        fail("give one of --age and --birth-date" if age is None else "--age and --birth-date: give only one of them")
    if on is not None and after is not None:
        fail(f"--on {on}: it sets the date of the default --after; give --on or --after, not both")
    with bad_input():
        if after is not None:
            after_version, after_day = versions.version_at("--after", after, book)
        else:
            after_day = _date("--on", on) if on is not None else date.today()
            after_version = versions.in_force(book, region, after_day, "--on")
        before_version = versions.version_at("--before", before, book)[0] if before is not None \
            else versions.pre_reform(book, region)
    visits = _read_visits(expected_visits) if expected_visits is not None else None
    if year is None:
        years = {v.date.year for v in visits or []}
        year = years.pop() if len(years) == 1 else after_day.year
    elif not FIRST_YEAR <= year <= LAST_YEAR:
        fail(f"--year {year}: give a year from {FIRST_YEAR} to {LAST_YEAR}")
    born = _birth_date(age, birth_date, year)
    try:
        if visits is None:
            visits = spread_covered(covered_fen, year, level or 1)
        comparison = compare_member(book, region, kind, born, base_fen, pension_fen, visits, before_version,
                                    after_version, year, previous_fen)
    except CompareError as exc:
        _fail_compare(exc, expected_visits)
    if as_json:
        print(json.dumps(as_dict(comparison), ensure_ascii=False, indent=2))
        return
    _show(comparison, book)


def _fail_compare(exc: CompareError, visits_file: str | None) -> NoReturn:
    if exc.field in OPTIONS:
        fail(f"{OPTIONS[exc.field]}: {exc.detail}")
    if exc.field.startswith("visits") and visits_file is not None:
        fail(f"--expected-visits {visits_file}: {exc}")
    fail(str(exc))


def _yuan(option: str, text: str | None) -> int | None:
    """An amount option in yuan as fen: not negative, at most two decimals."""
    if text is None:
        return None
    try:
        fen = yuan_to_fen(text)
    except MoneyError as exc:
        fail(f"{option} {text}: {exc}")
    if fen < 0:
        fail(f"{option} {text}: must not be negative")
    return fen


def _date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        fail(f"{option} {text!r}: not a date (YYYY-MM-DD)")


def _read_visits(file: str) -> list[QuoteVisit]:
    """A list of visits, or a quote request whose visits are taken (its region and person are not used)."""
    where = f"--expected-visits {file}"
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{where}: cannot read it: {exc}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{where}: malformed JSON: {exc}")
    if isinstance(data, dict):
        if "visits" not in data:
            fail(f"{where}: visits: missing")
        data = data["visits"]
    elif not isinstance(data, list):
        fail(f"{where}: give a list of visits or a quote request with visits")
    try:
        return _Visits.model_validate({"visits": data}).visits
    except ValidationError as exc:
        fail(f"{where}: {describe(exc)[0]}")


def _birth_date(age: int | None, birth_date: str | None, year: int) -> date:
    """--birth-date, or 1 January of year - age: the member is `age` every day of the year."""
    if age is not None:
        if not MIN_AGE <= age <= MAX_AGE:
            fail(f"--age {age}: give an age from {MIN_AGE} to {MAX_AGE}")
        return date(year - age, 1, 1)
    born = _date("--birth-date", birth_date)
    years = age_on(born, date(year, 1, 1))
    if not MIN_AGE <= years <= MAX_AGE:
        fail(f"--birth-date {birth_date}: the member is {years} on 1 January {year}; give an age from {MIN_AGE} "
             f"to {MAX_AGE}")
    return born


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "") + format_grouped(fen)


def _show(c: MemberComparison, book: PolicyBook) -> None:
    region = book.region(c.region)
    table = Table(title=f"{region.name} {c.region} · {c.member_type} · born {c.birth_date} · {c.year}",
                  caption=f"{c.visits} visits, {format_grouped(c.covered)} yuan covered")
    for header, justify in (("", "left"), ("before", "right"), ("after", "right"), ("change", "right")):
        table.add_column(header, justify=justify)
    rows = [("account credit 个人账户划入", c.before.credit, c.after.credit),
            ("reimbursement 统筹报销", c.before.reimbursement, c.after.reimbursement),
            ("out of pocket 个人负担", c.before.out_of_pocket, c.after.out_of_pocket)]
    for label, was, now in rows:
        table.add_row(label, format_grouped(was), format_grouped(now), _signed(now - was))
    table.add_section()
    table.add_row("net effect 合计", "", "", _signed(c.net_effect))
    out = console()
    out.print(table)
    for name, side in (("before", c.before), ("after", c.after)):
        v = side.version
        out.print(f"{name}: {v.title} ({v.admdvs}, from {v.effective_from}), applied to all of {c.year}",
                  soft_wrap=True, markup=False)
    # the sentences are not cut by Rich, so that piped output keeps each on one line
    for sentence in plain_words(c):
        out.print(sentence, soft_wrap=True, markup=False)

