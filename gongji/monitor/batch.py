"""The rules set-based over many stored claims at once (事后), with Polars: each rule's batch function finds the same
findings its checker finds claim by claim (tests hold the two equal).

Frames:
* claims (CLAIM_COLUMNS), one row per claim; `diagnoses` a list of codes;
* lines (LINE_COLUMNS), one row per fee line, with its claim's key and the item's kind;
* knowledge (KNOWLEDGE_COLUMNS), the restrictions.
A batch function returns a findings frame (FINDING_COLUMNS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import polars as pl

from gongji.monitor.checkers import Context, Finding
from gongji.monitor.claims import Claim
from gongji.monitor.knowledge import Knowledge

CLAIM_COLUMNS: dict[str, pl.DataType] = {
    "key": pl.String(), "seq": pl.Int64(), "psn_no": pl.String(), "sex": pl.String(), "birth_date": pl.Date(),
    "member_type": pl.String(), "fixmedins_code": pl.String(), "setting": pl.String(), "level": pl.Int64(),
    "designated": pl.Boolean(), "med_type": pl.String(), "on": pl.Date(), "diagnoses": pl.List(pl.String()),
    "fund_paid": pl.Int64(), "in_stay": pl.Boolean(), "payer_psn_no": pl.String(), "rxno": pl.String(),
    "prescriber_code": pl.String(), "total": pl.Int64(),
}
LINE_COLUMNS: dict[str, pl.DataType] = {
    "key": pl.String(), "sn": pl.Int64(), "code": pl.String(), "quantity": pl.Decimal(16, 4), "price": pl.Int64(),
    "amount": pl.Int64(), "days": pl.Int64(), "trace_code": pl.String(), "kind": pl.String(),
}
KNOWLEDGE_COLUMNS: dict[str, pl.DataType] = {
    "code": pl.String(), "rule": pl.String(), "limit": pl.String(), "unit": pl.String(), "other_code": pl.String(),
    "begndate": pl.Date(), "enddate": pl.Date(),
}
FINDING_COLUMNS: dict[str, pl.DataType] = {
    "rule": pl.String(), "code": pl.String(), "cls": pl.String(), "claim": pl.String(), "line": pl.Int64(),
    "amount": pl.Int64(), "evidence": pl.String(),
}


class Frames:
    """The frames a batch reads, built once: claims, lines (with each line's claim columns joined) and the
    knowledge base."""

    def __init__(self, claims: pl.DataFrame, lines: pl.DataFrame, knowledge: pl.DataFrame, context: Context):
        self.claims = claims
        self.lines = lines.join(claims, on="key", how="left")
        self.knowledge = knowledge
        self.context = context


BatchRule = Callable[[Frames], pl.DataFrame]
BATCH: dict[str, BatchRule] = {}


def batch(name: str) -> Callable[[BatchRule], BatchRule]:
    def register(fn: BatchRule) -> BatchRule:
        BATCH[name] = fn
        return fn

    return register


def frames_of(claims: Sequence[Claim], context: Context) -> Frames:
    """Claims (with their lines) and the context's knowledge as batch frames."""
    claim_rows = [{c: getattr(claim, c) for c in CLAIM_COLUMNS} | {"diagnoses": list(claim.diagnoses)}
                  for claim in claims]
    line_rows = [{"key": claim.key, "sn": line.sn, "code": line.code, "quantity": line.quantity,
                  "price": line.price, "amount": line.amount, "days": line.days, "trace_code": line.trace_code,
                  "kind": context.kind(line.code)} for claim in claims for line in claim.lines]
    return Frames(pl.DataFrame(claim_rows, schema=CLAIM_COLUMNS), pl.DataFrame(line_rows, schema=LINE_COLUMNS),
                  knowledge_frame(context.knowledge), context)


def knowledge_frame(knowledge: Knowledge) -> pl.DataFrame:
    return pl.DataFrame([{c: getattr(r, c) for c in KNOWLEDGE_COLUMNS} for r in knowledge.all],
                        schema=KNOWLEDGE_COLUMNS)


def restrictions(frames: Frames, rule: str, on: str = "code") -> pl.DataFrame:
    """The lines joined to their `rule` restriction in force on the claim's date (lines without one dropped)."""
    kb = frames.knowledge.filter(pl.col("rule") == rule).drop("rule")
    joined = frames.lines.join(kb, left_on=on, right_on="code", how="inner", suffix="_kb")
    return joined.filter((pl.col("begndate") <= pl.col("on"))
                         & (pl.col("enddate").is_null() | (pl.col("on") <= pl.col("enddate"))))


def line_findings(rule: str, hits: pl.DataFrame, evidence: pl.Expr) -> pl.DataFrame:
    """A findings frame of line hits (the lines frame's columns), as `checkers.line_finding` makes them:
    the national code by the item's kind, the line's amount, `evidence` the text after "code=CODE; "."""
    from gongji.monitor.checkers import RULES

    spec = RULES[rule]
    first = next(iter(spec.codes.values()))
    return hits.select(
        rule=pl.lit(rule), code=pl.col("kind").replace_strict(dict(spec.codes), default=first, return_dtype=pl.String),
        cls=pl.lit(spec.cls), claim=pl.col("key"), line=pl.col("sn"), amount=pl.col("amount"),
        evidence=pl.concat_str(pl.lit("code="), pl.col("code"), pl.lit("; "), evidence))


def claim_findings(rule: str, hits: pl.DataFrame, evidence: pl.Expr) -> pl.DataFrame:
    """A findings frame of claim hits (the claims frame's columns), as `checkers.claim_finding` makes them: the
    rule's claim code, no line, the claim's fund payment, `evidence` the whole text."""
    from gongji.monitor.checkers import CLAIM, RULES

    spec = RULES[rule]
    code = spec.codes.get(CLAIM) or next(iter(spec.codes.values()))
    return hits.select(rule=pl.lit(rule), code=pl.lit(code), cls=pl.lit(spec.cls), claim=pl.col("key"),
                       line=pl.lit(None, pl.Int64), amount=pl.col("fund_paid"), evidence=evidence)


def findings_frame(findings: Iterable[Finding]) -> pl.DataFrame:
    return pl.DataFrame([f._asdict() for f in findings], schema=FINDING_COLUMNS)


def run(frames: Frames, rules: Sequence[str] | None = None) -> pl.DataFrame:
    """Every finding of every batch rule (or of `rules`), sorted by claim, rule and line."""
    parts = [BATCH[name](frames).select(list(FINDING_COLUMNS)) for name in rules or BATCH]
    found = pl.concat(parts) if parts else pl.DataFrame(schema=FINDING_COLUMNS)
    return found.sort("claim", "rule", "line", nulls_last=False, maintain_order=True)
