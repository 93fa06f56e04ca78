"""`gongji user add|list`: bureau staff of the admin API and their bearer tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.common import app, bad_input, console
from gongji.cli.ops import Db, engine_or_fail
from gongji.services.users import ROLES, add_user, list_users

user_app = typer.Typer(help="Users of the admin API (/api/v1/).", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    name: str,
    role: Annotated[str, typer.Option("--role", help=" / ".join(ROLES))],
    db: Db = None,
) -> None:
    """Add a user and print their bearer token, once."""
    with bad_input():
        token = add_user(engine_or_fail(db), name, role)
    print(token)
    print(f"This is {name.strip()}'s token ({role}); it is not shown again: only its SHA-256 is stored.")


@user_app.command("list")
def user_list(db: Db = None) -> None:
    """The users, their roles and when they were added (tokens are never shown)."""
    table = Table(title="users of the admin API")
    for header in ("name", "role", "added"):
        table.add_column(header)
    for u in list_users(engine_or_fail(db)):
        table.add_row(u["name"], u["role"], str(u["created_at"]))
    console().print(table)
