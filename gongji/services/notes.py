"""What a settlement says about itself (setl_proc_info): why some or all of it was not pooled, and where a
cross-region rule applied."""

from __future__ import annotations

from typing import NamedTuple

NOTE_LENGTH = 200


class Note(NamedTuple):
    en: str
    """for bureau staff (CLI, admin API)."""
    zh: str
    """for the hospital or pharmacy (the interface's setl_proc_info)."""


def joined(notes: list[Note]) -> tuple[str | None, str | None]:
    """(English, Chinese) texts of the notes, each at most NOTE_LENGTH characters; (None, None) without notes."""
    if not notes:
        return None, None
    return "; ".join(n.en for n in notes)[:NOTE_LENGTH], "；".join(n.zh for n in notes)[:NOTE_LENGTH]
