"""ID numbers (证件号码) as lists and logs may show them: enough to tell people apart, not to copy."""

from __future__ import annotations

KEPT_HEAD, KEPT_TAIL = 6, 4
"""the place code (6 digits) and the last 4 characters stay; the birth date and the serial do not."""


def mask_certno(certno: str) -> str:
    """'321002199001011234' -> '321002********1234'; a value shorter than 10 characters is masked whole."""
    if len(certno) < KEPT_HEAD + KEPT_TAIL:
        return "*" * len(certno)
    return certno[:KEPT_HEAD] + "*" * (len(certno) - KEPT_HEAD - KEPT_TAIL) + certno[-KEPT_TAIL:]
