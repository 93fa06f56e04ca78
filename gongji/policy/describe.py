"""A version's rules in words, for the pages: how an account is credited each month."""

from __future__ import annotations

from gongji.money import div_half_up, format_percent, format_yuan
from gongji.policy.schema import (
    AveragePensionPercent,
    BaseAndEmployerPercent,
    BasePercent,
    FixedByAge,
    OwnPensionPercent,
    PreviousYearMonthly,
    Version,
)
from gongji.policy.values import RETIRED


def _yuan(fen: int) -> str:
    return f"{format_yuan(fen)} 元"


def credit_zh(version: Version, member_type: str) -> str:
    """How `version` credits the account of a member of `member_type` each month (个人账户划入), in Chinese."""
    if member_type != RETIRED:
        rule = version.crediting.in_service
        if isinstance(rule, BasePercent):
            return f"本人缴费基数的 {format_percent(rule.percent)}（个人缴费划入；单位缴费全部进入统筹基金）"
        if isinstance(rule, BaseAndEmployerPercent):
            return (f"缴费基数的 {format_percent(rule.own_percent)}（个人缴费）+ "
                    f"{format_percent(rule.employer_percent)}（单位缴费划入）")
        return str(rule)
    rule = version.crediting.retired
    if isinstance(rule, FixedByAge):
        bands = sorted(rule.amounts.items())
        return "定额，统筹基金划入：" + "；".join(
            f"{age} 岁起 {_yuan(amount)}/月" if age else f"{_yuan(amount)}/月" for age, amount in bands)
    if isinstance(rule, AveragePensionPercent):
        ref = version.reference_values[rule.of]
        monthly = div_half_up(ref.amount * rule.percent, 10_000)
        return (f"{ref.year or ''} 年平均基本养老金 {_yuan(ref.amount)} 的 {format_percent(rule.percent)}"
                f" = {_yuan(monthly)}/月，统筹基金划入")
    if isinstance(rule, PreviousYearMonthly):
        return "本人上年个人账户划入总额 ÷ 12，统筹基金划入"
    if isinstance(rule, OwnPensionPercent):
        return f"本人基本养老金的 {format_percent(rule.percent)}，统筹基金划入"
    return str(rule)
