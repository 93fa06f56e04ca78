"""The main job, small, on both databases: it runs through and ends with a clean audit."""

from sqlalchemy import func, select
from typer.testing import CliRunner

from gongji.cli import app
from gongji.demo import generate, visits
from gongji.store.tables import ledger, settlements


def test_a_small_demo_year_ends_clean(db_url, engine):
    result = CliRunner().invoke(app, ["demo", "--members", "300", "--db", db_url])
    assert result.exit_code == 0, result.output
    assert "clean, every balance equals its ledger" in result.stdout
    with engine.connect() as conn:
        reversed_count = conn.execute(select(func.count()).where(settlements.c.reverses.is_not(None))).scalar_one()
        mulaid = conn.execute(select(func.count()).where(ledger.c.kind == "acct_mulaid_pay")).scalar_one()
        stored = conn.execute(select(func.count()).select_from(settlements)).scalar_one()
    planned = len(visits(generate(300, 2024), 2024))
    assert stored == planned + reversed_count
    assert mulaid > 0


def test_the_population_is_families_with_a_quarter_retired():
    pop = generate(2000, 7)
    retired = sum(p["psn_type"] == "12" for p in pop.persons)
    assert len(pop.persons) == 2000
    assert 0.15 < retired / 2000 < 0.35
    assert len({p["certno"] for p in pop.persons}) == 2000
    assert pop.relations and pop.authorizations
