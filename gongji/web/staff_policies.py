"""政策与测算: a region's policy versions side by side (deductible, ratios by level, cap, account credits per member
type, contributions, interest, and the rest, one column per version), and the simulation reports (`gongji report
simulate --html`) kept in a folder: $GONGJI_REPORTS, else var/reports under the working directory."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from gongji.money import format_percent, format_yuan
from gongji.policy.describe import credit_zh
from gongji.policy.loader import PolicyNotFound
from gongji.policy.schema import RatioTable, Version
from gongji.policy.values import IN_SERVICE, RETIRED
from gongji.web import auth
from gongji.web.render import page
from gongji.web.staff_common import LEVELS, book_of, not_found, query

router = APIRouter(include_in_schema=False)
REPORTS_ENV = "GONGJI_REPORTS"
REPORTS_DEFAULT = Path("var") / "reports"
REPORT_NAME = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff._-]{0,150}\.html$")
"""a report's file name: letters, digits, Chinese, dot, dash and underscore, not starting with a dot; no path."""
BASIS = {"annual": "按年累计", "annual_topup": "按年累计补差", "per_visit": "每次就诊"}
ABOVE = {"nothing": "个人负担", "inpatient": "按职工住院待遇报销"}
MISSING = "—"
REASONS = {"resident": "异地长期居住", "referral": "转诊转院", "temporary": "临时外出"}


def reports_dir() -> Path:
    return Path(os.environ.get(REPORTS_ENV) or REPORTS_DEFAULT)


def _by_level(values: dict[int, int], show) -> str:
    if len(set(values.values())) == 1:
        return f"各级 {show(next(iter(values.values())))}"
    return " · ".join(f"{LEVELS[level]} {show(values[level])}" for level in sorted(values))


def _ratios(table: RatioTable) -> list[str]:
    """[in service, retired (with age bands)] ratios by level."""
    retired = _by_level(table.retired, format_percent)
    for age, by_level in sorted(table.retired_from_age.items()):
        retired += f"；{age} 岁及以上 {_by_level(by_level, format_percent)}"
    return [_by_level(table.in_service, format_percent), retired]


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def _points(bp: int) -> str:
    """A ratio cut: 1000 -> '比例降低 10 个百分点'; 0 -> '比例不变'."""
    return f"比例降低 {format_percent(bp).removesuffix('%')} 个百分点" if bp else "比例不变"


def _cross_region(v: Version) -> str:
    rules = v.cross_region
    registered = "；".join(f"{REASONS[reason]}备案{_points(cut)}" for reason, cut in rules.registered.items())
    unregistered = _points(rules.unregistered.ratio_cut) if rules.unregistered.pooled else "统筹基金不支付"
    return f"{registered}；未备案{unregistered}"


def _inpatient(v: Version) -> str:
    block = v.inpatient
    in_service, retired = _ratios(block.ratios)
    return (f"起付 在职 {_yuan(block.deductible.in_service)} · 退休 {_yuan(block.deductible.retired)}；"
            f"在职 {in_service}；退休 {retired}；年度限额 在职 {_yuan(block.cap.in_service)} · 退休 "
            f"{_yuan(block.cap.retired)}")


def _rows(versions: list[Version]) -> list[tuple[str, list[str]]]:
    """(label, one cell per version) for the table of versions."""
    def cells(get) -> list[str]:
        out = []
        for v in versions:
            try:
                out.append(get(v))
            except AttributeError:  # a block the version does not have
                out.append(MISSING)
        return out

    def deductible(v: Version, kind: str) -> str:
        d = v.outpatient.deductible
        amounts = getattr(d, kind)
        return f"{BASIS[d.basis]} {_by_level(amounts, _yuan) if d.basis != 'annual' else _yuan(amounts[1])}"

    rows = [
        ("生效日期", cells(lambda v: f"{v.effective_from} 至 {v.effective_to or '今'}")),
        ("改革前后", cells(lambda v: "改革前" if v.pre_reform else "改革后")),
        ("门诊统筹", cells(lambda v: "有" if v.outpatient else "无（普通门诊由个人账户或现金支付）")),
        ("起付标准（在职）", cells(lambda v: deductible(v, "in_service"))),
        ("起付标准（退休）", cells(lambda v: deductible(v, "retired"))),
        ("支付比例（在职）", cells(lambda v: _ratios(v.outpatient.ratios)[0])),
        ("支付比例（退休）", cells(lambda v: _ratios(v.outpatient.ratios)[1])),
        ("分段比例", cells(lambda v: "；".join(f"年度费用超过 {_yuan(b.above)}：在职 {_ratios(b.ratios)[0]}，退休 "
                                           f"{_ratios(b.ratios)[1]}" for b in v.outpatient.cost_bands) or MISSING)),
        ("年度最高支付限额", cells(lambda v: f"在职 {_yuan(v.outpatient.cap.in_service)} · 退休 "
                                       f"{_yuan(v.outpatient.cap.retired)}")),
        ("超过限额部分", cells(lambda v: ABOVE[v.outpatient.cap.above])),
        ("住院待遇（超限额部分）", cells(_inpatient)),
        ("定点药店", cells(lambda v: "纳入统筹，按处方医院等级报销" if v.outpatient.pharmacy.pooled else "不纳入统筹")),
        ("外配处方", cells(lambda v: f"有效 {v.outpatient.pharmacy.prescriptions.valid_days} 天，最长开药 "
                                   f"{v.outpatient.pharmacy.prescriptions.max_supply_days} 天")),
        ("个人账户划入（在职）", cells(lambda v: credit_zh(v, IN_SERVICE))),
        ("个人账户划入（退休）", cells(lambda v: credit_zh(v, RETIRED))),
        ("缴费", cells(lambda v: f"单位 {format_percent(v.contributions.employer_percent)} · 个人 "
                               f"{format_percent(v.contributions.individual_percent)}")),
        ("账户计息", cells(lambda v: f"每年 {v.account_interest.credited_on}，"
                                   f"{format_percent(v.account_interest.rate)}")),
        ("门诊慢特病", cells(lambda v: "、".join(d.name for d in v.chronic.diseases))),
        ("异地就医", cells(_cross_region)),
        ("信用记录", cells(lambda v: f"起始 {v.monitoring.credit.start} 分，明确违规 {v.monitoring.credit.definite}，"
                                   f"可疑 {v.monitoring.credit.suspicious}")),
    ]
    return rows


def _illustrative(v: Version) -> bool:
    """Whether any of the version's blocks carries numbers no source gives (illustrative: true)."""
    def walk(value: object) -> bool:
        if getattr(value, "illustrative", False):
            return True
        fields = getattr(type(value), "model_fields", None)
        if fields is not None:
            return any(walk(getattr(value, name)) for name in fields)
        if isinstance(value, dict):
            return any(walk(x) for x in value.values())
        if isinstance(value, list | tuple):
            return any(walk(x) for x in value)
        return False
    return walk(v)


def _reports() -> list[dict]:
    folder = reports_dir()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if REPORT_NAME.match(path.name) and path.is_file():
            stat = path.stat()
            found.append({"name": path.name, "size": stat.st_size,
                          "modified": datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M")})
    return found


@router.get("/staff/policies")
def policies(request: Request) -> Response:
    auth.staff(request)
    book = book_of(request)
    regions = [(code, f"{code} {r.name}") for code, r in sorted(book.regions.items())]
    wanted = query(request, "region") or ("321000" if "321000" in book.regions else (regions[0][0] if regions else ""))
    errors: dict[str, str] = {}
    region = None
    try:
        region = book.region(wanted) if wanted else None
    except PolicyNotFound:
        errors["region"] = "没有该统筹地区的政策文件，请从列表中选择"
    versions = list(region.versions) if region else []
    return page(request, "s_policies.html.j2", status=422 if errors else 200, title="政策与测算",
                values={"region": wanted}, errors=errors, regions=regions, region=region, versions=versions,
                rows=_rows(versions), illustrative=[_illustrative(v) for v in versions], reports=_reports(),
                reports_folder=str(reports_dir()))


@router.get("/staff/reports/{name}")
def report(request: Request, name: str) -> Response:
    """A report file of the folder, by its plain name (.html only; no other folder, no path)."""
    auth.staff(request)
    folder = reports_dir()
    path = folder / name
    if not REPORT_NAME.match(name) or not folder.is_dir() or path.resolve().parent != folder.resolve() \
            or not path.is_file():
        return not_found(request, "没有这份测算报告")
    return FileResponse(path, media_type="text/html; charset=utf-8")
