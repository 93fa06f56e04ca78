"""How well the monitoring finds what was planted (评估): the rules against the planted violations, the anomaly
scores against the planted fraud patterns, on labelled data (gongji.monitor.synth).

Rules. Every batch rule runs over the frames (gongji.monitor.batch.run); a finding matches a label when rule,
claim and line (null for a claim finding) are equal. Per rule, over the distinct (rule, claim, line) triples:
true positives (found and planted), false positives (found, not planted), false negatives (planted, not found),
precision TP / (TP + FP) (None when nothing was found) and recall TP / (TP + FN) (None when nothing was planted).
The total row adds the counts of every rule (micro average).

Anomaly scores. Institutions (gongji.monitor.anomaly.institutions) and members (anomaly.members) over all the
claims; for the "account" labels also the members' scores over the claims as the paying accounts see them (a claim
paid from a relative's account counted as the account holder's, with the holder's age and type), because a
member's own scores do not look at what the member's account paid for others. For each pattern and each view its
labels ask for: ROC AUC (sklearn.metrics.roc_auc_score) of robust_score and of model_score, the pattern's entities
the positives, the entities no pattern touches the negatives (other patterns' entities left out). An entity
without claims in the view scores below every other.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import polars as pl
from sklearn.metrics import roc_auc_score

from gongji.monitor import anomaly, batch
from gongji.monitor.synth import ACCOUNT, INSTITUTION, MEMBER, Labelled

KEY = ["rule", "claim", "line"]
TARGET_RECALL, TARGET_PRECISION, TARGET_AUC = 1.0, 0.99, 0.9
"""the issue's targets: every planted violation found, at most 1 finding in 100 not planted, ROC AUC 0.9."""
VIEWS = {INSTITUTION: (INSTITUTION,), MEMBER: (MEMBER,), ACCOUNT: (ACCOUNT, MEMBER)}
"""a label's kind -> the views (score sets) it is judged on."""


@dataclass(frozen=True)
class RuleScore:
    rule: str
    planted: int
    found: int
    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float | None
    recall: float | None


@dataclass(frozen=True)
class PatternScore:
    pattern: str
    view: str
    """institution, member or account: whose scores."""
    positives: int
    negatives: int
    auc_robust: float | None
    auc_model: float | None
    """None when there are no positives or no negatives."""
    primary: bool
    """the view the label's kind names (the others are shown for comparison, not held to the target)."""


@dataclass(frozen=True)
class Report:
    rules: list[RuleScore]
    """one per rule that has a label or a finding, by rule name; then the total (rule "all")."""
    patterns: list[PatternScore]
    false_positives: pl.DataFrame
    """the findings no label matches (FINDING_COLUMNS)."""
    false_negatives: pl.DataFrame
    """the labels no finding matches (rule, claim, line)."""
    seconds: float
    """the batch run's time."""

    def shortfalls(self) -> list[str]:
        """What misses the targets (TARGET_*): per rule recall and precision, per pattern the AUC of both scores on
        its own view; empty when everything meets them."""
        out = []
        for r in self.rules:
            if r.recall is not None and r.recall < TARGET_RECALL:
                out.append(f"{r.rule}: recall {r.recall:.4f} < {TARGET_RECALL}")
            if r.precision is not None and r.precision < TARGET_PRECISION:
                out.append(f"{r.rule}: precision {r.precision:.4f} < {TARGET_PRECISION}")
            if r.planted and r.precision is None:
                out.append(f"{r.rule}: nothing found")
        for p in self.patterns:
            for name, value in (("robust_score", p.auc_robust), ("model_score", p.auc_model)):
                if p.primary and value is not None and value < TARGET_AUC:
                    out.append(f"{p.pattern} ({p.view}): ROC AUC of {name} {value:.3f} < {TARGET_AUC}")
        return out

    def as_dict(self) -> dict:
        return {"rules": [asdict(r) for r in self.rules], "patterns": [asdict(p) for p in self.patterns],
                "false_positives": self.false_positives.to_dicts(),
                "false_negatives": self.false_negatives.to_dicts(), "seconds": round(self.seconds, 3),
                "shortfalls": self.shortfalls()}


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def rule_scores(findings: pl.DataFrame, labels: pl.DataFrame) -> tuple[list[RuleScore], pl.DataFrame, pl.DataFrame]:
    """Per rule scores of `findings` (FINDING_COLUMNS) against `labels` (rule, claim, line), with the unmatched
    findings and labels."""
    found = findings.select(KEY).unique()
    planted = labels.select(KEY).unique()
    hits = found.join(planted, on=KEY, how="semi", nulls_equal=True)
    extra = findings.join(planted, on=KEY, how="anti", nulls_equal=True)
    missed = planted.join(found, on=KEY, how="anti", nulls_equal=True).sort(KEY, nulls_last=False)

    def counts(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.group_by("rule").len().iter_rows())

    n_found, n_planted, n_hits = counts(found), counts(planted), counts(hits)
    scores = []
    for rule in sorted(set(n_found) | set(n_planted)):
        tp, f, p = n_hits.get(rule, 0), n_found.get(rule, 0), n_planted.get(rule, 0)
        scores.append(RuleScore(rule, p, f, tp, f - tp, p - tp, _ratio(tp, f), _ratio(tp, p)))
    tp, f, p = sum(n_hits.values()), sum(n_found.values()), sum(n_planted.values())
    scores.append(RuleScore("all", p, f, tp, f - tp, p - tp, _ratio(tp, f), _ratio(tp, p)))
    return scores, extra.sort("claim", "rule", "line", nulls_last=False), missed


def scores_by_view(labelled: Labelled) -> dict[str, pl.DataFrame]:
    """The anomaly scores' frames (entity, robust_score, model_score, ...) of each view."""
    months = labelled.year_end_months
    views = {INSTITUTION: anomaly.institutions(labelled.claims, labelled.lines, months).frame,
             MEMBER: anomaly.members(labelled.claims, months).frame}
    if labelled.patterns.filter(pl.col("kind") == ACCOUNT).height:
        views[ACCOUNT] = anomaly.accounts(labelled.claims, labelled.members, months).frame
    return views


def auc(scores: pl.DataFrame, positives: set[str], excluded: set[str], column: str) -> tuple[int, int, float | None]:
    """(positives, negatives, ROC AUC of `column`): `positives` (one missing from `scores` scores below all)
    against the other entities of `scores` less `excluded`."""
    values = dict(scores.select("entity", column).iter_rows())
    floor = min(values.values(), default=0.0) - 1.0
    entities = sorted((set(values) | positives) - (excluded - positives))
    y = [e in positives for e in entities]
    s = [values.get(e, floor) for e in entities]
    pos, neg = sum(y), len(y) - sum(y)
    return pos, neg, (float(roc_auc_score(y, s)) if pos and neg else None)


def pattern_scores(labelled: Labelled, views: dict[str, pl.DataFrame] | None = None) -> list[PatternScore]:
    views = views if views is not None else scores_by_view(labelled)
    labels = labelled.patterns
    out = []
    for (pattern, kind), rows in sorted(labels.group_by("pattern", "kind"), key=lambda g: g[0]):
        positives = set(rows["entity"].to_list())
        for view in VIEWS[kind]:
            same = (INSTITUTION,) if view == INSTITUTION else (MEMBER, ACCOUNT)
            touched = set(labels.filter(pl.col("kind").is_in(same))["entity"].to_list())
            pos, neg, robust = auc(views[view], positives, touched, "robust_score")
            _p, _n, model = auc(views[view], positives, touched, "model_score")
            out.append(PatternScore(pattern, view, pos, neg, robust, model, view == kind))
    return out


def evaluate(labelled: Labelled) -> Report:
    """Every rule over the labelled frames against the planted violations, and the anomaly scores against the
    planted patterns."""
    start = time.perf_counter()
    findings = batch.run(labelled.frames())
    seconds = time.perf_counter() - start
    rules, extra, missed = rule_scores(findings, labelled.violations)
    return Report(rules, pattern_scores(labelled), extra, missed, seconds)
