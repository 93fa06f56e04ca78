"""`gongji clearing --month YYYY-MM`: what each pooling region owes another for the month's cross-region care
(异地就医清算)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.benefits import print_json
from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console
from gongji.cli.ops import AsJson, Db, engine_or_fail
from gongji.money import format_yuan
from gongji.services import clearing


@app.command("clearing")
def clearing_command(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM: the settlements whose setl_date is in it")],
    as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """What each region owes another for a month's cross-region care (异地就医清算).

    Per insured and treating region: the settlements whose setl_date is in the month (reversals count
    negatively), and the nets between regions; the insured region owes the fund and account payments the
    treating region advanced."""
    with bad_input():
        clearing.parse_month(month, "--month")
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    result = clearing.clear_month(engine, book, month)
    if as_json:
        print_json(clearing.in_yuan(result))
        return

    def region(code: str) -> str:
        return f"{code} {result.names[code]}" if code in result.names else code

    out = console()
    flows = Table(title=f"cross-region settlements {month} (yuan)")
    for header in ("insured region", "treating region", "settlements", "reversals", "medfee_sumamt", "fund paid",
                   "account paid", "cash", "owed"):
        flows.add_column(header, justify="left" if header.endswith("region") else "right")
    for f in result.flows:
        flows.add_row(region(f.insured), region(f.treating), str(f.settlements), str(f.reversals),
                      *(format_yuan(v) for v in (f.medfee_sumamt, f.fund_pay, f.acct_pay, f.cash_pay, f.owed)))
    out.print(flows)
    nets = Table(title=f"nets {month}: who pays whom (yuan)")
    for header in ("region A", "region B", "A owes B", "B owes A", "net"):
        nets.add_column(header, justify="left" if header.startswith("region") or header == "net" else "right")
    for n in result.nets:
        said = (f"{n.payer} pays {n.payee} {format_yuan(n.amount)}" if n.payer else "even")
        nets.add_row(region(n.region_a), region(n.region_b), format_yuan(n.a_owes_b), format_yuan(n.b_owes_a), said)
    out.print(nets)
    if not result.flows:
        out.print(f"no cross-region settlements in {month}")
