"""The review queue of smart monitoring on SQLite and PostgreSQL: findings recorded once, confirmations that claw
the fund's money back (never more than a settlement's fund payment) and give the member the cap room back, credit
events and scores, dismissals, and refusals that change nothing.

Yangzhou 321000 from 2024 (gongji/policy/regions/321000.yaml): in service, deductible 600.00 a year, 70 % at level
1; monitoring.credit: start 100, 明确违规 -10, 可疑 -5 (illustrative). M1 (in service, empty account) settles one
visit at H1 on 2024-03-01 with three class-甲 lines: D01 500.00, D02 300.01, D03 199.99 = 1000.00 covered, so the
pool pays (1000.00 - 600.00) x 70 % = 280.00 (hifp_pay 28000 fen) and the accumulators hold deductible 600.00,
pool 280.00, covered 1000.00.
"""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest
from sqlalchemy import select

from gongji.errors import InputError
from gongji.monitor.batch import FINDING_COLUMNS
from gongji.monitor.checkers import RULES, subject
from gongji.services import family, monitor_queue
from gongji.services.audit import audit
from gongji.services.imports import import_csv
from gongji.services.monitor_queue import confirm, credit_record, dismiss, hit_id, queue, record, show
from gongji.services.settlement import parse_settle, reverse, settle
from gongji.store.db import transaction
from gongji.store.ledger import CLAWBACK, POOL
from gongji.store.tables import credit_events, disease_accumulators, ledger, monitor_hits
from tests.factories import assert_clean, csv_bytes, fen, person, snapshot
from tests.services.test_audit_db import year_with_a_disease
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_settlement_db import H1, accumulated, pool, setup, visit

DECIDED_ON = date(2024, 6, 1)


def registry(engine, book, people=(), relations=()) -> str:
    """M1 (and `people`), the catalogue D01..D03, and M1's visit of three lines; returns its setl_id."""
    setup(engine, book, [person("M1", date(1970, 1, 1), balc="0.00"), *people], list(relations))
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01"), item("D02"), item("D03")]), book)
    done = settle(engine, book, parse_settle({
        "psn_no": "M1", "fixmedins_code": H1, "date": "2024-03-01",
        "lines": [{"med_list_codg": "D01", "pric": "500", "cnt": "1"},
                  {"med_list_codg": "D02", "pric": "300.01", "cnt": "1"},
                  {"med_list_codg": "D03", "pric": "199.99", "cnt": "1"}]}))
    assert (done.row["inscp_scp_amt"], done.row["hifp_pay"]) == (fen("1000.00"), fen("280.00"))  # see above
    return done.row["setl_id"]


def finding(rule: str, claim: str, line: int | None, amount: int = 0) -> dict:
    code = next(iter(RULES[rule].codes.values()))
    return {"rule": rule, "code": code, "cls": RULES[rule].cls, "claim": claim, "line": line, "amount": amount,
            "evidence": f"code=D0{line or 0}; why=test"}


def findings(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=FINDING_COLUMNS)


def put(engine, *rows: dict, moment: str = "post") -> tuple[int, int]:
    with transaction(engine) as conn:
        return record(conn, findings(*rows), moment)


def key(f: dict) -> str:
    return hit_id(f["rule"], f["claim"], f["line"], f["code"], subject(f["rule"], f["evidence"]))


def clawbacks(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(ledger.c.fund, ledger.c.holder, ledger.c.setl_id, ledger.c.memo,
                                   ledger.c.occurred_on, ledger.c.amount).where(ledger.c.kind == CLAWBACK)
                            .order_by(ledger.c.id)).all()


def clawed(engine, memo: str) -> int:
    return sum(r.amount for r in clawbacks(engine) if r.memo == memo)


def credit(engine, book, kind: str, subject: str) -> tuple[int, list[dict]]:
    with engine.connect() as conn:
        return credit_record(conn, book, kind, subject, on=DECIDED_ON)


# --- recording --------------------------------------------------------------------------------------------------


def test_a_rule_with_a_finding_per_diagnosis_queues_each_once(engine, book):
    setl_id = registry(engine, book)
    # 诊断与患者性别不符 on two diagnoses of one claim: two hits, told apart by the diagnosis; found again, none
    o80, c53 = (finding("diagnosis_sex", setl_id, None) | {"evidence": f"diagnosis={d}; prefix={d[:3]}; limit=2; sex=1"}
                for d in ("O80.000", "C53.900"))
    assert put(engine, o80, c53) == (2, 0)
    assert put(engine, o80, c53) == (0, 2)
    with engine.connect() as conn:
        assert {h["hit_id"] for h in queue(conn)} == {key(o80), key(c53)} and key(o80) != key(c53)


def test_a_finding_recorded_again_adds_nothing(engine, book):
    setl_id = registry(engine, book)
    sex, age, visits = finding("sex", setl_id, 2, 30001), finding("age_range", setl_id, 3), \
        finding("frequent_visits", setl_id, None, 28000)
    assert put(engine, sex, age, visits) == (3, 0)
    before = snapshot(engine)
    # the same three again, and one of them twice: all known
    assert put(engine, visits, sex, age, sex, moment="pre") == (0, 4)
    assert snapshot(engine) == before
    with engine.connect() as conn:
        hits = {h["hit_id"]: h for h in monitor_queue.queue(conn)}
    assert set(hits) == {key(sex), key(age), key(visits)}
    assert all(k.startswith("HT") and len(k) == 20 for k in hits)
    h = hits[key(sex)]
    # the member and the institution come from the settlement; the rest from the finding
    assert (h["psn_no"], h["fixmedins_code"], h["line"], h["amount"], h["moment"], h["status"], h["clawed_back"]) \
        == ("M1", H1, 2, 30001, "post", "pending", 0)
    assert hits[key(visits)]["line"] is None
    # a new finding beside the known ones is added alone
    assert put(engine, sex, finding("level", setl_id, 1)) == (1, 1)


def test_the_queue_filters_by_status_rule_and_institution(engine, book):
    setl_id = registry(engine, book)
    sex, age = finding("sex", setl_id, 2), finding("age_range", setl_id, 3)
    put(engine, sex, age)
    dismiss(engine, key(age), "王审核")
    with engine.connect() as conn:
        assert [h["hit_id"] for h in monitor_queue.queue(conn)] == [key(sex)]
        assert [h["hit_id"] for h in monitor_queue.queue(conn, status="dismissed")] == [key(age)]
        assert len(monitor_queue.queue(conn, status=None)) == 2
        assert monitor_queue.queue(conn, status=None, rule="age_range")[0]["hit_id"] == key(age)
        assert monitor_queue.queue(conn, status=None, institution="H32100000002") == []
        assert monitor_queue.queue_size(conn, status=None, institution=H1) == 2
        with pytest.raises(InputError, match="status: 'open'"):
            monitor_queue.queue(conn, status="open")
        with pytest.raises(InputError, match="rule: 'sexx'"):
            monitor_queue.queue(conn, rule="sexx")


# --- confirming -------------------------------------------------------------------------------------------------


def test_confirming_a_line_hit_claws_its_share_back(engine, book):
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2, fen("300.01"))
    put(engine, sex)
    pool_before = pool(engine)

    done = confirm(engine, book, key(sex), " 王审核 ", "性别不符，已核实", on=DECIDED_ON)

    # line 2's share of the fund payment: 28000 x 30001 / 100000 = 8400.28 -> 8400 fen (84.00), half-up
    assert done["hit"]["clawed_back"] == fen("84.00")
    assert (done["hit"]["status"], done["hit"]["reviewer"], done["hit"]["notes"]) == \
        ("confirmed", "王审核", "性别不符，已核实")
    assert done["hit"]["decided_at"] is not None
    assert pool(engine) == pool_before + fen("84.00")
    # one movement into Yangzhou's pool, tied to the settlement and the hit, spread over the pool's slots
    rows = clawbacks(engine)
    assert {(r.fund, r.holder, r.setl_id, r.memo, r.occurred_on) for r in rows} == \
        {(POOL, "321000", setl_id, key(sex), DECIDED_ON)}
    assert sum(r.amount for r in rows) == fen("84.00")
    # all the fund payment was ordinary pooling (hifp_pay): the year's pool accumulator 280.00 - 84.00 = 196.00;
    # the deductible and the covered cost stay
    assert accumulated(engine, "M1") == (fen("600.00"), fen("196.00"), fen("1000.00"), 0)
    # sex is 明确违规 and the institution's: -10 on H1's record, 100 - 10 = 90
    score, events = credit(engine, book, "institution", H1)
    assert score == 90
    assert [(e["subject_kind"], e["subject"], e["hit_id"], e["points"], e["rule"]) for e in events] == \
        [("institution", H1, key(sex), -10, "sex")]
    assert done["credit_events"][0]["points"] == -10
    assert credit(engine, book, "member", "M1") == (100, [])
    assert done["settlement"]["clawed_back"] == fen("84.00") and done["settlement"]["fund_pay"] == fen("280.00")
    assert [line["feedetl_sn"] for line in done["lines"]] == [1, 2, 3]
    assert done["evidence"] == [("code", "D02"), ("why", "test")]
    report = audit(engine)
    assert report.clean, report.differences
    assert report.totals["321000"]["clawed_back_in"] == fen("84.00")


def test_a_line_s_share_is_rounded_half_up(engine, book):
    setl_id = registry(engine, book)
    age = finding("age_range", setl_id, 3)
    put(engine, age)
    # line 3: 28000 x 19999 / 100000 = 5599.72 -> 5600 fen (56.00), not 5599
    assert confirm(engine, book, key(age), "审核员", on=DECIDED_ON)["hit"]["clawed_back"] == fen("56.00")
    assert accumulated(engine, "M1")[1] == fen("224.00")  # 280.00 - 56.00


def test_all_hits_of_a_settlement_never_claw_back_more_than_its_fund_payment(engine, book):
    setl_id = registry(engine, book)
    first, whole, last = finding("sex", setl_id, 1), finding("frequent_visits", setl_id, None), \
        finding("level", setl_id, 3)
    put(engine, first, whole, last)
    pool_before = pool(engine)

    confirm(engine, book, key(first), "审核员", on=DECIDED_ON)
    # line 1: 28000 x 50000 / 100000 = 14000 fen (140.00)
    assert clawed(engine, key(first)) == fen("140.00")
    assert accumulated(engine, "M1")[1] == fen("140.00")  # 280.00 - 140.00
    done = confirm(engine, book, key(whole), "审核员", on=DECIDED_ON)
    # the whole claim would be 280.00, but 140.00 is back already: what is left, 140.00
    assert done["hit"]["clawed_back"] == clawed(engine, key(whole)) == fen("140.00")
    done = confirm(engine, book, key(last), "审核员", on=DECIDED_ON)
    # line 3 would be 28000 x 19999 / 100000 = 5599.72 -> 5600, but nothing is left: no money, no ledger row
    assert done["hit"]["clawed_back"] == 0 and clawed(engine, key(last)) == 0
    assert pool(engine) == pool_before + fen("280.00")
    assert accumulated(engine, "M1")[1] == 0  # the whole pool payment is room again
    # frequent_visits (可疑) is the member's: 100 - 5; sex and level (明确违规) the institution's: 100 - 10 - 10
    assert credit(engine, book, "member", "M1")[0] == 95
    assert credit(engine, book, "institution", H1)[0] == 80
    assert_clean(engine)


def test_a_disease_visit_gives_back_the_disease_s_room_and_a_reversed_one_nothing(engine, book):
    ordinary, disease, reversed_ = year_with_a_disease(engine, book)
    on_disease, on_reversed = finding("during_stay", disease, None), finding("during_stay", reversed_, None)
    put(engine, on_disease, on_reversed)
    pool_before = pool(engine)

    done = confirm(engine, book, key(on_disease), "审核员", on=DECIDED_ON)
    # M03900: 500 x 80 % = 400.00, all chronic_pay: the disease's pool accumulator 400.00 -> 0, the ordinary one
    # (280.00 of the ordinary visit) untouched
    assert done["hit"]["clawed_back"] == fen("400.00")
    with engine.connect() as conn:
        assert conn.execute(select(disease_accumulators.c.pool).where(
            disease_accumulators.c.psn_no == "E1", disease_accumulators.c.dise_codg == "M03900")).scalar_one() == 0
    assert accumulated(engine, "E1")[1] == fen("280.00")
    # the reversed visit gave its 240.00 back when it was reversed: nothing to claw back, the credit event stays
    done = confirm(engine, book, key(on_reversed), "审核员", on=DECIDED_ON)
    assert done["hit"]["clawed_back"] == 0 and done["credit_events"][0]["points"] == -10
    assert pool(engine) == pool_before + fen("400.00")
    assert_clean(engine)


def test_family_account_counts_on_the_relative_whose_account_paid(engine, book):
    registry(engine, book, [person("O1", date(1970, 2, 2), balc="500.00", serial=2),
                            person("C1", date(1995, 6, 1), gend="2", balc="0.00", serial=3)],
             [("O1", "C1", "child")])
    family.authorize(engine, "O1", "C1")
    paid = visit(engine, book, "C1", "300.00").row  # below the deductible: the fund pays nothing
    assert paid["acct_mulaid_pay"] == fen("300.00")
    hit = finding("family_account", paid["setl_id"], None)
    put(engine, hit)
    done = confirm(engine, book, key(hit), "审核员", on=DECIDED_ON)
    assert done["hit"]["clawed_back"] == 0  # a fund payment of 0 claws nothing back
    # 家庭共济 is 可疑: -5 on O1's record, whose account paid, not on C1's
    assert credit(engine, book, "member", "O1")[0] == 95
    assert credit(engine, book, "member", "C1") == (100, [])


def test_a_score_never_goes_below_zero(engine, book):
    setl_id = registry(engine, book)
    rules = ["sex", "newborn", "child", "level", "med_type", "work_injury", "maternity", "not_paid", "max_days",
             "price", "age_range"]  # eleven 明确违规 rules: 11 x -10 = -110
    hits = [finding(rule, setl_id, 1) for rule in rules]
    put(engine, *hits)
    for h in hits:
        confirm(engine, book, key(h), "审核员", on=DECIDED_ON)
    score, events = credit(engine, book, "institution", H1)
    assert (score, len(events)) == (0, 11)  # 100 - 110 -> 0


# --- dismissing and refusing ------------------------------------------------------------------------------------


def test_dismissing_moves_no_money_and_writes_no_credit_event(engine, book):
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    before = snapshot(engine)
    done = dismiss(engine, key(sex), "王审核", "目录维护错误")
    assert (done["hit"]["status"], done["hit"]["reviewer"], done["hit"]["notes"], done["hit"]["clawed_back"]) == \
        ("dismissed", "王审核", "目录维护错误", 0)
    after = snapshot(engine)
    assert {t for t in before if before[t] != after[t]} == {"monitor_hits"}
    assert done["credit_events"] == []


def test_refusals_change_nothing(engine, book):
    setl_id = registry(engine, book)
    sex, age = finding("sex", setl_id, 2), finding("age_range", setl_id, 3)
    put(engine, sex, age)
    confirm(engine, book, key(sex), "审核员", on=DECIDED_ON)
    before = snapshot(engine)
    refusals = [
        (lambda: confirm(engine, book, "HT000000000000000000", "审核员"), "hit_id: 'HT000000000000000000' is not"),
        (lambda: dismiss(engine, "NOPE", "审核员"), "hit_id: 'NOPE'"),
        (lambda: confirm(engine, book, key(sex), "审核员"), f"hit_id: {key(sex)} was already confirmed by 审核员"),
        (lambda: dismiss(engine, key(sex), "审核员"), "already confirmed"),
        (lambda: confirm(engine, book, key(age), None), "reviewer: missing"),
        (lambda: dismiss(engine, key(age), "   "), "reviewer: missing"),
        (lambda: dismiss(engine, key(age), "x" * 51), "reviewer: must be 1 to 50"),
        (lambda: dismiss(engine, key(age), "审核员", "n" * 2001), "notes: at most 2000"),
        (lambda: put(engine, finding("sex", setl_id, 1), moment="later"), "moment: 'later'"),
        (lambda: put(engine, finding("sex", "S-NONE", 1)), "findings.claim: 'S-NONE' is not a stored settlement"),
        (lambda: put(engine, finding("sex", setl_id, 1) | {"cls": "违规"}), "findings[0].cls: '违规'"),
        (lambda: put(engine, finding("sex", setl_id, 1) | {"amount": -1}), "findings[0].amount: -1"),
        (lambda: credit(engine, book, "member", "NOBODY"), "member: 'NOBODY' is not a registered person"),
        (lambda: credit(engine, book, "doctor", "D1"), "subject_kind: 'doctor'"),
    ]
    for call, message in refusals:
        with pytest.raises(InputError, match=re.escape(message)):
            call()
        assert snapshot(engine) == before, message
    assert_clean(engine)


def test_a_region_without_credit_points_cannot_confirm(engine, book):
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    before = snapshot(engine)

    class WithoutCredit:
        """The book, with the versions' monitoring.credit left out."""

        def policy_for(self, admdvs, on):
            version = book.policy_for(admdvs, on)
            return version.model_copy(update={"monitoring": version.monitoring.model_copy(update={"credit": None})})

    with pytest.raises(InputError, match="region 321000: .* has no monitoring.credit"):
        confirm(engine, WithoutCredit(), key(sex), "审核员", on=DECIDED_ON)
    assert snapshot(engine) == before


def test_the_decision_is_one_transaction(engine, book, monkeypatch):
    """A failure after the money moved (writing the credit event) leaves the hit pending and the pool as it was."""
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    before = snapshot(engine)

    def broken(*_args, **_kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(monitor_queue, "_subject", broken)
    with pytest.raises(RuntimeError):
        confirm(engine, book, key(sex), "审核员", on=DECIDED_ON)
    assert snapshot(engine) == before
    with engine.connect() as conn:
        assert show(conn, key(sex))["hit"]["status"] == "pending"
        assert conn.execute(select(credit_events)).all() == []
        assert conn.execute(select(monitor_hits.c.status)).scalars().all() == ["pending"]


# --- reversal after a claw-back ---------------------------------------------------------------------------------


def test_reversing_a_clawed_back_settlement_undoes_both(engine, book):
    setl_id = registry(engine, book)
    pool_start = pool(engine) + fen("280.00")  # before M1's visit paid 280.00 from the pool
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    confirm(engine, book, key(sex), "王审核", on=DECIDED_ON)
    assert pool(engine) == pool_start - fen("280.00") + fen("84.00")

    reverse(engine, book, setl_id, H1)
    # the reversal gives the pool its 280.00 back and the institution its 84.00: the pool is as before the visit
    assert pool(engine) == pool_start
    assert accumulated(engine, "M1") == (0, 0, 0, 0)
    report = audit(engine)
    assert report.clean, report.differences


def test_the_room_a_claw_back_gave_back_survives_a_replay_of_the_year(engine, book):
    setl_id = registry(engine, book)
    sex = finding("sex", setl_id, 2)
    put(engine, sex)
    confirm(engine, book, key(sex), "王审核", on=DECIDED_ON)
    later = visit(engine, book, "M1", "100.00", on=date(2024, 7, 1))
    # the deductible of 600.00 was met on 1 March; 100.00 at level 1 x 70 % = 70.00: pool 196.00 + 70.00 = 266.00
    assert accumulated(engine, "M1")[1] == fen("266.00")

    reverse(engine, book, later.row["setl_id"], H1)
    # the year is replayed from the settlements that stand (the March visit: 280.00) less the 84.00 clawed back
    assert accumulated(engine, "M1") == (fen("600.00"), fen("196.00"), fen("1000.00"), 0)
