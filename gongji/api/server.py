"""The application uvicorn's workers build: the database and policies come from the environment that
`gongji serve` sets (GONGJI_DB_URL, GONGJI_POLICY_DIR, GONGJI_THREADS), so every worker process opens its own engine."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from gongji.api import DEFAULT_THREADS, logs
from gongji.api.app import create_app
from gongji.policy.loader import load_book
from gongji.store.db import open_engine


@asynccontextmanager
async def _threads(app: FastAPI) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = _threads_wanted()
    yield


def _threads_wanted() -> int:
    return int(os.environ.get("GONGJI_THREADS", DEFAULT_THREADS))


def app() -> FastAPI:
    logs.configure()
    built = create_app(open_engine(pool_size=_threads_wanted()), load_book())
    built.router.lifespan_context = _threads
    return built
