"""`gongji quote` and `gongji policy check`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.common import PolicyDir, app, book_or_fail, console, fail, policy_app
from gongji.money import format_ratio, format_yuan
from gongji.services.quote import QuotedVisit, QuoteError, amounts, parse_request, quote, totals


@app.command("quote")
def quote_command(
    file: Annotated[str, typer.Argument(help="A JSON file of one person's visits; - reads stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    policy_dir: PolicyDir = None,
) -> None:
    """Settle a year of one person's outpatient visits and show what the pool and the member pay: ordinary
    pooling, a chronic or special disease's benefit (a visit's `disease`), care in another region (`treated_in`,
    `registration`)."""
    if file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"cannot read {file}: {exc}")
    book = book_or_fail(policy_dir)
    try:
        request = parse_request(text)
        quoted = quote(request, book)
    except QuoteError as exc:
        fail(str(exc))
    if as_json:
        visits = [{"date": q.visit.date.isoformat(), "level": q.visit.level, "setting": q.visit.setting,
                   "benefit": q.visit.benefit, "treated_in": q.visit.treated_in, "registration": q.visit.registration,
                   **_shown(q), "ratio_cut": format_ratio(q.ratio_cut), "note": q.note} for q in quoted]
        out = {"visits": visits, "totals": {k: format_yuan(v) for k, v in totals(quoted).items()}}
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return
    region = book.region(request.region)
    table = Table(title=f"{region.name} {request.region} · {request.person.type} · born {request.person.birth_date}")
    columns = [("total", "medfee_sumamt"), ("covered", "inscp_scp_amt"), ("deductible", "act_pay_dedc"),
               ("ratio", "pool_prop"), ("pool", "hifp_pay"), ("over cap", "over_cap_amt"),
               ("inpatient", "inpatient_pay"), ("chronic", "chronic_pay"), ("member", "psn_part_amt")]
    if request.account_balance is not None:
        columns += [("account", "acct_pay"), ("cash", "psn_cash_pay"), ("balance", "balc")]
    away = any(q.visit.treated_in for q in quoted)
    labels = ["date", "level", "setting", "benefit"] + (["treated in"] if away else [])
    for header in labels:
        table.add_column(header, justify="left")
    for header, _name in columns:
        table.add_column(header, justify="right")
    for q in quoted:
        shown = _shown(q)
        where = [f"{q.visit.treated_in or ''} {q.visit.registration or ''}".strip()] if away else []
        table.add_row(q.visit.date.isoformat(), str(q.visit.level), q.visit.setting, q.visit.benefit, *where,
                      *(shown[n] for _h, n in columns))
    summed = {k: format_yuan(v) for k, v in totals(quoted).items()} | {"pool_prop": ""}
    table.add_section()
    table.add_row("total", *[""] * (len(labels) - 1), *(summed[n] for _h, n in columns))
    out = console()
    out.print(table)
    for i, q in enumerate(quoted):
        if q.note:
            out.print(f"visit {i + 1} ({q.visit.date}): {q.note}")
    out.print("policy: " + "; ".join(dict.fromkeys(q.policy_title for q in quoted)))


def _shown(q: QuotedVisit) -> dict[str, str]:
    """A quoted visit's amounts as yuan strings and its ratio as the platform's 0.7000."""
    return {k: format_yuan(v) for k, v in amounts(q).items()} | {"pool_prop": format_ratio(q.adjudication.pool_prop)}


@policy_app.command("check")
def policy_check(policy_dir: PolicyDir = None) -> None:
    """Load every region file (shipped and the bureau's) and list the versions; errors exit with status 2."""
    book = book_or_fail(policy_dir)
    table = Table(title="region policies")
    for header in ("admdvs", "name", "from", "to", "version", "illustrative"):
        table.add_column(header)
    for code, region in sorted(book.regions.items()):
        for version in region.versions:
            table.add_row(code, region.name, str(version.effective_from), str(version.effective_to or ""),
                          version.title, "yes" if _has_illustrative(version) else "")
    console().print(table)


def _has_illustrative(model: object) -> bool:
    if getattr(model, "illustrative", False):
        return True
    fields = getattr(type(model), "model_fields", {})
    children = [getattr(model, name) for name in fields]
    children += [v for c in children if isinstance(c, dict) for v in c.values()]
    children += [v for c in children if isinstance(c, list) for v in c]
    return any(_has_illustrative(c) for c in children if hasattr(type(c), "model_fields"))


