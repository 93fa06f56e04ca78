"""The history and fact rules: each window edge and threshold by hand (online, and the batch on the same claims),
then the batch equal to the online checks on a few hundred random claims of forty members."""

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from polars.testing import assert_frame_equal

from gongji.monitor.batch import findings_frame, frames_of, run
from gongji.monitor.checkers import RULES, Context, Finding, Thresholds
from gongji.monitor.claims import Claim, Line
from gongji.monitor.history_rules import PayerIndex, TraceIndex, history_days_needed
from gongji.monitor.knowledge import Knowledge, Restriction

ON = date(2024, 6, 15)
KINDS = {"D1": "drug", "D2": "drug", "D3": "drug", "D4": "drug", "D5": "drug",
         "S1": "service", "S2": "service", "M1": "material"}
SORT = ["claim", "rule", "line", "evidence"]
HISTORY_RULES = ["period_frequency", "period_amount", "course", "second_line", "frequent_visits",
                 "frequent_purchases", "overlapping_supply", "trace_twice", "during_stay", "institution_status",
                 "family_account"]
SMALL = Thresholds(window_days=10, visits={"in_service": 3, "retired": 4}, purchases={"in_service": 2, "retired": 3},
                   family_people=2, family_payments=3, max_supply_days=30)


def context(*restrictions: Restriction, thresholds: Thresholds = SMALL) -> Context:
    return Context(Knowledge(restrictions), KINDS, thresholds)


def line(sn: int, code: str, quantity="1", price=1000, days=None, trace=None, amount=None) -> Line:
    q = Decimal(quantity)
    return Line(sn, code, q, price, int(q * price) if amount is None else amount, days, trace)


def claim(key: str, ago: int, *lines: Line, seq: int | None = None, **fields) -> Claim:
    """A claim `ago` days before ON (seq from the key's number unless given)."""
    values = {"psn_no": "P1", "sex": "1", "birth_date": date(1980, 1, 1), "member_type": "in_service",
              "fixmedins_code": "H1", "setting": "clinic", "level": 2, "designated": True, "med_type": "11",
              "on": ON - timedelta(days=ago), "lines": lines, "diagnoses": (), "fund_paid": 5000} | fields
    return Claim(key=key, seq=int(key.strip("abcdefghijklmnopqrstuvwxyz")) if seq is None else seq, **values)


def with_lookups(ctx: Context, claims) -> Context:
    return Context(ctx.knowledge, ctx.kinds, ctx.thresholds, trace_codes=TraceIndex(claims),
                       payer_claims=PayerIndex(claims))


def online(rule: str, ctx: Context, claims, days: int | None = None) -> list[Finding]:
    """The checker on each claim with the member's claims before it by (on, seq) (only those within `days` days,
    if given), and the lookups over all claims."""
    ctx = with_lookups(ctx, claims)
    found = []
    for c in claims:
        history = sorted((h for h in claims if h.psn_no == c.psn_no and (h.on, h.seq) < (c.on, c.seq)
                          and (days is None or h.on > c.on - timedelta(days=days))), key=lambda h: (h.on, h.seq))
        found.extend(RULES[rule].check(c, history, ctx))
    return found


def found(rule: str, ctx: Context, *claims: Claim) -> list[Finding]:
    """The online findings of `rule` on `claims` (full histories), after checking that the histories cut to the
    days the rule needs find the same, and that the batch finds exactly the same."""
    full = online(rule, ctx, claims)
    assert online(rule, ctx, claims, history_days_needed(rule, ctx)) == full
    batch = run(frames_of(claims, with_lookups(ctx, claims)), rules=[rule])
    assert_frame_equal(batch.sort(SORT), findings_frame(full).sort(SORT))
    return full


def hit(rule, key, sn, amount, evidence, code) -> Finding:
    return Finding(rule, code, RULES[rule].cls, key, sn, amount, evidence)


def day(ago: int) -> str:
    return str(ON - timedelta(days=ago))


# --- period frequency -----------------------------------------------------------------------------------------

FREQ = Restriction("S1", "period_frequency", "2", "7")
FREQ_CODE = "医疗服务项目周期超频次"


def test_period_frequency_window_is_the_7_days_ending_with_the_claim():
    ctx = context(FREQ)
    # 7 days back is outside (the window is ON-6 .. ON): units 1 + 1 = 2, not more than 2
    assert found("period_frequency", ctx, claim("c1", 7, line(1, "S1")), claim("c2", 6, line(1, "S1")),
                 claim("c3", 0, line(1, "S1"))) == []
    # 6 days back is inside: 1 + 1 + 1 = 3 > 2 at c3
    assert found("period_frequency", ctx, claim("c1", 6, line(1, "S1")), claim("c2", 6, line(1, "S1")),
                 claim("c3", 0, line(1, "S1"))) == [
        hit("period_frequency", "c3", 1, 1000, "code=S1; limit=2; days=7; units=3", FREQ_CODE)]


def test_period_frequency_counts_units_through_the_line():
    ctx = context(FREQ)
    # one claim: line 1 brings 1.5 units (not over 2), line 2 another 0.5 (exactly 2, not over), line 3 one more
    got = found("period_frequency", ctx, claim("c1", 0, line(1, "S1", "1.5"), line(2, "S1", "0.5"),
                                               line(3, "S2"), line(4, "S1", "1")))
    assert got == [hit("period_frequency", "c1", 4, 1000, "code=S1; limit=2; days=7; units=3", FREQ_CODE)]


def test_period_frequency_same_day_claims_in_seq_order():
    ctx = context(FREQ)
    # the same day: c2 (seq 2) counts c1's 2 units before its own; c1 (seq 1) does not count c2's
    got = found("period_frequency", ctx, claim("c2", 0, line(1, "S1")), claim("c1", 0, line(1, "S1", "2")))
    assert got == [hit("period_frequency", "c2", 1, 1000, "code=S1; limit=2; days=7; units=3", FREQ_CODE)]


# --- period amount --------------------------------------------------------------------------------------------


def test_period_amount_above_the_limit_in_yuan():
    ctx = context(Restriction("S2", "period_amount", "10.50", "30"), Restriction("M1", "period_amount", "1", "30"))
    # 500 fen 29 days back + 550 now = 1050 fen = 10.50 yuan: equal, not above
    assert found("period_amount", ctx, claim("c1", 29, line(1, "S2", amount=500)),
                 claim("c2", 0, line(1, "S2", amount=550))) == []
    # one fen more is above
    assert found("period_amount", ctx, claim("c1", 29, line(1, "S2", amount=500)),
                 claim("c2", 0, line(1, "S2", amount=551))) == [
        hit("period_amount", "c2", 1, 551, "code=S2; limit=10.50; days=30; total_fen=1051", "GZ10000102015000")]
    # 30 days back is outside the window; a material has its own national code: 101 fen > 1 yuan
    assert found("period_amount", ctx, claim("c1", 30, line(1, "S2", amount=1000)),
                 claim("c2", 0, line(1, "S2", amount=551), line(2, "M1", amount=101))) == [
        hit("period_amount", "c2", 2, 101, "code=M1; limit=1; days=30; total_fen=101", "GZ10000103003000")]


# --- course ---------------------------------------------------------------------------------------------------

COURSE = Restriction("D1", "course", "10", "14")
COURSE_CODE = "GZ10000101010000"


def test_course_units_counted_from_its_start():
    ctx = context(COURSE)
    # course starts 13 days back (still within its 14 days): 6 + 4 = 10 units, not more than 10
    assert found("course", ctx, claim("c1", 13, line(1, "D1", "6")), claim("c2", 0, line(1, "D1", "4"))) == []
    # 6 + 5 = 11 > 10
    assert found("course", ctx, claim("c1", 13, line(1, "D1", "6")), claim("c2", 0, line(1, "D1", "5"))) == [
        hit("course", "c2", 1, 5000, f"code=D1; limit=10; days=14; start={day(13)}; units=11", COURSE_CODE)]


def test_course_new_after_a_pause_of_d_days():
    ctx = context(COURSE)
    # the previous use exactly 14 days back is not within 14 days: c2 starts a new course of 5 units
    assert found("course", ctx, claim("c1", 14, line(1, "D1", "8")), claim("c2", 0, line(1, "D1", "5"))) == []
    # 13 days back it is: the same course, 8 + 5 = 13 > 10
    assert found("course", ctx, claim("c1", 13, line(1, "D1", "8")), claim("c2", 0, line(1, "D1", "5"))) == [
        hit("course", "c2", 1, 5000, f"code=D1; limit=10; days=14; start={day(13)}; units=13", COURSE_CODE)]


def test_course_use_beyond_its_days_without_a_pause():
    ctx = context(COURSE, Restriction("S1", "course", "10", "14"))
    # started 14 days back and used again 7 days back: the course ran out on day 13, the use today is beyond it
    got = found("course", ctx, claim("c1", 14, line(1, "D1"), line(2, "S1")), claim("c2", 7, line(1, "D1")),
                claim("c3", 0, line(1, "D1"), line(2, "S1")))
    assert got == [hit("course", "c3", 1, 1000, f"code=D1; limit=10; days=14; started_by={day(14)}", COURSE_CODE)]
    # started 13 days back: still within its 14 days, 3 units
    assert found("course", ctx, claim("c1", 13, line(1, "D1")), claim("c2", 7, line(1, "D1")),
                 claim("c3", 0, line(1, "D1"))) == []
    # (above, S1 used 14 days back then today: a pause of 14 days, a new course.) A service course has its own
    # national code: uses 20, 13 and 6 days back, each within 14 days of the one before, are one course started
    # 20 days back; 6 days back is 14 days after its start, beyond it
    got = found("course", ctx, claim("c1", 20, line(1, "S1")), claim("c2", 13, line(1, "S1")),
                claim("c3", 6, line(1, "S1")))
    assert got == [hit("course", "c3", 1, 1000, f"code=S1; limit=10; days=14; started_by={day(20)}",
                       "GZ10000102010000")]


def test_course_restriction_of_the_claims_day():
    # until ON-1 the course is 20 days; from ON on, 5 days with 1 unit: today's restriction decides, uses 5 days
    # back are outside its window so today starts a new course
    ctx = context(Restriction("D1", "course", "10", "20", enddate=ON - timedelta(days=1)),
                  Restriction("D1", "course", "1", "5", begndate=ON))
    assert found("course", ctx, claim("c1", 5, line(1, "D1", "9")), claim("c2", 0, line(1, "D1"))) == []
    # 4 days back is inside: 9 + 1 = 10 units > 1 (the 20-day restriction saw 9 units on c1, not more than 10)
    assert found("course", ctx, claim("c1", 4, line(1, "D1", "9")), claim("c2", 0, line(1, "D1"))) == [
        hit("course", "c2", 1, 1000, f"code=D1; limit=1; days=5; start={day(4)}; units=10", COURSE_CODE)]


# --- second line ----------------------------------------------------------------------------------------------

SECOND = Restriction("D2", "second_line", other_code="D3", unit="30")


def test_second_line_needs_the_first_line_drug_within_d_days_before():
    ctx = context(SECOND)
    evidence = "code=D2; other_code=D3; days=30"
    # the first-line drug 29 days back: inside the 30 days
    assert found("second_line", ctx, claim("c1", 29, line(1, "D3")), claim("c2", 0, line(1, "D2"))) == []
    # 30 days back: outside
    assert found("second_line", ctx, claim("c1", 30, line(1, "D3")), claim("c2", 0, line(1, "D2"))) == [
        hit("second_line", "c2", 1, 1000, evidence, "GZ10000101005000")]
    # on the same claim only: no sign the first line was tried first
    assert found("second_line", ctx, claim("c2", 0, line(1, "D3"), line(2, "D2"))) == [
        hit("second_line", "c2", 2, 1000, evidence, "GZ10000101005000")]
    # the same day: an earlier claim (seq 1) counts, a later one (seq 3) does not
    assert found("second_line", ctx, claim("c1", 0, line(1, "D3")), claim("c2", 0, line(1, "D2"))) == []
    assert found("second_line", ctx, claim("c3", 0, line(1, "D3")), claim("c2", 0, line(1, "D2"))) == [
        hit("second_line", "c2", 1, 1000, evidence, "GZ10000101005000")]
    # another member's first-line drug does not count
    assert found("second_line", ctx, claim("c1", 5, line(1, "D3"), psn_no="P2"), claim("c2", 0, line(1, "D2"))) == [
        hit("second_line", "c2", 1, 1000, evidence, "GZ10000101005000")]


# --- frequent visits and purchases ----------------------------------------------------------------------------


def visits(*agos: int, **fields) -> list[Claim]:
    return [claim(f"v{i}", ago, **fields) for i, ago in enumerate(agos, 1)]


def test_frequent_visits_above_the_threshold_within_the_window():
    ctx = context()  # window 10 days, in service 3 visits, retired 4
    # 10 days back is outside: 3 visits in the window, not more than 3
    assert found("frequent_visits", ctx, *visits(10, 6, 3, 0)) == []
    # 9 days back is inside: 4 > 3, on the fourth
    assert found("frequent_visits", ctx, *visits(9, 6, 3, 0)) == [
        Finding("frequent_visits", "GZ10000204002000", "可疑", "v4", None, 5000,
                "visits=4; limit=3; window_days=10; claims=v1,v2,v3,v4")]
    # a retiree may visit 4 times
    assert found("frequent_visits", ctx, *visits(9, 6, 3, 0, member_type="retired")) == []
    # pharmacy claims are not visits
    assert found("frequent_visits", ctx, *visits(9, 6, 3, 0, setting="pharmacy")) == []


def test_frequent_visits_once_per_crossing():
    ctx = context()
    # 20, 19, 18, 17 days back: 4 visits, above at v4; v5 (16 back, 5 in its window) stays above: no second
    # finding. v6 (5 back) has only itself within 10 days (16 back is 11 days before it), v7 two, v8 three, and
    # v9 (2 back) crosses again with v6..v9
    got = found("frequent_visits", ctx, *visits(20, 19, 18, 17, 16, 5, 4, 3, 2))
    assert [(f.claim, f.evidence) for f in got] == [
        ("v4", "visits=4; limit=3; window_days=10; claims=v1,v2,v3,v4"),
        ("v9", "visits=4; limit=3; window_days=10; claims=v6,v7,v8,v9")]


def test_frequent_purchases_at_pharmacies():
    ctx = context()  # in service 2 purchases
    got = found("frequent_purchases", ctx, *visits(9, 1, 0, setting="pharmacy"))
    assert got == [Finding("frequent_purchases", "GZ10000204003000", "可疑", "v3", None, 5000,
                           "purchases=3; limit=2; window_days=10; claims=v1,v2,v3")]
    # clinic visits are not purchases
    assert found("frequent_purchases", ctx, *visits(9, 1, 0)) == []


# --- overlapping supply ---------------------------------------------------------------------------------------


def test_overlapping_supply_from_another_institution():
    ctx = context()  # max supply 30 days
    today = claim("c2", 0, line(1, "D4", days=7), fixmedins_code="H2")
    # 10 days bought 9 days back run through today: overlap
    assert found("overlapping_supply", ctx, claim("c1", 9, line(1, "D4", days=10)), today) == [
        hit("overlapping_supply", "c2", 1, 1000, "code=D4; days=7; overlaps=c1", "GZ10000301006000")]
    # bought 10 days back, they ran out yesterday
    assert found("overlapping_supply", ctx, claim("c1", 10, line(1, "D4", days=10)), today) == []
    # the same institution: not this rule
    assert found("overlapping_supply", ctx, claim("c1", 9, line(1, "D4", days=10), fixmedins_code="H2"),
                 today) == []
    # another drug, another member: no overlap
    assert found("overlapping_supply", ctx, claim("c1", 9, line(1, "D5", days=10)),
                 claim("c3", 9, line(1, "D4", days=10), psn_no="P2"), today) == []


def test_overlapping_supply_looks_back_max_supply_days():
    ctx = context()
    today = claim("c3", 0, line(1, "D4", days=7), fixmedins_code="H3")
    # 40 days bought 29 days back still run, and so do 30 bought 5 days back at H2: both listed, oldest first
    assert found("overlapping_supply", ctx, claim("c1", 29, line(1, "D4", days=40)),
                 claim("c2", 5, line(1, "D4", days=30), fixmedins_code="H2"), today) == [
        # c2 (at H2) overlaps c1's supply (at H1) too
        hit("overlapping_supply", "c2", 1, 1000, "code=D4; days=30; overlaps=c1", "GZ10000301006000"),
        hit("overlapping_supply", "c3", 1, 1000, "code=D4; days=7; overlaps=c1,c2", "GZ10000301006000")]
    # 30 days back is beyond the 30-day window (a supply longer than 30 days breaks max_days already)
    assert found("overlapping_supply", ctx, claim("c1", 30, line(1, "D4", days=40)), today) == []


# --- trace codes ----------------------------------------------------------------------------------------------


def test_trace_code_settled_twice_by_anyone():
    ctx = context()
    first = claim("c1", 5, line(1, "D1", trace="T1"), psn_no="P2")
    again = claim("c2", 0, line(1, "D1", trace="T1"), line(2, "D1", trace="T2"), line(3, "D1", trace="T2"),
                  line(4, "D1", trace="T3"))
    # T1 first settled on P2's c1; T2 twice within c2 (the second line hit); T3 once
    assert found("trace_twice", ctx, first, again) == [
        hit("trace_twice", "c2", 1, 1000, "code=D1; trace_code=T1; first=c1", "追溯码重复结算"),
        hit("trace_twice", "c2", 3, 1000, "code=D1; trace_code=T2; first=c2", "追溯码重复结算")]
    # the same day, the lower seq was first
    assert found("trace_twice", ctx, claim("c2", 0, line(1, "D1", trace="T1")),
                 claim("c1", 0, line(1, "D1", trace="T1"), psn_no="P2")) == [
        hit("trace_twice", "c2", 1, 1000, "code=D1; trace_code=T1; first=c1", "追溯码重复结算")]


def test_trace_code_without_the_lookup_checks_the_claim_alone():
    ctx = context()
    c = claim("c2", 0, line(1, "D1", trace="T1"), line(2, "D1", trace="T1"))
    assert RULES["trace_twice"].check(c, [], ctx) == [
        hit("trace_twice", "c2", 2, 1000, "code=D1; trace_code=T1; first=c2", "追溯码重复结算")]


# --- facts of the claim ---------------------------------------------------------------------------------------


def test_during_stay_and_institution_status():
    ctx = context()
    assert found("during_stay", ctx, claim("c1", 0), claim("c2", 0, setting="pharmacy", in_stay=True)) == [
        Finding("during_stay", "住院期间门诊结算", "明确违规", "c2", None, 5000, "setting=pharmacy")]
    assert found("institution_status", ctx, claim("c1", 0), claim("c2", 0, designated=False)) == [
        Finding("institution_status", "非定点或暂停机构结算", "明确违规", "c2", None, 5000, "fixmedins_code=H1")]


# --- family account -------------------------------------------------------------------------------------------


def paid(key: str, ago: int, psn_no: str, payer="Q") -> Claim:
    return claim(key, ago, psn_no=psn_no, payer_psn_no=payer)


def test_family_account_too_many_people():
    ctx = context()  # window 10 days, at most 2 people, at most 3 payments
    # Q paid for A 10 days back (outside), then B and C: 2 people in the window
    assert found("family_account", ctx, paid("c1", 10, "A"), paid("c2", 5, "B"), paid("c3", 0, "C")) == []
    # 9 days back is inside: A, B, C are 3 people > 2, on c3 (C's claim); Q's own claims do not count
    assert found("family_account", ctx, paid("c1", 9, "A"), paid("c2", 5, "B"), claim("c4", 3, psn_no="Q"),
                 paid("c3", 0, "C")) == [
        Finding("family_account", "家庭共济账户异常使用", "可疑", "c3", None, 5000,
                "payer=Q; people=3; payments=3; window_days=10; claims=c1,c2,c3")]


def test_family_account_too_many_payments_once_per_crossing():
    ctx = context()
    # 3 payments for A are not more than 3; the 4th is, the 5th stays above (no second finding); another
    # payer's payments do not count
    got = found("family_account", ctx, paid("c1", 8, "A"), paid("c2", 6, "A"), paid("c3", 4, "A"),
                paid("c9", 3, "A", payer="R"), paid("c4", 2, "A"), paid("c5", 1, "A"))
    assert got == [Finding("family_account", "家庭共济账户异常使用", "可疑", "c4", None, 5000,
                           "payer=Q; people=1; payments=4; window_days=10; claims=c1,c2,c3,c4")]


def test_family_account_without_the_lookup_finds_nothing():
    # with at most 0 payments the one payment would be above, but the plain Context cannot tell the payer's others
    c = paid("c1", 0, "A")
    assert RULES["family_account"].check(c, [], context(thresholds=replace(SMALL, family_payments=0))) == []


def test_bad_unit_refused_online_and_in_batch():
    ctx = context(Restriction("S1", "period_frequency", "2", "400"))
    c = claim("c1", 0, line(1, "S1"))
    with pytest.raises(ValueError, match="unit"):
        RULES["period_frequency"].check(c, [], ctx)
    with pytest.raises(ValueError, match="unit"):
        run(frames_of([c], ctx), rules=["period_frequency"])


# --- the batch equal to the online checks ---------------------------------------------------------------------


def random_claims(rng: random.Random, n: int = 400, members: int = 40) -> list[Claim]:
    start = date(2024, 1, 1)
    people = [f"P{i:02d}" for i in range(members)]
    payers = people[:4]
    claims = []
    for seq in rng.sample(range(1, 10 * n), n):
        psn_no = rng.choice(people[6:16]) if rng.random() < 0.4 else rng.choice(people)
        setting = rng.choice(["clinic", "clinic", "pharmacy"])
        lines = []
        for sn in range(1, rng.randint(1, 4) + 1):
            code = rng.choice(list(KINDS))
            drug = KINDS[code] == "drug"
            q = Decimal(rng.choice(["1", "2", "0.5", "1.25", "3"]))
            price = rng.choice([300, 800, 1250])
            lines.append(Line(sn, code, q, price, int(q * price), rng.randint(3, 20) if drug else None,
                              f"T{rng.randint(1, 400)}" if drug and rng.random() < 0.5 else None))
        payer = rng.choice(payers) if rng.random() < 0.25 else None
        claims.append(Claim(
            key=f"k{seq:05d}", seq=seq, psn_no=psn_no, sex="1", birth_date=date(1960, 1, 1),
            member_type="retired" if psn_no < "P10" else "in_service",
            fixmedins_code=rng.choice(["H1", "H2", "H3"]), setting=setting, level=2,
            designated=rng.random() > 0.03, med_type="11", on=start + timedelta(days=rng.randint(0, 89)),
            lines=tuple(lines), fund_paid=rng.randint(0, 9000), in_stay=rng.random() < 0.03,
            payer_psn_no=payer if payer != psn_no else None))
    return claims


def test_batch_equals_online_on_random_claims():
    rng = random.Random(8)
    claims = random_claims(rng)
    ctx = context(
        Restriction("S1", "period_frequency", "4", "14"),
        Restriction("S2", "period_frequency", "3", "10"),
        Restriction("S2", "period_amount", "60", "30"),
        Restriction("M1", "period_amount", "35.50", "21"),
        Restriction("D1", "course", "6", "10", enddate=date(2024, 2, 29)),
        Restriction("D1", "course", "4", "20", begndate=date(2024, 3, 1)),
        Restriction("S1", "course", "8", "30"),
        Restriction("D2", "second_line", other_code="D3", unit="30"),
        Restriction("D5", "second_line", other_code="D4", unit="15"),
        thresholds=Thresholds(window_days=14, visits={"in_service": 4, "retired": 5},
                              purchases={"in_service": 2, "retired": 3}, family_people=3, family_payments=4,
                              max_supply_days=30))
    facts = with_lookups(ctx, claims)
    batch = run(frames_of(claims, facts), rules=HISTORY_RULES)
    expected = [f for rule in HISTORY_RULES for f in online(rule, ctx, claims)]
    assert_frame_equal(batch.sort(SORT), findings_frame(expected).sort(SORT))
    # histories cut to the days each rule needs find the same
    assert [f for rule in HISTORY_RULES for f in online(rule, ctx, claims, history_days_needed(rule, ctx))] == expected
    # and every rule hit, but not everything
    counts = {rule: sum(f.rule == rule for f in expected) for rule in HISTORY_RULES}
    assert all(counts.values()), counts
    assert len(expected) < 3 * len(claims), counts
    # the registered bound covers what the rules need here
    assert all(RULES[rule].history_days >= history_days_needed(rule, ctx) for rule in HISTORY_RULES)
