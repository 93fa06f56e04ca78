"""Gateway credentials against a real database: issue, rotate, and the nonces a sweep may forget."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from gongji.errors import InputError
from gongji.services.credentials import WINDOW, credentials_for, forget_old_nonces
from gongji.services.imports import import_csv
from gongji.store.ledger import now
from gongji.store.tables import nonces
from tests.factories import institution, institutions_csv


def test_issued_once_rotated_on_request_and_only_for_registered_institutions(engine, book):
    import_csv(engine, "institutions", institutions_csv([institution("H32100000001", 1)]), book)
    first = credentials_for(engine, "H32100000001")
    assert credentials_for(engine, "H32100000001") == first
    rotated = credentials_for(engine, "H32100000001", rotate=True)
    assert (rotated.paasid, rotated.secret) != (first.paasid, first.secret)
    with pytest.raises(InputError, match="H99999999999"):
        credentials_for(engine, "H99999999999")


def test_a_sweep_forgets_only_nonces_older_than_twice_the_window(engine):
    at = now()
    with engine.begin() as conn:
        conn.execute(insert(nonces), [
            {"paasid": "k", "nonce": "old", "seen_at": at - 2 * WINDOW - timedelta(seconds=1)},
            {"paasid": "k", "nonce": "recent", "seen_at": at - WINDOW}])
    assert forget_old_nonces(engine, at) == 1
    with engine.connect() as conn:
        assert conn.execute(select(nonces.c.nonce)).scalars().all() == ["recent"]
