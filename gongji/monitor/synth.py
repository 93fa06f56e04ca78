"""Labelled test data for the monitoring rules and the anomaly scores (监管测试数据): a year of synthetic claims of
one region whose background breaks no rule, with planted violations of every rule and planted fraud patterns, each
labelled, so that `evaluate` can measure what the rules and scores find.

What `generate(claims, seed, rates, patterns)` makes, in memory:
* the batch frames (gongji.monitor.batch CLAIM_COLUMNS and LINE_COLUMNS) of a year (2024) in Yangzhou (321000):
  members (in service, retired, a few children covered as relatives) with their visits at clinics of three levels
  and at pharmacies, fee lines from a synthetic catalogue, diagnoses, prescription days, traceability codes, family
  accounts (家庭共济) paying for relatives;
* the context the rules read: the knowledge base shipped for the demo (gongji/monitor/knowledge.csv, read here
  without the database), the item kinds of the synthetic catalogue (the demo's XM0000-XM0029, whose kind is the
  code's number modulo 3 as in gongji.demo, which the knowledge base restricts, and XM0030-XM0119, which nothing
  restricts) and the thresholds of the 321000 policy (gongji.monitor.thresholds);
* the labels: every planted rule violation as (rule, claim key, line sn or None for a claim finding), and every
  planted fraud pattern as (pattern, kind, entity).

The background. Every member's year is generated in date order with the state the rules look at (visits and
purchases in the window, supplies still running, courses, first-line drugs, amounts over a period, what a family
account paid), so that every line is legitimate: a restricted item only for the members, places, diagnoses and
quantities its restriction allows (the restricted items are used, not avoided, so that a rule that fires on a
legitimate use shows up as a false positive). The background with the patterns is then checked by running every
rule over it; a claim with a finding would be removed (`Labelled.removed` counts them: 0 by construction).

Planted violations (`rates`: per rule, violations per background claim; at least MIN_PLANTS each). Each is a
fresh member's claim (or the few claims a history rule needs: the earlier uses, visits or payments) at a
background institution, made so that exactly the planted rule fires on exactly the labelled line or claim, with
boundary cases among them (a price 1 fen above the limit, the 9th visit in 30 days, an age one day past the
limit, a first-line drug exactly D days before). Where the knowledge base makes one rule impossible alone the
companion findings are labelled too: every pair of items that must not be billed together (exclusive) has an item
that is paid only by work-injury or maternity insurance or never paid, so a planted pair is also a planted
work_injury, maternity or not_paid violation.

Planted fraud patterns (`patterns`: per pattern, the share of the entities it may touch; at least MIN_PATTERN):
* phantom_pharmacy (institution; share of pharmacies): a pharmacy selling over and over to a few members (every
  5-8 days, never more purchases in 30 days than the threshold), big baskets of many packages;
* item_swapping (institution; share of clinics): a clinic billing a dearer drug instead of the item given on most
  of its claims: its cost per visit goes up and its drug share shifts;
* year_end (member and institution; share of members): members topping up (冲顶) with big purchases in the last
  months of the year, mostly at a few complicit pharmacies (about YEAR_END_MEMBERS_PER_PHARMACY each), which are
  labelled too;
* family_account (account; share of members): an account paying for many people over the year (recruited cards),
  a few at a time, below the family_account rule's thresholds in every window. The member anomaly scores are by
  the member treated; the label's kind "account" asks for them over the claims attributed to the paying account.
None of the patterns breaks a rule (the check above covers them); the anomaly scores have to find them.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from gongji.money import div_half_up
from gongji.monitor import batch, rulebook
from gongji.monitor.checkers import DRUG, MATERIAL, SERVICE, Context
from gongji.monitor.knowledge import RULE_TYPES, Knowledge, Restriction
from gongji.monitor.thresholds import thresholds_for, year_end_months
from gongji.policy.values import IN_SERVICE, RETIRED

YEAR = 2024
START = date(YEAR, 1, 1)
YEAR_DAYS = (date(YEAR + 1, 1, 1) - START).days
REGION = "321000"
KNOWLEDGE_CSV = Path(__file__).with_name("knowledge.csv")
DEMO_ITEMS = 30
"""XM0000..XM0029: the demo catalogue's items (gongji.demo), which the shipped knowledge base restricts."""
ITEMS = 120
"""XM0000..XM0119: the synthetic catalogue; from XM0030 on nothing is restricted."""
KINDS = (DRUG, SERVICE, MATERIAL)
"""the kind of item XMnnnn is KINDS[n % 3], as in the demo catalogue."""
DEAR_DRUGS = ("XM0108", "XM0111", "XM0114", "XM0117")
"""unrestricted drugs dearer than the rest: rare in the background, what a swapping clinic bills instead."""
CLINIC, PHARMACY = "clinic", "pharmacy"
INSTITUTION, MEMBER, ACCOUNT = "institution", "member", "account"
"""the kinds of entity a pattern label names; an account is a member judged by the claims its account paid."""

RULES = tuple(rulebook.RULES)
"""every registered rule: each gets planted violations."""
PATTERNS = ("phantom_pharmacy", "item_swapping", "year_end", "family_account")
DEFAULT_RATE = 0.002
"""planted violations of each rule per background claim."""
MIN_PLANTS = 3
DEFAULT_PATTERNS = {"phantom_pharmacy": 0.05, "item_swapping": 0.05, "year_end": 0.01, "family_account": 0.004}
MIN_PATTERN = 2
YEAR_END_MEMBERS_PER_PHARMACY = 30
SWAPPED_CLAIMS, SWAPPED_LINES, SWAP_FACTOR = 0.7, 0.7, (2.0, 3.5)
"""item swapping: the share of a clinic's claims swapped, of their unrestricted lines, and how much dearer."""
PHANTOM_BASKET = (5, 10)
"""lines (packages) of a phantom sale."""
VIOLATION_COLUMNS = {"rule": pl.String(), "claim": pl.String(), "line": pl.Int64()}
PATTERN_COLUMNS = {"pattern": pl.String(), "kind": pl.String(), "entity": pl.String()}
MEMBER_COLUMNS = {"psn_no": pl.String(), "sex": pl.String(), "birth_date": pl.Date(), "member_type": pl.String()}

FREE_DIAGNOSES = ("J06.900", "J20.900", "K29.700", "K52.900", "M54.500", "R51.x00", "L30.900", "H10.900",
                  "J02.900", "K21.900", "Z00.000", "R05.x00", "G43.900", "M79.100")
"""diagnoses no diagnosis restriction of the knowledge base matches."""
CHRONIC = ("I10.x00", "E11.900", "M17.900", "J44.900")
"""chronic diseases (门诊慢特病): hypertension, diabetes, knee arthrosis, COPD."""
MALE, FEMALE = "1", "2"
CHILDREN = 0.03
"""the share of members under 18 (relatives covered with the family); a quarter of them born in the year."""
PERIOD_AMOUNT = {"XM0016": 50000, "XM0023": 200000}
"""fen: the period_amount limits of the shipped knowledge base (365 days, longer than what a year leaves), which a
member's legitimate uses stay within."""


# --- the catalogue, the knowledge base, the context -----------------------------------------------------------


def code_of(n: int) -> str:
    return f"XM{n:04d}"


def catalogue_kinds() -> dict[str, str]:
    """The synthetic catalogue: code -> kind (drug, service, material)."""
    return {code_of(n): KINDS[n % 3] for n in range(ITEMS)}


FREE = {kind: tuple(code_of(n) for n in range(DEMO_ITEMS, ITEMS) if KINDS[n % 3] == kind
                    and code_of(n) not in DEAR_DRUGS) for kind in KINDS}
"""the unrestricted items by kind, dear drugs apart."""


def _base_prices() -> dict[str, int]:
    """A unit price (fen) per item, the same whatever the seed."""
    rng = random.Random(20240101)
    median = {DRUG: 3500, SERVICE: 2500, MATERIAL: 1200}
    prices = {code: max(100, int(median[kind] * rng.lognormvariate(0, 0.6)))
              for code, kind in catalogue_kinds().items()}
    prices.update({code: 30000 + 5000 * i for i, code in enumerate(DEAR_DRUGS)})
    # the restricted items' prices stay clear of their own limits (price, period_amount) in the background
    prices.update({"XM0001": 2800, "XM0028": 4200, "XM0016": 12000, "XM0023": 15000})
    return prices


BASE_PRICE = _base_prices()


def load_knowledge_csv(path: Path = KNOWLEDGE_CSV) -> Knowledge:
    """The restrictions of a CSV in the national form (code, rule, limit, unit, other_code, begndate, enddate,
    source) without the database; the shipped illustrative set by default. The rows are taken as they stand (the
    import service checks a file before storing it); an unknown rule or a bad date names the line."""
    found = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            where = f"{path.name}: line {reader.line_num}"
            rule = (row.get("rule") or "").strip()
            if rule not in RULE_TYPES:
                raise ValueError(f"{where}, rule: {rule!r} is not a rule type")
            try:
                begin = date.fromisoformat(row["begndate"])
                end = date.fromisoformat(row["enddate"]) if row.get("enddate") else None
            except (KeyError, ValueError):
                raise ValueError(f"{where}, begndate/enddate: not a date ({row.get('begndate')!r}, "
                                 f"{row.get('enddate')!r})") from None
            found.append(Restriction(row["code"], rule, row.get("limit") or "", row.get("unit") or "",
                                     row.get("other_code") or "", begin, end, row.get("source") or ""))
    return Knowledge(found)


def synthetic_context() -> tuple[Context, int]:
    """(the context the rules read on the synthetic year, the anomaly scores' year-end months), from the 321000
    policy in force at the year's end."""
    from gongji.policy.loader import load_book

    version = load_book().policy_for(REGION, date(YEAR, 12, 31))
    return Context(load_knowledge_csv(), catalogue_kinds(), thresholds_for(version)), year_end_months(version)


# --- the labelled data ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Labelled:
    """Synthetic claims with their labels."""

    claims: pl.DataFrame
    """batch.CLAIM_COLUMNS."""
    lines: pl.DataFrame
    """batch.LINE_COLUMNS."""
    members: pl.DataFrame
    """MEMBER_COLUMNS: every member, also those (paying accounts) without claims of their own."""
    context: Context
    year_end_months: int
    violations: pl.DataFrame
    """VIOLATION_COLUMNS: one row per planted finding (rule, claim key, line sn or null)."""
    patterns: pl.DataFrame
    """PATTERN_COLUMNS: one row per planted pattern entity (kind institution, member or account)."""
    meta: dict = field(default_factory=dict)
    """seed, sizes, rates and the like."""

    @property
    def removed(self) -> int:
        """background claims removed because a rule found something on them (0 when the generator is right)."""
        return int(self.meta.get("removed", 0))

    def frames(self) -> batch.Frames:
        return batch.Frames(self.claims, self.lines, batch.knowledge_frame(self.context.knowledge), self.context)

    def write(self, folder: Path) -> dict[str, Path]:
        """The frames and labels as Parquet files in `folder` (created), the sizes and parameters in meta.json."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for name in ("claims", "lines", "members", "violations", "patterns"):
            path = folder / f"{name}.parquet"
            getattr(self, name).write_parquet(path)
            files[name] = path
        path = folder / "knowledge.parquet"
        batch.knowledge_frame(self.context.knowledge).write_parquet(path)
        files["knowledge"] = path
        files["meta"] = folder / "meta.json"
        files["meta"].write_text(json.dumps(self.meta | {"year_end_months": self.year_end_months}, indent=2,
                                            ensure_ascii=False), encoding="utf-8")
        return files


def read(folder: Path) -> Labelled:
    """A folder `Labelled.write` wrote, with the synthetic context (the knowledge base as written)."""
    context, _months = synthetic_context()
    knowledge = pl.read_parquet(folder / "knowledge.parquet")
    restrictions = [Restriction(r["code"], r["rule"], r["limit"] or "", r["unit"] or "", r["other_code"] or "",
                                r["begndate"], r["enddate"]) for r in knowledge.iter_rows(named=True)]
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    context = Context(Knowledge(restrictions), context.kinds, context.thresholds)
    return Labelled(pl.read_parquet(folder / "claims.parquet"), pl.read_parquet(folder / "lines.parquet"),
                    pl.read_parquet(folder / "members.parquet"), context, int(meta["year_end_months"]),
                    pl.read_parquet(folder / "violations.parquet"), pl.read_parquet(folder / "patterns.parquet"),
                    meta)


# --- the generator's own records ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Inst:
    code: str
    setting: str
    level: int
    factor: float
    """its prices against the catalogue's."""
    weight: float
    """how busy it is."""


@dataclass(eq=False)
class _Line:
    code: str
    quantity: int
    price: int
    days: int | None = None
    trace: str | None = None

    @property
    def amount(self) -> int:
        return self.price * self.quantity


@dataclass(eq=False)
class _Claim:
    gen: int
    member: _Member
    inst: _Inst
    on: date
    med_type: str
    lines: list[_Line]
    diagnoses: list[str]
    level: int
    fund_pct: int
    designated: bool = True
    in_stay: bool = False
    payer: _Member | None = None
    removed: bool = False

    @property
    def total(self) -> int:
        return sum(x.amount for x in self.lines)


@dataclass(eq=False)
class _Member:
    idx: int
    sex: str
    birth: date
    member_type: str
    chronic: str | None = None
    severity: float = 1.0
    clinics: list[_Inst] = field(default_factory=list)
    pharmacies: list[_Inst] = field(default_factory=list)
    payer: _Member | None = None
    claims: list[_Claim] = field(default_factory=list)
    dates: dict[str, list[date]] = field(default_factory=lambda: {CLINIC: [], PHARMACY: []})
    supplies: dict[str, list[tuple[date, str]]] = field(default_factory=dict)
    """drug code -> (last day of a supply, institution)."""
    uses: dict[str, list[tuple[date, int, int]]] = field(default_factory=dict)
    """restricted code -> (day, quantity, amount) of each use."""
    payments: list[tuple[date, int]] = field(default_factory=list)
    """as a family account: (day, the member paid for) of each payment for a relative."""

    def age(self, on: date) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _window_fits(dates: list[date], on: date, limit: int, days: int) -> bool:
    """Adding a claim on `on` keeps every window of `days` days ending on a claim's day (this one's and the later
    ones') at `limit` claims or fewer. Same-day claims all count, whatever their order."""
    ends = [on] + [d for d in dates if on < d < on + timedelta(days=days)]
    for end in ends:
        start = end - timedelta(days=days)
        if sum(1 for d in dates if start < d <= end) + (start < on <= end) > limit:
            return False
    return True


class _Generator:
    def __init__(self, claims: int, seed: int, rates: Mapping[str, float], patterns: Mapping[str, float],
                 context: Context, months: int):
        self.rng = random.Random(seed)
        self.months = months
        self.target = claims
        self.rates = rates
        self.pattern_rates = patterns
        self.context = context
        self.t = context.thresholds
        self.members: list[_Member] = []
        self.claims: list[_Claim] = []
        self.violations: list[tuple[str, _Claim, int | None]] = []
        self.pattern_labels: list[tuple[str, str, object]] = []
        self.gen = 0
        self.trace = 0
        self.busy: set[int] = set()
        """institutions (id) a pattern already uses."""
        self._institutions(claims)

    # --- places and people ---

    def _institutions(self, claims: int) -> None:
        rng = self.rng
        clinics = max(40, claims // 500)
        pharmacies = max(20, claims // 1000)
        self.clinics: list[_Inst] = []
        for i in range(clinics):
            level = 1 if i < clinics * 0.6 else 2 if i < clinics * 0.88 else 3
            self.clinics.append(_Inst(f"H{REGION}{i + 1:05d}", CLINIC, level, rng.lognormvariate(0, 0.12),
                                      rng.gammavariate(4, 0.25) * (1 + level)))
        self.pharmacies = [_Inst(f"P{REGION}{i + 1:05d}", PHARMACY, 1, rng.lognormvariate(0, 0.1),
                                 rng.gammavariate(4, 0.25)) for i in range(pharmacies)]

    def _pick(self, places: list[_Inst]) -> _Inst:
        return self.rng.choices(places, [p.weight for p in places])[0]

    def _member(self, age: int | None = None, sex: str | None = None, birth: date | None = None) -> _Member:
        """A member of `age` (else drawn: children, in service, retired) or born on `birth`; retired from 60."""
        rng = self.rng
        if birth is None:
            if age is None:
                draw = rng.random()
                if draw < CHILDREN:
                    age = 0 if rng.random() < 0.25 else rng.randint(1, 17)
                else:
                    age = rng.randint(22, 59) if draw < 0.7 else rng.randint(60, 92)
            birth = date(YEAR - age, 1, 1) + timedelta(days=rng.randrange(365))
        member_type = RETIRED if YEAR - birth.year >= 60 else IN_SERVICE
        m = _Member(len(self.members), sex or rng.choice((MALE, FEMALE)), birth, member_type,
                    severity=rng.lognormvariate(0, 0.45))
        m.clinics = [self._pick(self.clinics) for _ in range(rng.randint(1, 3))]
        m.pharmacies = [self._pick(self.pharmacies) for _ in range(rng.randint(1, 2))]
        self.members.append(m)
        return m

    def _claim(self, m: _Member, inst: _Inst, on: date, lines: list[_Line], diagnoses: list[str],
               med_type: str | None = None, **fields) -> _Claim:
        self.gen += 1
        if med_type is None:
            med_type = "41" if inst.setting == PHARMACY else "11"
        pct = self.rng.randint(55, 75) if m.member_type == RETIRED else self.rng.randint(45, 65)
        c = _Claim(self.gen, m, inst, on, med_type, lines, diagnoses, inst.level, pct, **fields)
        m.claims.append(c)
        m.dates[inst.setting].append(on)
        m.dates[inst.setting].sort()
        self.claims.append(c)
        return c

    def _trace(self) -> str:
        self.trace += 1
        return f"8{self.trace:019d}"

    def _price(self, code: str, inst: _Inst) -> int:
        return max(100, round(BASE_PRICE[code] * inst.factor * self.rng.uniform(0.9, 1.1)))

    def _free(self, kind: str, inst: _Inst, m: _Member, taken: set[str], days: int | None = None,
              trace: bool = False) -> _Line:
        code = self.rng.choice([c for c in FREE[kind] if c not in taken])
        taken.add(code)
        quantity = max(1, round(self.rng.lognormvariate(0.3, 0.6) * m.severity))
        return _Line(code, min(quantity, 20), self._price(code, inst), days, self._trace() if trace else None)

    # --- the background ---

    def background(self) -> None:
        relatives: dict[int, int] = {}
        while len(self.claims) < self.target:
            m = self._member()
            if self.rng.random() < 0.1 and len(self.members) > 10:
                payer = self.rng.choice(self.members[:-1])
                if payer.payer is None and relatives.get(payer.idx, 0) < 2:
                    m.payer = payer
                    relatives[payer.idx] = relatives.get(payer.idx, 0) + 1
            if m.age(START) >= 40 and self.rng.random() < (0.3 if m.member_type == RETIRED else 0.08):
                m.chronic = self.rng.choice(CHRONIC)
            self._year(m)

    def _year(self, m: _Member) -> None:
        rng = self.rng
        retired = m.member_type == RETIRED
        count = max(1, _poisson(rng, (12.0 if retired else 5.5) * min(m.severity, 2.5) ** 0.5))
        first = max(0, (m.birth - START).days)
        days = sorted(rng.randrange(first, YEAR_DAYS) for _ in range(count))
        if first > 0:  # born this year: the newborn's visits in its first four weeks
            days = sorted(days + [min(YEAR_DAYS - 1, first + rng.randrange(28)) for _ in range(rng.randint(1, 2))])
        for offset in days:
            on = START + timedelta(days=offset)
            setting = PHARMACY if m.age(on) >= 18 and rng.random() < (0.2 if retired else 0.15) else CLINIC
            limits = self.t.purchases if setting == PHARMACY else self.t.visits
            limit = limits.get(m.member_type)
            if limit is not None and not _window_fits(m.dates[setting], on, limit, self.t.window_days):
                continue
            places = m.pharmacies if setting == PHARMACY else m.clinics
            inst = rng.choice(places) if rng.random() < 0.8 else self._pick(
                self.pharmacies if setting == PHARMACY else self.clinics)
            self._background_claim(m, inst, on)

    def _diagnoses(self, m: _Member, on: date) -> list[str]:
        rng = self.rng
        age = m.age(on)
        found = [rng.choice(FREE_DIAGNOSES)]
        if m.chronic and rng.random() < 0.6:
            found.insert(0, m.chronic)
        extra = []
        if age < 1:
            extra.append(("P07.300", 0.3))
        if m.sex == FEMALE and 20 <= age <= 45:
            extra.append(("O26.900", 0.03))
        if m.sex == FEMALE and 45 <= age <= 59:
            extra.append(("N95.100", 0.05))
        if m.sex == FEMALE and age >= 30:
            extra.append(("C53.900", 0.004))
        if m.sex == MALE and age >= 50:
            extra += [("N40.x00", 0.06), ("C61.x00", 0.005)]
        if age >= 60:
            extra.append(("R54.x00", 0.03))
        if age < 14:
            extra.append(("E10.900", 0.05))
        if 18 <= age < 65:
            extra.append(("I10.x00", 0.02))
        if age >= 40:
            extra.append(("M17.900", 0.02))
        for code, p in extra:
            if rng.random() < p and code not in found:
                found.append(code)
        return found

    def _background_claim(self, m: _Member, inst: _Inst, on: date) -> None:
        rng = self.rng
        pharmacy = inst.setting == PHARMACY
        med_type = "41" if pharmacy else ("14" if m.chronic and rng.random() < 0.4 else "11")
        diagnoses = self._diagnoses(m, on)
        lines: list[_Line] = []
        taken: set[str] = set()
        if pharmacy:
            plan = [DRUG] * rng.randint(1, 4) + ([MATERIAL] if rng.random() < 0.2 else [])
        else:
            plan = [SERVICE] * rng.randint(1, 2) + [DRUG] * rng.choices((0, 1, 2, 3), (3, 4, 2, 1))[0] \
                + ([MATERIAL] if rng.random() < 0.3 else [])
        for kind in plan:
            line = None
            if rng.random() < (0.8 if (on - m.birth).days <= 28 else 0.25):
                line = self._restricted(kind, m, inst, on, med_type, diagnoses, taken)
            if line is None:
                drug = kind == DRUG
                if drug and rng.random() < 0.01:
                    code = rng.choice(DEAR_DRUGS)
                    if code in taken:
                        continue
                    taken.add(code)
                    line = _Line(code, 1, self._price(code, inst))
                else:
                    line = self._free(kind, inst, m, taken, trace=drug and rng.random() < (0.9 if pharmacy else 0.3))
                if drug and rng.random() < 0.7:
                    line.days = rng.choice((3, 5, 7, 7, 14, 14, 30, 30, 60, 84))
            lines.append(line)
        for line in lines:
            if line.days is not None:
                self._supply(m, inst, on, line)
        payer = None
        if m.payer is not None and rng.random() < 0.4 and self._may_pay(m.payer, m, on):
            payer = m.payer
            payer.payments.append((on, m.idx))
        self._claim(m, inst, on, lines, diagnoses, med_type, payer=payer)

    def _supply(self, m: _Member, inst: _Inst, on: date, line: _Line) -> None:
        """A drug line with supply days: none if a supply of the same drug from another institution still runs
        (overlapping_supply); else recorded."""
        running = [(end, code) for end, code in m.supplies.get(line.code, ()) if end >= on and code != inst.code]
        if running:
            line.days = None
            return
        m.supplies.setdefault(line.code, []).append((on + timedelta(days=line.days - 1), inst.code))

    def _may_pay(self, payer: _Member, m: _Member, on: date) -> bool:
        """Another payment by `payer` for `m` on `on` keeps every window of the family_account rule at or below
        its thresholds (checked over the days within a window of it either side)."""
        days = self.t.window_days
        near = [(d, who) for d, who in payer.payments if on - timedelta(days=days) < d < on + timedelta(days=days)]
        return len(near) + 1 <= self.t.family_payments and len({who for _d, who in near} | {m.idx}) <= \
            self.t.family_people

    def _uses(self, m: _Member, code: str, since: date, before: date | None = None) -> list[tuple[date, int, int]]:
        """The member's uses of `code` dated after `since` (and before `before`)."""
        return [u for u in m.uses.get(code, ()) if u[0] > since and (before is None or u[0] < before)]

    def _restricted(self, kind: str, m: _Member, inst: _Inst, on: date, med_type: str, diagnoses: list[str],
                    taken: set[str]) -> _Line | None:
        """A legitimate line of an item the knowledge base restricts, if one fits the member, place and day."""
        rng = self.rng
        age = m.age(on)
        age_days = (on - m.birth).days
        pharmacy = inst.setting == PHARMACY
        diag = tuple(diagnoses)

        def has(*prefixes: str) -> bool:
            return any(d.startswith(prefixes) for d in diag)

        ago = {d: on - timedelta(days=d) for d in (14, 30, 90, 180, 360)}
        options: list[tuple[str, int, int | None]] = []  # (code, quantity, days)
        if kind == SERVICE and not pharmacy:
            options.append(("XM0001", 1, None))
            if m.sex == MALE:
                options.append(("XM0004", 1, None))
            if 18 <= age <= 60 and sum(q for _d, q, _a in self._uses(m, "XM0007", ago[30])) + 1 <= 4:
                options.append(("XM0007", 1, None))
            if 6 <= age <= 17:
                options.append(("XM0010", 1, None))
            if age < 18 and not self._uses(m, "XM0013", ago[14]):
                options.append(("XM0013", 1, None))
            if inst.level >= 3:
                options.append(("XM0016", 1, None))
            if has("M15", "M17"):
                options.append(("XM0028", 1, None))
        elif kind == DRUG:
            options.append(("XM0000", rng.randint(1, 3), rng.choice((None, 7, 14, 30))))
            if m.sex == FEMALE:
                options.append(("XM0003", 1, rng.choice((None, 14, 30))))
            if age_days <= 28:
                options.append(("XM0006", 1, None))
            if age < 14 and has("E10", "E11"):
                options.append(("XM0009", 1, None))
            if age >= 12 and not self._uses(m, "XM0012", ago[14]):
                options.append(("XM0012", rng.randint(1, 28), None))
            if m.sex == FEMALE and age >= 18 and self._uses(m, "XM0003", ago[180], on):
                options.append(("XM0015", 1, None))
            if age < 65 and has("I10", "I11"):
                options.append(("XM0018", 1, rng.choice((None, 30))))
            if not pharmacy and age < 75 and med_type in ("11", "14"):
                options.append(("XM0021", 1, rng.choice((None, 7, 14))))
            if not pharmacy and inst.level >= 2 and self._uses(m, "XM0000", ago[90], on):
                options.append(("XM0024", 1, None))
            if med_type == "14":
                used = m.uses.get("XM0027", [])
                quantity = rng.randint(10, 60)
                if sum(q for _d, q, _a in used) + quantity <= 360 and (not used or used[0][0] > ago[360]):
                    options.append(("XM0027", quantity, None))
        elif kind == MATERIAL:
            options += [("XM0005", rng.randint(1, 10), None), ("XM0020", rng.randint(1, 5), None)]
            if age_days <= 28:
                options.append(("XM0008", 1, None))
            options.append(("XM0023", rng.randint(1, 2), None))
        options = [o for o in options if o[0] not in taken]
        if not options:
            return None
        code, quantity, days = rng.choice(options)
        taken.add(code)
        price = self._price(code, inst)
        if code == "XM0001":
            price = min(price, 3200)  # the 2024 limit (32.00 yuan) is allowed: the rule is "above"
        elif code == "XM0028":
            price = min(price, 5000)
        line = _Line(code, quantity, price, days, self._trace() if kind == DRUG and rng.random() < 0.5 else None)
        if code in PERIOD_AMOUNT and sum(a for _d, _q, a in m.uses.get(code, ())) + line.amount > PERIOD_AMOUNT[code]:
            return None  # its amount over the year would pass the restriction's (the whole year is one period)
        m.uses.setdefault(code, []).append((on, quantity, line.amount))
        return line

    # --- the patterns ---

    def _count(self, name: str, eligible: int) -> int:
        return max(MIN_PATTERN, round(self.pattern_rates.get(name, 0.0) * eligible)) \
            if self.pattern_rates.get(name, 0.0) > 0 else 0

    def _free_places(self, places: list[_Inst], n: int) -> list[_Inst]:
        chosen = self.rng.sample([p for p in places if id(p) not in self.busy], n)
        self.busy.update(id(p) for p in chosen)
        return chosen

    def patterns(self) -> None:
        self.patterned: set[int] = set()
        background = list(self.members)
        self._item_swapping()
        self._phantom_pharmacies()
        self._year_end(background)
        self._family_accounts(background)

    def _item_swapping(self) -> None:
        rng = self.rng
        for inst in self._free_places(self.clinics, self._count("item_swapping", len(self.clinics))):
            self.pattern_labels.append(("item_swapping", INSTITUTION, inst))
            dear = rng.choice(DEAR_DRUGS)
            for c in self.claims:
                if c.inst is not inst or rng.random() >= SWAPPED_CLAIMS or dear in {x.code for x in c.lines}:
                    continue
                for i, line in enumerate(c.lines):
                    if line.code in BASE_PRICE and int(line.code[2:]) >= DEMO_ITEMS and line.code not in DEAR_DRUGS \
                            and rng.random() < SWAPPED_LINES:
                        price = round(line.amount * rng.uniform(*SWAP_FACTOR))
                        c.lines[i] = _Line(dear, 1, price)

    def _phantom_pharmacies(self) -> None:
        rng = self.rng
        for inst in self._free_places(self.pharmacies, self._count("phantom_pharmacy", len(self.pharmacies))):
            self.pattern_labels.append(("phantom_pharmacy", INSTITUTION, inst))
            for _ in range(rng.randint(3, 6)):
                m = self._member(age=rng.randint(30, 70))
                on = START + timedelta(days=rng.randrange(0, 240))
                end = on + timedelta(days=rng.randint(60, 180))
                drugs = rng.sample(FREE[DRUG], rng.randint(3, 6))
                while on <= end and on.year == YEAR:
                    lines = []
                    for _ in range(rng.randint(*PHANTOM_BASKET)):
                        code = rng.choice(drugs)
                        lines.append(_Line(code, rng.randint(1, 3), self._price(code, inst), rng.choice((None, 30)),
                                           self._trace()))
                    self._claim(m, inst, on, lines, [m.chronic or rng.choice(CHRONIC)])
                    on += timedelta(days=rng.randint(5, 8))

    def _year_end(self, background: list[_Member]) -> None:
        rng = self.rng
        adults = [m for m in background if m.age(START) >= 18 and m.payer is None]
        n = self._count("year_end", len(background))
        if not n:
            return
        members = rng.sample(adults, n)
        self.patterned.update(m.idx for m in members)
        places = self._free_places(self.pharmacies, max(1, round(n / YEAR_END_MEMBERS_PER_PHARMACY)))
        for inst in places:
            self.pattern_labels.append(("year_end", INSTITUTION, inst))
        year_end_start = date(YEAR, 13 - self.months, 1)
        span = (date(YEAR + 1, 1, 1) - year_end_start).days
        for m in members:
            self.pattern_labels.append(("year_end", MEMBER, m))
            own = rng.choice(places)
            limit = self.t.purchases.get(m.member_type, 1)
            for _ in range(rng.randint(4, 7)):
                for _try in range(5):
                    on = year_end_start + timedelta(days=rng.randrange(span))
                    if _window_fits(m.dates[PHARMACY], on, limit, self.t.window_days):
                        break
                else:
                    continue
                inst = own if rng.random() < 0.85 else self._pick(self.pharmacies)
                taken: set[str] = set()
                lines = [self._free(DRUG, inst, m, taken, trace=True) for _ in range(rng.randint(3, 5))]
                for line in lines:
                    line.quantity = rng.randint(4, 10)
                self._claim(m, inst, on, lines, [m.chronic or rng.choice(FREE_DIAGNOSES)])

    def _family_accounts(self, background: list[_Member]) -> None:
        rng = self.rng
        candidates = [m for m in background if m.age(START) >= 25 and m.payer is None and m.idx not in self.patterned]
        for payer in rng.sample(candidates, self._count("family_account", len(background))):
            self.pattern_labels.append(("family_account", ACCOUNT, payer))
            people = rng.randint(8, 14)
            for i in range(people):
                m = self._member(age=rng.randint(20, 80))
                m.payer = payer
                centre = int((i + rng.random()) * YEAR_DAYS / people)
                for _ in range(rng.randint(2, 4)):
                    offset = min(YEAR_DAYS - 1, max(0, centre + rng.randint(-10, 10)))
                    on = START + timedelta(days=offset)
                    setting = PHARMACY if rng.random() < 0.6 else CLINIC
                    inst = self._pick(self.pharmacies if setting == PHARMACY else self.clinics)
                    limits = self.t.purchases if setting == PHARMACY else self.t.visits
                    if not _window_fits(m.dates[setting], on, limits.get(m.member_type, 1), self.t.window_days):
                        continue
                    taken: set[str] = set()
                    kinds = [DRUG] * rng.randint(2, 4) if setting == PHARMACY else [SERVICE, DRUG, DRUG]
                    lines = [self._free(k, inst, m, taken, trace=k == DRUG) for k in kinds]
                    pays = self._may_pay(payer, m, on)
                    if pays:
                        payer.payments.append((on, m.idx))
                    self._claim(m, inst, on, lines, [rng.choice(FREE_DIAGNOSES)], payer=payer if pays else None)

    # --- planted violations ---

    def _day(self, span: int = 0) -> date:
        """A day of the year leaving `span` days after it within the year."""
        return START + timedelta(days=self.rng.randrange(0, YEAR_DAYS - span))

    def _aged(self, on: date, years: int, most_days: int = 300) -> date:
        """A birth date making the member exactly `years` full years old on `on` (the birthday 0..most_days days
        before it)."""
        try:
            anniversary = date(on.year - years, on.month, on.day)
        except ValueError:  # 29 February
            anniversary = date(on.year - years, 2, 28)
        return anniversary - timedelta(days=self.rng.randint(0, most_days))

    def _person(self, on: date, years: int, sex: str | None = None, most_days: int = 300) -> _Member:
        return self._member(sex=sex, birth=self._aged(on, years, most_days))

    def _clinic(self, *levels: int) -> _Inst:
        return self._pick([c for c in self.clinics if c.level in (levels or (1, 2, 3))])

    def _fillers(self, inst: _Inst, m: _Member, taken: set[str]) -> list[_Line]:
        """0-2 unrestricted lines no rule reads: services and materials at a clinic, drugs without supply days
        or traceability code at a pharmacy."""
        kinds = (DRUG,) if inst.setting == PHARMACY else (SERVICE, MATERIAL)
        return [self._free(self.rng.choice(kinds), inst, m, taken) for _ in range(self.rng.randint(0, 2))]

    def _line(self, code: str, inst: _Inst, quantity: int = 1, price: int | None = None, days: int | None = None,
              trace: str | None = None) -> _Line:
        return _Line(code, quantity, self._price(code, inst) if price is None else price, days, trace)

    def _planted(self, m: _Member, inst: _Inst, on: date, bad: list[_Line], diagnoses: list[str] | None = None,
                 fillers: bool = True, **fields) -> tuple[_Claim, list[int]]:
        """A claim of `m` with the lines `bad` (in this order, together) among filler lines; the claim and the
        sn of each of `bad`."""
        taken = {x.code for x in bad}
        lines = self._fillers(inst, m, taken) if fillers else []
        at = self.rng.randint(0, len(lines))
        lines[at:at] = bad
        c = self._claim(m, inst, on, lines, diagnoses or [self.rng.choice(FREE_DIAGNOSES)], **fields)
        return c, [at + 1 + i for i in range(len(bad))]

    def _label(self, rule: str, claim: _Claim, sn: int | None = None) -> None:
        self.violations.append((rule, claim, sn))

    def _one_line(self, rule: str, m: _Member, inst: _Inst, on: date, line: _Line, **kw) -> _Claim:
        c, (sn,) = self._planted(m, inst, on, [line], **kw)
        self._label(rule, c, sn)
        return c

    def plant(self, background_claims: int) -> None:
        for rule in RULES:
            rate = self.rates.get(rule, 0.0)
            count = max(MIN_PLANTS, round(rate * background_claims)) if rate > 0 else 0
            recipe = getattr(self, f"_plant_{rule}")
            for _ in range(count):
                recipe()

    # line and claim rules

    def _plant_sex(self) -> None:
        on, inst = self._day(), self._clinic()
        if self.rng.random() < 0.5:
            m = self._person(on, self.rng.randint(20, 70), MALE)
            line = self._line("XM0003", inst, days=self.rng.choice((None, 14)))
        else:
            m = self._person(on, self.rng.randint(20, 70), FEMALE)
            line = self._line("XM0004", inst)
        self._one_line("sex", m, inst, on, line)

    def _plant_age_range(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.5:  # 18-60: one day past 60 (61 today), older, or a child
            years = rng.choice((61, 61, rng.randint(62, 85), rng.randint(8, 17)))
            code = "XM0007"
        else:  # 6-17
            years = rng.choice((18, rng.randint(19, 70), 5, rng.randint(2, 5)))
            code = "XM0010"
        m = self._person(on, years, most_days=rng.choice((0, 300)))
        self._one_line("age_range", m, inst, on, self._line(code, inst))

    def _plant_newborn(self) -> None:
        rng, on, inst = self.rng, self._day(200), self._clinic()
        if rng.random() < 0.5:  # 29 days old: the first day past the limit, or a few months
            m = self._member(birth=on - timedelta(days=rng.choice((29, rng.randint(30, 200)))))
            diagnoses = ["P07.300"]
        else:
            m = self._person(on, rng.randint(20, 60))
            diagnoses = None
        code = rng.choice(("XM0006", "XM0008"))
        self._one_line("newborn", m, inst, on, self._line(code, inst), diagnoses=diagnoses)

    def _plant_child(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.5:  # under 14, with the indication it needs
            m = self._person(on, rng.choice((14, rng.randint(15, 60))), most_days=rng.choice((0, 300)))
            self._one_line("child", m, inst, on, self._line("XM0009", inst), diagnoses=["E11.900"])
        else:  # under 18
            m = self._person(on, rng.choice((18, rng.randint(19, 60))))
            self._one_line("child", m, inst, on, self._line("XM0013", inst))

    def _plant_child_forbidden(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.6:  # not under 12
            m = self._person(on, rng.choice((11, rng.randint(2, 11))), most_days=rng.choice((300, 360)))
            self._one_line("child_forbidden", m, inst, on, self._line("XM0012", inst, rng.randint(1, 28)))
        else:  # not under 18; second line after XM0003, which she had
            on = START + timedelta(days=rng.randrange(100, YEAR_DAYS))
            m = self._person(on, rng.randint(12, 17), FEMALE, most_days=200)
            self._planted(m, self._clinic(), on - timedelta(days=rng.randint(10, 100)), [self._line("XM0003", inst)])
            self._one_line("child_forbidden", m, inst, on, self._line("XM0015", inst))

    def _plant_elderly(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.5:
            m = self._person(on, rng.choice((65, rng.randint(66, 90))), most_days=rng.choice((0, 300)))
            self._one_line("elderly", m, inst, on, self._line("XM0018", inst), diagnoses=["I10.x00"])
        else:
            m = self._person(on, rng.choice((75, rng.randint(76, 90))))
            self._one_line("elderly", m, inst, on, self._line("XM0021", inst, days=rng.choice((None, 7))))

    def _plant_level(self) -> None:
        rng, on = self.rng, self._day(100)
        if rng.random() < 0.6:  # level 3 only
            inst = self._clinic(1, 2)
            m = self._person(on, rng.randint(25, 80))
            self._one_line("level", m, inst, on, self._line("XM0016", inst))
        else:  # level 2 and up; the first-line drug before it, so that only the level is wrong
            inst = self._clinic(1)
            on += timedelta(days=90)
            m = self._person(on, rng.randint(25, 80))
            first = on - timedelta(days=rng.randint(1, 89))
            self._planted(m, self._clinic(), first, [self._line("XM0000", inst, days=7)])
            self._one_line("level", m, inst, on, self._line("XM0024", inst))

    def _plant_med_type(self) -> None:
        rng, on = self.rng, self._day()
        m = self._person(on, rng.randint(30, 74))
        if rng.random() < 0.5:  # 门诊慢特病 only, under 普通门诊
            inst = self._clinic()
            self._one_line("med_type", m, inst, on, self._line("XM0027", inst, rng.randint(10, 60)))
        else:  # at institutions only, at a pharmacy
            inst = self._pick(self.pharmacies)
            self._one_line("med_type", m, inst, on, self._line("XM0021", inst, days=rng.choice((None, 7))))

    def _only_by_another_insurance(self, rule: str, codes: tuple[str, str]) -> None:
        on, inst = self._day(), self._clinic()
        m = self._person(on, self.rng.randint(20, 70))
        self._one_line(rule, m, inst, on, self._line(self.rng.choice(codes), inst))

    def _plant_work_injury(self) -> None:
        self._only_by_another_insurance("work_injury", ("XM0011", "XM0019"))

    def _plant_maternity(self) -> None:
        self._only_by_another_insurance("maternity", ("XM0014", "XM0022"))

    def _plant_not_paid(self) -> None:
        self._only_by_another_insurance("not_paid", ("XM0017", "XM0025"))

    def _plant_price(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        m = self._person(on, rng.randint(20, 80))
        if rng.random() < 0.5:  # 32.00 yuan in 2024: 1 fen above, or more
            price = rng.choice((3201, rng.randint(3202, 4500)))
            self._one_line("price", m, inst, on, self._line("XM0001", inst, price=price))
        else:  # 50.00 yuan, with the indication it needs
            price = rng.choice((5001, rng.randint(5002, 8000)))
            self._one_line("price", m, inst, on, self._line("XM0028", inst, price=price), diagnoses=["M17.900"])

    def _plant_max_days(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        m = self._person(on, rng.randint(20, 74))
        draw = rng.random()
        if draw < 0.4:  # its own limit, 30 days
            line = self._line("XM0000", inst, days=rng.choice((31, rng.randint(32, 60))))
        elif draw < 0.6:  # its own limit, 14 days
            line = self._line("XM0021", inst, days=rng.choice((15, rng.randint(16, 30))))
        else:  # any drug: the long-prescription cap
            cap = self.t.max_supply_days
            line = self._line(rng.choice(FREE[DRUG]), inst, days=rng.choice((cap + 1, rng.randint(cap + 2, cap + 40))))
        self._one_line("max_days", m, inst, on, line)

    def _plant_max_quantity(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        m = self._person(on, rng.randint(20, 80))
        draw = rng.random()
        if draw < 0.35:
            bad = [self._line("XM0005", inst, rng.choice((11, rng.randint(12, 20))))]
        elif draw < 0.65:  # two lines together above 10: the finding is on the first
            first = rng.randint(1, 10)
            bad = [self._line("XM0005", inst, first), self._line("XM0005", inst, rng.randint(11 - first, 10))]
        else:
            bad = [self._line("XM0020", inst, rng.choice((6, rng.randint(7, 10))))]
        c, sns = self._planted(m, inst, on, bad)
        self._label("max_quantity", c, sns[0])

    def _plant_daily_frequency(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.5:  # once a day
            m = self._person(on, rng.randint(20, 80))
            price = min(3200, self._price("XM0001", inst))
            if rng.random() < 0.5:
                c, sns = self._planted(m, inst, on, [self._line("XM0001", inst, 2, price)])
                self._label("daily_frequency", c, sns[0])
            else:
                c, sns = self._planted(m, inst, on, [self._line("XM0001", inst, 1, price) for _ in range(2)])
                self._label("daily_frequency", c, sns[1])
        else:  # twice a day (for men)
            m = self._person(on, rng.randint(20, 80), MALE)
            quantities = rng.choice(((3,), (1, 1, 1), (2, 1), (1, 2)))
            c, sns = self._planted(m, inst, on, [self._line("XM0004", inst, q) for q in quantities])
            self._label("daily_frequency", c, sns[-1])

    def _plant_exclusive(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        m = self._person(on, rng.randint(20, 60), FEMALE)
        pair, companions, diagnoses = rng.choice((
            (("XM0019", "XM0020"), {"XM0019": "work_injury"}, None),
            (("XM0022", "XM0028"), {"XM0022": "maternity"}, ["M17.900"]),
            (("XM0022", "XM0025"), {"XM0022": "maternity", "XM0025": "not_paid"}, None)))
        pair = list(pair)
        rng.shuffle(pair)
        lines = [self._line(code, inst, rng.randint(1, 5) if code == "XM0020" else 1,
                            min(5000, self._price(code, inst)) if code == "XM0028" else None) for code in pair]
        c, sns = self._planted(m, inst, on, lines, diagnoses)
        self._label("exclusive", c, sns[1])
        for line, sn in zip(lines, sns, strict=True):
            if line.code in companions:
                self._label(companions[line.code], c, sn)

    def _plant_indication(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        draw = rng.random()
        if draw < 0.4:
            m = self._person(on, rng.randint(30, 80))
            line = self._line("XM0028", inst, price=min(5000, self._price("XM0028", inst)))
        elif draw < 0.7:
            m = self._person(on, rng.randint(2, 13))
            line = self._line("XM0009", inst)
        else:
            m = self._person(on, rng.randint(30, 64))
            line = self._line("XM0018", inst)
        self._one_line("indication", m, inst, on, line)

    def _plant_diagnosis_sex(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        if rng.random() < 0.5:
            m = self._person(on, rng.randint(30, 80), FEMALE)
            diagnosis = rng.choice(("N40.x00", "C61.x00"))
        else:
            m = self._person(on, rng.randint(20, 59), MALE)
            diagnosis = rng.choice(("C53.900", "O80.000"))
        c, _sns = self._planted(m, inst, on, [self._free(SERVICE, inst, m, set())],
                                [rng.choice(FREE_DIAGNOSES), diagnosis])
        self._label("diagnosis_sex", c)

    def _plant_diagnosis_age(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        diagnosis, years, sex = rng.choice((
            ("R54.x00", rng.choice((59, rng.randint(30, 58))), None),
            ("N95.100", rng.choice((34, rng.randint(20, 33))), FEMALE),
            ("P07.300", rng.choice((1, rng.randint(2, 40))), None),
            ("O80.000", rng.choice((61, rng.randint(62, 70), 9)), FEMALE)))
        m = self._person(on, years, sex, most_days=rng.choice((0, 300)))
        c, _sns = self._planted(m, inst, on, [self._free(SERVICE, inst, m, set())], [diagnosis])
        self._label("diagnosis_age", c)

    def _plant_drug_count(self) -> None:
        rng, on, inst = self.rng, self._day(), self._clinic()
        m = self._person(on, rng.randint(20, 80))
        taken: set[str] = set()
        count = rng.choice((7, rng.randint(8, 9)))
        lines = [self._free(DRUG, inst, m, taken) for _ in range(count)]
        c, _sns = self._planted(m, inst, on, lines, fillers=False)
        self._label("drug_count", c)

    # history and fact rules

    def _series(self, m: _Member, on: date, offsets: list[int], make) -> list[tuple[_Claim, list[int]]]:
        """Claims of `m` on on + each offset (ascending), make(i) giving (institution, bad lines, fields)."""
        out = []
        for i, offset in enumerate(offsets):
            inst, bad, fields = make(i)
            out.append(self._planted(m, inst, on + timedelta(days=offset), bad, **fields))
        return out

    def _plant_period_frequency(self) -> None:
        rng = self.rng
        on = self._day(40)
        if rng.random() < 0.6:  # at most 4 in 30 days
            m = self._person(on, rng.randint(25, 55))
            quantities = rng.choice(((1, 1, 1, 1, 1), (2, 2, 1), (3, 2), (1, 3, 1)))
            last = rng.choice((29, rng.randint(len(quantities), 28)))
            offsets = [0, *sorted(rng.sample(range(1, last), len(quantities) - 2)), last]
            code = "XM0007"
        else:  # once in 14 days
            m = self._person(on, rng.randint(5, 16), most_days=200)
            quantities, offsets, code = (1, 1), [0, rng.choice((13, rng.randint(1, 12)))], "XM0013"

        def make(i: int):
            inst = self._clinic()
            return inst, [self._line(code, inst, quantities[i])], {}

        claim, sns = self._series(m, on, offsets, make)[-1]
        self._label("period_frequency", claim, sns[0])

    def _plant_period_amount(self) -> None:
        rng = self.rng
        on = self._day(120)
        m = self._person(on, rng.randint(25, 70))
        if rng.random() < 0.5:  # 500.00 yuan in 365 days, at level 3
            first = rng.randint(20000, 40000)
            prices = (first, rng.choice((50001 - first, rng.randint(50002 - first, 70000 - first))))
            code, places = "XM0016", lambda: self._clinic(3)
        else:  # 2000.00 yuan
            prices = (rng.randint(60000, 80000), rng.randint(60000, 80000))
            prices += (rng.randint(200001 - sum(prices), 90000),)
            code, places = "XM0023", self._clinic
        offsets = sorted(rng.sample(range(1, 120), len(prices) - 1))
        made = self._series(m, on, [0, *offsets], lambda i: (places(), [_Line(code, 1, prices[i])], {}))
        claim, sns = made[-1]
        self._label("period_amount", claim, sns[0])

    def _plant_course(self) -> None:
        rng = self.rng
        on = self._day(60)
        draw = rng.random()
        if draw < 0.4:  # more than 28 units within 14 days of the first use
            m = self._person(on, rng.randint(20, 60))
            first = rng.randint(10, 28)
            quantities, offsets, code, fields = (first, rng.randint(29 - first, 28)), [0, rng.randint(1, 13)], \
                "XM0012", {}
        elif draw < 0.7:  # used on without a 14-day pause: the use 14 or more days after the course began
            m = self._person(on, rng.randint(20, 60))
            second = rng.randint(1, 13)
            third = rng.choice((14, rng.randint(14, second + 13)))
            quantities, offsets, code, fields = (5, 5, 5), [0, second, third], "XM0012", {}
        else:  # more than 360 units in a year (门诊慢特病)
            m = self._person(on, rng.randint(45, 80))
            m.chronic = rng.choice(CHRONIC)
            first = rng.randint(150, 300)
            quantities, offsets, code = (first, rng.randint(361 - first, 300)), [0, rng.randint(20, 60)], "XM0027"
            fields = {"med_type": "14", "diagnoses": [m.chronic]}

        def make(i: int):
            inst = self._clinic()
            return inst, [self._line(code, inst, quantities[i])], dict(fields)

        claim, sns = self._series(m, on, offsets, make)[-1]
        self._label("course", claim, sns[0])

    def _plant_second_line(self) -> None:
        rng = self.rng
        on = self._day() if rng.random() < 0.5 else START + timedelta(days=rng.randrange(200, YEAR_DAYS))
        inst = self._clinic(2, 3)
        draw = rng.random()
        if draw < 0.6:  # XM0024 after XM0000 within 90 days: none, the same claim's, or one too long ago
            m = self._person(on, rng.randint(25, 80))
            how = rng.choice(("none", "same claim", "too early"))
            if how == "same claim":
                c, sns = self._planted(m, inst, on, [self._line("XM0000", inst, days=7), self._line("XM0024", inst)])
                self._label("second_line", c, sns[1])
                return
            if how == "too early" and on >= START + timedelta(days=150):
                before = on - timedelta(days=rng.choice((90, rng.randint(91, 150))))
                self._planted(m, self._clinic(), before, [self._line("XM0000", inst, days=7)])
            self._one_line("second_line", m, inst, on, self._line("XM0024", inst))
        else:  # XM0015 after XM0003 within 180 days
            m = self._person(on, rng.randint(20, 60), FEMALE)
            if on >= START + timedelta(days=240):
                before = on - timedelta(days=rng.choice((180, rng.randint(181, 240))))
                self._planted(m, self._clinic(), before, [self._line("XM0003", inst)])
            self._one_line("second_line", m, inst, on, self._line("XM0015", inst))

    def _frequent(self, rule: str, setting: str, limits: Mapping[str, int]) -> None:
        rng = self.rng
        on = self._day(30)
        retired = rng.random() < 0.3
        m = self._person(on, rng.randint(65, 80) if retired else rng.randint(25, 55))
        count = limits[m.member_type] + 1
        window = self.t.window_days
        last = rng.choice((window - 1, rng.randint(count - 1, window - 1)))
        offsets = [0, *sorted(rng.sample(range(1, last), count - 2)), last]
        kinds = (DRUG,) if setting == PHARMACY else (SERVICE, MATERIAL)

        def make(_i: int):
            inst = self._pick(self.pharmacies if setting == PHARMACY else self.clinics)
            return inst, [self._free(rng.choice(kinds), inst, m, set())], {"fillers": False}

        claim, _sns = self._series(m, on, offsets, make)[-1]
        self._label(rule, claim)

    def _plant_frequent_visits(self) -> None:
        self._frequent("frequent_visits", CLINIC, self.t.visits)

    def _plant_frequent_purchases(self) -> None:
        self._frequent("frequent_purchases", PHARMACY, self.t.purchases)

    def _plant_overlapping_supply(self) -> None:
        rng = self.rng
        on = self._day(40)
        m = self._person(on, rng.randint(25, 80))
        code = rng.choice(FREE[DRUG])
        first_days = rng.randint(7, 30)
        gap = rng.choice((first_days - 1, rng.randint(0, first_days - 1)))
        places = rng.sample(self.clinics + self.pharmacies, 2)
        self._planted(m, places[0], on, [self._line(code, places[0], days=first_days)])
        c, (sn,) = self._planted(m, places[1], on + timedelta(days=gap),
                                 [self._line(code, places[1], days=rng.randint(7, 30))])
        self._label("overlapping_supply", c, sn)

    def _plant_trace_twice(self) -> None:
        rng = self.rng
        on = self._day(30)
        trace = self._trace()
        inst = self._pick(self.pharmacies)
        draw = rng.random()
        if draw < 0.3:  # two lines of one claim
            m = self._person(on, rng.randint(25, 80))
            code = rng.choice(FREE[DRUG])
            c, sns = self._planted(m, inst, on, [self._line(code, inst, trace=trace) for _ in range(2)])
            self._label("trace_twice", c, sns[1])
            return
        first = self._person(on, rng.randint(25, 80))
        second = first if draw < 0.6 else self._person(on, rng.randint(25, 80))
        self._planted(first, inst, on, [self._line(rng.choice(FREE[DRUG]), inst, trace=trace)])
        later = on + timedelta(days=rng.randint(0, 30))
        place = self._pick(self.pharmacies)
        c, (sn,) = self._planted(second, place, later, [self._line(rng.choice(FREE[DRUG]), place, trace=trace)])
        self._label("trace_twice", c, sn)

    def _plant_during_stay(self) -> None:
        on, inst = self._day(), self._pick(self.clinics + self.pharmacies)
        m = self._person(on, self.rng.randint(30, 85))
        c, _sns = self._planted(m, inst, on, [self._free(DRUG, inst, m, set())], in_stay=True)
        self._label("during_stay", c)

    def _plant_institution_status(self) -> None:
        on, inst = self._day(), self._pick(self.clinics + self.pharmacies)
        m = self._person(on, self.rng.randint(20, 85))
        c, _sns = self._planted(m, inst, on, [self._free(DRUG, inst, m, set())], designated=False)
        self._label("institution_status", c)

    def _plant_family_account(self) -> None:
        rng = self.rng
        window = self.t.window_days
        on = self._day(window)
        payer = self._person(on, rng.randint(35, 70))
        if rng.random() < 0.5:  # one more person than family_people
            people = [self._person(on, rng.randint(5, 85)) for _ in range(self.t.family_people + 1)]
            paid_for = people
        else:  # one more payment than family_payments, for two relatives
            people = [self._person(on, rng.randint(5, 85)) for _ in range(2)]
            paid_for = [people[i % 2] for i in range(self.t.family_payments + 1)]
        last = rng.choice((window - 1, rng.randint(len(paid_for) - 1, window - 1)))
        offsets = [0, *sorted(rng.sample(range(1, last), len(paid_for) - 2)), last]
        claim = None
        for i, (m, offset) in enumerate(zip(paid_for, offsets, strict=True)):
            setting = PHARMACY if (i // 2) % 2 and m.age(on) >= 18 else CLINIC
            inst = self._pick(self.pharmacies if setting == PHARMACY else self.clinics)
            claim, _sns = self._planted(m, inst, on + timedelta(days=offset), [self._free(DRUG, inst, m, set())],
                                        payer=payer)
        self._label("family_account", claim)

    # --- the frames ---

    def frames(self, claims: list[_Claim], psn: Mapping[int, str]) -> tuple[pl.DataFrame, pl.DataFrame,
                                                                           dict[int, str]]:
        """The claims and lines frames of `claims` (keys by (on, generation) order) and each claim's key by id."""
        kinds = self.context.kinds
        cols: dict[str, list] = {c: [] for c in batch.CLAIM_COLUMNS}
        lcols: dict[str, list] = {c: [] for c in batch.LINE_COLUMNS}
        keys = {}
        for seq, c in enumerate(sorted(claims, key=lambda c: (c.on, c.gen)), start=1):
            key = f"SY{YEAR}{seq:09d}"
            keys[id(c)] = key
            total = c.total
            m = c.member
            for name, value in (("key", key), ("seq", seq), ("psn_no", psn[m.idx]), ("sex", m.sex),
                                ("birth_date", m.birth), ("member_type", m.member_type),
                                ("fixmedins_code", c.inst.code), ("setting", c.inst.setting), ("level", c.level),
                                ("designated", c.designated), ("med_type", c.med_type), ("on", c.on),
                                ("diagnoses", c.diagnoses), ("fund_paid", div_half_up(total * c.fund_pct, 100)),
                                ("in_stay", c.in_stay), ("payer_psn_no", psn[c.payer.idx] if c.payer else None),
                                ("rxno", None), ("prescriber_code", None), ("total", total)):
                cols[name].append(value)
            for sn, x in enumerate(c.lines, start=1):
                for name, value in (("key", key), ("sn", sn), ("code", x.code), ("quantity", x.quantity),
                                    ("price", x.price), ("amount", x.amount), ("days", x.days),
                                    ("trace_code", x.trace), ("kind", kinds.get(x.code, DRUG))):
                    lcols[name].append(value)
        claims_frame = pl.DataFrame(cols, schema=batch.CLAIM_COLUMNS)
        quantity = pl.Series("quantity", lcols.pop("quantity"), dtype=pl.Int64).cast(pl.Decimal(16, 4))
        lines_frame = pl.DataFrame(lcols, schema={k: v for k, v in batch.LINE_COLUMNS.items() if k != "quantity"})
        lines_frame = lines_frame.with_columns(quantity).select(list(batch.LINE_COLUMNS))
        return claims_frame, lines_frame, keys


def _rates(given: Mapping[str, float] | None, names: tuple[str, ...], defaults: Mapping[str, float],
           what: str) -> dict[str, float]:
    out = dict(defaults)
    for name, rate in (given or {}).items():
        if name not in names:
            raise ValueError(f"{what}: {name!r} is not one of {', '.join(names)}")
        if not 0 <= rate <= 1:
            raise ValueError(f"{what}: {name}={rate} is not a share between 0 and 1")
        out[name] = float(rate)
    return out


def generate(claims: int, seed: int = 0, rates: Mapping[str, float] | None = None,
             patterns: Mapping[str, float] | None = None, *, check: bool = True) -> Labelled:
    """About `claims` background claims (a member's year is never cut short, so a few more) with planted violations
    of every rule at `rates` (violations per background claim, by rule name; DEFAULT_RATE for the rules not
    named, at least MIN_PLANTS of each rule with a rate above 0) and the fraud patterns at `patterns` (by pattern
    name; DEFAULT_PATTERNS for those not named). `check`: run every rule over the background and the patterns and
    remove the claims anything is found on (counted in meta["removed"]); the benchmark skips it."""
    if claims < 1:
        raise ValueError(f"claims: {claims} is not a positive number")
    context, months = synthetic_context()
    rule_rates = _rates(rates, RULES, dict.fromkeys(RULES, DEFAULT_RATE), "rates")
    pattern_rates = _rates(patterns, PATTERNS, DEFAULT_PATTERNS, "patterns")
    g = _Generator(claims, seed, rule_rates, pattern_rates, context, months)
    g.background()
    background = len(g.claims)
    g.patterns()
    removed = 0
    if check:
        psn = {m.idx: f"m{m.idx}" for m in g.members}
        for _round in range(5):
            kept = [c for c in g.claims if not c.removed]
            claims_frame, lines_frame, keys = g.frames(kept, psn)
            found = batch.run(batch.Frames(claims_frame, lines_frame, batch.knowledge_frame(context.knowledge),
                                           context))
            if found.is_empty():
                break
            bad = set(found["claim"].to_list())
            for c in kept:
                if keys[id(c)] in bad:
                    c.removed = True
                    removed += 1
        else:
            raise RuntimeError("synth: the background still breaks rules after removing claims five times")
        g.claims = [c for c in g.claims if not c.removed]
    g.plant(background)
    numbers = list(range(1, len(g.members) + 1))
    g.rng.shuffle(numbers)
    psn = {m.idx: f"{REGION}{n:09d}" for m, n in zip(g.members, numbers, strict=True)}
    claims_frame, lines_frame, keys = g.frames(g.claims, psn)
    members = pl.DataFrame({"psn_no": [psn[m.idx] for m in g.members], "sex": [m.sex for m in g.members],
                            "birth_date": [m.birth for m in g.members],
                            "member_type": [m.member_type for m in g.members]}, schema=MEMBER_COLUMNS)
    violations = pl.DataFrame([(rule, keys[id(c)], sn) for rule, c, sn in g.violations], schema=VIOLATION_COLUMNS,
                              orient="row").sort("claim", "rule", "line", nulls_last=False)
    entity = {INSTITUTION: lambda e: e.code, MEMBER: lambda e: psn[e.idx], ACCOUNT: lambda e: psn[e.idx]}
    pattern_frame = pl.DataFrame([(name, kind, entity[kind](e)) for name, kind, e in g.pattern_labels],
                                 schema=PATTERN_COLUMNS, orient="row")
    meta = {"seed": seed, "claims_asked": claims, "background_claims": background - removed, "removed": removed,
            "claims": claims_frame.height, "lines": lines_frame.height, "members": len(g.members),
            "clinics": len(g.clinics), "pharmacies": len(g.pharmacies), "rates": rule_rates,
            "patterns": pattern_rates, "year": YEAR, "region": REGION}
    return Labelled(claims_frame, lines_frame, members, context, months, violations, pattern_frame, meta)
