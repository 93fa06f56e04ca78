"""The admin API against its own OpenAPI description (schemathesis): whatever a client sends that the schema
describes, no answer is a server error and every answer fits the schema. SQLite only, to keep it short."""

from __future__ import annotations

import shutil

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gongji.api.app import create_app
from gongji.policy.loader import PolicyBook
from gongji.store.db import open_engine
from tests.api.staff import bearer, registry
from tests.conftest import TEST_POLICIES

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# The schema is read when the tests are collected, from an app whose database each test then sets (schemathesis's
# lazy from_fixture does not run under pytest 9).
app = create_app(open_engine("sqlite://"), PolicyBook.load(TEST_POLICIES))
HEALTH = r"|^/healthz$" if "/healthz" in app.openapi()["paths"] else ""
schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=r"^/api/v1/" + HEALTH)


@pytest.fixture
def token(sqlite_template, tmp_path, book):
    """The app on a fresh SQLite registry; an admin's token."""
    path = tmp_path / "gongji.sqlite"
    shutil.copy(sqlite_template, path)
    engine = open_engine(f"sqlite:///{path}")
    app.state.engine = engine
    yield registry(engine, book)["tokens"]["admin"]
    engine.dispose()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_fits_the_schema(case, token):
    case.call_and_validate(headers=bearer(token), checks=CHECKS)
