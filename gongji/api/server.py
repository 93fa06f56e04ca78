"""The application uvicorn's workers build: the database and policies come from the environment that
`gongji serve` sets (GONGJI_DB_URL, GONGJI_POLICY_DIR), so every worker process opens its own engine."""

from __future__ import annotations

from fastapi import FastAPI

from gongji.api import logs
from gongji.api.app import create_app
from gongji.policy.loader import load_book
from gongji.store.db import open_engine

POOL_SIZE = 10
"""Connections per worker process; uvicorn runs up to 40 threads of sync work per process."""


def app() -> FastAPI:
    logs.configure()
    return create_app(open_engine(pool_size=POOL_SIZE), load_book())
