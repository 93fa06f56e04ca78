"""Ages as the rules count them."""

from __future__ import annotations

from datetime import date


def age_on(birth_date: date, on: date) -> int:
    """Full years (周岁) on `on`; someone born on 29 February turns a year older on 1 March in other years."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - before_birthday
