"""The `gongji` command: Typer commands over the services, one module per group."""

from gongji.cli import (  # noqa: F401  (registers the commands)
    benefits,
    clearing,
    compare,
    demo,
    monitor,
    ops,
    quote,
    report,
    serve,
    simulate,
    users,
)
from gongji.cli.common import app

__all__ = ["app"]
