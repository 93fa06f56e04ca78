"""The main job (`gongji demo`): a generated Yangzhou population run through a year on a fresh database.

Families, institutions and a catalogue are written as the CSV files a bureau would import and imported
through the same service; some members are qualified (备案) for a chronic disease; 2024 is credited month by
month; a year of outpatient visits is settled through the settlement service in date order (pharmacy sales on
prescriptions the hospitals record first, chronic disease visits, some paid from a relative's account, a few
reversed); the year's account interest is credited; then the year's figures and the audit.
"""

from __future__ import annotations

import csv
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine, case, func, select

from gongji.policy.loader import PolicyBook
from gongji.services import crediting, family, imports, monitor_online, prescriptions, qualifications, settlement
from gongji.services.records import FEMALE, MALE, make_certno
from gongji.store.db import transaction
from gongji.store.tables import settlements

REGION = "321000"
DISTRICTS = ("321002", "321003", "321012", "321023", "321081", "321084")
YEAR = 2024
VISITS_IN_SERVICE = 2.2
RETIREE_VISIT_FACTOR, RETIREE_COST_FACTOR = 2.17, 1.15
"""SPEC.md §7: retirees visit 2.17 x as often, at 1.15 x the cost per visit."""
LEVEL_MIX = ((1, 0.55), (2, 0.30), (3, 0.15))
CHRONIC_DISEASES = (("M03900", 0.6), ("M01600", 0.35), ("M00500", 0.05))
"""diseases of Yangzhou's chronic list (321000.yaml) a qualified member has, with their shares (illustrative)."""
CHRONIC_SHARE = {"11": 0.03, "12": 0.15}
"""members qualified for a chronic disease, in service and retired (illustrative)."""
CHRONIC_VISITS = 6.0
"""chronic disease visits a year of a qualified member (illustrative)."""
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"


@dataclass
class Population:
    persons: list[dict] = field(default_factory=list)
    relations: list[dict] = field(default_factory=list)
    institutions: list[dict] = field(default_factory=list)
    catalogue: list[dict] = field(default_factory=list)
    authorizations: list[tuple[str, str]] = field(default_factory=list)
    qualifications: list[tuple[str, str]] = field(default_factory=list)
    """(psn_no, disease code) of the members qualified (备案) for a chronic disease from the start of the year."""


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def generate(members: int, seed: int) -> Population:
    """Households of a couple, often their adult child, sometimes a retired parent; about a quarter retired."""
    rng = random.Random(seed)
    pop = Population()
    serial = 0
    used: set[str] = set()

    def unique_certno(district: str, birth: date, gend: str) -> str:
        for attempt in range(500):
            certno = make_certno(district, birth, serial + attempt, gend)
            if certno not in used:
                used.add(certno)
                return certno
        raise ValueError(f"no free ID number for {birth}")

    def add(birth: date, gend: str, retired: bool) -> dict:
        nonlocal serial
        serial += 1
        district = rng.choice(DISTRICTS)
        base = rng.randrange(4000, 15000, 100)
        p = {"psn_no": f"32100{serial:08d}", "psn_name": _name(rng),
             "certno": unique_certno(district, birth, gend), "gend": gend, "brdy": birth.isoformat(),
             "psn_type": "12" if retired else "11", "insuplc_admdvs": REGION,
             "emp_name": "" if retired else f"扬州市第{rng.randrange(1, 400)}单位",
             "crt_cont_base": "0" if retired else f"{base}.00",
             "pension": f"{rng.randrange(2500, 6000)}.00" if retired else "0", "psn_insu_stas": "1",
             "psn_insu_date": "2005-01-01", "balc": f"{rng.randrange(0, 3000)}.{rng.randrange(100):02d}",
             "prev_year_credit": "0"}
        pop.persons.append(p)
        return p

    def born(low: int, high: int) -> date:
        return date(rng.randrange(low, high), rng.randrange(1, 13), rng.randrange(1, 29))

    def relate(a: dict, b: dict, relation: str) -> None:
        pop.relations.append({"psn_no": a["psn_no"], "relative_certno": b["certno"], "relative_name": b["psn_name"],
                              "relation": relation})

    while len(pop.persons) < members:
        retired_couple = rng.random() < 0.16
        husband = add(born(1940, 1963) if retired_couple else born(1966, 1998), MALE, retired_couple)
        wife = add(date.fromisoformat(husband["brdy"]) + timedelta(days=rng.randrange(-1500, 1500)), FEMALE,
                   retired_couple)
        relate(husband, wife, "spouse")
        if rng.random() < 0.5:
            pop.authorizations.append((husband["psn_no"], wife["psn_no"]))
        if not retired_couple and rng.random() < 0.3:
            parent = add(born(1938, 1960), rng.choice((MALE, FEMALE)), True)
            relate(husband, parent, "parent")
            pop.authorizations.append((husband["psn_no"], parent["psn_no"]))
        if retired_couple and rng.random() < 0.6:
            child = add(born(1975, 1995), rng.choice((MALE, FEMALE)), False)
            relate(child, husband, "parent")
            pop.authorizations.append((child["psn_no"], husband["psn_no"]))
    pop.persons = pop.persons[:members]
    kept = {p["psn_no"] for p in pop.persons}
    certs = {p["certno"] for p in pop.persons}
    pop.relations = [r for r in pop.relations if r["psn_no"] in kept and r["relative_certno"] in certs]
    pop.authorizations = [a for a in pop.authorizations if a[0] in kept and a[1] in kept]
    for i in range(40):
        level = 1 if i < 24 else 2 if i < 34 else 3
        pop.institutions.append({"fixmedins_code": f"H{REGION}{i + 1:05d}", "fixmedins_name":
                                 f"扬州{('社区卫生服务中心', '人民医院', '中心医院')[level - 1]}{i + 1}",
                                 "hosp_lv": str(level), "admdvs": rng.choice(DISTRICTS), "designated": "1"})
    for i in range(20):
        pop.institutions.append({"fixmedins_code": f"P{REGION}{i + 1:05d}", "fixmedins_name": f"扬州大药房{i + 1}",
                                 "admdvs": rng.choice(DISTRICTS), "designated": "1",
                                 "otp_pool_flag": "1" if i < 15 else "0"})
    for i in range(30):
        kind = ("drug", "service", "material")[i % 3]
        cls = ("甲", "乙", "丙")[i % 5 % 3]
        item = {"med_list_codg": f"XM{i:04d}", "med_list_name": f"{kind}-{i}", "list_type": kind,
                "chrgitm_lv": cls, "selfpay_prop": "10%" if cls == "乙" else "",
                "pay_std": f"{rng.randrange(5, 80)}.00" if i % 4 == 0 else ""}
        if kind == "drug" and i % 6 == 0:  # centrally procured: paid up to its standard
            item |= {"vbp_flag": "1", "pay_std": f"{rng.randrange(5, 40)}.00"}
        elif kind == "drug" or i % 5 == 0:  # the platform's listing price
            item["pric_uplmt_amt"] = f"{rng.randrange(20, 90)}.00"
        pop.catalogue.append(item)
    # Yangzhou's own row of one drug (就医地目录) replaces the national one in the city
    pop.catalogue.append(pop.catalogue[3] | {"admdvs": REGION, "pric_uplmt_amt": "95.00"})
    for p in pop.persons:
        if rng.random() < CHRONIC_SHARE[p["psn_type"]]:
            disease = rng.choices([c for c, _w in CHRONIC_DISEASES], [w for _c, w in CHRONIC_DISEASES])[0]
            pop.qualifications.append((p["psn_no"], disease))
    return pop


def write_csv(folder: Path, pop: Population) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind in ("persons", "relations", "institutions", "catalogue"):
        rows = getattr(pop, kind)
        columns = list(imports.columns_of(kind))
        path = folder / f"{kind}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            writer.writerows({c: r.get(c, "") for c in columns} for r in rows)
        files[kind] = path
    return files


def visits(pop: Population, seed: int) -> list[dict]:
    """A year of outpatient visits in date order: heavy-tailed covered costs (lognormal), retirees more often
    and dearer; one in eight at a pharmacy, mostly drugs of the catalogue on a prescription (a visit's
    `prescription`: the hospital that writes it on the day and its drugs, which `run_year` records first); one
    in ten with fee lines; qualified members' chronic disease visits (med_type 14) besides."""
    rng = random.Random(seed + 1)
    hospitals = {lv: [i["fixmedins_code"] for i in pop.institutions if i.get("hosp_lv") == str(lv)] for lv in (1, 2, 3)}
    pharmacies = [i["fixmedins_code"] for i in pop.institutions if i["fixmedins_code"].startswith("P")]
    items = sorted({c["med_list_codg"] for c in pop.catalogue})
    drugs = sorted({c["med_list_codg"] for c in pop.catalogue if c["list_type"] == "drug"})
    out = []
    for p in pop.persons:
        retired = p["psn_type"] == "12"
        mean = VISITS_IN_SERVICE * (RETIREE_VISIT_FACTOR if retired else 1)
        count = _poisson(rng, mean)
        for _ in range(count):
            day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(366))
            level = rng.choices([lv for lv, _w in LEVEL_MIX], [w for _lv, w in LEVEL_MIX])[0]
            cost = min(20000.0, rng.lognormvariate(math.log(180), 1.0) * (RETIREE_COST_FACTOR if retired else 1))
            visit = {"psn_no": p["psn_no"], "date": day.isoformat(), "acct_used_flag": "1"}
            if rng.random() < 0.125:
                visit |= {"fixmedins_code": rng.choice(pharmacies), "med_type": "41"}
                if rng.random() < 0.7:
                    visit |= _prescribed(rng, rng.choice(hospitals[level]), rng.sample(drugs, rng.randrange(1, 4)),
                                         cost / 3)
                else:
                    visit["covered"] = f"{cost / 3:.2f}"
            else:
                visit |= {"fixmedins_code": rng.choice(hospitals[level]), "med_type": "11"}
                if rng.random() < 0.1:
                    visit["lines"] = [{"med_list_codg": rng.choice(items), "pric": f"{rng.randrange(5, 120)}.50",
                                       "cnt": str(rng.randrange(1, 5))} for _ in range(rng.randrange(1, 5))]
                else:
                    visit["covered"] = f"{cost:.2f}"
            out.append(visit)
    for psn_no, disease in pop.qualifications:
        for _ in range(_poisson(rng, CHRONIC_VISITS)):
            day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(366))
            level = rng.choices([lv for lv, _w in LEVEL_MIX], [w for _lv, w in LEVEL_MIX])[0]
            cost = min(20000.0, rng.lognormvariate(math.log(250 if disease == "M00500" else 120), 0.7))
            out.append({"psn_no": psn_no, "date": day.isoformat(), "acct_used_flag": "1", "med_type": "14",
                        "dise_codg": disease, "fixmedins_code": rng.choice(hospitals[level]), "covered": f"{cost:.2f}"})
    out.sort(key=lambda v: v["date"])
    for i, v in enumerate(out):
        v["key"] = f"demo-{i}"
    return out


def _prescribed(rng: random.Random, hospital: str, codes: list[str], cost: float) -> dict:
    """A pharmacy sale of `codes` worth about `cost` yuan, on a prescription `hospital` writes: the quantity
    bought, mostly for a month, now and then a long prescription of more than 12 weeks (not pooled)."""
    lines, drugs = [], []
    for code in codes:
        count = rng.randrange(1, 4)
        lines.append({"med_list_codg": code, "pric": f"{max(1.0, cost / len(codes) / count):.2f}", "cnt": str(count)})
        days = 90 if rng.random() < 0.02 else rng.choice((7, 14, 30))
        drugs.append({"med_list_codg": code, "drug_genname": code, "drug_cnt": str(count), "medc_days": days})
    return {"lines": lines, "prescription": {"hospital": hospital, "drugs": drugs}}


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


@dataclass
class YearRun:
    settled: int = 0
    reversed: int = 0
    family_paid: int = 0
    prescriptions: int = 0
    """prescriptions recorded (each settled at a pharmacy)."""
    chronic: int = 0
    """chronic disease visits (med_type 14) settled."""
    refused: Counter = field(default_factory=Counter)
    """visits the monitoring rules refused (monitor_online.Refusal), by rule."""


def run_year(engine: Engine, book: PolicyBook, year_visits: list[dict], seed: int,
             advance: Callable[[int], None] = lambda n: None) -> YearRun:
    """Settle `year_visits` (see `visits`) in order, reversing a few at random. A pharmacy sale's prescription is
    recorded by its hospital on the day, just before the sale. A visit the monitoring rules refuse is counted, as
    the institution would be told, and the year goes on."""
    rng = random.Random(seed + 2)
    result = YearRun()
    for planned in year_visits:
        visit = dict(planned)
        rx = visit.pop("prescription", None)
        if rx is not None:
            visit["rxno"] = prescriptions.record_prescription(engine, book, rx["hospital"], {
                "hosp_rxno": visit["key"], "psn_no": visit["psn_no"], "prsc_dr_name": "王医生",
                "diag_code": "J06.900", "diag_name": "急性上呼吸道感染", "prsc_date": visit["date"],
                "drugs": rx["drugs"]})["rxno"]
            result.prescriptions += 1
        try:
            done = settlement.settle(engine, book, settlement.parse_settle(visit))
        except monitor_online.Refusal as refused:
            result.refused[refused.finding.rule] += 1
            advance(1)
            continue
        result.settled += 1
        result.chronic += visit.get("med_type") == "14"
        result.family_paid += done.row["acct_mulaid_pay"] > 0
        if rng.random() < 0.004:
            settlement.reverse(engine, book, done.row["setl_id"], done.row["fixmedins_code"])
            result.reversed += 1
        advance(1)
    return result


def qualify(engine: Engine, book: PolicyBook, pop: Population) -> int:
    """Record the population's chronic disease qualifications (备案), from the first day of the year."""
    with transaction(engine) as conn:
        for psn_no, disease in pop.qualifications:
            qualifications.record(conn, book, qualifications.parse_qualification(
                {"psn_no": psn_no, "opsp_dise_code": disease, "begndate": date(YEAR, 1, 1)}))
    return len(pop.qualifications)


def authorize_families(engine: Engine, pop: Population) -> int:
    for owner, user in pop.authorizations:
        family.authorize(engine, owner, user)
    return len(pop.authorizations)


def credit_year(engine: Engine, book: PolicyBook, advance: Callable[[int], None] = lambda n: None) -> None:
    for month in range(1, 13):
        crediting.credit_month(engine, book, date(YEAR, month, 1), REGION)
        advance(1)


def summary(engine: Engine) -> list[tuple[str, str, int, int, int, int]]:
    """Reimbursement by kind (level 1-3, pharmacy, chronic disease) and member type: (kind, member type,
    settlements, covered, paid by the pool (ordinary, inpatient and chronic benefits), family aid)."""
    s = settlements.c
    live = s.reversed_by.is_(None) & s.reverses.is_(None)
    level = case((s.med_type == "14", "chronic"), (s.setting == "pharmacy", "pharmacy"),
                 else_=func.cast(s.level, settlements.c.med_type.type))
    with engine.connect() as conn:
        rows = conn.execute(select(level, s.member_type, func.count(), func.sum(s.inscp_scp_amt),
                                   func.sum(s.hifp_pay + s.inpatient_pay + s.chronic_pay), func.sum(s.acct_mulaid_pay))
                            .where(live).group_by(level, s.member_type).order_by(level, s.member_type)).all()
    return [(str(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]
