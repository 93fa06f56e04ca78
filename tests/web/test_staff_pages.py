"""The bureau staff pages, on SQLite and PostgreSQL: an operator searches a person, changes a status (a bad change
shows its error next to the field and changes nothing), credits a month and sees the totals, reads the funds and
the audit, follows a settlement's reversal trail and confirms a monitoring hit; an auditor reads but changes
nothing; a member and a forged form get nowhere.

The world (tests/services/test_monitor_queue_db.registry): Yangzhou 321000, its level-1 hospital H1, the pool
funded with 100,000.00 on 2024-01-01; M1 (in service, base 6000.00, empty account) settled one visit at H1 on
2024-03-01 with three class-甲 lines D01 500.00, D02 300.01, D03 199.99: covered 1000.00, the pool paid
(1000.00 - 600.00 deductible) x 70 % = 280.00. R1 is M1's mother, retired, 300.00 in her account, which M1 may use.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from gongji.api.app import create_app
from gongji.services import family, logins
from gongji.services.settlement import parse_settle, reverse, settle
from gongji.services.users import ADMIN, AUDITOR, OPERATOR, add_user
from gongji.store.tables import accounts, audit_log, monitor_hits, persons
from gongji.web import staff_crediting
from gongji.web.session import CSRF_COOKIE
from tests.factories import fen, person, snapshot
from tests.services.test_monitor_queue_db import finding, key, put, registry
from tests.services.test_settlement_db import H1

R1 = person("R1", date(1955, 6, 1), psn_type="12", gend="2", pension="4000.00", balc="300.00", serial=2)
M1_CERTNO = person("M1", date(1970, 1, 1))["certno"]
"""M1 as registry() registers him."""


@pytest.fixture
def world(engine, book) -> str:
    """The registry above; returns M1's setl_id."""
    setl_id = registry(engine, book, people=[R1], relations=[("M1", "R1", "parent")])
    family.authorize(engine, "R1", "M1")
    return setl_id


@pytest.fixture
def client(engine, book, world) -> TestClient:
    with TestClient(create_app(engine, book), base_url="https://testserver") as c:
        yield c


def csrf(client: TestClient) -> str:
    if CSRF_COOKIE not in client.cookies:
        client.get("/staff/login")
    return client.cookies[CSRF_COOKIE]


def post(client: TestClient, path: str, **form) -> object:
    return client.post(path, data={"csrf": csrf(client), **form}, follow_redirects=False)


def staff(engine, client: TestClient, name: str, role: str) -> None:
    add_user(engine, name, role)
    logins.set_staff_password(engine, name, "password123")
    assert post(client, "/staff/login", name=name, password="password123").status_code == 303


def logged(engine, action: str) -> list[tuple]:
    with engine.connect() as conn:
        return [(r.actor, r.target, json.loads(r.after) if r.after else None) for r in conn.execute(
            select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id))]


def status_of(engine, psn_no: str) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(select(persons.c.psn_insu_stas, persons.c.stas_reason, persons.c.stas_date)
                                  .where(persons.c.psn_no == psn_no)).one())


# --- 参保人员 ---------------------------------------------------------------------------------------------------


def test_searching_persons_masks_id_numbers_and_the_detail_shows_the_whole_one(engine, client):
    staff(engine, client, "王经办", OPERATOR)
    found = client.get("/staff/persons", params={"name": "R1"})
    assert found.status_code == 200
    assert 'href="/staff/persons/R1"' in found.text and "/staff/persons/M1" not in found.text
    masked = R1["certno"][:6] + "********" + R1["certno"][-4:]
    assert masked in found.text and R1["certno"] not in found.text
    # by region and status, by psn_no
    listed = client.get("/staff/persons", params={"region": "321000", "status": "1"}).text
    assert "/staff/persons/M1" in listed and "/staff/persons/R1" in listed
    assert "/staff/persons/R1" not in client.get("/staff/persons", params={"status": "2"}).text
    assert "/staff/persons/R1" in client.get("/staff/persons", params={"psn_no": "R1"}).text
    bad = client.get("/staff/persons", params={"status": "9", "region": "32"})
    assert bad.status_code == 422 and 'id="e-status"' in bad.text and 'id="e-region"' in bad.text

    detail = client.get("/staff/persons/R1")
    assert detail.status_code == 200 and R1["certno"] in detail.text
    assert '<div class="big" id="balance">300.00 元</div>' in detail.text  # the opening balance, untouched
    # the relation M1 registered: R1 is his parent, her ID number masked there
    assert masked in detail.text and "父母" in detail.text
    # M1 may use R1's account
    assert 'href="/staff/persons/M1"' in detail.text and "有效" in detail.text
    assert 'action="/staff/persons/R1/status"' in detail.text  # an operator gets the form
    assert client.get("/staff/persons/NOBODY").status_code == 404


def test_a_status_change_is_saved_and_logged_and_a_bad_one_shows_its_error_next_to_the_field(engine, client):
    staff(engine, client, "王经办", OPERATOR)
    before = snapshot(engine)
    early = post(client, "/staff/persons/R1/status", psn_insu_stas="2", stas_date="1999-12-31", reason="", heir="")
    # registered by the factory as insured from 2000-01-01
    assert early.status_code == 422 and 'id="e-stas_date"' in early.text
    assert "不能早于参保日期（2000-01-01）" in early.text
    no_heir = post(client, "/staff/persons/R1/status", psn_insu_stas="4", stas_date="2024-08-01", reason="死亡",
                   heir="")
    assert no_heir.status_code == 422 and 'id="e-heir"' in no_heir.text and 'value="死亡"' in no_heir.text
    not_a_date = post(client, "/staff/persons/R1/status", psn_insu_stas="2", stas_date="2024-02-30")
    assert not_a_date.status_code == 422 and 'id="e-stas_date"' in not_a_date.text
    not_a_status = post(client, "/staff/persons/R1/status", psn_insu_stas="3", stas_date="2024-02-01")
    assert not_a_status.status_code == 422 and 'id="e-psn_insu_stas"' in not_a_status.text
    assert snapshot(engine) == before

    paused = post(client, "/staff/persons/M1/status", psn_insu_stas="2", stas_date="2024-05-01", reason="中断缴费")
    assert (paused.status_code, paused.headers["location"]) == (303, "/staff/persons/M1?changed=1")
    assert status_of(engine, "M1") == ("2", "中断缴费", date(2024, 5, 1))
    page = client.get(paused.headers["location"]).text
    assert "参保状态已变更" in page and "暂停（2）" in page
    assert logged(engine, "person.status") == [("王经办", "M1", {
        "psn_insu_stas": "2", "stas_reason": "中断缴费", "stas_date": "2024-05-01"})]

    # death: R1's 300.00 goes to the heir, the account closes, M1's use of it ends
    died = post(client, "/staff/persons/R1/status", psn_insu_stas="4", stas_date="2024-08-01", reason="死亡",
                heir="王芳")
    assert died.headers["location"] == "/staff/persons/R1?changed=1&paid=30000"
    shown = client.get(died.headers["location"]).text
    assert "账户余额 300.00 元已支付给继承人" in shown and "已于 2024-08-01 注销" in shown
    assert status_of(engine, "R1") == ("4", "death", date(2024, 8, 1))
    # a closed account takes no further change: the error stands by the status, and nothing moves
    before = snapshot(engine)
    again = post(client, "/staff/persons/R1/status", psn_insu_stas="1", stas_date="2024-09-01")
    assert again.status_code == 422 and 'id="e-psn_insu_stas"' in again.text and "因死亡注销" in again.text
    assert snapshot(engine) == before


# --- 月度划账 ---------------------------------------------------------------------------------------------------


def wait_for(client: TestClient, token: str) -> str:
    """The progress fragment once the run has finished (polled as the page does)."""
    for _ in range(200):
        fragment = client.get(f"/staff/crediting/progress?run={token}", headers={"HX-Request": "true"})
        if "已完成" in fragment.text:
            return fragment.text
        time.sleep(0.05)
    raise AssertionError("the crediting run did not finish")


def test_crediting_a_month_runs_with_progress_and_the_totals_appear(engine, client):
    staff(engine, client, "王经办", OPERATOR)
    empty = client.get("/staff/crediting")
    assert empty.status_code == 200 and "还没有划账记录" in empty.text and 'action="/staff/crediting"' in empty.text
    before = snapshot(engine)
    for month in ("2024-13", "2024/01", "2024-1"):
        bad = post(client, "/staff/crediting", month=month, region="321000")
        assert bad.status_code == 422 and 'id="e-month"' in bad.text, month
    no_policy = post(client, "/staff/crediting", month="2021-12", region="321000")  # Yangzhou's file starts 2022
    assert no_policy.status_code == 422 and 'id="e-month"' in no_policy.text and "没有生效的政策版本" in no_policy.text
    nobody = post(client, "/staff/crediting", month="2024-01", region="530000")
    assert nobody.status_code == 422 and 'id="e-region"' in nobody.text
    assert snapshot(engine) == before

    started = post(client, "/staff/crediting", month="2024-01", region="321000")
    assert started.status_code == 303
    token = started.headers["location"].split("run=", 1)[1]
    first = client.get(started.headers["location"])
    assert 'id="progress"' in first.text
    done = wait_for(client, token)
    # M1 in service: 2 % x 6000.00 = 120.00; R1 retired: 2.5 % x 3000.00 (the reform year's average pension) = 75.00;
    # 2 members, 120.00 + 75.00 = 195.00 to accounts; contributions 9 % x 6000.00 = 540.00 - 120.00 = 420.00 to the pool
    assert "hx-trigger" not in done  # polling stops
    assert '<td class="n">2</td>' in done and '<td class="n">195.00</td>' in done and "420.00" in done
    assert 'id="runs" hx-swap-oob="true"' in done  # the runs table is swapped in beside
    runs = client.get("/staff/crediting").text
    assert "月度划账</td><td>321000</td>" in runs and "<td>2024-01</td>" in runs
    assert '<td class="n">2</td><td class="n">195.00</td>' in runs
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == "M1")).scalar_one() == fen("120.00")
    assert [(actor, target, after["members"]) for actor, target, after in logged(engine, "crediting.run")] == \
        [("王经办", "321000 2024-01", 2)]

    # the same month again credits nothing
    again = post(client, "/staff/crediting", month="2024-01", region="")
    assert "该月已划账" in wait_for(client, again.headers["location"].split("run=", 1)[1])
    with engine.connect() as conn:
        assert conn.execute(select(accounts.c.balance).where(accounts.c.psn_no == "M1")).scalar_one() == fen("120.00")


def test_a_poll_another_worker_answers_reads_the_stored_runs(engine, client):
    # gongji serve --workers N: the worker that ran the month holds its progress; another reads batch_runs
    staff(engine, client, "王经办", OPERATOR)
    started = post(client, "/staff/crediting", month="2024-01", region="321000")
    token = started.headers["location"].split("run=", 1)[1]
    wait_for(client, token)
    staff_crediting._runs.clear()  # as if the poll reached another process
    unknown = client.get(f"/staff/crediting/progress?run={token}&month=2024-02&regions=321000")
    assert "正在划账" in unknown.text and "由另一服务进程办理" in unknown.text and "hx-trigger" in unknown.text
    done = client.get(f"/staff/crediting/progress?run={token}&month=2024-01&regions=321000")
    # 2 members, 120.00 + 75.00 = 195.00 (as above)
    assert "已完成" in done.text and '<td class="n">2</td>' in done.text and "195.00" in done.text
    assert "hx-trigger" not in done.text


def chart_option(html: str, chart_id: str) -> dict:
    """The ECharts option the page gives the chart `chart_id`."""
    found = re.search(f'id="{chart_id}".*?var option = (.*?);\n', html, re.S)
    assert found, chart_id
    return json.loads(found.group(1))


# --- 基金收支 ---------------------------------------------------------------------------------------------------


def test_the_funds_page_draws_the_flows_and_gives_the_audit_verdict(engine, client):
    staff(engine, client, "李审计", AUDITOR)
    shown = client.get("/staff/funds", params={"year": "2024", "region": "321000"})
    assert shown.status_code == 200 and '<script src="/static/echarts.min.js"></script>' in shown.text
    pool_chart = chart_option(shown.text, "chart-pool")
    march = {series["name"]: series["data"][2] for series in pool_chart["series"]}
    assert march["普通门诊统筹支付"] == -280.0 and pool_chart["xAxis"]["data"][2] == "3月"
    assert chart_option(shown.text, "chart-level")["series"] == [{"name": "在职", "type": "bar", "data": [280.0]}]
    # the pool paid 280.00 for M1's visit in March (at level 1, in service); 100,000.00 were deposited in January
    assert '<div class="big" id="fund-paid">280.00</div>' in shown.text
    assert "普通门诊统筹支付" in shown.text and "-280.00" in shown.text and "100,000.00" in shown.text
    assert "<td>一级</td><td>在职</td>" in shown.text
    assert "账实相符" in shown.text
    bad = client.get("/staff/funds", params={"year": "24"})
    assert bad.status_code == 422 and 'id="e-year"' in bad.text

    # an account whose balance the ledger does not explain
    with engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.psn_no == "R1").values(balance=accounts.c.balance + 1))
    broken = client.get("/staff/funds").text
    assert "发现 1 处不一致" in broken and "account R1: balance 300.01, ledger 300.00" in broken


# --- 结算查询 ---------------------------------------------------------------------------------------------------


def test_a_settlement_is_found_with_its_breakdown_and_reversal_trail(engine, book, client, world):
    staff(engine, client, "李审计", AUDITOR)
    second = settle(engine, book, parse_settle({"psn_no": "M1", "fixmedins_code": H1, "date": "2024-04-02",
                                                "covered": "100.00"}))
    undone = reverse(engine, book, second.row["setl_id"], H1)
    original, reversal = second.row["setl_id"], undone.row["setl_id"]

    listed = client.get("/staff/settlements", params={"psn_no": "M1", "from": "2024-04-01", "to": "2024-04-30"})
    assert listed.status_code == 200
    assert f'href="/staff/settlements/{original}"' in listed.text
    assert f'href="/staff/settlements/{reversal}"' in listed.text
    assert world not in listed.text  # March's visit is outside the dates
    assert world in client.get("/staff/settlements", params={"institution": H1}).text
    bad = client.get("/staff/settlements", params={"from": "2024-04-31", "to": "2024-04-01"})
    assert bad.status_code == 422 and 'id="e-from"' in bad.text
    backwards = client.get("/staff/settlements", params={"from": "2024-05-01", "to": "2024-04-01"})
    assert backwards.status_code == 422 and 'id="e-to"' in backwards.text

    first = client.get(f"/staff/settlements/{world}").text
    # 1000.00 covered, 600.00 deductible, 70 %: the fund 280.00, M1's 720.00 in cash (an empty account)
    assert '<td class="n" id="fund-pay">280.00</td>' in first and "70%" in first and "720.00" in first
    assert "D02" in first and "300.0100" in first  # the lines, price with four decimals
    page = client.get(f"/staff/settlements/{original}").text
    assert f'id="reversed-by">{reversal}</a>' in page
    back = client.get(f"/staff/settlements/{reversal}").text
    assert f'id="reverses">{original}</a>' in back and "-100.00" in back
    assert back.count("/staff/settlements/" + original) >= 2  # the notice and the trail
    assert client.get("/staff/settlements/NOPE").status_code == 404


# --- 监控疑点 ---------------------------------------------------------------------------------------------------


def test_an_operator_confirms_a_hit_and_sees_it_confirmed(engine, client, world):
    sex = finding("sex", world, 2, fen("300.01"))
    age = finding("age_range", world, 3)
    put(engine, sex, age)
    staff(engine, client, "王经办", OPERATOR)
    queue = client.get("/staff/monitor")
    assert queue.status_code == 200 and "共 2 条待审核疑点" in queue.text
    assert f'href="/staff/monitor/{key(sex)}"' in queue.text
    only_sex = client.get("/staff/monitor", params={"rule": "sex", "institution": H1}).text
    assert key(sex) in only_sex and key(age) not in only_sex
    assert client.get("/staff/monitor", params={"rule": "nope"}).status_code == 422

    shown = client.get(f"/staff/monitor/{key(sex)}").text
    assert 'class="marked" id="hit-line"' in shown and "<td>2 <span" in shown  # line 2 marked
    assert "<th scope=\"row\">why</th><td>test</td>" in shown  # the evidence "code=D02; why=test"
    assert f'action="/staff/monitor/{key(sex)}/confirm"' in shown

    before = snapshot(engine)
    long = post(client, f"/staff/monitor/{key(sex)}/confirm", confirm_notes="很" * 2001)
    assert long.status_code == 422 and 'id="e-confirm_notes"' in long.text
    assert snapshot(engine) == before

    done = post(client, f"/staff/monitor/{key(sex)}/confirm", confirm_notes="性别不符，已核实")
    assert (done.status_code, done.headers["location"]) == (303, f"/staff/monitor/{key(sex)}?decided=1")
    page = client.get(done.headers["location"]).text
    # line 2's share of the fund payment: 280.00 x 300.01 / 1000.00 = 84.0028 -> 84.00, half-up
    assert 'id="hit-status">已确认' in page and '<dd id="clawed-back">84.00 元</dd>' in page
    assert '<dd id="reviewer">王经办，' in page and "性别不符，已核实" in page
    assert f'action="/staff/monitor/{key(sex)}/confirm"' not in page  # decided: no more forms
    with engine.connect() as conn:
        row = conn.execute(select(monitor_hits).where(monitor_hits.c.hit_id == key(sex))).mappings().one()
    assert (row["status"], row["reviewer"], row["clawed_back"]) == ("confirmed", "王经办", fen("84.00"))
    assert [(actor, target) for actor, target, _after in logged(engine, "monitor.confirm")] == [("王经办", key(sex))]
    # deciding it again is refused next to the forms' place, and nothing changes
    before = snapshot(engine)
    twice = post(client, f"/staff/monitor/{key(sex)}/dismiss", dismiss_notes="")
    assert twice.status_code == 422 and 'id="e-decision"' in twice.text
    assert snapshot(engine) == before
    dismissed = post(client, f"/staff/monitor/{key(age)}/dismiss", dismiss_notes="年龄无误")
    assert dismissed.status_code == 303
    assert "共 1 条已排除疑点" in client.get("/staff/monitor", params={"status": "dismissed"}).text


# --- 政策与测算 -------------------------------------------------------------------------------------------------


def test_the_policy_versions_side_by_side_and_the_reports(engine, client, tmp_path, monkeypatch):
    staff(engine, client, "李审计", AUDITOR)
    shown = client.get("/staff/policies", params={"region": "321000"})
    assert shown.status_code == 200
    # Yangzhou: pre-reform 2022, 2023 transition, 2024 on (gongji/policy/regions/321000.yaml)
    assert shown.text.count('<th scope="col">') == 1 + 3
    assert "按年累计 600.00 元" in shown.text and "一级 70% · 二级 65% · 三级 60%" in shown.text
    assert "在职 7000.00 元 · 退休 8000.00 元" in shown.text
    # retirees from 2024: 2.5 % x 3000.00 = 75.00 a month; before: own pension x 4 %
    assert "= 75.00 元/月" in shown.text and "本人基本养老金的 4%" in shown.text
    assert "缴费基数的 2%（个人缴费）+ 1%（单位缴费划入）" in shown.text
    assert client.get("/staff/policies", params={"region": "999999"}).status_code == 422

    monkeypatch.setenv("GONGJI_REPORTS", str(tmp_path / "reports"))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "whatif-2024.html").write_text("<h1>测算</h1>", encoding="utf-8")
    (tmp_path / "reports" / "notes.txt").write_text("not a report", encoding="utf-8")
    (tmp_path / "secret.html").write_text("outside", encoding="utf-8")
    listed = client.get("/staff/policies").text
    assert 'href="/staff/reports/whatif-2024.html"' in listed and "notes.txt" not in listed
    served = client.get("/staff/reports/whatif-2024.html")
    assert served.status_code == 200 and served.text == "<h1>测算</h1>"
    assert served.headers["content-type"].startswith("text/html")
    for name in ("notes.txt", "..%2Fsecret.html", "%2E%2E%2Fsecret.html", ".hidden.html", "missing.html"):
        assert client.get(f"/staff/reports/{name}").status_code == 404, name
    assert client.get("/staff/reports/../secret.html").status_code in (404, 303)


# --- who may -----------------------------------------------------------------------------------------------------


def test_an_auditor_reads_but_sees_no_forms_and_cannot_post(engine, client, world):
    put(engine, finding("sex", world, 2, fen("300.01")))
    staff(engine, client, "李审计", AUDITOR)
    person_page = client.get("/staff/persons/M1").text
    assert M1_CERTNO in person_page and "/status" not in person_page
    assert 'action="/staff/crediting"' not in client.get("/staff/crediting").text
    hit_page = client.get(f"/staff/monitor/{key(finding('sex', world, 2))}").text
    assert "/confirm" not in hit_page and "/dismiss" not in hit_page
    before = snapshot(engine)
    for path, form in (("/staff/persons/M1/status", {"psn_insu_stas": "2", "stas_date": "2024-05-01"}),
                       ("/staff/crediting", {"month": "2024-01", "region": "321000"}),
                       (f"/staff/monitor/{key(finding('sex', world, 2))}/confirm", {"confirm_notes": "x"}),
                       (f"/staff/monitor/{key(finding('sex', world, 2))}/dismiss", {"dismiss_notes": "x"})):
        refused = post(client, path, **form)
        assert refused.status_code == 403 and "无权" in refused.text, path
    assert snapshot(engine) == before


def test_an_admin_may_change_records_too(engine, client):
    staff(engine, client, "张管理", ADMIN)
    done = post(client, "/staff/persons/M1/status", psn_insu_stas="2", stas_date="2024-05-01")
    assert done.status_code == 303 and status_of(engine, "M1")[0] == "2"


def test_a_member_cannot_open_the_staff_pages(engine, client):
    code, _ = logins.invite(engine, "M1")
    logins.activate(engine, M1_CERTNO, code, "password123")
    assert post(client, "/member/login", certno=M1_CERTNO, password="password123").status_code == 303
    before = snapshot(engine)
    for path in ("/staff/persons", "/staff/persons/M1", "/staff/crediting", "/staff/funds", "/staff/settlements",
                 "/staff/monitor", "/staff/policies"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers.get("location")) == (303, f"/staff/login?next={path}"), path
    changed = post(client, "/staff/persons/M1/status", psn_insu_stas="2", stas_date="2024-05-01")
    assert changed.status_code == 303 and changed.headers["location"].startswith("/staff/login")
    assert snapshot(engine) == before


def test_a_change_without_the_csrf_token_is_refused(engine, client):
    staff(engine, client, "王经办", OPERATOR)
    before = snapshot(engine)
    for form in ({"psn_insu_stas": "2", "stas_date": "2024-05-01"},
                 {"psn_insu_stas": "2", "stas_date": "2024-05-01", "csrf": "forged"}):
        refused = client.post("/staff/persons/M1/status", data=form, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert client.post("/staff/crediting", data={"month": "2024-01"}, follow_redirects=False).status_code == 403
    assert snapshot(engine) == before
