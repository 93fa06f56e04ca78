"""A small registry for the admin API's tests, and a user of every role."""

from __future__ import annotations

from datetime import date

from gongji.services import family
from gongji.services.crediting import deposit
from gongji.services.imports import import_csv
from gongji.services.settlement import parse_settle, settle
from gongji.services.users import ROLES, add_user
from tests.factories import RELATION_COLUMNS, csv_bytes, fen, institution, institutions_csv, person, persons_csv

REGION = "321000"
H1 = "H32100000001"
FATHER = person("P1", date(1950, 6, 1), psn_type="12", balc="1000.00", serial=1)
"""retired, 1000.00 in his account."""
SON = person("P2", date(1980, 1, 1), balc="200.00", serial=2)
"""in service; his relation to FATHER is registered and FATHER lets him use his account."""
NEW = person("P9", date(1985, 4, 4), gend="2", balc="50.00", serial=9)
"""not registered: created through the API."""
SPOUSE = person("X", date(1982, 3, 3), gend="2", serial=3)["certno"]
"""SON's spouse's ID number (not insured here)."""


def as_json(row: dict) -> dict:
    """A factory row as a request body: an empty CSV cell is a field left out."""
    return {k: v for k, v in row.items() if v != ""}


def registry(engine, book) -> dict:
    """FATHER and SON, a level-1 hospital, SON authorized on FATHER's account, the pool funded, one visit of
    FATHER settled (800.00 covered), and one user per role named after it; returns the setl_id and the tokens."""
    import_csv(engine, "persons", persons_csv([FATHER, SON]), book)
    import_csv(engine, "institutions", institutions_csv([institution(H1, 1)]), book)
    import_csv(engine, "relations", csv_bytes(RELATION_COLUMNS, [
        {"psn_no": "P2", "relative_certno": FATHER["certno"], "relative_name": "父亲", "relation": "parent"}]), book)
    family.authorize(engine, "P1", "P2")
    deposit(engine, REGION, fen("100000.00"), date(2024, 1, 1))
    done = settle(engine, book, parse_settle({"psn_no": "P1", "fixmedins_code": H1, "date": "2024-03-01",
                                              "med_type": "11", "acct_used_flag": "1", "covered": "800.00"}))
    return {"setl_id": done.row["setl_id"], "tokens": {role: add_user(engine, role, role) for role in ROLES}}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
