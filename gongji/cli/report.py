"""`gongji report ...`: reports over the live database. `report kpi --year YYYY`: the year's figures the
national bureau publishes about outpatient mutual aid (see `gongji.services.kpi`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongji.cli import simulate
from gongji.cli.benefits import print_json
from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail, progress_bar, step_bar
from gongji.cli.ops import AsJson, Db, engine_or_fail
from gongji.money import format_grouped, format_percent
from gongji.services import kpi
from gongji.simulate import report, tune

report_app = typer.Typer(help="Reports.", no_args_is_help=True)
app.add_typer(report_app, name="report")

Region = Annotated[str | None, typer.Option("--region", help="admdvs: members insured there (its cities and "
                                            "counties included); default: every region", show_default=False)]


def _count(n: int) -> str:
    return f"{n:,}"


def kpi_rows(k: kpi.YearKpi) -> list[list[tuple[str, str]]]:
    """The table's sections, each a list of (label, value)."""
    share = k.relief_share
    return [
        [("settlements 结算人次", _count(k.settlements)),
         ("  reversed, left out 已撤销", _count(k.reversed)),
         ("outpatient pooling settlements 门诊统筹结算人次", _count(k.pooling_settlements)),
         (f"  per day ({k.days} days) 日均结算人次", f"{k.pooling_per_day:,}"),
         ("medical cost 医疗费用总额 (yuan)", format_grouped(k.medfee_sumamt))],
        [("fund paid 统筹基金支付 (yuan)", format_grouped(k.fund_paid)),
         ("  ordinary pooling 普通门诊统筹 hifp_pay", format_grouped(k.hifp_pay)),
         ("  inpatient benefit above the cap 住院待遇 inpatient_pay", format_grouped(k.inpatient_pay)),
         ("  chronic and special diseases 门诊慢特病 chronic_pay", format_grouped(k.chronic_pay)),
         ("burden relief 减轻负担 (yuan)", format_grouped(k.fund_paid)),
         ("  share of the cost 占医疗费用", format_percent(share) if share is not None else "-")],
        [("pharmacy settlements 定点零售药店结算人次", _count(k.pharmacy_settlements)),
         ("  pooling ones 门诊统筹", _count(k.pharmacy_pooling_settlements)),
         ("  fund paid at pharmacies 药店统筹基金支付 (yuan)", format_grouped(k.pharmacy_fund_paid)),
         ("  reimbursed per pharmacy visit 次均报销 (yuan)", format_grouped(k.pharmacy_average))],
        [("account income 个人账户计入 (yuan)", format_grouped(k.account_income)),
         ("  own contribution 个人缴费划入", format_grouped(k.credits_individual)),
         ("  employer contribution 单位缴费划入", format_grouped(k.credits_employer)),
         ("  pooled fund, retirees 统筹基金划入", format_grouped(k.credits_pool)),
         ("  interest 利息", format_grouped(k.interest)),
         ("account spending 个人账户支出 (yuan)", format_grouped(k.account_spending)),
         ("  own care 本人就医购药", format_grouped(k.account_paid_own)),
         ("  relatives' care 家庭共济", format_grouped(k.account_paid_family)),
         ("  premiums 缴纳保费", format_grouped(k.premiums_paid)),
         ("settlements paid by a relative's account 家庭共济人次", _count(k.family_aid_settlements))],
        [("members 参保人数", _count(k.members)),
         ("  in service 在职职工", _count(k.members_in_service)),
         ("  retired 退休人员", _count(k.members_retired)),
         ("settlements of members in service 在职结算人次", _count(k.settlements_in_service)),
         ("  fund paid for members in service (yuan)", format_grouped(k.fund_paid_in_service)),
         ("settlements of retirees 退休结算人次", _count(k.settlements_retired)),
         ("  fund paid for retirees (yuan)", format_grouped(k.fund_paid_retired))],
    ]


@report_app.command("kpi")
def kpi_command(
    year: Annotated[str, typer.Option("--year", help="YYYY: settlements dated in it, the ledger's movements of it",
                                      show_default=False)],
    region: Region = None, as_json: AsJson = False, db: Db = None,
) -> None:
    """The year's figures the national bureau publishes: settlements, fund paid, burden relief (减轻负担),
    pharmacy settlements and the average reimbursed per pharmacy visit, account income and spending (家庭共济).

    Reversed settlements count out; a settlement belongs to the year of its setl_date."""
    with bad_input():
        wanted = kpi.parse_year(year, "--year")
        if region is not None:
            kpi.parse_admdvs(region, "--region")
    engine = engine_or_fail(db)
    if as_json:
        print_json(kpi.in_yuan(kpi.year_kpi(engine, wanted, region)))
        return
    with progress_bar() as progress:
        task = progress.add_task(f"figures of {wanted}", total=kpi.STEPS)
        figures = kpi.year_kpi(engine, wanted, region, advance=lambda: progress.advance(task))
    table = Table(title=f"outpatient mutual aid {wanted}" + (f", members insured in {region}" if region else ""))
    table.add_column("figure")
    table.add_column("value", justify="right")
    for section in kpi_rows(figures):
        for label, value in section:
            table.add_row(label, value)
        table.add_section()
    console().print(table)


@report_app.command("simulate")
def simulate_report_command(
    folder: simulate.Population, a: simulate.SideA, b: simulate.SideB,
    html: Annotated[Path, typer.Option("--html", help="The page to write (one self-contained file).")],
    policy_file: simulate.PolicyFile = None,
    budget: Annotated[str | None, typer.Option("--budget", help="Also tune B's deductible, ratios and cap to this "
                                               "budget (yuan a year, or `transfer`) and chart the frontier.",
                                               show_default=False)] = None,
    sample: simulate.Sample = 200_000,
    engine: simulate.Engine = "polars", master: simulate.Master = None, policy_dir: PolicyDir = None,
) -> None:
    """A what-if run as an HTML page with charts (Apache ECharts, embedded): fund flows of A and B, the
    distribution of members' net effects, and with --budget the tuning frontier."""
    amount = simulate.budget_fen(budget) if budget not in (None, "transfer") else None
    if sample < 0:
        fail(f"--sample: {sample} must be 0 or more")
    result = simulate.run_simulation(folder, a, b, policy_file, policy_dir, engine, master)
    tuning = None
    if budget is not None:
        book = book_or_fail(policy_dir)
        with bad_input(), step_bar("tune", 1 + len(tune.DEDUCTIBLE_FACTORS) * len(tune.CAP_FACTORS)) as advance:
            tuning = tune.tune(result.population, result.a.version, result.b.version, book, amount,
                               sample=sample or None, advance=advance)
    try:
        html.write_text(report.render(result, tuning), encoding="utf-8")
    except OSError as exc:
        fail(f"--html {html}: cannot write ({exc})")
    print(f"{html}: {html.stat().st_size:,} bytes")
