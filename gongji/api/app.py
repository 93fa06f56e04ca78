"""The FastAPI application `gongji serve` runs: the transaction interface (/fsi/...), the admin API (/api/v1/), the
web pages (/), /healthz, and one JSON log line per request."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine

from gongji.policy.loader import PolicyBook


def create_app(engine: Engine, book: PolicyBook) -> FastAPI:
    from gongji import web
    from gongji.api import admin, health, interface, logs

    app = FastAPI(title="gongji (共济)", version="0.1.0",
                  description="Employee medical insurance outpatient mutual aid: the national-platform transaction "
                              "interface for institutions and the admin API for bureau staff.")
    app.state.engine = engine
    app.state.book = book
    app.include_router(health.router)
    app.include_router(interface.router)
    app.include_router(admin.router)
    web.install(app)
    app.add_middleware(logs.AccessLog, skip=interface.PATH)
    return app
