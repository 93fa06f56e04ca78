"""The member's pages, on SQLite and PostgreSQL: 我的账户 (balance, credits, accumulators, movements), 家庭共济
(authorize and revoke, with htmx and without; refusals next to the field with nothing changed; who paid with whose
account), 就医记录 (the breakdown, a reversal) and 改革前后 (the member's own comparison and its chart); another
member's pages answer 404, signed out goes to the sign-in page, a POST without the CSRF token is refused.

The world (Yangzhou 321000, 2024; SPEC.md §3: in service, deductible 600 a year, 70/65/60 % at levels 1/2/3, cap
7000; each month 2 % of the base credited from the member's own contribution):
- P1, in service, base 6000.00, opening balance 2000.00 (the member signed in); C1 is P1's child (P1 registered
  the relation) and is authorized to use P1's account; S1 registered P1 as her spouse; P1 also registered a parent
  who is not insured here; X1 is nobody's relative; Y1 is insured in Yunnan (530900), whose policy file has no
  pre-reform version.
- January and February 2024 are credited: 2 % x 6000.00 = 120.00 a month to each in-service member.
- C1 2024-03-01 at level 1, covered 400.00; P1 2024-03-05 at level 1, a 甲 drug 500.00 x 2 and a 丙 drug 30.00;
  P1 2024-03-10 at level 2, covered 200.00, reversed; P1 2024-04-01 at level 1, covered 100.00.
"""

from __future__ import annotations

import json
import re
from datetime import date
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gongji.api.app import create_app
from gongji.masking import mask_certno
from gongji.services import family, logins
from gongji.services.crediting import credit_month
from gongji.services.imports import import_csv
from gongji.services.records import make_certno
from gongji.services.settlement import parse_settle, reverse, settle
from gongji.store.tables import authorizations
from gongji.web import member
from gongji.web.session import CSRF_COOKIE
from tests.factories import RELATION_COLUMNS, csv_bytes, person, snapshot
from tests.services.test_payment_standards_db import CATALOGUE_COLUMNS, drug
from tests.services.test_settlement_db import H1, H2, setup, visit

P1 = person("P1", date(1970, 1, 1), balc="2000.00")
C1 = person("C1", date(1995, 6, 1), balc="50.00", serial=2)
S1 = person("S1", date(1972, 3, 1), gend="2", balc="100.00", serial=3)
X1 = person("X1", date(1980, 1, 1), balc="300.00", serial=4)
Y1 = person("Y1", date(1980, 1, 1), region="530900", serial=5)
PARENT_CERTNO = make_certno("321002", date(1945, 1, 1), 9, "1")
PASSWORD = "password123"
NOT_RELATIVE = "该人员未登记为您的配偶、父母或子女"


class _Tables(HTMLParser):
    """The text of every cell of every table with an id: {id: [[cell, ...], ...]}, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.open: list[str | None] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.open.append(dict(attrs).get("id"))
        elif tag == "tr" and self.open:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(" ".join(" ".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables.setdefault(self.open[-1], []).append(self.row)
            self.row = None
        elif tag == "table" and self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table(html: str, table_id: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables.get(table_id, [])


def build(engine, book) -> dict:
    """The world of the module docstring; returns the settlements by name."""
    setup(engine, book, [P1, C1, S1, X1, Y1])
    rows = [{"psn_no": "P1", "relative_certno": C1["certno"], "relative_name": "测试C1", "relation": "child"},
            {"psn_no": "P1", "relative_certno": PARENT_CERTNO, "relative_name": "张老", "relation": "parent"},
            {"psn_no": "S1", "relative_certno": P1["certno"], "relative_name": "测试P1", "relation": "spouse"}]
    import_csv(engine, "relations", csv_bytes(RELATION_COLUMNS, rows), book)
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [drug("A01"), drug("C01", cls="丙")]), book)
    for month in (1, 2):
        credit_month(engine, book, date(2024, month, 1), "321000")
    family.authorize(engine, "P1", "C1")
    child = visit(engine, book, "C1", "400.00", on=date(2024, 3, 1))
    lines = settle(engine, book, parse_settle({
        "psn_no": "P1", "fixmedins_code": H1, "date": "2024-03-05",
        "lines": [{"med_list_codg": "A01", "pric": "500.00", "cnt": "2"},
                  {"med_list_codg": "C01", "pric": "30.00", "cnt": "1"}]}))
    reversed_one = visit(engine, book, "P1", "200.00", on=date(2024, 3, 10), code=H2)
    reversal = reverse(engine, book, reversed_one.row["setl_id"], H2)
    last = visit(engine, book, "P1", "100.00", on=date(2024, 4, 1))
    return {"child": child, "lines": lines, "reversed": reversed_one, "reversal": reversal, "last": last}


def sign_in(engine, client: TestClient, who: dict) -> None:
    code, _ = logins.invite(engine, who["psn_no"])
    logins.activate(engine, who["certno"], code, PASSWORD)
    client.get("/member/login")
    signed = client.post("/member/login", data={"csrf": client.cookies[CSRF_COOKIE], "certno": who["certno"],
                                                "password": PASSWORD}, follow_redirects=False)
    assert signed.status_code == 303


@pytest.fixture
def world(engine, book) -> dict:
    return build(engine, book)


@pytest.fixture
def client(engine, book, world) -> TestClient:
    """Signed in as P1."""
    with TestClient(create_app(engine, book), base_url="https://testserver") as c:
        sign_in(engine, c, P1)
        yield c


def post(client: TestClient, path: str, headers: dict | None = None, **form) -> object:
    return client.post(path, data={"csrf": client.cookies[CSRF_COOKIE], **form}, headers=headers,
                       follow_redirects=False)


def active_authorizations(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(authorizations.c.owner_psn_no, authorizations.c.user_psn_no)
                                                     .where(authorizations.c.revoked_at.is_(None))))


# 我的账户 ------------------------------------------------------------------------------------------------------


def test_account_shows_balance_credits_accumulators_and_movements(client):
    page = client.get("/m/P1/account?year=2024")
    assert page.status_code == 200
    # 2000.00 opening + 2 x 120.00 credits - 110.00 for C1 - 750.00 - 70.00 + 70.00 (reversed) - 30.00 = 1350.00
    assert re.search(r'id="balance">\s*1,350\.00 元', page.text)
    assert mask_certno(P1["certno"]) in page.text and P1["certno"] not in page.text
    # 2 % of 6000.00 = 120.00 a month, from the member's own contribution
    assert table(page.text, "credit-table")[1:] == [
        ["2024 年 1 月", "120.00", "0.00", "0.00", "120.00"],
        ["2024 年 2 月", "120.00", "0.00", "0.00", "120.00"],
        ["全年合计", "240.00", "0.00", "0.00", "240.00"]]
    # deductible 600: the 03-05 visit's 1000.00 covered paid it all; the pool paid (1000 - 600) x 70 % = 280.00,
    # then 100.00 x 70 % = 70.00 on 04-01 (the reversed 130.00 replayed away): 350.00 of the cap 7000.00
    use = table(page.text, "use-table")
    assert [r[0] for r in use[1:]] == ["普通门诊起付标准", "普通门诊统筹最高支付限额"]
    assert [r[2:] for r in use[1:]] == [["600.00", "600.00", "0.00"], ["7,000.00", "350.00", "6,650.00"]]
    moves = table(page.text, "moves-table")[1:]
    # newest first, each with the balance after it, worked back from 1350.00
    assert [(r[0], r[1], r[3], r[4]) for r in moves] == [
        ("2024-04-01", "本人就医支付", "-30.00", "1,350.00"),
        ("2024-03-10", "冲销退回：本人就医支付", "+70.00", "1,380.00"),
        ("2024-03-10", "本人就医支付", "-70.00", "1,310.00"),
        ("2024-03-05", "本人就医支付", "-750.00", "1,380.00"),  # 1030.00 - 280.00 from the pool
        ("2024-03-01", "家庭共济支付（为亲属）", "-110.00", "2,130.00"),  # C1's 400.00 less C1's own 290.00
        ("2024-02-01", "个人缴费划入", "+120.00", "2,240.00"),
        ("2024-01-01", "个人缴费划入", "+120.00", "2,120.00"),
        ("2000-01-01", "期初余额结转", "+2,000.00", "2,000.00")]
    assert "就医人 测试C1" in moves[4][2] and "机构H32100000001" in moves[4][2]
    assert 'id="more"' not in page.text
    for bad in ("99999", "abc", "-1"):  # a bad link shows this year
        assert client.get(f"/m/P1/account?year={bad}&before={bad}").status_code == 200


def test_account_movements_page_on_with_the_balance_carried(client, monkeypatch):
    monkeypatch.setattr(member, "MOVEMENTS_PER_PAGE", 3)
    first = client.get("/m/P1/account?year=2024")
    assert [r[4] for r in table(first.text, "moves-table")[1:]] == ["1,350.00", "1,380.00", "1,310.00"]
    more = re.search(r'href="([^"]+)" id="more"', first.text).group(1).replace("&amp;", "&")
    second = client.get(f"/m/P1/account{more}")
    assert [(r[3], r[4]) for r in table(second.text, "moves-table")[1:]] == [
        ("-750.00", "1,380.00"), ("-110.00", "2,130.00"), ("+120.00", "2,240.00")]


# 家庭共济 ------------------------------------------------------------------------------------------------------


def test_family_lists_relatives_and_who_paid_with_whose_account(engine, book, client):
    page = client.get("/m/P1/family")
    assert page.status_code == 200
    relatives = table(page.text, "relatives-table")[1:]
    assert [(r[0], r[1], r[2]) for r in relatives] == [
        ("测试S1", "配偶", mask_certno(S1["certno"])),  # S1 registered the relation herself
        ("张老", "父母", mask_certno(PARENT_CERTNO)),
        ("测试C1", "子女", mask_certno(C1["certno"]))]
    assert relatives[0][3] == "未授权" and "不能授权" in relatives[1][3] and relatives[2][3].startswith("已授权")
    # C1's 400.00 is within the deductible; C1's own 50.00 + 240.00 credits paid 290.00, P1's account 110.00
    assert table(page.text, "paid-for-table")[1:] == [
        ["2024-03-01", "机构H32100000001", "测试C1", mask_certno(C1["certno"]), "110.00", "已支付"]]
    assert "家人的账户还没有为您支付过" in page.text
    for certno in (S1["certno"], C1["certno"], PARENT_CERTNO):
        assert certno not in page.text
    with TestClient(create_app(engine, book), base_url="https://testserver") as child:
        sign_in(engine, child, C1)
        theirs = child.get("/m/C1/family")
        assert table(theirs.text, "paid-by-table")[1:] == [
            ["2024-03-01", "机构H32100000001", "测试P1", mask_certno(P1["certno"]), "110.00", "已支付"]]
        assert table(theirs.text, "relatives-table")[1][0] == "测试P1 已授权我使用其账户"


def test_authorize_then_revoke_with_a_plain_form_and_with_htmx(engine, client):
    assert active_authorizations(engine) == [("P1", "C1")]
    done = post(client, "/m/P1/family/authorize", relative="S1")
    assert (done.status_code, done.headers["location"]) == (303, "/m/P1/family?done=authorize&relative=S1")
    assert active_authorizations(engine) == [("P1", "C1"), ("P1", "S1")]
    shown = client.get(done.headers["location"])
    assert "已授权配偶 测试S1 使用您的个人账户。" in shown.text
    assert table(shown.text, "relatives-table")[1][3].startswith("已授权")

    # htmx: the token in the header, the list swapped in place
    fragment = client.post("/m/P1/family/revoke", data={"relative": "S1"},
                           headers={"HX-Request": "true", "X-CSRF-Token": client.cookies[CSRF_COOKIE]})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="family-auth"')
    assert "<html" not in fragment.text and "已撤销配偶 测试S1 使用您的个人账户的授权。" in fragment.text
    assert table(fragment.text, "relatives-table")[1][3] == "未授权"
    assert active_authorizations(engine) == [("P1", "C1")]

    # by ID number, in the form for other relatives
    by_certno = post(client, "/m/P1/family/authorize", relative=S1["certno"])
    assert by_certno.status_code == 303 and active_authorizations(engine) == [("P1", "C1"), ("P1", "S1")]


def test_a_refused_change_shows_the_error_next_to_the_field_and_changes_nothing(engine, client):
    before = snapshot(engine)
    for relative in ("X1", X1["certno"], "NOBODY", "Y1"):
        refused = post(client, "/m/P1/family/authorize", relative=relative)
        assert refused.status_code == 422, relative
        error = re.search(r'<p class="error" id="e-relative" role="alert">([^<]*)</p>', refused.text)
        assert error and error.group(1).startswith(NOT_RELATIVE), relative
        assert 'aria-describedby="e-relative"' in refused.text and f'value="{relative}"' in refused.text
    htmx = client.post("/m/P1/family/authorize", data={"relative": "X1", "csrf": client.cookies[CSRF_COOKIE]},
                       headers={"HX-Request": "true"})
    assert htmx.status_code == 422 and 'id="e-relative"' in htmx.text and NOT_RELATIVE in htmx.text
    assert "<html" not in htmx.text
    # a relative's own row: revoking one who is not authorized says so in that row
    row = post(client, "/m/P1/family/revoke", relative="S1")
    assert row.status_code == 422 and "该人员未获授权使用您的个人账户，无需撤销。" in row.text
    s1_row = re.search(r'<tr>\s*<td>测试S1.*?</tr>', row.text, re.S).group(0)
    assert 'id="e-relative"' in s1_row
    empty = post(client, "/m/P1/family/authorize", relative="  ")
    assert empty.status_code == 422 and "请填写亲属的个人编号或证件号码" in empty.text
    assert snapshot(engine) == before


def test_a_post_without_the_csrf_token_is_refused(engine, client):
    before = snapshot(engine)
    for data in ({"relative": "S1"}, {"relative": "S1", "csrf": "forged"}):
        refused = client.post("/m/P1/family/authorize", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert client.post("/m/P1/family/revoke", data={"relative": "C1"}, headers={"HX-Request": "true"}
                       ).status_code == 403
    assert snapshot(engine) == before


# 就医记录 ------------------------------------------------------------------------------------------------------


def test_visits_show_each_breakdown_and_the_reversal(engine, book, client, world):
    page = client.get("/m/P1/visits")
    assert page.status_code == 200
    rows = {r[-1].split("结算号 ")[-1]: r for r in table(page.text, "visits")[1:]}
    lines, reversed_one = world["lines"].row["setl_id"], world["reversed"].row["setl_id"]
    reversal, last = world["reversal"].row["setl_id"], world["last"].row["setl_id"]
    assert list(rows) == [last, reversal, reversed_one, lines]  # by visit date, newest first
    # 甲 500.00 x 2 = 1000.00 covered + 丙 30.00 fully self-paid = 1030.00; deductible 600.00; the pool
    # (1000 - 600) x 70 % = 280.00; the rest 1030 - 280 = 750.00 from P1's own account (2130.00 held)
    assert rows[lines][:9] == ["2024-03-05", "机构H32100000001", "1,030.00", "30.00", "600.00", "280.00", "750.00",
                               "0.00", "0.00"]
    # level 2, deductible already paid: 200.00 x 65 % = 130.00 from the pool, 70.00 from the account
    assert rows[reversed_one][2:9] == ["200.00", "0.00", "0.00", "130.00", "70.00", "0.00", "0.00"]
    assert rows[reversed_one][9].startswith("已冲销") and f"冲销单 {reversal}" in rows[reversed_one][9]
    assert rows[reversal][2:9] == ["-200.00", "0.00", "0.00", "-130.00", "-70.00", "0.00", "0.00"]
    assert f"冲销 {reversed_one}" in rows[reversal][9]
    # 100.00 x 70 % = 70.00; 30.00 from the account
    assert rows[last][2:9] == ["100.00", "0.00", "0.00", "70.00", "30.00", "0.00", "0.00"]
    # the year's totals leave the reversed pair out: 1030 + 100, 30, 600, 280 + 70, 750 + 30
    assert table(page.text, "totals-table")[1:] == [
        ["2024", "2", "1,130.00", "30.00", "600.00", "350.00", "780.00", "0.00", "0.00"]]
    assert world["child"].row["setl_id"] not in page.text

    with TestClient(create_app(engine, book), base_url="https://testserver") as child:
        sign_in(engine, child, C1)
        theirs = table(child.get("/m/C1/visits").text, "visits")[1:]
        # 400.00 all deductible, nothing from the pool; C1's own 50.00 + 240.00 credits = 290.00, P1's 110.00
        assert theirs[0][:9] == ["2024-03-01", "机构H32100000001", "400.00", "0.00", "400.00", "0.00", "290.00",
                                 "110.00 测试P1的账户", "0.00"]


# 改革前后 ------------------------------------------------------------------------------------------------------


def test_reform_compares_the_members_own_year_with_a_chart(client):
    page = client.get("/m/P1/reform")
    assert page.status_code == 200
    assert "以您 2024 年在本系统结算的 2 次门诊就医为例" in page.text and "1,100.00" in page.text
    # before (2022's pre-reform model): 2 % + 1 % of 6000.00 = 180.00 a month = 2160.00, no outpatient pooling;
    # after (in force today, from 2024): 2 % = 120.00 a month = 1440.00; the 2024 visits that stand, 1000.00 and
    # 100.00 at level 1: (1000 - 600) x 70 % + 100 x 70 % = 350.00; out of pocket 1100.00 before, 750.00 after
    assert table(page.text, "comparison")[1:] == [
        ["个人账户划入", "2,160.00", "1,440.00", "-720.00"],
        ["门诊统筹报销", "0.00", "350.00", "+350.00"],
        ["个人负担（政策范围内费用）", "1,100.00", "750.00", "-350.00"],
        ["合计影响（划入变化 + 报销变化）", "", "", "-370.00"]]  # -720 + 350
    assert "个人账户每年少划入 720.00 元，门诊统筹每年多报销 350.00 元，合计每年少得 370.00 元。" in page.text
    assert '<script src="/static/echarts.min.js"></script>' in page.text
    raw = re.search(r'<script type="application/json" id="reform-chart-option">(.*?)</script>', page.text, re.S)
    option = json.loads(raw.group(1))
    assert [(s["name"], s["data"]) for s in option["series"]] == [
        ("改革前", [2160.0, 0.0, 1100.0]), ("改革后", [1440.0, 350.0, 750.0])]
    assert option["xAxis"]["data"] == ["个人账户划入", "门诊统筹报销", "个人负担（政策范围内）"]
    assert client.get("/static/echarts.min.js").status_code == 200


def test_reform_without_a_pre_reform_version_says_so(engine, book, world):
    with TestClient(create_app(engine, book), base_url="https://testserver") as yunnan:
        sign_in(engine, yunnan, Y1)
        page = yunnan.get("/m/Y1/reform")
    assert page.status_code == 200 and 'id="problem"' in page.text and "没有改革前的政策版本" in page.text
    assert "reform-chart" not in page.text


# Whose pages ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["account", "family", "visits", "reform", "account?year=2024"])
def test_another_members_pages_do_not_exist(client, page):
    answer = client.get(f"/m/C1/{page}")
    assert answer.status_code == 404 and "页面不存在" in answer.text
    for theirs in ("测试C1", mask_certno(C1["certno"]), "290.00", "400.00"):
        assert theirs not in answer.text


def test_another_members_forms_do_not_exist(engine, client):
    before = snapshot(engine)
    for action in ("authorize", "revoke"):
        answer = post(client, f"/m/C1/family/{action}", relative="P1")
        assert answer.status_code == 404
    assert snapshot(engine) == before


@pytest.mark.parametrize("page", ["account", "family", "visits", "reform"])
def test_signed_out_goes_to_the_sign_in_page(engine, book, world, page):
    with TestClient(create_app(engine, book), base_url="https://testserver") as anonymous:
        answer = anonymous.get(f"/m/P1/{page}", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, f"/member/login?next=/m/P1/{page}")
        anonymous.get("/member/login")
        before = snapshot(engine)
        posted = anonymous.post("/m/P1/family/authorize", follow_redirects=False,
                                data={"relative": "S1", "csrf": anonymous.cookies[CSRF_COOKIE]})
        assert (posted.status_code, posted.headers["location"]) == (303, "/member/login?next=/m/P1/family")
        assert snapshot(engine) == before
