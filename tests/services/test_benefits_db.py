"""The rest of the benefit rules against a real database, amounts worked by hand from the region files:
prescriptions at pharmacies (外配处方), chronic and special diseases (门诊慢特病), Yunnan's over-cap rule and
cross-region care (异地就医) with the treating region's catalogue.

Yangzhou 321000 (gongji/policy/regions/321000.yaml): annual deductible 600 in service / 500 retired; ratios
70/65/60 % in service, 80/75/70 % retired at levels 1/2/3; prescriptions valid 3 days, at most 84 days of supply;
disease M03900 (高血压) no deductible, 80/75/70 % in service, limit 2000 in service; M00500 deductible 300 in
service, 85 %; cross-region: temporary registration -10 points, unregistered -20 points.
Yunnan 530000 (530000.yaml, Lincang 530900 falls back to it): deductible per visit 20/40/60 by level; ratios
60/55/50 % in service; cap 6000 a year, cost above it under the inpatient benefit at 90/85/80 % in service with no
further deductible; cross-region: temporary -10 points, unregistered no pooled fund.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import insert
from sqlalchemy import select as sql_select

from gongji.errors import InputError
from gongji.services import prescriptions, qualifications, registrations
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, reverse, setlinfo, settle
from gongji.store.db import transaction
from gongji.store.tables import catalogue, disease_accumulators
from gongji.store.tables import prescriptions as prescriptions_table
from tests.factories import (
    assert_clean,
    fen,
    institution,
    institutions_csv,
    person,
    persons_csv,
    prescribe,
    snapshot,
)
from tests.services.test_settlement_db import H1, H2, H3, P_NOT_POOLED, P_POOLED, accumulated, assert_parts_add_up

DAY = date(2024, 3, 1)
YN_DAY = date(2025, 3, 1)
"""Yunnan's policy is in force from 2024-11-01."""
LINCANG = "530900"
H_LINCANG = "H53090000001"
"""a level-1 medical institution in Lincang."""
H_KUNMING = "H53010000001"
"""a level-1 medical institution in Kunming (530100), another Yunnan region than Lincang."""


def setup(engine, book, people: list[dict]) -> None:
    import_csv(engine, "institutions", institutions_csv([
        institution(H1, 1), institution(H2, 2), institution(H3, 3),
        institution(P_POOLED, None, otp_pool_flag="1"), institution(P_NOT_POOLED, None, otp_pool_flag="0"),
        institution(H_LINCANG, 1, region=LINCANG), institution(H_KUNMING, 1, region="530100"),
    ]), book)
    import_csv(engine, "persons", persons_csv(people), book)
    for region in ("321000", LINCANG):
        deposit(engine, region, fen("100000.00"), date(2024, 1, 1))


def pay(engine, book, psn_no: str, code: str, on: date = DAY, covered: str | None = None, **extra):
    data = {"psn_no": psn_no, "fixmedins_code": code, "date": on.isoformat(), **extra}
    if covered is not None:
        data["covered"] = covered
    return settle(engine, book, parse_settle(data))


def qualify(engine, book, psn_no: str, code: str, begin: date = date(2024, 1, 1), end: date | None = None) -> str:
    with transaction(engine) as conn:
        return qualifications.record(conn, book, qualifications.parse_qualification(
            {"psn_no": psn_no, "opsp_dise_code": code, "begndate": begin, "enddate": end}))["trt_dcla_detl_sn"]


def register(engine, psn_no: str, region: str, reason: str = "temporary") -> None:
    with transaction(engine) as conn:
        registrations.record(conn, registrations.parse_registration(
            {"psn_no": psn_no, "mdtrtarea_admvs": region, "reason": reason, "begndate": "2024-01-01"}))


def add_items(engine, rows: list[dict]) -> None:
    """Catalogue rows written straight to the table: (admdvs, code, class, first self-pay share)."""
    base = {"med_list_name": "测试药品", "list_type": "drug", "selfpay_prop": 0, "pay_std": None}
    with transaction(engine) as conn:
        conn.execute(insert(catalogue), [base | r for r in rows])


def disease_accumulated(engine, psn_no: str, code: str) -> tuple[int, int, int]:
    with engine.connect() as conn:
        found = conn.execute(sql_select(disease_accumulators.c.deductible, disease_accumulators.c.pool,
                                        disease_accumulators.c.covered).where(
            disease_accumulators.c.psn_no == psn_no, disease_accumulators.c.dise_codg == code)).first()
    return tuple(found) if found else (0, 0, 0)


# Prescriptions at pharmacies -------------------------------------------------------------------------------


def test_a_level_3_prescription_pays_60_and_70_percent_at_a_pharmacy(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="2000.00"),
                         person("R1", date(1950, 1, 1), psn_type="12", balc="2000.00", serial=2)])
    worker = pay(engine, book, "E1", P_POOLED, covered="1000.00", med_type="41", rxno=prescribe(engine, book, "E1"))
    # in service, level 3: (1000 - 600) x 60 % = 240.00; the account pays the rest, 760.00
    assert (worker.row["act_pay_dedc"], worker.row["hifp_pay"], worker.row["pool_prop"]) == (
        fen("600.00"), fen("240.00"), 6000)
    assert (worker.row["acct_pay"], setlinfo(worker)["hosp_lv"]) == (fen("760.00"), 3)
    retiree = pay(engine, book, "R1", P_POOLED, covered="1000.00", med_type="41", rxno=prescribe(engine, book, "R1"))
    # retired, level 3: (1000 - 500) x 70 % = 350.00
    assert (retiree.row["act_pay_dedc"], retiree.row["hifp_pay"], retiree.row["pool_prop"]) == (
        fen("500.00"), fen("350.00"), 7000)
    assert worker.row["prescriber_code"] == retiree.row["prescriber_code"] == H3
    for s in (worker, retiree):
        assert_parts_add_up(s)
    assert_clean(engine)


def test_a_prescription_pays_once_and_again_after_a_reversal(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="2000.00")])
    rxno = prescribe(engine, book, "E1", H1)
    first = pay(engine, book, "E1", P_POOLED, covered="700.00", med_type="41", rxno=rxno)
    # level 1: (700 - 600) x 70 % = 70.00
    assert first.row["hifp_pay"] == fen("70.00")
    again = pay(engine, book, "E1", P_POOLED, covered="100.00", med_type="41", rxno=rxno)
    # used once already: no pooled fund, the account pays all 100.00
    assert (again.row["hifp_pay"], again.row["acct_pay"]) == (0, fen("100.00"))
    assert "already used" in again.row["no_pool_reason"]
    reverse(engine, book, first.row["setl_id"], P_POOLED)
    third = pay(engine, book, "E1", P_POOLED, covered="700.00", med_type="41", rxno=rxno)
    # the reversal gave the prescription back and replayed the deductible: (700 - 600) x 70 % = 70.00 again
    assert (third.row["act_pay_dedc"], third.row["hifp_pay"]) == (fen("600.00"), fen("70.00"))
    assert accumulated(engine, "E1") == (fen("600.00"), fen("70.00"), fen("700.00"), 0)
    assert_clean(engine)


def test_expired_and_13_week_prescriptions_get_no_pooled_fund(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="5000.00")])
    # valid 3 days counting the day written: 1, 2 and 3 March
    last_day = pay(engine, book, "E1", P_POOLED, date(2024, 3, 3), "700.00", med_type="41",
                   rxno=prescribe(engine, book, "E1", H1))
    assert last_day.row["hifp_pay"] == fen("70.00")  # (700 - 600) x 70 %
    expired = pay(engine, book, "E1", P_POOLED, date(2024, 3, 4), "700.00", med_type="41",
                  rxno=prescribe(engine, book, "E1", H1, days=29))
    assert (expired.row["hifp_pay"], expired.row["acct_pay"]) == (0, fen("700.00"))
    assert "expired on 2024-03-03" in expired.row["no_pool_reason"]
    long = pay(engine, book, "E1", P_POOLED, covered="700.00", med_type="41",
               rxno=prescribe(engine, book, "E1", H1, days=91))
    # 13 weeks is 91 days, more than the 84 allowed
    assert long.row["hifp_pay"] == 0 and "91 days" in long.row["no_pool_reason"]
    twelve = pay(engine, book, "E1", P_POOLED, covered="100.00", med_type="41",
                 rxno=prescribe(engine, book, "E1", H1, days=84))
    assert twelve.row["hifp_pay"] == fen("70.00")  # 84 days is allowed; deductible met: 100 x 70 %
    shorter = pay(engine, book, "E1", P_POOLED, date(2024, 3, 2), "100.00", med_type="41",
                  rxno=prescribe(engine, book, "E1", H1, days=7, valid_days=1))
    assert shorter.row["hifp_pay"] == 0 and "expired on 2024-03-01" in shorter.row["no_pool_reason"]
    closed = pay(engine, book, "E1", P_NOT_POOLED, covered="100.00", med_type="41",
                 rxno=prescribe(engine, book, "E1", H1, days=8))
    assert closed.row["hifp_pay"] == 0 and "not admitted" in closed.row["no_pool_reason"]
    assert_clean(engine)


def test_only_the_prescribed_lines_of_a_sale_are_pooled(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="5000.00")])
    add_items(engine, [{"admdvs": "000000", "med_list_codg": "XD01", "chrgitm_lv": "01"},
                       {"admdvs": "000000", "med_list_codg": "XD02", "chrgitm_lv": "01"}])
    pay(engine, book, "E1", H1, covered="600.00")  # the year's deductible is met first
    rxno = prescribe(engine, book, "E1", H2)
    sale = pay(engine, book, "E1", P_POOLED, med_type="41", lines=[
        {"med_list_codg": "XD01", "pric": "10.00", "cnt": "30", "rxno": rxno},
        {"med_list_codg": "XD02", "pric": "50.00", "cnt": "2"}])
    # XD01 on the level-2 prescription: 300.00 x 65 % = 195.00; XD02 bought without one (100.00): account or cash
    assert (sale.row["inscp_scp_amt"], sale.row["pool_covered"], sale.row["hifp_pay"]) == (
        fen("400.00"), fen("300.00"), fen("195.00"))
    assert "1 line(s) bought without a prescription" in sale.row["no_pool_reason"]
    more = pay(engine, book, "E1", P_POOLED, med_type="41", lines=[
        {"med_list_codg": "XD01", "pric": "10.00", "cnt": "31", "rxno": prescribe(engine, book, "E1", days=31)}])
    # 31 units where the prescription says 30: no pooled fund
    assert more.row["hifp_pay"] == 0 and "more than" in more.row["no_pool_reason"]
    assert_clean(engine)


def test_wrong_prescriptions_are_refused_and_change_nothing(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="500.00"),
                         person("E2", date(1981, 1, 1), balc="500.00", serial=2)])
    rxno = prescribe(engine, book, "E1")
    before = snapshot(engine)
    cases = [({"rxno": "RXNOPE"}, "rxno: 'RXNOPE' is not a recorded prescription"),
             ({"rxno": rxno, "psn_no": "E2"}, f"rxno: {rxno} was written for another person"),
             ({"rxno": rxno, "date": "2024-02-29"}, "is before prescription"),
             ({"rxno": rxno, "fixmedins_code": H1, "med_type": "11"}, "rxno (外配处方) goes with med_type 41")]
    for extra, message in cases:
        data = {"psn_no": "E1", "fixmedins_code": P_POOLED, "date": DAY.isoformat(), "covered": "100.00",
                "med_type": "41"} | extra
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            settle(engine, book, parse_settle(data))
    assert snapshot(engine) == before
    with pytest.raises(InputError, match="not a designated medical institution"):
        prescribe(engine, book, "E1", P_POOLED)
    with pytest.raises(InputError, match="already recorded"):
        prescribe(engine, book, "E1")
    assert snapshot(engine) == before


# Chronic and special diseases ------------------------------------------------------------------------------


def test_a_disease_bill_and_an_ordinary_bill_on_one_day_each_settle_under_their_rules(engine, book):
    setup(engine, book, [person("C1", date(1970, 1, 1), balc="5000.00")])
    qualify(engine, book, "C1", "M03900")
    disease = pay(engine, book, "C1", H2, covered="1000.00", med_type="14", dise_codg="M03900")
    # 高血压 at level 2, in service: no deductible, 1000 x 75 % = 750.00 under the disease's own benefit
    assert (disease.row["chronic_pay"], disease.row["chronic_dedc"], disease.row["hifp_pay"]) == (
        fen("750.00"), 0, 0)
    assert setlinfo(disease)["hifp_pay"] == fen("750.00")
    ordinary = pay(engine, book, "C1", H2, covered="1000.00")
    # ordinary pooling is untouched by the disease bill and its 250.00 self-paid remainder:
    # (1000 - 600) x 65 % = 260.00
    assert (ordinary.row["act_pay_dedc"], ordinary.row["hifp_pay"]) == (fen("600.00"), fen("260.00"))
    assert accumulated(engine, "C1") == (fen("600.00"), fen("260.00"), fen("1000.00"), 0)
    assert disease_accumulated(engine, "C1", "M03900") == (0, fen("750.00"), fen("1000.00"))
    more = pay(engine, book, "C1", H2, covered="3000.00", med_type="14", dise_codg="M03900")
    # the disease's limit of 2000 a year: 3000 x 75 % = 2250, but only 2000 - 750 = 1250.00 is left
    assert more.row["chronic_pay"] == fen("1250.00")
    for s in (disease, ordinary, more):
        assert_parts_add_up(s)
    assert_clean(engine)


def test_one_bill_with_disease_and_ordinary_items_is_split(engine, book):
    setup(engine, book, [person("C1", date(1970, 1, 1), balc="5000.00")])
    add_items(engine, [{"admdvs": "000000", "med_list_codg": "XD01", "chrgitm_lv": "01"},
                       {"admdvs": "000000", "med_list_codg": "XD02", "chrgitm_lv": "01"}])
    qualify(engine, book, "C1", "M00500")
    bill = pay(engine, book, "C1", H3, med_type="14", dise_codg="M00500", lines=[
        {"med_list_codg": "XD01", "pric": "130.00", "cnt": "10", "dise_codg": "M00500"},
        {"med_list_codg": "XD02", "pric": "100.00", "cnt": "8"}])
    # disease part 1300.00: (1300 - 300) x 85 % = 850.00; ordinary part 800.00: (800 - 600) x 60 % = 120.00
    row = bill.row
    assert (row["chronic_covered"], row["chronic_dedc"], row["chronic_pay"]) == (
        fen("1300.00"), fen("300.00"), fen("850.00"))
    assert (row["pool_covered"], row["act_pay_dedc"], row["hifp_pay"]) == (fen("800.00"), fen("600.00"),
                                                                            fen("120.00"))
    info = setlinfo(bill)
    # together: fund 970.00, deductibles 900.00, the member's share 2100 - 970 = 1130.00
    assert (info["hifp_pay"], info["act_pay_dedc"], info["psn_part_amt"]) == (
        fen("970.00"), fen("900.00"), fen("1130.00"))
    assert accumulated(engine, "C1") == (fen("600.00"), fen("120.00"), fen("800.00"), 0)
    assert disease_accumulated(engine, "C1", "M00500") == (fen("300.00"), fen("850.00"), fen("1300.00"))
    reverse(engine, book, row["setl_id"], H3)
    # the reversal replays both: nothing stands
    assert accumulated(engine, "C1") == (0, 0, 0, 0)
    assert disease_accumulated(engine, "C1", "M00500") == (0, 0, 0)
    assert_parts_add_up(bill)
    assert_clean(engine)


def test_a_disease_bill_needs_a_qualification_in_force(engine, book):
    setup(engine, book, [person("C1", date(1970, 1, 1), balc="500.00")])
    sn = qualify(engine, book, "C1", "M03900", end=date(2024, 2, 29))
    before = snapshot(engine)
    for extra, message in [({"dise_codg": "M03900"}, "no qualification"),
                           ({"dise_codg": "M01600"}, "no qualification"),
                           ({"dise_codg": "Z99999"}, "not on the insured region's chronic"),
                           ({}, "med_type 14 needs it")]:
        with pytest.raises(InputError, match=message):
            pay(engine, book, "C1", H1, covered="100.00", med_type="14", **extra)
    with pytest.raises(InputError, match="already qualified"):
        qualify(engine, book, "C1", "M03900", begin=date(2024, 2, 1))
    with pytest.raises(InputError, match="not on the chronic"):
        qualify(engine, book, "C1", "Z99999")
    assert snapshot(engine) == before
    with transaction(engine) as conn:
        qualifications.cancel(conn, "C1", sn)
    with engine.connect() as conn:
        assert qualifications.of_person(conn, "C1") == []


# Yunnan: over the outpatient cap, the inpatient benefit ----------------------------------------------------


def test_a_yunnan_member_over_the_6000_cap_gets_the_inpatient_ratio(engine, book):
    setup(engine, book, [person("Y1", date(1980, 1, 1), region=LINCANG, balc="20000.00")])
    first = pay(engine, book, "Y1", H_LINCANG, YN_DAY, "5020.00")
    # level 1: per-visit deductible 20, (5020 - 20) x 60 % = 3000.00; 3000 of the 6000 cap left
    assert (first.row["act_pay_dedc"], first.row["hifp_pay"]) == (fen("20.00"), fen("3000.00"))
    second = pay(engine, book, "Y1", H_LINCANG, YN_DAY, "10020.00")
    # 10000 after the deductible would pay 6000, the cap leaves 3000: 3000 / 60 % = 5000 of cost is paid by
    # outpatient pooling, the other 5000 goes to the inpatient benefit at 90 %: 4500.00
    row = second.row
    assert (row["act_pay_dedc"], row["hifp_pay"], row["over_cap_amt"], row["inpatient_pay"]) == (
        fen("20.00"), fen("3000.00"), fen("5000.00"), fen("4500.00"))
    assert setlinfo(second)["hifp_pay"] == fen("7500.00")
    assert row["psn_part_amt"] == fen("2520.00")  # 10020 - 3000 - 4500
    assert second.row["mdtrtarea_admvs"] == LINCANG and second.row["registration_id"] is None
    assert_parts_add_up(second)
    assert_clean(engine)


# Cross-region care -----------------------------------------------------------------------------------------


def test_a_lincang_member_in_yangzhou_settles_under_yunnans_policy_with_yangzhous_catalogue(engine, book):
    setup(engine, book, [person("L1", date(1980, 1, 1), region=LINCANG, balc="1000.00"),
                         person("L2", date(1981, 1, 1), region=LINCANG, balc="1000.00", serial=2)])
    add_items(engine, [{"admdvs": "000000", "med_list_codg": "XY01", "chrgitm_lv": "01"},
                       {"admdvs": "321000", "med_list_codg": "XY01", "chrgitm_lv": "02", "selfpay_prop": 1000}])
    register(engine, "L1", "321000")
    lines = [{"med_list_codg": "XY01", "pric": "200.00", "cnt": "1"}]
    there = pay(engine, book, "L1", H3, YN_DAY, lines=lines)
    # Yangzhou's catalogue: XY01 is class 乙 there with 10 % first self-pay: 20.00, covered 180.00.
    # Yunnan's policy at level 3: deductible 60, ratio 50 % less 10 points for a temporary stay = 40 %:
    # (180 - 60) x 40 % = 48.00, paid from Lincang's pool
    row = there.row
    assert (row["preselfpay_amt"], row["inscp_scp_amt"], row["act_pay_dedc"], row["hifp_pay"], row["pool_prop"]) \
        == (fen("20.00"), fen("180.00"), fen("60.00"), fen("48.00"), 4000)
    assert (row["insuplc_admdvs"], row["mdtrtarea_admvs"], row["ratio_cut"]) == (LINCANG, "321000", 1000)
    assert row["registration_id"] is not None and "registered (temporary)" in row["no_pool_reason"]
    assert row["proc_info_zh"] == ("异地就医（参保地 530900，就医地 321000）已备案（临时外出就医），"
                                   "支付比例降低 10 个百分点")
    home = pay(engine, book, "L1", H_LINCANG, YN_DAY, lines=lines)
    # at home the national row applies (class 甲): (200 - 20) x 60 % = 108.00
    assert (home.row["inscp_scp_amt"], home.row["hifp_pay"]) == (fen("200.00"), fen("108.00"))
    unregistered = pay(engine, book, "L2", H3, YN_DAY, lines=lines)
    # no registration: Yunnan pays no pooled fund, and the settlement says why
    assert unregistered.row["hifp_pay"] == 0 and "未备案" in unregistered.row["no_pool_reason"]
    assert unregistered.row["proc_info_zh"] == ("异地就医（参保地 530900，就医地 321000）未备案，"
                                                "按参保地政策统筹基金不予支付")
    for s in (there, home, unregistered):
        assert_parts_add_up(s)
    assert_clean(engine)


def test_a_yangzhou_member_in_yunnan_gets_a_lower_ratio_without_registration(engine, book):
    setup(engine, book, [person("Z1", date(1980, 1, 1), balc="1000.00"),
                         person("Z2", date(1981, 1, 1), balc="1000.00", serial=2)])
    away = pay(engine, book, "Z1", H_KUNMING, covered="1000.00")
    # Yangzhou's policy at level 1, 70 % less 20 points unregistered: (1000 - 600) x 50 % = 200.00
    assert (away.row["hifp_pay"], away.row["pool_prop"], away.row["ratio_cut"]) == (fen("200.00"), 5000, 2000)
    register(engine, "Z2", "530000", reason="resident")  # the whole province
    resident = pay(engine, book, "Z2", H_KUNMING, covered="1000.00")
    # living there, registered: no cut, (1000 - 600) x 70 % = 280.00
    assert (resident.row["hifp_pay"], resident.row["registration_id"] is not None) == (fen("280.00"), True)
    with pytest.raises(InputError, match="no registration is needed"):
        register(engine, "Z2", "321002")
    assert_clean(engine)


def test_a_prescription_row_remembers_its_settlement(engine, book):
    setup(engine, book, [person("E1", date(1980, 1, 1), balc="2000.00")])
    rxno = prescribe(engine, book, "E1")
    s = pay(engine, book, "E1", P_POOLED, covered="700.00", med_type="41", rxno=rxno)
    with engine.connect() as conn:
        used = conn.execute(sql_select(prescriptions_table.c.setl_id, prescriptions_table.c.valid_end)
                            .where(prescriptions_table.c.rxno == rxno)).first()
    assert tuple(used) == (s.row["setl_id"], date(2024, 3, 3))
    with transaction(engine) as conn, pytest.raises(InputError, match="cannot be revoked"):
        prescriptions.revoke(conn, H3, rxno)


def test_records_refuse_overlaps_and_unknown_keys_and_change_nothing(engine, book):
    setup(engine, book, [person("Z1", date(1980, 1, 1), balc="100.00")])
    register(engine, "Z1", "530100")
    before = snapshot(engine)
    with pytest.raises(InputError, match="already has registration"):
        register(engine, "Z1", "530100", reason="resident")
    with pytest.raises(InputError, match="drugs.0.dosage: unknown key"):
        prescriptions.record_prescription(engine, book, H1, {
            "hosp_rxno": "X1", "psn_no": "Z1", "prsc_dr_name": "王医生", "diag_code": "I10", "diag_name": "高血压",
            "prsc_date": "2024-03-01",
            "drugs": [{"med_list_codg": "XD01", "drug_genname": "XD01", "drug_cnt": "30", "medc_days": 30,
                       "dosage": "1 tablet"}]})
    assert snapshot(engine) == before
