"""`gongji monitor`: smart monitoring (智能监管): the national rule base's coverage (`monitor rules`) and the
knowledge base of restrictions (`monitor kb import|list`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.benefits import print_json
from gongji.cli.common import app, bad_input, console, fail
from gongji.cli.ops import AsJson, Db, engine_or_fail
from gongji.monitor import coverage, kb_store
from gongji.monitor.knowledge import RULE_TYPES
from gongji.services import knowledge_import

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
