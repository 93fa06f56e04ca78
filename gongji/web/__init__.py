"""The web pages (`gongji serve` under /): members see their account, family payments, visits and what the reform
means for them; bureau staff run the registry, crediting, funds, settlements, monitoring and policies. Server-
rendered (Jinja2), htmx for partial updates, Apache ECharts for charts, both vendored; Chinese throughout."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).with_name("static")
ECHARTS = Path(__file__).parents[1] / "simulate" / "static" / "echarts.min.js"
"""vendored once for the simulation report; the pages use the same file."""


def install(app: FastAPI) -> None:
    from gongji.web import auth, member, staff

    @app.get("/static/echarts.min.js", include_in_schema=False)
    def echarts() -> FileResponse:
        return FileResponse(ECHARTS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    auth.install(app)
    for module in (auth, member, staff):
        app.include_router(module.router)
