"""`gongji monitor warnings`: the pre-check warnings (3101/3102) institutions were answered and what each did about
them (3103), on SQLite and PostgreSQL; bad input refused with exit status 2 and nothing changed."""

from __future__ import annotations

import json
from datetime import date

from gongji.services import prechecks
from gongji.services.imports import import_csv
from gongji.services.knowledge_import import import_csv as import_knowledge
from gongji.services.prechecks import Disposition, Encounter, Order
from gongji.store.db import transaction
from tests.cli.test_ops import refused, run
from tests.factories import csv_bytes, person, snapshot
from tests.services.test_imports import CATALOGUE_COLUMNS, item
from tests.services.test_knowledge_import_db import kb_csv, row
from tests.services.test_settlement_db import H1, setup


def _warned(engine, book) -> list[str]:
    """M1, a man, ordered D01 (women only) twice, in two pre-checks; H1 went on with the first, saying why."""
    setup(engine, book, [person("M1", date(1970, 1, 1))])
    import_csv(engine, "catalogue", csv_bytes(CATALOGUE_COLUMNS, [item("D01")]), book)
    import_knowledge(engine, kb_csv(row("D01", "sex", "2")))
    # 12.50 x 2 = 25.00 (quantity and price in 1/10000)
    order = Order("R1", None, "D01", 2_0000, 12_5000, 2500)
    ids = []
    with transaction(engine) as conn:
        for msgid in ("MSG1", "MSG2"):
            found = prechecks.check(conn, book, H1, msgid, "M1", "patn_id", [
                Encounter("V1", date(2024, 3, 1), "11", (), (order,), "encounter")])
            prechecks.record(conn, H1, msgid, "3101", "2", found)
            ids += [r.jr_id for r in found]
        prechecks.dispose(conn, H1, "1", [Disposition(ids[0], "1", "医生已确认", "warns[0]")])
    return ids


def test_the_warnings_and_what_the_institution_did(engine, db_url, book):
    first, second = _warned(engine, book)
    listed = run(db_url, "monitor", "warnings")
    assert listed.exit_code == 0, listed.output
    assert first in listed.stdout and second in listed.stdout and listed.stdout.endswith("2 warnings\n")
    went_on = json.loads(run(db_url, "monitor", "warnings", "--answer", "went-on", "--json").stdout)
    assert [(w["jr_id"], w["rule"], w["amount"], w["dspo_way_rea"]) for w in went_on] == \
        [(first, "sex", "25.00", "医生已确认")]
    assert [w["jr_id"] for w in json.loads(run(db_url, "monitor", "warnings", "--answer", "none",
                                               "--json").stdout)] == [second]
    assert run(db_url, "monitor", "warnings", "--institution", "H32100000002").stdout == "no pre-check warnings\n"
    assert run(db_url, "monitor", "warnings", "--to", "2000-01-01").stdout == "no pre-check warnings\n"
    assert run(db_url, "monitor", "warnings", "--limit", "1").stdout.endswith("1 of 2 warnings\n")


def test_bad_options_are_refused(engine, db_url, book):
    _warned(engine, book)
    before = snapshot(engine)
    refused(run(db_url, "monitor", "warnings", "--answer", "maybe"), "--answer", "'maybe'")
    refused(run(db_url, "monitor", "warnings", "--from", "2024-13-01"), "--from", "2024-13-01")
    assert snapshot(engine) == before
