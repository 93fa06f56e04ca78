"""`gongji user add|list|password`: bureau staff of the admin API and their bearer tokens, and their passwords
for the web pages; `gongji member invite`: a member's activation code for the web pages."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gongji.cli.common import app, bad_input, console
from gongji.cli.ops import Db, engine_or_fail
from gongji.services import logins
from gongji.services.users import ROLES, add_user, list_users

user_app = typer.Typer(help="Users of the admin API (/api/v1/) and of the staff pages.", no_args_is_help=True)
app.add_typer(user_app, name="user")
member_app = typer.Typer(help="Members' sign-in to the web pages.", no_args_is_help=True)
app.add_typer(member_app, name="member")


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


@user_app.command("password")
def user_password(name: str, db: Db = None) -> None:
    """Set a user's password for the staff pages (asked twice, not echoed)."""
    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with bad_input():
        logins.set_staff_password(engine_or_fail(db), name, password)
    print(f"{name}'s password for the staff pages is set.")


@member_app.command("invite")
def member_invite(psn_no: str, db: Db = None) -> None:
    """A one-time activation code with which the member sets their password on the web pages (shown once)."""
    with bad_input():
        code, expires = logins.invite(engine_or_fail(db), psn_no)
    print(code)
    print(f"{psn_no}'s activation code, valid until {expires:%Y-%m-%d %H:%M}: with it and their ID number the "
          "member sets a password at /member/activate. It is not shown again; inviting again replaces it.")
