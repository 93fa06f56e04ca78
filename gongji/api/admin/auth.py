"""Who may call what. A bearer token names a user (`gongji user add`); the user's role decides which routes
answer: auditors read, operators read and change records, admins also read the audit log and the users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gongji.services.users import ADMIN, AUDITOR, OPERATOR, user_for_token

READ, CHANGE, ADMINISTER = "read", "change", "administer"
ROLE_TABLE = {
    READ: frozenset({AUDITOR, OPERATOR, ADMIN}),
    CHANGE: frozenset({OPERATOR, ADMIN}),
    ADMINISTER: frozenset({ADMIN}),
}
"""What a route does -> the roles that may do it."""

bearer = HTTPBearer(auto_error=False, description="A token from `gongji user add NAME --role ROLE`.")


@dataclass(frozen=True)
class User:
    name: str
    role: str


def _unauthenticated(why: str) -> HTTPException:
    return HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})


def may(what: str):
    """A dependency that answers 401 without a known token and 403 for a role that may not do `what`, and
    otherwise gives the user."""
    allowed = ROLE_TABLE[what]

    def check(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
        if credentials is None:
            raise _unauthenticated("authorization: a bearer token is required (Authorization: Bearer TOKEN)")
        found = user_for_token(request.app.state.engine, credentials.credentials)
        if found is None:
            raise _unauthenticated("authorization: the bearer token is not known")
        if found["role"] not in allowed:
            raise HTTPException(403, f"role: {found['role']} may not {what} here; "
                                     f"{' or '.join(sorted(allowed))} may")
        return User(found["name"], found["role"])

    return check


Reader = Annotated[User, Depends(may(READ))]
Operator = Annotated[User, Depends(may(CHANGE))]
Admin = Annotated[User, Depends(may(ADMINISTER))]
