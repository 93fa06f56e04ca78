import re
import textwrap
from datetime import date
from pathlib import Path

import pytest

from gongji.policy.loader import PolicyBook, PolicyError, PolicyNotFound, fallback_chain, load_region_file
from gongji.policy.values import IN_SERVICE, RETIRED

SHIPPED = Path(__file__).parents[2] / "gongji" / "policy" / "regions"


def test_shipped_regions_load():
    book = PolicyBook.load()
    assert set(book.regions) == {"000000", "321000", "530000"}
    assert len(book.regions["321000"].versions) == 3


def test_versions_by_date():
    book = PolicyBook.load()
    assert book.policy_for("321000", date(2022, 6, 1)).pre_reform
    assert book.policy_for("321000", date(2023, 12, 31)).crediting.retired.rule == "previous_year_monthly"
    assert book.policy_for("321000", date(2024, 1, 1)).crediting.retired.rule == "average_pension_percent"


def test_fallback_county_city_province():
    assert fallback_chain("530925") == ["530925", "530900", "530000"]
    assert fallback_chain("530900") == ["530900", "530000"]
    assert fallback_chain("530000") == ["530000"]
    book = PolicyBook.load()
    for code in ("530925", "530900", "530000"):
        version = book.policy_for(code, date(2025, 1, 1))
        assert version.admdvs == "530000"
        assert version.outpatient.deductible.amount(IN_SERVICE, 3) == 6000


def test_a_county_file_overrides_its_province(tmp_path):
    text = (SHIPPED / "530000.yaml").read_text(encoding="utf-8")
    county = text.replace('admdvs: "530000"', 'admdvs: "530925"').replace("name: 云南省", "name: 双江县")
    county = county.replace("{1: 60%, 2: 55%, 3: 50%}", "{1: 62%, 2: 55%, 3: 50%}")
    (tmp_path / "530925.yaml").write_text(county, encoding="utf-8")
    book = PolicyBook.load(tmp_path)
    assert book.policy_for("530925", date(2025, 1, 1)).outpatient.ratios.in_service[1] == 6200
    assert book.policy_for("530900", date(2025, 1, 1)).outpatient.ratios.in_service[1] == 6000


def test_a_bureau_folder_replaces_a_shipped_region(tmp_path):
    text = (SHIPPED / "321000.yaml").read_text(encoding="utf-8").replace('"600.00"', '"550.00"')
    (tmp_path / "yangzhou.yaml").write_text(text, encoding="utf-8")
    book = PolicyBook.load(tmp_path)
    assert book.policy_for("321000", date(2024, 5, 1)).outpatient.deductible.amount(IN_SERVICE, 1) == 55000


@pytest.mark.parametrize(("admdvs", "on", "message"), [
    ("110000", date(2024, 1, 1), "unknown region '110000'"),
    ("32100", date(2024, 1, 1), "not a 6-digit region code"),
    ("321000", date(2021, 12, 31), "no policy version in force on 2021-12-31"),
    ("530925", date(2024, 10, 31), "no policy version in force on 2024-10-31"),
])
def test_not_found(admdvs, on, message):
    with pytest.raises(PolicyNotFound, match=re.escape(message)):
        PolicyBook.load().policy_for(admdvs, on)


def test_every_shipped_number_names_a_seed_file():
    seed = re.compile(r"seeds/\d{3}_[0-9a-f]{16}\.txt")
    for path in SHIPPED.glob("*.yaml"):
        region = load_region_file(path)
        for version in region.versions:
            blocks = [version.crediting.in_service, version.crediting.retired, *version.reference_values.values()]
            if version.outpatient:
                op = version.outpatient
                blocks += [op.deductible, op.ratios, op.cap, op.pharmacy, op.pharmacy.prescriptions, *op.cost_bands]
            blocks += [b for b in (version.inpatient, version.chronic, version.cross_region) if b is not None]
            for block in blocks:
                assert seed.search(block.source), (path.name, block)


def test_the_new_blocks_are_in_the_shipped_files_and_marked_illustrative():
    book = PolicyBook.load()
    for admdvs, on in (("321000", date(2023, 6, 1)), ("321000", date(2024, 6, 1)), ("530000", date(2025, 1, 1))):
        version = book.policy_for(admdvs, on)
        assert version.outpatient.pharmacy.prescriptions.max_supply_days == 84  # 12 weeks
        assert version.chronic.illustrative and version.cross_region.illustrative
        assert version.outpatient.pharmacy.prescriptions.illustrative  # 3 days of validity: no seed gives it
    assert book.policy_for("000000", date(2024, 6, 1)).outpatient.pharmacy.prescriptions.valid_days == 3
    yunnan = book.policy_for("530000", date(2025, 1, 1))
    assert not yunnan.cross_region.unregistered.pooled and yunnan.inpatient.deductible.in_service == 0
    yangzhou = book.policy_for("321000", date(2024, 6, 1)).cross_region
    assert yangzhou.unregistered.ratio_cut == 2_000 and yangzhou.registered["temporary"] == 1_000


def test_values_no_seed_gives_are_marked_illustrative():
    book = PolicyBook.load()
    v2024 = book.policy_for("321000", date(2024, 1, 1))
    assert v2024.reference_values["reform_year_average_pension"].illustrative
    assert book.policy_for("530000", date(2025, 1, 1)).inpatient.illustrative
    assert not v2024.outpatient.deductible.illustrative


def test_yunnan_numbers_are_the_seed_s():
    op = PolicyBook.load().policy_for("530000", date(2024, 11, 1)).outpatient
    assert [op.deductible.amount(RETIRED, level) for level in (1, 2, 3)] == [2000, 4000, 6000]
    assert [op.ratios.ratio(IN_SERVICE, 40, level) for level in (1, 2, 3)] == [6000, 5500, 5000]
    assert [op.ratios.ratio(RETIRED, 75, level) for level in (1, 2, 3)] == [7000, 6500, 6000]
    assert op.cap.amount(IN_SERVICE) == op.cap.amount(RETIRED) == 600000
    assert op.cap.above == "inpatient"


GOOD = """\
admdvs: "990200"
name: 测试
versions:
  - effective_from: 2024-01-01
    title: t
    outpatient:
      deductible: {basis: annual, in_service: "600.00", retired: "500.00", source: s}
      ratios: {in_service: {1: 70%, 2: 65%, 3: 60%}, retired: {1: 80%, 2: 75%, 3: 70%}, source: s}
      cap: {in_service: "7000.00", retired: "8000.00", source: s}
      pharmacy: {pooled: true, source: s, prescriptions: {valid_days: 3, max_supply_days: 84, source: s}}
    crediting:
      in_service: {rule: base_percent, percent: 2%, source: s}
      retired: {rule: fixed_by_age, amounts: {0: "100.00"}, source: s}
"""


def _load(tmp_path, text):
    path = tmp_path / "990200.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return load_region_file(path)


def test_the_good_file_loads(tmp_path):
    assert _load(tmp_path, GOOD).versions[0].outpatient.cap.in_service == 700000


@pytest.mark.parametrize(("old", "new", "expected"), [
    # the national floor
    ("in_service: {1: 70%", "in_service: {1: 45%",
     "versions[0].outpatient.ratios.in_service.1: outpatient ratio below the national floor of 50% (value: '45%')"),
    ("retired: {1: 80%, 2: 75%", "retired: {1: 80%, 2: 60%",
     "versions[0].outpatient.ratios.retired.2: retiree ratio below the in-service ratio 65% at level 2"),
    ('retired: "500.00", source', 'retired: "650.00", source',
     "versions[0].outpatient.deductible.retired.1: retiree deductible above the in-service 600.00 (value: '650.00')"),
    ('retired: "8000.00"', 'retired: "6000.00"',
     "versions[0].outpatient.cap.retired: retiree cap below the in-service 7000.00 (value: '6000.00')"),
    ("percent: 2%", "percent: 2.5%",
     "versions[0].crediting.in_service.percent: in-service credit above 2% of the base (value: '2.5%')"),
    # the schema
    ("pooled: true", "pooled: true, colour: red",
     "versions[0].outpatient.pharmacy.colour: unknown key (value: 'red')"),
    ('in_service: "600.00"', 'in_service: "600.001"',
     "versions[0].outpatient.deductible.in_service: '600.001' has more than two decimals (amount in yuan)"),
    ('in_service: "600.00"', "in_service: {1: 1, 2: 2, 3: 3}",
     "versions[0].outpatient.deductible: basis annual takes one amount for in_service, not one per level"),
    ("in_service: {1: 70%, 2: 65%, 3: 60%}", "in_service: {1: 70%, 2: 65%}",
     "versions[0].outpatient.ratios.in_service: needs an entry for every level 1, 2, 3; missing [3]"),
    ("{0: \"100.00\"}", "{60: \"100.00\"}",
     "versions[0].crediting.retired.fixed_by_age.amounts: needs a band from age 0"),
    ("rule: base_percent", "rule: base_percentage",
     "versions[0].crediting.in_service: Input tag 'base_percentage' found using 'rule' does not match"),
    ('admdvs: "990200"', 'admdvs: "9902"', "admdvs: must be a 6-digit region code (value: '9902')"),
    ("effective_from: 2024-01-01", "effective_from: 2024-01-01\n    effective_to: 2023-01-01",
     "versions[0]: effective_to 2023-01-01 is before effective_from 2024-01-01"),
    ('cap: {in_service: "7000.00", retired: "8000.00", source: s}',
     'cap: {in_service: "7000.00", retired: "8000.00", above: inpatient, source: s}',
     "versions[0]: cap.above is inpatient, so the version needs an inpatient block"),
])
def test_a_wrong_file_names_file_path_and_value(tmp_path, old, new, expected):
    assert old in GOOD
    with pytest.raises(PolicyError) as err:
        _load(tmp_path, GOOD.replace(old, new, 1))
    assert str(err.value).startswith("990200.yaml: ")
    assert expected in str(err.value)


CHRONIC = """\
    chronic:
      diseases:
        - code: M03900
          name: 高血压
          deductible: {in_service: "0.00", retired: "0.00"}
          ratios: {in_service: {1: 80%, 2: 75%, 3: 70%}, retired: {1: 85%, 2: 80%, 3: 75%}}
          limit: {in_service: "2000.00", retired: "2500.00"}
        - code: M01600
          name: 糖尿病
          deductible: {in_service: "0.00", retired: "0.00"}
          ratios: {in_service: {1: 80%, 2: 75%, 3: 70%}, retired: {1: 85%, 2: 80%, 3: 75%}}
          limit: {in_service: "3000.00", retired: "3500.00"}
      source: s
"""
OTHER_BLOCKS = """\
    cross_region:
      registered: {resident: 0%, referral: 0%, temporary: 10%}
      unregistered: {pooled: true, ratio_cut: 20%}
      source: s
    inpatient:
      deductible: {in_service: "1000.00", retired: "800.00"}
      ratios: {in_service: {1: 90%, 2: 85%, 3: 80%}, retired: {1: 95%, 2: 90%, 3: 85%}}
      cap: {in_service: "150000.00", retired: "150000.00"}
      source: s
"""
WITH_BLOCKS = GOOD + CHRONIC + OTHER_BLOCKS


def test_the_new_blocks_load(tmp_path):
    version = _load(tmp_path, WITH_BLOCKS).versions[0]
    assert [d.code for d in version.chronic.diseases] == ["M03900", "M01600"]
    assert version.chronic.disease("M01600").limit.retired == 350_000  # 3500.00 yuan
    assert version.chronic.disease("M00500") is None
    assert version.cross_region.registered == {"resident": 0, "referral": 0, "temporary": 1_000}
    assert version.cross_region.unregistered.ratio_cut == 2_000
    assert version.inpatient.deductible.amount(RETIRED) == 80_000
    assert version.outpatient.pharmacy.prescriptions.valid_days == 3


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("        - code: M01600", "        - code: M03900",
     "versions[0].chronic.diseases: disease codes must be unique, repeated: ['M03900']"),
    ("{resident: 0%, referral: 0%, temporary: 10%}", "{resident: 0%, temporary: 10%}",
     "versions[0].cross_region.registered: needs a ratio cut for every reason ['resident', 'referral', 'temporary']; "
     "missing ['referral']"),
    ("temporary: 10%}", "temporary: 10%, holiday: 5%}", "versions[0].cross_region.registered.holiday"),
    ("temporary: 10%}", "temporary: 110%}",
     "versions[0].cross_region.registered.temporary: Input should be less than or equal to 10000 (value: '110%')"),
    ("unregistered: {pooled: true, ratio_cut: 20%}", "unregistered: {ratio_cut: 20%}",
     "versions[0].cross_region.unregistered.pooled: missing"),
    ("unregistered: {pooled: true, ratio_cut: 20%}", "unregistered: {pooled: true, ratio_cut: 20%, cap: 1}",
     "versions[0].cross_region.unregistered.cap: unknown key (value: 1)"),
    ("prescriptions: {valid_days: 3,", "prescriptions: {valid_days: 0,",
     "versions[0].outpatient.pharmacy.prescriptions.valid_days: Input should be greater than or equal to 1 (value: 0)"),
    ("max_supply_days: 84,", "max_supply_days: 84, refills: 2,",
     "versions[0].outpatient.pharmacy.prescriptions.refills: unknown key (value: 2)"),
    ("pharmacy: {pooled: true, source: s, prescriptions: {valid_days: 3, max_supply_days: 84, source: s}}",
     "pharmacy: {pooled: true, source: s}", "versions[0].outpatient.pharmacy.prescriptions: missing"),
    ("          name: 高血压\n", "          name: 高血压\n          colour: red\n",
     "versions[0].chronic.diseases.0.colour: unknown key (value: 'red')"),
    ("        - code: M01600", "        - code: M01-600",
     "versions[0].chronic.diseases.1.code: String should match pattern"),
    ('limit: {in_service: "3000.00", retired: "3500.00"}', 'limit: {in_service: "3000.00"}',
     "versions[0].chronic.diseases.1.limit.retired: missing"),
    (CHRONIC, "    chronic: {diseases: [], source: s}\n",
     "versions[0].chronic.diseases: List should have at least 1 item"),
    ("      source: s\n    cross_region:", "    cross_region:", "versions[0].chronic.source: missing"),
    ('deductible: {in_service: "1000.00", retired: "800.00"}', 'deductible: {in_service: "-1.00", retired: "800.00"}',
     "versions[0].inpatient.deductible.in_service: Input should be greater than or equal to 0"),
    ('      deductible: {in_service: "1000.00", retired: "800.00"}\n', "",
     "versions[0].inpatient.deductible: missing"),
])
def test_a_wrong_new_block_names_its_path(tmp_path, old, new, expected):
    assert old in WITH_BLOCKS
    with pytest.raises(PolicyError) as err:
        _load(tmp_path, WITH_BLOCKS.replace(old, new, 1))
    assert str(err.value).startswith("990200.yaml: ")
    assert expected in str(err.value)


def test_overlapping_versions_are_refused(tmp_path):
    body = GOOD.split("versions:\n", 1)[1]
    text = GOOD + body.replace("2024-01-01", "2024-06-01")
    with pytest.raises(PolicyError, match="overlaps the one from 2024-06-01"):
        _load(tmp_path, text)


def test_a_pre_reform_version_is_exempt_from_the_floor(tmp_path):
    text = GOOD.replace("    title: t\n", "    title: t\n    pre_reform: true\n").replace("percent: 2%", "percent: 3%")
    assert _load(tmp_path, text).versions[0].crediting.in_service.percent == 300


def test_yaml_that_does_not_parse(tmp_path):
    with pytest.raises(PolicyError, match=r"^990200.yaml: cannot be read as YAML"):
        _load(tmp_path, "admdvs: [unclosed\n")


def test_the_policy_dir_must_exist(tmp_path):
    with pytest.raises(PolicyError, match="is not a folder"):
        PolicyBook.load(tmp_path / "missing")


def test_two_files_for_one_region_in_one_folder(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(PolicyError, match="b.yaml: admdvs: region 990200 is also in a.yaml"):
        PolicyBook.load(tmp_path)


@pytest.mark.parametrize(("block", "expected"), [
    ("contributions: {employer_percent: 7%, individual_percent: 1%, source: s}",
     "versions[0]: crediting.in_service credits more than the contributions pay in"),
    ('account_interest: {credited_on: "12/31", rate: 0.35%, source: s}',
     "versions[0].account_interest.credited_on: must be MM-DD, e.g. 12-31 (value: '12/31')"),
    ('account_interest: {credited_on: "02-30", rate: 0.35%, source: s}',
     "versions[0].account_interest.credited_on: day is out of range for month (value: '02-30')"),
])
def test_contributions_and_interest_are_checked(tmp_path, block, expected):
    with pytest.raises(PolicyError) as err:
        _load(tmp_path, GOOD + f"    {block}\n")
    assert expected in str(err.value)


def test_interest_on_29_february_falls_on_the_28th_in_other_years(tmp_path):
    version = _load(tmp_path, GOOD + '    account_interest: {credited_on: "02-29", rate: 0.35%, source: s}\n') \
        .versions[0]
    assert version.account_interest.date_in(2024) == date(2024, 2, 29)
    assert version.account_interest.date_in(2025) == date(2025, 2, 28)
    assert version.account_interest.rate == 35  # 0.35 % in basis points
