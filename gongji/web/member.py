"""The member's pages (/m/{psn_no}/...): 我的账户, 家庭共济, 就医记录, 改革前后. Each shows only the signed-in
member's own data (auth.member: another member's psn_no answers 404).

- 我的账户: the balance, the year's monthly credits by source and the rule that credits them, what the year's
  deductible and cap have used (the accumulators against the policy in force: today for this year, 31 December
  for an earlier one), and every movement of the account, 100 a page, newest first, with the balance after each.
- 家庭共济: the spouse, parents and children (as either side registered them) and whom the account is authorized
  for, a form per relative to authorize or revoke (htmx swaps the list in place; without it, a plain POST and a
  redirect back), a form for a relative by 个人编号 or 证件号码, and who paid with whose account.
- 就医记录: each settlement with its breakdown; a reversed one is marked 已冲销 with its reversal, which is listed
  too (its amounts negated); the year's totals count only the settlements that stand.
- 改革前后: gongji.simulate.member.compare_member for the member's own numbers and own settled visits (the last
  full year that has any, else this year so far), before = the region's newest pre-reform version, after = the
  version in force today; a chart (ECharts) and the same numbers in a table.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from gongji.engine.dates import age_on
from gongji.errors import InputError
from gongji.money import format_grouped
from gongji.policy.describe import credit_zh
from gongji.policy.loader import PolicyNotFound
from gongji.policy.schema import Version
from gongji.policy.values import IN_SERVICE, LEVELS, RETIRED
from gongji.services import family, member_views
from gongji.services.records import member_type_on
from gongji.simulate import versions
from gongji.simulate.member import CompareError, compare_member, plain_words
from gongji.store.ledger import CREDIT_EMPLOYER, CREDIT_INDIVIDUAL, CREDIT_POOL
from gongji.web import auth
from gongji.web.render import page
from gongji.web.session import MEMBER
from gongji.web.staff_common import LEVELS as LEVEL_NAMES

router = APIRouter(include_in_schema=False)

MOVEMENTS_PER_PAGE = 100
FIRST_YEAR, LAST_YEAR = 1900, 2200
SETTLEMENTS_PER_PAGE = 50
MEMBER_TYPE_ZH = {IN_SERVICE: "在职职工", RETIRED: "退休人员"}
CREDIT_COLUMNS = ((CREDIT_INDIVIDUAL, "个人缴费划入"), (CREDIT_EMPLOYER, "单位缴费划入"),
                  (CREDIT_POOL, "统筹基金划入"))


def _int_param(request: Request, name: str) -> int | None:
    """A whole-number query parameter, None when absent or not a number (a bad link shows the default page)."""
    text = request.query_params.get(name, "").strip()
    return int(text) if text.isdigit() and len(text) <= 18 else None


def _person(conn, psn_no: str):
    found = member_views.member(conn, psn_no)
    if found is None:  # signed in, but the person is gone: nothing to show
        raise auth.NotYours(404)
    return found


def _version(book, admdvs: str, on: date) -> Version | None:
    try:
        return book.policy_for(admdvs, on)
    except PolicyNotFound:
        return None


# 我的账户 ------------------------------------------------------------------------------------------------------


def year_use(version: Version | None, member_type: str, acc, diseases) -> list[dict]:
    """What the year's accumulators have used of the policy's deductible and caps, as rows {label, rule, used,
    limit (None: no single amount), left}."""
    rows: list[dict] = []
    if version is None or version.outpatient is None:
        return rows
    out = version.outpatient
    ded = out.deductible
    amounts = (ded.retired if member_type == RETIRED else ded.in_service)
    if ded.basis == "annual":
        limit = amounts[1]
        rows.append({"label": "普通门诊起付标准", "rule": "全年累计，各级医疗机构合并计算", "used": acc.deductible,
                     "limit": limit, "left": max(limit - acc.deductible, 0)})
    else:
        levels = " / ".join(f"{LEVEL_NAMES[lv]} {format_grouped(amounts[lv])}" for lv in LEVELS)
        if ded.basis == "annual_topup":
            rule, limit = f"按医疗机构级别：{levels} 元，全年累计补差", max(amounts.values())
            left = max(limit - acc.deductible, 0)
        else:
            rule, limit, left = f"每次就医：{levels} 元，按次计算，不累计", None, None
        rows.append({"label": "普通门诊起付标准", "rule": rule, "used": acc.deductible, "limit": limit, "left": left})
    cap = out.cap.amount(member_type)
    rows.append({"label": "普通门诊统筹最高支付限额", "rule": "统筹基金全年最多支付", "used": acc.pool, "limit": cap,
                 "left": max(cap - acc.pool, 0)})
    if out.cap.above == "inpatient" and version.inpatient is not None:
        cap = version.inpatient.cap.amount(member_type)
        rows.append({"label": "超限额部分按住院待遇支付",
                     "rule": "超过门诊限额的政策范围内费用按职工住院待遇报销，全年最多",
                     "used": acc.inpatient, "limit": cap, "left": max(cap - acc.inpatient, 0)})
    for d in diseases:
        disease = version.disease(d["dise_codg"])
        if disease is None:
            continue
        dedc, limit = disease.deductible.amount(member_type), disease.limit.amount(member_type)
        rows.append({"label": f"门诊慢特病：{disease.name}", "rule": f"起付标准 {format_grouped(dedc)} 元，"
                     f"已付起付 {format_grouped(d['deductible'])} 元；统筹全年最多支付", "used": d["pool"],
                     "limit": limit, "left": max(limit - d["pool"], 0)})
    return rows


@router.get("/m/{psn_no}/account")
def account(request: Request, psn_no: str) -> Response:
    auth.member(request, psn_no)
    book = request.app.state.book
    today = date.today()
    year = _int_param(request, "year") or today.year
    if not FIRST_YEAR <= year <= LAST_YEAR:  # a bad link: this year
        year = today.year
    before = _int_param(request, "before")
    with request.app.state.engine.connect() as conn:
        person = _person(conn, psn_no)
        years = member_views.years_with_data(conn, psn_no)
        moves, more = member_views.movements(conn, psn_no, person["balance"], before, MOVEMENTS_PER_PAGE)
        credits = member_views.year_credits(conn, psn_no, year)
        acc, diseases = member_views.year_accumulators(conn, psn_no, year)
    on = today if year == today.year else date(year, 12, 31)
    version = _version(book, person["insuplc_admdvs"], on)
    member_type = member_type_on(person["psn_type"], person["retire_date"], on)
    if year not in years:
        years = sorted({*years, year}, reverse=True)
    return page(request, "m_account.html.j2", title="我的账户", person=person, year=year, years=years,
                today=today, moves=moves, more=more, paged=before is not None, credits=credits,
                credit_columns=CREDIT_COLUMNS, credit_total=sum(c["total"] for c in credits),
                version=version, member_type_zh=MEMBER_TYPE_ZH[member_type],
                credit_rule=credit_zh(version, member_type) if version else None,
                use=year_use(version, member_type, acc, diseases), acc=acc)


# 家庭共济 ------------------------------------------------------------------------------------------------------

NOT_RELATIVE = ("该人员未登记为您的配偶、父母或子女，不能授权。家庭共济仅限配偶、父母、子女；"
                "如需登记亲属关系，请到医保经办机构办理。")
STRANGER = ("is not a registered person", "is not registered as")
"""family's refusals for someone who is not a registered relative: one message for both, so that the page tells
nothing about other people."""


def _family_zh(exc: InputError, action: str) -> str:
    if action == "authorize" and any(phrase in str(exc) for phrase in STRANGER):
        return NOT_RELATIVE
    if action == "revoke" and str(exc).startswith("relative:"):
        return "该人员未获授权使用您的个人账户，无需撤销。"
    return exc.zh or str(exc)


def _family_context(conn, psn_no: str) -> dict:
    person = _person(conn, psn_no)
    return {"person": person, "relatives": member_views.relatives(conn, person)}


def _notice(relatives: list[dict], done: str | None, who: str | None) -> str | None:
    found = next((r for r in relatives if who and r["psn_no"] == who), None)
    if found is None:
        return None
    if done == "authorize":
        return f"已授权{found['relation_zh']} {found['name']} 使用您的个人账户。"
    if done == "revoke":
        return f"已撤销{found['relation_zh']} {found['name']} 使用您的个人账户的授权。"
    return None


@router.get("/m/{psn_no}/family")
def family_page(request: Request, psn_no: str) -> Response:
    auth.member(request, psn_no)
    with request.app.state.engine.connect() as conn:
        context = _family_context(conn, psn_no)
        paid_for = member_views.paid_for_relatives(conn, psn_no)
        paid_by = member_views.paid_by_relatives(conn, psn_no)
    notice = _notice(context["relatives"], request.query_params.get("done"), request.query_params.get("relative"))
    return page(request, "m_family.html.j2", title="家庭共济", notice=notice, error_for=None, paid_for=paid_for,
                paid_by=paid_by, limit=member_views.FAMILY_LIMIT, **context)


async def _family_change(request: Request, psn_no: str, action: str) -> Response:
    try:
        auth.member(request, psn_no)
    except auth.SignInFirst:  # after signing in, back to the page, not to this POST's address
        raise auth.SignInFirst(MEMBER, f"/m/{psn_no}/family") from None
    form = await auth.form_of(request)
    engine = request.app.state.engine
    given = str(form.get("relative", "")).strip()
    htmx = request.headers.get("hx-request") == "true"
    errors: dict[str, str] = {}
    relative = given
    if not given:
        errors["relative"] = "请填写亲属的个人编号或证件号码。"
    else:
        def change() -> str:
            with engine.connect() as conn:
                target = member_views.psn_no_of(conn, given) or given  # unknown: the service refuses it
            (family.authorize if action == "authorize" else family.revoke)(engine, psn_no, target)
            return target
        try:
            relative = await run_in_threadpool(change)
        except InputError as exc:
            errors["relative"] = _family_zh(exc, action)
    if not errors and not htmx:
        return RedirectResponse(f"/m/{psn_no}/family?done={action}&relative={quote(relative)}", status_code=303)

    def read() -> dict:
        with engine.connect() as conn:
            context = _family_context(conn, psn_no)
            if not htmx:
                context |= {"paid_for": member_views.paid_for_relatives(conn, psn_no),
                            "paid_by": member_views.paid_by_relatives(conn, psn_no)}
            return context

    context = await run_in_threadpool(read)
    listed = {r["psn_no"] for r in context["relatives"] if r["psn_no"]}
    error_for = given if errors and given in listed else None
    notice = None if errors else _notice(context["relatives"], action, relative)
    values = {} if error_for or not errors else {"relative": given}
    status = 422 if errors else 200
    if htmx:
        return page(request, "m_family_auth.html.j2", status=status, errors=errors, values=values,
                    error_for=error_for, notice=notice, **context)
    return page(request, "m_family.html.j2", status=status, title="家庭共济", errors=errors, values=values,
                error_for=error_for, notice=notice, limit=member_views.FAMILY_LIMIT, **context)


@router.post("/m/{psn_no}/family/authorize")
async def authorize(request: Request, psn_no: str) -> Response:
    return await _family_change(request, psn_no, "authorize")


@router.post("/m/{psn_no}/family/revoke")
async def revoke(request: Request, psn_no: str) -> Response:
    return await _family_change(request, psn_no, "revoke")


# 就医记录 ------------------------------------------------------------------------------------------------------


@router.get("/m/{psn_no}/visits")
def visits(request: Request, psn_no: str) -> Response:
    auth.member(request, psn_no)
    before = _int_param(request, "before")
    with request.app.state.engine.connect() as conn:
        person = _person(conn, psn_no)
        rows, more = member_views.settlements_page(conn, psn_no, before, SETTLEMENTS_PER_PAGE)
        shown_years = sorted({r["setl_date"].year for r in rows if not r["reverses"]}, reverse=True)
        totals = [(y, member_views.standing_totals(conn, psn_no, y)) for y in shown_years]
    return page(request, "m_visits.html.j2", title="就医记录", person=person, rows=rows, more=more,
                paged=before is not None, totals=totals)


# 改革前后 ------------------------------------------------------------------------------------------------------

COMPARE_FIELDS_ZH = {
    "pension": "您的基本养老金未登记，无法计算按养老金比例划入的金额；请到医保经办机构核对参保信息。",
    "contribution_base": "您的缴费基数未登记，无法计算个人账户划入；请到医保经办机构核对参保信息。",
    "previous_year_credits": "过渡期划入需要上一年度的个人账户划入总额，暂无法计算。",
}


def _yuan_number(fen: int) -> float:
    return round(fen / 100, 2)


def chart_option(c) -> dict:
    """The ECharts option of the comparison: before and after side by side, in yuan."""
    categories = ["个人账户划入", "门诊统筹报销", "个人负担（政策范围内）"]

    def values(side) -> list[float]:
        return [_yuan_number(side.credit), _yuan_number(side.reimbursement), _yuan_number(side.out_of_pocket)]

    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["改革前", "改革后"]},
        "grid": {"left": 8, "right": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value", "name": "元"},
        "series": [{"name": "改革前", "type": "bar", "data": values(c.before)},
                   {"name": "改革后", "type": "bar", "data": values(c.after)}],
    }


@router.get("/m/{psn_no}/reform")
def reform(request: Request, psn_no: str) -> Response:
    auth.member(request, psn_no)
    book = request.app.state.book
    today = date.today()
    with request.app.state.engine.connect() as conn:
        person = _person(conn, psn_no)
        region = person["insuplc_admdvs"]
        year, full_year, expected = member_views.comparison_visits(conn, psn_no, region, today)
        compared = year or today.year
        previous = member_views.credits_in(conn, psn_no, compared - 1)
    member_type = member_type_on(person["psn_type"], person["retire_date"], today)
    context = {"person": person, "member_type_zh": MEMBER_TYPE_ZH[member_type], "age": age_on(person["brdy"], today),
               "member_type": member_type, "year": year, "compared": compared, "full_year": full_year,
               "visits": expected, "covered": sum(v.covered for v in expected), "today": today,
               "comparison": None, "problem": None}
    try:
        before = versions.pre_reform(book, region)
    except InputError:
        before = None
    after = _version(book, region, today)
    if before is None:
        context["problem"] = ("您所在地区的政策文件中没有改革前的政策版本，暂无法比较改革前后。"
                              "（改革前后比较需要一个标明为改革前的政策版本。）")
    elif after is None:
        context["problem"] = "您所在地区今天没有生效的政策版本，暂无法比较改革前后。"
    elif after.pre_reform:
        context["problem"] = "您所在地区目前执行的仍是改革前的政策，改革尚未实施，暂无可比较的改革后政策。"
    if context["problem"] is not None:
        return page(request, "m_reform.html.j2", title="改革前后", **context)
    base = person["crt_cont_base"] or None
    pension = person["pension"] or None
    try:
        c = compare_member(book, region, member_type, person["brdy"], base if member_type == IN_SERVICE else None,
                           pension if member_type == RETIRED else None, expected, before, after, compared, previous)
    except CompareError as exc:
        context["problem"] = COMPARE_FIELDS_ZH.get(exc.field, f"暂无法比较：{exc}")
        return page(request, "m_reform.html.j2", title="改革前后", **context)
    zh, _en = plain_words(c)
    return page(request, "m_reform.html.j2", title="改革前后", **context | {
        "comparison": c, "words": zh, "option": chart_option(c), "before": before, "after": after})
