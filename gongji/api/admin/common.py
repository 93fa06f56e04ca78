"""What every admin route shares: the database and policies of the app, paging, errors as HTTP statuses, and
amounts as yuan strings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, HTTPException, Query, Request
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy import Engine

from gongji.engine.bill import PRICE_SCALE
from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.policy.loader import PolicyBook
from gongji.services.imports import AlreadyRegistered

MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000_000
"""far past any table, and small enough for every database's OFFSET."""

T = TypeVar("T")


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _book(request: Request) -> PolicyBook:
    return request.app.state.book


Db = Annotated[Engine, Depends(_engine)]
Book = Annotated[PolicyBook, Depends(_book)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many items")]
Yuan = Annotated[str, Field(pattern=r"^-?\d+\.\d{2}$", examples=["123.45"])]
"""An amount as yuan with two decimals; inside, amounts are integer fen."""


def _timestamp(value: object) -> object:
    return value.isoformat(sep=" ", timespec="seconds") if isinstance(value, datetime) else value


Timestamp = Annotated[str, BeforeValidator(_timestamp),
                      Field(pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", examples=["2024-03-01 09:30:00"])]
"""A moment in the server's local time (as the database keeps it), written as the national platform does."""


def yuan(fen: int) -> str:
    return format_yuan(int(fen))


def scaled(value: int) -> str:
    """1/10000 units (unit prices, quantities) -> '12.5000'."""
    whole, part = divmod(int(value), PRICE_SCALE)
    return f"{whole}.{part:04d}"


class Out(BaseModel):
    """A response; the fields' docstrings describe them in the OpenAPI document."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class Body(BaseModel):
    """A request body: unknown keys are refused, so a typo does not pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_attribute_docstrings=True)


class Problem(Out):
    """Why the request was refused: one line naming the field and the value, or for a request that does not
    fit the schema, FastAPI's list of validation errors."""

    detail: str | list[dict[str, Any]]


class Page(Out, Generic[T]):
    total: int
    """how many items match, on every page."""
    limit: int
    offset: int
    items: list[T]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these error statuses."""
    return {status: {"model": Problem} for status in statuses}


def not_found(message: str) -> HTTPException:
    return HTTPException(404, message)


async def no_nul(request: Request) -> None:
    """Refuse a NUL character anywhere in the path, the query or the body: no field may hold one, and PostgreSQL
    text cannot, so it would otherwise fail inside a use case."""
    query = "".join(k + v for k, v in request.query_params.multi_items())
    if "\x00" in request.url.path + query or b"\\u0000" in await request.body():
        raise HTTPException(422, "request: a NUL character (\\u0000) is not allowed in any field")


@contextmanager
def refused(status: int = 422) -> Iterator[None]:
    """A use case's InputError as an HTTP error with its message: `status`, or 409 for a record already
    registered. The use case rolled back, so nothing was changed."""
    try:
        yield
    except AlreadyRegistered as exc:
        raise HTTPException(409, str(exc)) from None
    except InputError as exc:
        raise HTTPException(status, str(exc)) from None
