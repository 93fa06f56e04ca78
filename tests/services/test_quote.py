"""`quote` of the rest of the benefit rules, amounts worked by hand from the region files: Yunnan's over-cap rule,
chronic and special diseases (门诊慢特病) beside ordinary pooling, and cross-region care (异地就医).

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): annual deductible 600.00 in service, ratios
70/65/60 % in service at levels 1/2/3; disease M03900 (高血压) no deductible, 80/75/70 % in service, limit 2000.00;
M00500 deductible 300.00 in service, 85 %; cross-region: registered resident/referral 0, temporary 10 points less,
unregistered 20 points less.
Yunnan 530000 from 2024-11-01 (530000.yaml; Lincang 530900 falls back to it): deductible 20/40/60 per visit at
levels 1/2/3, 60/55/50 % in service, cap 6000.00 a year; above it the inpatient benefit at 90/85/80 % in service
(no inpatient deductible); cross-region: registered referral 0, unregistered no pooled fund.
"""

from __future__ import annotations

import pytest

from gongji.services.quote import ORDINARY, QuoteError, QuoteRequest, amounts, quote, totals
from tests.factories import fen

IN_SERVICE = {"type": "in_service", "birth_date": "1980-05-01"}


def run(book, region: str, visits: list[dict], **extra) -> list[dict[str, int]]:
    request = QuoteRequest.model_validate({"region": region, "person": IN_SERVICE, "visits": visits, **extra})
    return [amounts(q) for q in quote(request, book)]


def picked(result: dict[str, int], *names: str) -> tuple[int, ...]:
    return tuple(result[n] for n in names)


@pytest.mark.parametrize("region", ["530000", "530900"])
def test_a_yunnan_member_over_the_6000_cap_gets_the_inpatient_ratio(book, region):
    first, second = run(book, region, [{"date": "2025-03-01", "level": 1, "covered": "12000.00"},
                                       {"date": "2025-04-01", "level": 3, "covered": "1000.00"}])
    # 12000.00 at level 1: 20.00 deductible, (12000 - 20) x 60 % = 7188.00 > the cap 6000.00, which covers
    # 6000 / 0.6 = 10000.00; the other 11980 - 10000 = 1980.00 at the inpatient ratio 90 % = 1782.00;
    # the member: 12000 - 6000 - 1782 = 4218.00
    assert picked(first, "act_pay_dedc", "hifp_pay", "over_cap_amt", "inpatient_pay", "psn_part_amt") == (
        fen("20.00"), fen("6000.00"), fen("1980.00"), fen("1782.00"), fen("4218.00"))
    # 1000.00 at level 3: 60.00 deductible, the cap is used up: 940.00 at the level-3 inpatient ratio 80 % = 752.00
    assert picked(second, "act_pay_dedc", "hifp_pay", "over_cap_amt", "inpatient_pay", "psn_part_amt") == (
        fen("60.00"), 0, fen("940.00"), fen("752.00"), fen("248.00"))


def test_disease_and_ordinary_visits_on_one_day_each_under_their_own_rules(book):
    visits = [{"date": "2024-03-01", "level": 1, "covered": "1000.00", "disease": "M03900"},
              {"date": "2024-03-01", "level": 1, "covered": "1000.00"},
              {"date": "2024-05-01", "level": 1, "covered": "1600.00", "disease": "M03900"},
              {"date": "2024-05-01", "level": 1, "covered": "1000.00", "disease": "M00500"},
              {"date": "2024-06-01", "level": 1, "covered": "1000.00"}]
    request = QuoteRequest.model_validate({"region": "321000", "person": IN_SERVICE, "visits": visits})
    quoted = quote(request, book)
    assert [q.visit.benefit for q in quoted] == ["M03900", ORDINARY, "M03900", "M00500", ORDINARY]
    hypertension, ordinary, limit, tumour, later = (amounts(q) for q in quoted)
    # M03900 at level 1: no deductible, 1000 x 80 % = 800.00, paid as chronic_pay, not ordinary pooling's hifp_pay
    assert picked(hypertension, "act_pay_dedc", "hifp_pay", "chronic_pay", "psn_part_amt") == (
        0, 0, fen("800.00"), fen("200.00"))
    assert quoted[0].adjudication.pool_prop == 8000
    # the same day's ordinary visit still owes ordinary pooling's whole deductible: (1000 - 600) x 70 % = 280.00
    assert picked(ordinary, "act_pay_dedc", "hifp_pay", "chronic_pay") == (fen("600.00"), fen("280.00"), 0)
    # M03900 again: 1600 x 80 % = 1280.00, but its limit 2000.00 leaves 1200.00 (which covers 1200 / 0.8 = 1500.00)
    assert picked(limit, "chronic_pay", "over_cap_amt", "psn_part_amt") == (
        fen("1200.00"), fen("100.00"), fen("400.00"))
    # M00500 has accumulators of its own: its deductible 300.00, then 700 x 85 % = 595.00
    assert picked(tumour, "act_pay_dedc", "chronic_pay") == (fen("300.00"), fen("595.00"))
    # ordinary pooling's deductible was met by its own visit: 1000 x 70 % = 700.00
    assert picked(later, "act_pay_dedc", "hifp_pay") == (0, fen("700.00"))
    summed = totals(quoted)
    assert (summed["hifp_pay"], summed["chronic_pay"]) == (fen("980.00"), fen("2595.00"))  # 280 + 700; 800 + 1200 + 595


def test_an_unregistered_yangzhou_member_elsewhere_gets_20_points_less(book):
    away, temporary, resident, home = run(book, "321000", [
        {"date": "2024-03-01", "level": 1, "covered": "1600.00", "treated_in": "110000"},
        {"date": "2024-04-01", "level": 1, "covered": "1000.00", "treated_in": "110000", "registration": "temporary"},
        {"date": "2024-05-01", "level": 1, "covered": "1000.00", "treated_in": "110000", "registration": "resident"},
        {"date": "2024-06-01", "level": 1, "covered": "1000.00", "treated_in": "321002"}])
    # unregistered in Beijing: 70 % - 20 points = 50 %: (1600 - 600) x 50 % = 500.00
    assert picked(away, "act_pay_dedc", "hifp_pay", "psn_part_amt") == (fen("600.00"), fen("500.00"), fen("1100.00"))
    # registered for a temporary stay: 70 % - 10 points = 60 %: 600.00; living there: no cut, 700.00
    assert temporary["hifp_pay"] == fen("600.00") and resident["hifp_pay"] == fen("700.00")
    # a district of Yangzhou (321002) is home: 700.00
    assert home["hifp_pay"] == fen("700.00")


def test_the_notes_and_cuts_say_what_cross_region_care_changed(book):
    request = QuoteRequest.model_validate({"region": "321000", "person": IN_SERVICE, "visits": [
        {"date": "2024-03-01", "level": 1, "covered": "1600.00", "treated_in": "110000"},
        {"date": "2024-03-02", "level": 1, "covered": "100.00"}]})
    away, home = quote(request, book)
    assert away.ratio_cut == 2000 and away.adjudication.pool_prop == 5000
    assert away.note == "异地就医 in 110000 without a registration (未备案): ratio 0.2000 lower"
    assert home.ratio_cut == 0 and home.note is None


def test_an_unregistered_yunnan_member_elsewhere_gets_no_pooled_fund(book):
    away, registered = run(book, "530900", [
        {"date": "2025-03-01", "level": 1, "covered": "500.00", "treated_in": "530100"},
        {"date": "2025-03-02", "level": 1, "covered": "500.00", "treated_in": "530100", "registration": "referral"}])
    # Lincang's member in Kunming without a registration: the whole 500.00 is the member's, no deductible counted
    assert picked(away, "act_pay_dedc", "hifp_pay", "inpatient_pay", "psn_part_amt") == (0, 0, 0, fen("500.00"))
    # referred there: no cut, (500 - 20) x 60 % = 288.00
    assert picked(registered, "act_pay_dedc", "hifp_pay") == (fen("20.00"), fen("288.00"))


@pytest.mark.parametrize(("region", "visit", "message"), [
    ("321000", {"disease": "X99"}, "visits[0].disease: 'X99' is not on the chronic and special disease list of "
                                   "321000 on 2024-03-01"),
    ("321000", {"disease": "M03900", "date": "2022-06-01"}, "visits[0].disease: 'M03900' is not on the chronic"),
    ("321000", {"registration": "resident", "treated_in": "321012"},
     "visits[0].registration: 321012 is in the member's own region 321000"),
])
def test_what_a_quote_cannot_use(book, region, visit, message):
    request = QuoteRequest.model_validate({"region": region, "person": IN_SERVICE, "visits": [
        {"date": "2024-03-01", "level": 1, "covered": "100.00"} | visit]})
    with pytest.raises(QuoteError) as err:
        quote(request, book)
    assert message in str(err.value)
