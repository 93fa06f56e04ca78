"""Read-only views: a personal account with its movements and who may use it."""

from __future__ import annotations

from sqlalchemy import Engine, select

from gongji.errors import InputError
from gongji.money import format_yuan
from gongji.store.ledger import ACCOUNT
from gongji.store.tables import accounts, authorizations, ledger, persons


def account_view(engine: Engine, psn_no: str, limit: int = 20) -> dict:
    with engine.connect() as conn:
        found = conn.execute(select(persons.c.psn_name, accounts.c.balance, accounts.c.closed_on)
                             .join(accounts, accounts.c.psn_no == persons.c.psn_no)
                             .where(persons.c.psn_no == psn_no)).first()
        if found is None:
            raise InputError(f"psn_no: {psn_no!r} is not a registered person with an account")
        moves = conn.execute(select(ledger.c.occurred_on, ledger.c.kind, ledger.c.amount, ledger.c.psn_no,
                                    ledger.c.setl_id, ledger.c.memo)
                             .where(ledger.c.fund == ACCOUNT, ledger.c.holder == psn_no)
                             .order_by(ledger.c.id.desc()).limit(limit)).all()
        active = authorizations.c.revoked_at.is_(None)
        users = conn.execute(select(authorizations.c.user_psn_no, authorizations.c.relation,
                                    authorizations.c.granted_at)
                             .where(authorizations.c.owner_psn_no == psn_no, active)).all()
        owners = conn.execute(select(authorizations.c.owner_psn_no, authorizations.c.relation)
                              .where(authorizations.c.user_psn_no == psn_no, active)).all()
    return {
        "psn_no": psn_no, "psn_name": found.psn_name, "balc": format_yuan(found.balance),
        "closed_on": found.closed_on.isoformat() if found.closed_on else None,
        "movements": [{"occurred_on": m.occurred_on.isoformat(), "kind": m.kind, "amount": format_yuan(m.amount),
                       "psn_no": m.psn_no if m.psn_no != psn_no else None, "setl_id": m.setl_id, "memo": m.memo}
                      for m in moves],
        "authorized": [{"psn_no": u.user_psn_no, "relation": u.relation, "granted_at": str(u.granted_at)}
                       for u in users],
        "may_use": [{"psn_no": o.owner_psn_no, "relation": o.relation} for o in owners],
    }
