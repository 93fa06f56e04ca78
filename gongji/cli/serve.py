"""Serving the interface: `gongji serve`, institutions' gateway credentials, members' e-vouchers."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from gongji.api import DEFAULT_THREADS
from gongji.cli.common import PolicyDir, app, bad_input, book_or_fail, fail
from gongji.cli.ops import Db, engine_or_fail
from gongji.services import credentials, vouchers
from gongji.store.db import database_url

institution_app = typer.Typer(help="Designated institutions (定点医药机构).", no_args_is_help=True)
app.add_typer(institution_app, name="institution")
GRACE_SECONDS = 30
"""On SIGTERM the server stops accepting and gives requests in flight this long to finish."""


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    threads: Annotated[int, typer.Option(help="Requests each worker works on at once (and its database "
                                         "connections).", min=1, max=200)] = DEFAULT_THREADS,
    db: Db = None, policy_dir: PolicyDir = None,
) -> None:
    """Serve the national-platform interface (/fsi/api/rsfComIfsService/callService), the admin API
    (/api/v1/, OpenAPI at /openapi.json) and /healthz, with uvicorn."""
    import uvicorn

    engine_or_fail(db).dispose()
    book_or_fail(policy_dir)
    os.environ["GONGJI_DB_URL"] = database_url(db)
    os.environ["GONGJI_THREADS"] = str(threads)
    if policy_dir is not None:
        os.environ["GONGJI_POLICY_DIR"] = str(policy_dir)
    uvicorn.run("gongji.api.server:app", factory=True, host=host, port=port, workers=workers, access_log=False,
                timeout_graceful_shutdown=GRACE_SECONDS, log_level="warning")


@institution_app.command("credentials")
def credentials_command(
    code: Annotated[str, typer.Argument(help="fixmedins_code, e.g. H32100200001")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Issue a new key and secret; the old stop working.")]
    = False,
    db: Db = None,
) -> None:
    """Print the institution's access key (x-tif-paasid) and secret, issuing them the first time."""
    engine = engine_or_fail(db)
    with bad_input():
        issued = credentials.credentials_for(engine, code, rotate)
    print(f"fixmedins_code {issued.fixmedins_code}\nx-tif-paasid   {issued.paasid}\nsecret         {issued.secret}\n"
          f"issued at      {issued.issued_at}")


@app.command("voucher")
def voucher_command(
    psn_no: Annotated[str, typer.Argument(help="The member's psn_no.")],
    minutes: Annotated[int, typer.Option(help="How long the voucher is valid.")] = vouchers.DEFAULT_MINUTES,
    db: Db = None,
) -> None:
    """Issue a medical insurance e-voucher (医保电子凭证) token: mdtrt_cert_type 01, mdtrt_cert_no this token."""
    engine = engine_or_fail(db)
    if minutes < 1:
        fail(f"--minutes: {minutes} must be at least 1")
    with bad_input():
        print(vouchers.issue(engine, psn_no, minutes))
