"""Which policy versions a comparison sets side by side: REGION@DATE as an analyst writes it, a region's
newest pre-reform version (改革前), or the version in force on a day."""

from __future__ import annotations

from datetime import date

from gongji.errors import InputError
from gongji.policy.loader import PolicyBook, PolicyNotFound
from gongji.policy.schema import Version


class VersionError(InputError):
    """A version that cannot be found; the message names the option and the value."""


def parse_spec(option: str, text: str) -> tuple[str, date]:
    """REGION@DATE -> (region, date)."""
    code, sep, day = text.partition("@")
    code = code.strip()
    if not sep or not (len(code) == 6 and code.isdigit()):
        raise VersionError(f"{option} {text!r}: give REGION@DATE, e.g. 321000@2022-06-01")
    try:
        return code, date.fromisoformat(day.strip())
    except ValueError:
        raise VersionError(f"{option} {text!r}: {day!r} is not a date (YYYY-MM-DD)") from None


def parse_date(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise VersionError(f"{option} {text!r}: not a date (YYYY-MM-DD)") from None


def version_at(option: str, text: str, book: PolicyBook) -> tuple[Version, date]:
    """REGION@DATE: the version in force in REGION on DATE, and DATE."""
    region, on = parse_spec(option, text)
    try:
        return book.policy_for(region, on), on
    except PolicyNotFound as exc:
        raise VersionError(f"{option} {text}: {exc}") from None


def in_force(book: PolicyBook, region: str, on: date, option: str) -> Version:
    try:
        return book.policy_for(region, on)
    except PolicyNotFound as exc:
        raise VersionError(f"{option} {on}: {exc}") from None


def pre_reform(book: PolicyBook, region: str, option: str = "--before") -> Version:
    """The newest version marked pre_reform in the region's file (after fallback to its city or province)."""
    try:
        found = book.region(region)
    except PolicyNotFound as exc:
        raise VersionError(f"--region {region}: {exc}") from None
    old = [v for v in found.versions if v.pre_reform]
    if not old:
        raise VersionError(f"{option}: {found.name} {found.admdvs} has no pre-reform version (pre_reform: true) in "
                           f"its policy file; give the policy to compare with as {option} REGION@DATE")
    return old[-1]


def newest(book: PolicyBook, region: str) -> Version:
    """The region's newest version."""
    try:
        return book.region(region).versions[-1]
    except PolicyNotFound as exc:
        raise VersionError(f"--region {region}: {exc}") from None
