"""The main job, small, on both databases: it runs through and ends with a clean audit, with pharmacy sales on
recorded prescriptions and chronic disease visits among its settlements, and the monitoring rules run."""

import re

from sqlalchemy import func, select
from typer.testing import CliRunner

from gongji.cli import app
from gongji.demo import generate, visits
from gongji.services.imports import import_csv
from gongji.store.tables import ledger, prescriptions, qualifications, settlements
from tests.factories import csv_bytes


def test_a_small_demo_year_ends_clean(db_url, engine):
    result = CliRunner().invoke(app, ["demo", "--members", "300", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "clean, every balance equals its ledger" in result.stdout
    with engine.connect() as conn:
        reversed_count = conn.execute(select(func.count()).where(settlements.c.reverses.is_not(None))).scalar_one()
        mulaid = conn.execute(select(func.count()).where(ledger.c.kind == "acct_mulaid_pay")).scalar_one()
        stored = conn.execute(select(func.count()).select_from(settlements)).scalar_one()
    planned = len(visits(generate(300, 2024), 2024))
    # a visit the monitoring rules refuse (the shipped knowledge base) is told to the institution and not stored
    refused = re.search(r"(\d+) visits refused by the monitoring rules", result.stdout)
    assert stored == planned - (int(refused.group(1)) if refused else 0) + reversed_count
    assert re.search(r"monitoring 2024: \d+ claims, \d+ findings", result.stdout)
    assert mulaid > 0
    with engine.connect() as conn:
        live = settlements.c.reverses.is_(None) & settlements.c.reversed_by.is_(None)
        chronic = conn.execute(select(func.count(), func.sum(settlements.c.chronic_pay))
                               .where(live, settlements.c.med_type == "14")).one()
        on_rx = conn.execute(select(func.count()).where(live, settlements.c.rxno.is_not(None),
                                                        settlements.c.hifp_pay > 0)).scalar_one()
        used = conn.execute(select(func.count()).where(prescriptions.c.setl_id.is_not(None))).scalar_one()
        qualified = conn.execute(select(func.count()).select_from(qualifications)).scalar_one()
        chronic_paid = conn.execute(select(func.count()).where(ledger.c.kind == "chronic_pay")).scalar_one()
    assert qualified > 0 and chronic[0] > 0 and chronic[1] > 0 and chronic_paid > 0
    assert on_rx > 0 and used >= on_rx
    assert "chronic disease qualifications" in result.stdout and "chronic_benefit_paid" in result.stdout
    assert "on a recorded prescription" in result.stdout


def test_every_pharmacy_sale_on_a_prescription_buys_what_it_prescribes():
    pop = generate(500, 3)
    sales = [v for v in visits(pop, 3) if "prescription" in v]
    assert sales
    drugs = {c["med_list_codg"] for c in pop.catalogue if c["list_type"] == "drug"}
    for sale in sales:
        prescribed = {d["med_list_codg"]: d["drug_cnt"] for d in sale["prescription"]["drugs"]}
        assert {line["med_list_codg"]: line["cnt"] for line in sale["lines"]} == prescribed
        assert set(prescribed) <= drugs and "covered" not in sale
    chronic = [v for v in visits(pop, 3) if v["med_type"] == "14"]
    assert {(v["psn_no"], v["dise_codg"]) for v in chronic} <= set(pop.qualifications)


def test_the_demo_catalogue_imports(engine, book):
    pop = generate(50, 1)
    columns = ["admdvs", "med_list_codg", "med_list_name", "list_type", "chrgitm_lv", "selfpay_prop", "pay_std",
               "pric_uplmt_amt", "vbp_flag"]
    result = import_csv(engine, "catalogue", csv_bytes(columns, pop.catalogue), book)
    assert result.inserted == len(pop.catalogue) == 31  # 30 national rows and Yangzhou's own row of one drug


def test_the_population_is_families_with_a_quarter_retired():
    pop = generate(2000, 7)
    retired = sum(p["psn_type"] == "12" for p in pop.persons)
    assert len(pop.persons) == 2000
    assert 0.15 < retired / 2000 < 0.35
    assert len({p["certno"] for p in pop.persons}) == 2000
    assert pop.relations and pop.authorizations
