"""`gongji monitor`: smart monitoring (智能监管): the national rule base's coverage (`monitor rules`), the
knowledge base of restrictions (`monitor kb import|list`), the rules over stored claims (`monitor run`), the anomaly
scores (`monitor scores`), the review queue (`monitor queue|show|confirm|dismiss`), credit records (`monitor
credit`), and labelled test data with the rules' and scores' evaluation (`monitor synth|evaluate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from gongji.cli.benefits import print_json
from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, console, fail, step_bar
from gongji.cli.ops import AsJson, Db, engine_or_fail
from gongji.money import format_grouped, format_yuan
from gongji.monitor import coverage, kb_store
from gongji.monitor.knowledge import RULE_TYPES
from gongji.services import knowledge_import, monitor_queue, monitoring, prechecks
from gongji.simulate import versions

monitor_app = typer.Typer(help="Smart monitoring (智能监管): rules, knowledge base.", no_args_is_help=True)
kb_app = typer.Typer(help="The knowledge base (知识库): dated restrictions keyed by catalogue code.",
                     no_args_is_help=True)
app.add_typer(monitor_app, name="monitor")
monitor_app.add_typer(kb_app, name="kb")


@monitor_app.command("rules")
def rules_command(as_json: AsJson = False) -> None:
    """The national rule base's rules for outpatient and pharmacy settlement, and what covers each: a checker, an
    anomaly feature, or the reason it is not covered yet (gongji/monitor/coverage.yaml)."""
    try:
        table = coverage.load_coverage()
    except coverage.CoverageError as exc:
        fail(str(exc))
    counted = coverage.counts(table)
    unused = coverage.unused_checkers(table)
    if as_json:
        print_json({"rules": [c.as_dict() for c in table], "counts": counted, "checkers_beyond": unused})
        return
    out = console()
    shown = Table(title="the national rule base (2025 edition) in outpatient and pharmacy settlement")
    for header in ("seq", "code", "name", "window", "realtime", "class", "covered by / reason"):
        shown.add_column(header, justify="right" if header == "seq" else "left",
                         overflow="fold", no_wrap=header in ("code", "window"))
    for c in table:
        shown.add_row(str(c.seq), c.code or "-", c.name, c.window, c.realtime, c.cls, c.what)
    out.print(shown)
    print(f"{counted['all']} rules: {counted['checker']} covered by a checker, {counted['anomaly']} feeding an "
          f"anomaly score, {counted['not_covered']} not covered")
    if unused:
        print("checkers beyond the national rule base: " + ", ".join(unused))


@kb_app.command("import")
def kb_import(
    file: Annotated[Path | None, typer.Argument(help="A CSV file in the national form: code, rule, limit, unit, "
                                                "other_code, begndate, enddate, source.", show_default=False)] = None,
    shipped: Annotated[bool, typer.Option("--shipped", help="The illustrative set shipped for the demo "
                                          "(gongji/monitor/knowledge.csv).")] = False,
    db: Db = None,
) -> None:
    """Import restrictions whole: any bad row refuses the file, naming line, field and reason. A row equal to the
    stored restriction (same rule, code, other_code and begndate) changes nothing; a changed one replaces it."""
    if (file is None) == (not shipped):
        fail("kb import needs a FILE or --shipped (one of them)")
    path = knowledge_import.SHIPPED if shipped else file
    engine = engine_or_fail(db)
    with bad_input():
        result = knowledge_import.import_file(engine, path)
    print(f"{path.name}: {result.rows} restrictions: {result.inserted} added, {result.updated} updated, "
          f"{result.unchanged} unchanged")


@kb_app.command("list")
def kb_list(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule type.", show_default=False)] = None,
    code: Annotated[str | None, typer.Option("--code", help="Only this code (med_list_codg or diagnosis prefix).",
                                             show_default=False)] = None,
    as_json: AsJson = False, db: Db = None,
) -> None:
    """The stored restrictions, by rule, code and begndate."""
    if rule is not None and rule not in RULE_TYPES:
        fail(f"--rule: {rule!r} is not a rule type; one of {', '.join(RULE_TYPES)}")
    engine = engine_or_fail(db)
    with engine.connect() as conn:
        found = kb_store.stored_restrictions(conn, rule, code)
    if as_json:
        print_json([r._asdict() for r in found])
        return
    if not found:
        print("no restrictions" + (f" of rule {rule}" if rule else "") + (f" on {code}" if code else ""))
        return
    shown = Table(title="knowledge base (知识库)")
    for header in ("rule", "code", "limit", "unit", "other_code", "begndate", "enddate", "source"):
        shown.add_column(header, overflow="fold")
    for r in found:
        shown.add_row(r.rule, r.code, r.limit, r.unit, r.other_code, str(r.begndate), str(r.enddate or ""), r.source)
    console().print(shown)
    print(f"{len(found)} restriction" + ("" if len(found) == 1 else "s"))


# --- the review queue (审核队列) and credit records (信用记录) ---------------------------------------------------

ALL = "all"
Reviewer = Annotated[str, typer.Option("--reviewer", help="Who decides (the name kept with the decision).",
                                       show_default=False)]
Notes = Annotated[str | None, typer.Option("--notes", help="Why, in a few words.", show_default=False)]
Hit = Annotated[str, typer.Argument(help="The hit's id (HT...), as `monitor queue` lists it.", show_default=False)]


@monitor_app.command("queue")
def queue_command(
    status: Annotated[str, typer.Option("--status", help="pending, confirmed, dismissed or all.")] = "pending",
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's hits.", show_default=False)] = None,
    institution: Annotated[str | None, typer.Option("--institution", help="Only hits on this institution's "
                                                    "settlements (fixmedins_code).", show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many hits.")] = 100,
    as_json: AsJson = False, db: Db = None,
) -> None:
    """The review queue: the hits of monitoring rules, oldest first."""
    engine = engine_or_fail(db)
    wanted = None if status == ALL else status
    with bad_input(), engine.connect() as conn:
        hits = monitor_queue.queue(conn, wanted, rule, institution, limit)
        total = monitor_queue.queue_size(conn, wanted, rule, institution)
    if as_json:
        print_json(monitor_queue.in_yuan(hits))
        return
    if not hits:
        print(f"no {'' if wanted is None else wanted + ' '}hits")
        return
    shown = Table(title=f"review queue (审核队列): {status}")
    for header in ("hit_id", "found_at", "rule", "class", "setl_id", "line", "institution", "psn_no", "amount",
                   "status"):
        shown.add_column(header, justify="right" if header in ("line", "amount") else "left", overflow="fold")
    for h in hits:
        shown.add_row(h["hit_id"], f"{h['found_at']:%Y-%m-%d %H:%M}", h["rule"], h["cls"], h["setl_id"],
                      "" if h["line"] is None else str(h["line"]), h["fixmedins_code"], h["psn_no"],
                      format_yuan(h["amount"]), h["status"])
    console().print(shown)
    print(_counted(len(hits), total, "hit"))


def _counted(shown: int, total: int, noun: str) -> str:
    return f"{shown} of {total} {noun}s" if total > shown else f"{total} {noun}" + ("" if total == 1 else "s")


ANSWERS = {"went-on": prechecks.GO_ON, "changed": prechecks.CHANGE, "none": prechecks.NOT_ANSWERED}
ANSWER_NAMES = {prechecks.GO_ON: "went on", prechecks.CHANGE: "changed", None: "-"}


@monitor_app.command("warnings")
def warnings_command(
    date_from: Annotated[str | None, typer.Option("--from", help="YYYY-MM-DD: checked on or after.",
                                                  show_default=False)] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD: checked on or before.",
                                                show_default=False)] = None,
    institution: Annotated[str | None, typer.Option("--institution", help="Only this institution's (fixmedins_code).",
                                                    show_default=False)] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="went-on, changed or none (not answered by 3103).",
                                               show_default=False)] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many warnings.")] = 100,
    as_json: AsJson = False, db: Db = None,
) -> None:
    """The warnings the pre-check (3101 事前, 3102 事中) answered institutions, newest first, with what each did
    about them (3103)."""
    start = None if date_from is None else _day("--from", date_from)
    end = None if date_to is None else _day("--to", date_to)
    if answer is not None and answer not in ANSWERS:
        fail(f"--answer: {answer!r} is not went-on, changed or none")
    engine = engine_or_fail(db)
    with engine.connect() as conn:
        total, found = prechecks.warnings(conn, start, end, institution, ANSWERS.get(answer), limit)
    if as_json:
        print_json(monitor_queue.in_yuan(found))
        return
    if not found:
        print("no pre-check warnings")
        return
    shown = Table(title="pre-check warnings (明细审核)")
    for header in ("jr_id", "checked_at", "infno", "institution", "psn_no", "mdtrt_id", "rule", "class", "line",
                   "amount", "answer", "reason"):
        shown.add_column(header, justify="right" if header in ("line", "amount") else "left", overflow="fold")
    for w in found:
        shown.add_row(w["jr_id"], f"{w['checked_at']:%Y-%m-%d %H:%M}", w["infno"], w["fixmedins_code"], w["psn_no"],
                      w["mdtrt_id"], w["rule"], w["cls"], "" if w["line"] is None else str(w["line"]),
                      format_yuan(w["amount"]), ANSWER_NAMES[w["dspo_way"]], w["dspo_way_rea"] or "")
    console().print(shown)
    print(_counted(len(found), total, "warning"))


def _print_hit(view: dict) -> None:
    h, s = view["hit"], view["settlement"]
    print(f"{h['hit_id']}: {h['rule']} ({h['code']}), {h['cls']}, {h['status']}"
          + (f" by {h['reviewer']} on {h['decided_at']:%Y-%m-%d %H:%M:%S}" if h["decided_at"] else ""))
    print(f"found {h['found_at']:%Y-%m-%d %H:%M:%S} ({h['moment']}); at stake {format_yuan(h['amount'])} yuan"
          + (f"; clawed back {format_yuan(h['clawed_back'])} yuan" if h["status"] == monitor_queue.CONFIRMED else ""))
    if h["notes"]:
        print(f"notes: {h['notes']}")
    print("evidence: " + "; ".join(f"{name}={value}" for name, value in view["evidence"]))
    print(f"settlement {s['setl_id']} of {s['psn_no']} at {s['fixmedins_code']} on {s['setl_date']} "
          f"(med_type {s['med_type']}): medfee {format_yuan(s['medfee_sumamt'])}, covered "
          f"{format_yuan(s['inscp_scp_amt'])}, fund {format_yuan(s['fund_pay'])}, clawed back "
          f"{format_yuan(s['clawed_back'])}" + (f"; reversed by {s['reversed_by']}" if s["reversed_by"] else ""))
    if view["lines"]:
        lines = Table(title="lines")
        for header in ("sn", "code", "amount", "covered", "memo"):
            lines.add_column(header, justify="right" if header in ("sn", "amount", "covered") else "left")
        for line in view["lines"]:
            mark = " *" if line["feedetl_sn"] == h["line"] else ""
            lines.add_row(f"{line['feedetl_sn']}{mark}", line["med_list_codg"],
                          format_yuan(line["det_item_fee_sumamt"]), format_yuan(line["inscp_scp_amt"]),
                          line["memo"] or "")
        console().print(lines)
    for e in view["credit_events"]:
        print(f"credit: {e['points']:+d} points on {e['subject_kind']} {e['subject']} ({e['reason']})")


@monitor_app.command("show")
def show_command(hit: Hit, as_json: AsJson = False, db: Db = None) -> None:
    """One hit: the rule, the evidence, its settlement and lines (the hit's line marked *), and its credit events."""
    engine = engine_or_fail(db)
    with bad_input(), engine.connect() as conn:
        view = monitor_queue.show(conn, hit)
    if as_json:
        print_json(monitor_queue.in_yuan(view))
        return
    _print_hit(view)


@monitor_app.command("confirm")
def confirm_command(hit: Hit, reviewer: Reviewer, notes: Notes = None, db: Db = None,
                    policy_dir: PolicyDir = None) -> None:
    """Confirm a pending hit: the fund's money it names goes back to the pool (追回), the member's year gets the cap
    room back, and the responsible institution or member gets the policy's credit points."""
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    with bad_input():
        view = monitor_queue.confirm(engine, book, hit, reviewer, notes)
    h, s = view["hit"], view["settlement"]
    event = view["credit_events"][0]
    print(f"{h['hit_id']}: confirmed by {h['reviewer']}; {format_yuan(h['clawed_back'])} yuan clawed back to the "
          f"pool of {s['insuplc_admdvs']}; {event['points']:+d} points on {event['subject_kind']} "
          f"{event['subject']}")


@monitor_app.command("dismiss")
def dismiss_command(hit: Hit, reviewer: Reviewer, notes: Notes = None, db: Db = None) -> None:
    """Dismiss a pending hit: no money moves, no credit points."""
    engine = engine_or_fail(db)
    with bad_input():
        view = monitor_queue.dismiss(engine, hit, reviewer, notes)
    print(f"{view['hit']['hit_id']}: dismissed by {view['hit']['reviewer']}")


@monitor_app.command("credit")
def credit_command(
    kind: Annotated[str, typer.Argument(help="institution or member.", show_default=False)],
    subject: Annotated[str, typer.Argument(help="The fixmedins_code or psn_no.", show_default=False)],
    as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """A credit record (信用记录): the score (the policy's start plus the points of confirmed hits, never below 0)
    and its events, oldest first."""
    engine = engine_or_fail(db)
    book = book_or_fail(policy_dir)
    with bad_input(), engine.connect() as conn:
        score, events = monitor_queue.credit_record(conn, book, kind, subject)
    if as_json:
        print_json({"subject_kind": kind, "subject": subject, "score": score, "events": events})
        return
    print(f"{kind} {subject}: score {score}")
    for e in events:
        print(f"{e['at']:%Y-%m-%d %H:%M:%S} {e['points']:+d} {e['hit_id']} {e['reason']}")


# --- labelled test data and the evaluation of the rules and scores (monitor synth, monitor evaluate) ----------

SynthClaims = Annotated[int, typer.Option("--claims", min=1, help="Background claims of the synthetic year (about; "
                                          "the planted ones come on top).")]
SynthSeed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same data.")]


def _share(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


@monitor_app.command("synth")
def synth_command(
    out: Annotated[Path, typer.Option("--out", help="Folder for the Parquet files (created if missing).",
                                      show_default=False)],
    claims: SynthClaims = 20_000, seed: SynthSeed = 0,
) -> None:
    """Labelled test data (gongji.monitor.synth): a synthetic year of claims whose background breaks no rule, with
    planted violations of every rule and planted fraud patterns, written as Parquet (claims, lines, members,
    knowledge, violations, patterns) with meta.json."""
    from gongji.monitor import synth

    try:
        labelled = synth.generate(claims, seed)
        files = labelled.write(out)
    except (ValueError, OSError) as exc:
        fail(f"--out: {exc}" if isinstance(exc, OSError) else str(exc))
    meta = labelled.meta
    print(f"{out}: {meta['claims']} claims ({meta['background_claims']} background), {meta['lines']} lines, "
          f"{meta['members']} members; {labelled.violations.height} planted findings of "
          f"{labelled.violations['rule'].n_unique()} rules, {labelled.patterns.height} pattern entities "
          f"({', '.join(sorted(labelled.patterns['pattern'].unique().to_list()))}); files: "
          + ", ".join(p.name for p in files.values()))


@monitor_app.command("evaluate")
def evaluate_command(
    claims: SynthClaims = 20_000, seed: SynthSeed = 0,
    data: Annotated[Path | None, typer.Option("--data", help="A folder `monitor synth` wrote, instead of "
                                              "generating.", show_default=False)] = None,
    as_json: AsJson = False,
) -> None:
    """Precision and recall of every rule on planted violations, and the anomaly scores' ROC AUC on planted fraud
    patterns (gongji.monitor.evaluate), on synthetic labelled data. Targets: recall 100 %, precision >= 99 %,
    AUC >= 0.9."""
    from gongji.monitor import evaluate, synth

    try:
        labelled = synth.read(data) if data is not None else synth.generate(claims, seed)
    except (ValueError, OSError) as exc:
        fail(f"--data: {exc}" if data is not None else str(exc))
    report = evaluate.evaluate(labelled)
    if as_json:
        print_json(report.as_dict() | {"meta": labelled.meta})
        return
    out = console()
    meta = labelled.meta
    rules = Table(title=f"rules on planted violations ({meta['claims']} claims, {meta['lines']} lines, "
                        f"seed {meta.get('seed')})")
    for header in ("rule", "planted", "found", "TP", "FP", "FN", "precision", "recall"):
        rules.add_column(header, justify="left" if header == "rule" else "right")
    for r in report.rules:
        rules.add_row(r.rule, str(r.planted), str(r.found), str(r.true_positives), str(r.false_positives),
                      str(r.false_negatives), _share(r.precision), _share(r.recall))
    out.print(rules)
    patterns = Table(title="anomaly scores on planted fraud patterns (ROC AUC)")
    for header in ("pattern", "scores of", "positives", "negatives", "robust_score", "model_score"):
        patterns.add_column(header, justify="left" if header in ("pattern", "scores of") else "right")
    for p in report.patterns:
        view = p.view if p.primary else f"{p.view} (for comparison)"
        patterns.add_row(p.pattern, view, str(p.positives), str(p.negatives),
                         "-" if p.auc_robust is None else f"{p.auc_robust:.3f}",
                         "-" if p.auc_model is None else f"{p.auc_model:.3f}")
    out.print(patterns)
    print(f"batch run over every rule: {report.seconds:.2f} s")
    for row in report.false_negatives.head(10).iter_rows(named=True):
        print(f"missed: {row['rule']} on claim {row['claim']}"
              + (f" line {row['line']}" if row["line"] is not None else ""))
    for row in report.false_positives.head(10).iter_rows(named=True):
        print(f"not planted: {row['rule']} on claim {row['claim']}"
              + (f" line {row['line']}" if row["line"] is not None else "") + f" ({row['evidence']})")
    shortfalls = report.shortfalls()
    print("targets met (recall 100 %, precision >= 99 %, AUC >= 0.9)" if not shortfalls
          else "targets missed: " + "; ".join(shortfalls))


# --- the rules over stored claims, and the anomaly scores (monitor run, monitor scores) -------------------------

PeriodFrom = Annotated[str, typer.Option("--from", help="YYYY-MM-DD: the first day of the period.")]
PeriodTo = Annotated[str, typer.Option("--to", help="YYYY-MM-DD: the last day of the period.")]


def _day(option: str, text: str):
    with bad_input():
        return versions.parse_date(option, text)


@monitor_app.command("run")
def run_command(date_from: PeriodFrom, date_to: PeriodTo,
                region: Annotated[str | None, typer.Option("--region", help="admdvs: members insured there; "
                                                           "default: every region", show_default=False)] = None,
                as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None) -> None:
    """Every rule over the stored claims of the period (事后), set-based; the findings go to the review queue (a
    rerun adds nothing it holds)."""
    start, end = _day("--from", date_from), _day("--to", date_to)
    engine, book = engine_or_fail(db), book_or_fail(policy_dir)
    with bad_input(), step_bar("monitor run", None, as_json) as advance:
        result = monitoring.run(engine, book, start, end, region, advance)
    by_rule = _by_rule(result.findings)
    if as_json:
        print_json({"claims": result.claims, "findings": result.findings.height, "added": result.added,
                    "known": result.known, "by_rule": [r | {"amount": format_yuan(r["amount"])}
                                                       for r in by_rule.iter_rows(named=True)]})
        return
    print(f"{start} .. {end}: {result.claims:,} claims, {result.findings.height:,} findings "
          f"({result.added:,} new in the queue, {result.known:,} already there)")
    console().print(findings_table(result.findings))


def _by_rule(findings: pl.DataFrame) -> pl.DataFrame:
    return findings.group_by("rule", "cls").agg(hits=pl.len(), amount=pl.col("amount").sum()) \
        .sort("hits", "rule", descending=[True, False])


def findings_table(findings: pl.DataFrame) -> Table:
    """Findings (batch.FINDING_COLUMNS) counted by rule, the most frequent first, with the money at stake."""
    table = Table(title="findings by rule")
    for header in ("rule", "class", "hits", "at stake (yuan)"):
        table.add_column(header, justify="right" if header in ("hits", "at stake (yuan)") else "left")
    for r in _by_rule(findings).iter_rows(named=True):
        table.add_row(r["rule"], r["cls"], f"{r['hits']:,}", format_grouped(r["amount"]))
    return table


@monitor_app.command("scores")
def scores_command(date_from: PeriodFrom, date_to: PeriodTo,
                   region: Annotated[str, typer.Option("--region", help="admdvs: members insured there.")],
                   top: Annotated[int, typer.Option("--top", min=1, help="Rows shown of each.")] = 10,
                   as_json: AsJson = False, db: Db = None, policy_dir: PolicyDir = None) -> None:
    """Anomaly scores of the period: institutions against their peers, members against their type and age band,
    the strangest first, each with the features that make it so."""
    start, end = _day("--from", date_from), _day("--to", date_to)
    engine, book = engine_or_fail(db), book_or_fail(policy_dir)
    with bad_input():
        institutions, members, accounts = monitoring.scores(engine, book, start, end, region)
    columns = ("entity", "peer", "claims", "robust_score", "model_score", "reasons")
    if as_json:
        print_json({name: s.frame.select(columns).head(top).to_dicts()
                    for name, s in (("institutions", institutions), ("members", members), ("accounts", accounts))})
        return
    for name, s in (("institutions", institutions), ("members", members), ("accounts (家庭共济)", accounts)):
        table = Table(title=f"{name}: the strangest {top} of {s.frame.height:,}")
        for header in columns:
            table.add_column(header, justify="right" if header.endswith(("score", "claims")) else "left")
        for r in s.frame.select(columns).head(top).iter_rows(named=True):
            table.add_row(r["entity"], r["peer"], f"{r['claims']:,}", f"{r['robust_score']:.2f}",
                          f"{r['model_score']:.3f}", r["reasons"])
        console().print(table)


# --- the report (monitor report) --------------------------------------------------------------------------------


@monitor_app.command("report")
def report_command(date_from: PeriodFrom, date_to: PeriodTo,
                   region: Annotated[str, typer.Option("--region", help="admdvs: members insured there.")],
                   html: Annotated[Path, typer.Option("--html", help="The page to write (one self-contained file).")],
                   db: Db = None, policy_dir: PolicyDir = None) -> None:
    """The monitoring report of the period as one offline HTML page with charts (Apache ECharts, embedded): hits by
    rule and institution, money at stake, the queue's age, and the institutions with the highest anomaly scores."""
    from gongji.monitor import report
    from gongji.services import monitor_report

    start, end = _day("--from", date_from), _day("--to", date_to)
    engine, book = engine_or_fail(db), book_or_fail(policy_dir)
    with bad_input():
        figures = monitor_report.gather(engine, book, start, end, region)
    try:
        html.write_text(report.render(figures), encoding="utf-8")
    except OSError as exc:
        fail(f"--html {html}: cannot write ({exc})")
    print(f"{html}: {html.stat().st_size:,} bytes; {figures.hits:,} hits, {format_grouped(figures.amount)} yuan at "
          f"stake, {format_grouped(figures.clawed_back)} yuan clawed back")
