"""Drug payment standards (医保支付标准) in settlement, on SQLite and PostgreSQL, with the catalogue imported from
CSV as a bureau would: a negotiated (hi_nego_drug_flag) or centrally procured (vbp_flag, 集中带量采购) drug is paid
up to its pay_std; any other item up to the lower of its pay_std and the platform's listing price (pric_uplmt_amt,
挂网价). The part of the price above is over-limit self-pay (overlmt_selfpay, 超限价自付). A row of the treating
region (its own code, its city's or its province's) replaces the national one (就医地目录).

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): annual deductible 600.00 in service, level 1
ratio 70 %. Yunnan 530000 (530000.yaml; Lincang 530900 and Shuangjiang 530925 fall back to it) from 2024-11-01:
deductible 20.00 per visit at level 1, ratio 60 % in service.
"""

from __future__ import annotations

from datetime import date

import pytest

from gongji.errors import InputError
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import Settlement, parse_settle, settle
from tests.factories import assert_clean, csv_bytes, fen, institution, institutions_csv, person, persons_csv, snapshot

CATALOGUE_COLUMNS = ["admdvs", "med_list_codg", "med_list_name", "list_type", "chrgitm_lv", "selfpay_prop", "pay_std",
                     "pric_uplmt_amt", "hi_nego_drug_flag", "vbp_flag"]
H_YZ = "H32100200001"
"""a level-1 institution in Guangling district (321002), Yangzhou."""
H_SJ = "H53092500001"
"""a level-1 institution in Shuangjiang county (530925), Lincang."""
DAY, YN_DAY = date(2024, 3, 1), date(2025, 3, 1)


def drug(code: str, admdvs: str = "", cls: str = "甲", **extra) -> dict:
    return {"admdvs": admdvs, "med_list_codg": code, "med_list_name": f"药品{code}", "list_type": "drug",
            "chrgitm_lv": cls, **extra}


CATALOGUE = [
    drug("V01", pay_std="0.50", pric_uplmt_amt="2.00", vbp_flag="1"),  # procured: 0.50 a unit, listing ignored
    drug("N01", pric_uplmt_amt="1.20"),  # listing price only: 1.20
    drug("N02", pay_std="3.00", pric_uplmt_amt="2.50"),  # the lower: 2.50
    drug("G01", cls="乙", selfpay_prop="10%", pay_std="10.00", pric_uplmt_amt="8.00", hi_nego_drug_flag="1"),
    drug("R01", pric_uplmt_amt="1.00"),  # national 1.00 ...
    drug("R01", "321000", pric_uplmt_amt="1.50"),  # ... Yangzhou's 1.50 ...
    drug("R01", "530000", pric_uplmt_amt="0.50"),  # ... Yunnan's 0.50
    drug("R02", pric_uplmt_amt="1.00"),  # national only ...
    drug("R02", "530000", pric_uplmt_amt="3.00"),  # ... and Yunnan's, which does not apply in Yangzhou
    drug("Y01", "321000", pric_uplmt_amt="5.00"),  # in Yangzhou's catalogue only
]


@pytest.fixture
def world(engine, book):
    import_csv(engine, "institutions", institutions_csv([institution(H_YZ, 1, region="321002"),
                                                        institution(H_SJ, 1, region="530925")]), book)
    import_csv(engine, "persons", persons_csv([person("E1", date(1980, 1, 1)),
                                               person("Y1", date(1980, 1, 1), region="530900", serial=2)]), book)
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, CATALOGUE), book)
    deposit(engine, "321000", fen("100000.00"), date(2024, 1, 1))
    deposit(engine, "530900", fen("100000.00"), date(2024, 1, 1))
    return engine


def buy(engine, book, lines: list[tuple[str, str, str]], psn_no: str = "E1", code: str = H_YZ, on: date = DAY
        ) -> Settlement:
    return settle(engine, book, parse_settle({
        "psn_no": psn_no, "fixmedins_code": code, "date": on.isoformat(),
        "lines": [{"med_list_codg": c, "pric": pric, "cnt": cnt} for c, pric, cnt in lines]}))


def parts(s: Settlement) -> tuple[int, ...]:
    r = s.row
    return (r["medfee_sumamt"], r["overlmt_selfpay"], r["preselfpay_amt"], r["inscp_scp_amt"], r["act_pay_dedc"],
            r["hifp_pay"])


def test_a_procured_drug_above_its_standard(world, book):
    s = buy(world, book, [("V01", "0.80", "2000")])
    # 0.80 x 2000 = 1600.00; paid up to the standard 0.50 x 2000 = 1000.00 (not the listing price 2.00);
    # above it 1600 - 1000 = 600.00 is over-limit self-pay; the pool: (1000 - 600 deductible) x 70 % = 280.00
    assert parts(s) == (fen("1600.00"), fen("600.00"), 0, fen("1000.00"), fen("600.00"), fen("280.00"))
    assert s.lines[0]["pay_std"] == 5_000 and s.lines[0]["overlmt_amt"] == fen("600.00")  # 0.50 in 1/10000 yuan
    assert s.row["psn_part_amt"] == fen("1320.00")  # 1600 - 280
    assert_clean(world)


def test_other_drugs_above_the_lower_of_standard_and_listing_price(world, book):
    s = buy(world, book, [("N01", "1.50", "1000"), ("N02", "2.80", "100")])
    # N01: 1.50 x 1000 = 1500.00, listing price 1.20 x 1000 = 1200.00, over 300.00
    # N02: 2.80 x 100 = 280.00, the lower of pay_std 3.00 and listing 2.50: 2.50 x 100 = 250.00, over 30.00
    # total 1780.00, over 330.00, covered 1450.00; the pool: (1450 - 600) x 70 % = 595.00
    assert parts(s) == (fen("1780.00"), fen("330.00"), 0, fen("1450.00"), fen("600.00"), fen("595.00"))
    assert [line["overlmt_amt"] for line in s.lines] == [fen("300.00"), fen("30.00")]
    assert_clean(world)


def test_prices_below_the_standard_pay_no_over_limit_part(world, book):
    s = buy(world, book, [("N01", "1.00", "1000"), ("G01", "9.00", "100"), ("V01", "0.50", "10")])
    # N01 1.00 x 1000 = 1000.00 below the listing 1.20; G01 is negotiated: paid up to pay_std 10.00 although
    # its listing price is 8.00, so 9.00 x 100 = 900.00 is within, of which 10 % first self-pay (乙) = 90.00;
    # V01 exactly at its standard: 0.50 x 10 = 5.00. Total 1905.00, nothing over, first self-pay 90.00,
    # covered 1905 - 90 = 1815.00; the pool: (1815 - 600) x 70 % = 850.50
    assert parts(s) == (fen("1905.00"), 0, fen("90.00"), fen("1815.00"), fen("600.00"), fen("850.50"))
    assert_clean(world)


def test_the_treating_regions_row_replaces_the_national_one(world, book):
    yangzhou = buy(world, book, [("R01", "1.40", "1000"), ("R02", "1.40", "100")])
    # in Yangzhou (institution of 321002, city 321000): R01 by Yangzhou's row, listing 1.50: 1400.00 within;
    # R02 has no Yangzhou row, so the national 1.00 (not Yunnan's 3.00): 1.40 x 100 = 140.00, 100.00 within, 40.00 over.
    # Covered 1500.00; the pool: (1500 - 600) x 70 % = 630.00
    assert parts(yangzhou) == (fen("1540.00"), fen("40.00"), 0, fen("1500.00"), fen("600.00"), fen("630.00"))
    lincang = buy(world, book, [("R01", "1.40", "1000")], psn_no="Y1", code=H_SJ, on=YN_DAY)
    # in Shuangjiang (530925 -> 530900 -> 530000): Yunnan's row, listing 0.50: 1400.00, 500.00 within, 900.00 over;
    # the Lincang member's pool: (500 - 20 deductible at level 1) x 60 % = 288.00
    assert parts(lincang) == (fen("1400.00"), fen("900.00"), 0, fen("500.00"), fen("20.00"), fen("288.00"))
    assert yangzhou.lines[0]["pay_std"] == 15_000 and lincang.lines[0]["pay_std"] == 5_000
    assert_clean(world)


def test_an_item_only_in_another_regions_catalogue_is_refused(world, book):
    before = snapshot(world)
    with pytest.raises(InputError, match=r"lines\[0\].med_list_codg: 'Y01' is not in the catalogue of 530925") as err:
        buy(world, book, [("Y01", "4.00", "1")], psn_no="Y1", code=H_SJ, on=YN_DAY)
    assert "Y01" in err.value.zh
    assert snapshot(world) == before
    assert buy(world, book, [("Y01", "6.00", "1")]).row["overlmt_selfpay"] == fen("1.00")  # 6.00 - listing 5.00
