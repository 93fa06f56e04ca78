"""The per-region cases in tests/cases/<region>.yaml: a person, a year of visits or a month's credit, and the
amounts the bureau would publish, each with the arithmetic behind it. One parametrized test runs them all."""

from datetime import date
from pathlib import Path

import pytest
import yaml

from gongji.engine.credit import CreditedMember, monthly_credit
from gongji.money import format_ratio, format_yuan, yuan_to_fen
from gongji.services.quote import QuoteRequest, amounts, quote, totals

CASES = Path(__file__).parents[1] / "cases"


def _cases(kind):
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")).get(kind, []):
            yield pytest.param(path.stem, case, id=f"{path.stem}: {case['name']}")


@pytest.mark.parametrize(("region", "case"), list(_cases("quotes")))
def test_quote_case(book, region, case):
    assert case["why"]
    request = QuoteRequest.model_validate(
        {"region": case.get("region", region), "person": case["person"], "visits": case["visits"]})
    quoted = quote(request, book)
    assert len(case["expect"]) == len(quoted)
    for i, (expected, q) in enumerate(zip(case["expect"], quoted, strict=True)):
        got = {k: format_yuan(v) for k, v in amounts(q).items()} | {"pool_prop": format_ratio(q.adjudication.pool_prop)}
        assert {k: got[k] for k in expected} == expected, f"visit {i}"
    if "expect_totals" in case:
        got = {k: format_yuan(v) for k, v in totals(quoted).items()}
        assert {k: got[k] for k in case["expect_totals"]} == case["expect_totals"]


@pytest.mark.parametrize(("region", "case"), list(_cases("credits")))
def test_credit_case(book, region, case):
    assert case["why"]
    m = case["member"]
    member = CreditedMember(
        member_type=m["type"], birth_date=m["birth_date"],
        contribution_base=yuan_to_fen(m.get("contribution_base", 0)), pension=yuan_to_fen(m.get("pension", 0)),
        previous_year_credits=yuan_to_fen(m.get("previous_year_credits", 0)))
    month: date = case["month"]
    credit = monthly_credit(book.policy_for(region, month), member, month)
    assert {part.source: format_yuan(part.amount) for part in credit.parts} == case["expect"]
