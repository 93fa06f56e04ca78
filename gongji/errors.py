"""One line per problem, naming the field path and the value, from pydantic's validation errors."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

LIST_FIELDS = frozenset({"versions", "cost_bands", "visits", "lines"})
"""Fields holding lists, whose integer positions print as [i]; other integers (levels, ages) are keys."""


def field_path(loc: Iterable[object]) -> str:
    """('visits', 1, 'level') -> 'visits[1].level'; ('ratios', 'in_service', 1) -> 'ratios.in_service.1'."""
    text, previous = "", None
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool) and previous in LIST_FIELDS:
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
        previous = part
    return text or "(top level)"


def short_repr(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc: ValidationError) -> list[str]:
    """'path: message (value: ...)' for every error of `exc`."""
    lines = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            lines.append(f"{field_path(err['loc'])}: missing")
            continue
        if not err["loc"]:
            # A check across fields: its message names the fields and values itself.
            lines.append(message)
            continue
        lines.append(f"{field_path(err['loc'])}: {message} (value: {short_repr(err.get('input'))})")
    return lines


class InputError(ValueError):
    """Input a use case refuses; the message names the field and the value, and nothing was changed.

    `zh` is the same in Chinese, for the national interface's err_msg (the CLI prints the English)."""

    def __init__(self, message: str, zh: str | None = None):
        super().__init__(message)
        self.zh = zh
